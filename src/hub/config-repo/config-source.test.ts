// The configuration repository's git source never shows the remote's password: not in its label (what the
// API, the log and the nodes' desired configs name as their source), not in git's error messages.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { freePort } from '../../../test/kit/ports.js';
import { createGitSource } from './config-source.js';

const dir = mkdtempSync(join(tmpdir(), 'fm-config-source-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const PASSWORD = 'ghp_s3cr3tT0k3n';

test('config repo git source: the label shows the URL without its password', () => {
  const source = createGitSource({ url: `https://ci:${PASSWORD}@git.example/fleet.git`, branch: 'main', checkout: dir, intervalMs: 1000 });
  assert.equal(source.label, 'git:https://ci:<redacted>@git.example/fleet.git@main');
});

test("config repo git source: a failed clone's error names the remote without its password", async () => {
  const port = await freePort();
  const url = `http://ci:${PASSWORD}@127.0.0.1:${port}/fleet.git`;
  const source = createGitSource({ url, branch: 'main', checkout: join(dir, 'clone'), intervalMs: 1000 });
  await assert.rejects(source.poll(true), (err: Error & { cause?: unknown }) => {
    assert.match(err.message, /^git clone: /);
    assert.ok(!err.message.includes(PASSWORD), err.message);
    assert.ok(!JSON.stringify(err.cause ?? null).includes(PASSWORD));
    return true;
  });
});
