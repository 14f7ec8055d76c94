// A distributed config as the node runs it: a secret's `_file` key names a file on this node, read here
// (trailing line break trimmed) before the schema; a missing file is a schema-stage problem at the key; the
// `_file` forms of local keys stay the node's own.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { agentConfigSchema } from '../config.js';
import { parseDistributedConfig } from './local-keys.js';

const dir = mkdtempSync(join(tmpdir(), 'fm-local-keys-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const node = { id: 'n1', site: 'north' };
const local = agentConfigSchema.parse({ node, mqtt: { password: 'node-own-password' }, commands: { token: 'node-own-command-token' } });

test('distributed config: a collector token_file is read from this node, line break trimmed', () => {
  const file = join(dir, 'push.token');
  writeFileSync(file, 'push-token-from-node-file\n');
  const parsed = parseDistributedConfig({ node, collectors: [{ type: 'http_push', name: 'push', token_file: file }] }, local);
  assert.ok(parsed.success, JSON.stringify(parsed));
  assert.equal(parsed.data.collectors[0]?.type === 'http_push' && parsed.data.collectors[0].token, 'push-token-from-node-file');
});

test('distributed config: a missing secret file is a problem at its key, with every schema problem', () => {
  const missing = join(dir, 'missing');
  const parsed = parseDistributedConfig(
    { node, collectors: [{ type: 'mqtt', name: 'cams', password_file: missing, topics: [{ topic: 'x', as: 'event' }] }], bogus: 1 },
    local,
  );
  assert.ok(!parsed.success);
  assert.deepEqual(parsed.problems, [
    { path: 'collectors.0.password_file', message: `cannot read ${missing} (no such file)` },
    { path: '(root)', message: 'Unrecognized key: "bogus"' },
  ]);
});

test("distributed config: the _file form of a local key is ignored like the key itself; the node's own secret stays", () => {
  const parsed = parseDistributedConfig(
    { node, mqtt: { password_file: join(dir, 'hub-chosen') }, commands: { token_file: join(dir, 'hub-chosen') } },
    local,
  );
  assert.ok(parsed.success, JSON.stringify(parsed));
  assert.deepEqual(parsed.ignored, ['mqtt.password_file', 'commands.token_file']);
  assert.equal(parsed.data.mqtt.password, 'node-own-password');
  assert.equal(parsed.data.commands.token, 'node-own-command-token');
});

test("distributed config: the node's pki folder and HTTPS files stay its own; the repository's are ignored and named", () => {
  const own = agentConfigSchema.parse({
    node,
    pki: { dir: '/etc/fieldmesh/tls' },
    http: { tls: { cert: '/etc/fieldmesh/tls/n1.crt', key: '/etc/fieldmesh/tls/n1.key' } },
  });
  const kept = parseDistributedConfig({ node }, own);
  assert.ok(kept.success, JSON.stringify(kept));
  assert.equal(kept.data.pki?.dir, '/etc/fieldmesh/tls', 'a config without pki does not drop the node own');
  assert.equal(kept.data.http.tls?.cert, '/etc/fieldmesh/tls/n1.crt');
  const overridden = parseDistributedConfig({ node, pki: { dir: '/elsewhere' }, http: { tls: { cert: '/x.crt', key: '/x.key' } } }, own);
  assert.ok(overridden.success, JSON.stringify(overridden));
  assert.equal(overridden.data.pki?.dir, '/etc/fieldmesh/tls');
  assert.deepEqual([...overridden.ignored].sort(), ['http.tls', 'pki']);
});
