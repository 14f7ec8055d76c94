// Secrets through the command line: `config render` and `config diff` show <redacted> (render keeps each
// key's provenance; --show-secrets prints them), `node --check` / `hub --check` read `_file` keys and name
// the field and the path of a file they cannot read (exit 2), and the log censor keeps secrets out of logs.

import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, test } from 'node:test';
import { REDACTED } from '../kit/index.js';
import { censorLogField } from './logger.js';
import { main } from './main.js';

const dir = mkdtempSync(join(tmpdir(), 'fm-cli-secrets-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const PUSH_TOKEN = 'push-token-4d1e9f0c';
const CAM_PASSWORD = 'cam-pw-77b3a2';

async function run(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(args, { out: (t) => out.push(t), err: (t) => err.push(t) });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

function write(files: Record<string, string>, under: string): string {
  const root = join(dir, under);
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  }
  return root;
}

const REPO = {
  'fleet.yaml': `collectors:\n  - name: push\n    type: http_push\n    token: ${PUSH_TOKEN}\n`,
  'nodes/r1.yaml': [
    'node: {id: r1, site: ridge, zone: crest}',
    'collectors: !append',
    '  - name: cams',
    '    type: mqtt',
    `    url: mqtt://cams:${CAM_PASSWORD}@10.0.0.9:1883`,
    '    topics: [{topic: frigate/events, as: event}]',
    '',
  ].join('\n'),
};

test('cli config render: secrets show as <redacted> with the file and line that set them; --show-secrets prints them', async () => {
  const repo = write(REPO, 'repo');
  const yaml = await run(['config', 'render', 'r1', '--repo', repo]);
  assert.equal(yaml.code, 0, yaml.err);
  assert.ok(!yaml.out.includes(PUSH_TOKEN) && !yaml.out.includes(CAM_PASSWORD), yaml.out);
  assert.match(yaml.out, new RegExp(`token: "?${REDACTED}"? # fleet\\.yaml:4`));
  assert.match(yaml.out, new RegExp(`url: mqtt://cams:${REDACTED}@10\\.0\\.0\\.9:1883 # nodes/r1\\.yaml:5`));

  const json = await run(['config', 'render', 'r1', '--repo', repo, '--json']);
  const shown = JSON.parse(json.out) as { config: { collectors: { token?: string }[] }; provenance: Record<string, unknown>; hash: string };
  assert.ok(!json.out.includes(PUSH_TOKEN) && !json.out.includes(CAM_PASSWORD));
  assert.equal(shown.config.collectors[0]?.token, REDACTED);
  assert.deepEqual(shown.provenance['collectors[0].token'], { layer: 'fleet', file: 'fleet.yaml', line: 4, col: 12 });

  const admin = await run(['config', 'render', 'r1', '--repo', repo, '--json', '--show-secrets']);
  const real = JSON.parse(admin.out) as typeof shown;
  assert.equal(real.config.collectors[0]?.token, PUSH_TOKEN);
  assert.equal(real.hash, shown.hash, 'the hash is the real config’s either way');
});

test('cli config diff: a changed secret shows as changed, both values redacted', async () => {
  const from = write(REPO, 'from');
  const to = write({ ...REPO, 'fleet.yaml': REPO['fleet.yaml'].replace(PUSH_TOKEN, 'rotated-token-5c2a') }, 'to');
  const r = await run(['config', 'diff', '--from', from, '--to', to]);
  assert.equal(r.code, 1, r.err);
  assert.match(r.out, new RegExp(`~ collectors\\[name=push\\]\\.token: "?${REDACTED}"? -> "?${REDACTED}"?`));
  assert.ok(!r.out.includes(PUSH_TOKEN) && !r.out.includes('rotated-token-5c2a'), r.out);
  const json = await run(['config', 'diff', '--from', from, '--to', to, '--json']);
  assert.ok(!json.out.includes(PUSH_TOKEN) && !json.out.includes('rotated-token-5c2a'));
});

test('cli node --check and hub --check read secrets from _file keys; an unreadable file names the field and the path (exit 2)', async () => {
  const secret = join(dir, 'mqtt-password');
  writeFileSync(secret, 'from-a-file\n', { mode: 0o600 });
  const nodeYaml = join(dir, 'node.yaml');
  writeFileSync(nodeYaml, `node: {id: n1, site: north}\nmqtt: {username: n1, password_file: ${secret}}\n`);
  assert.equal((await run(['node', '--check', '--config', nodeYaml])).code, 0);
  const hubYaml = join(dir, 'hub.yaml');
  writeFileSync(hubYaml, `mqtt: {username: hub, password_file: ${secret}}\n`);
  assert.equal((await run(['hub', '--check', '--config', hubYaml])).code, 0);
  const brokerYaml = join(dir, 'broker.yaml');
  writeFileSync(brokerYaml, `users:\n  - {username: n1, role: node, site: north, node: n1, password_file: ${secret}}\n`);
  assert.equal((await run(['broker', '--check', '--config', brokerYaml])).code, 0);

  const missing = join(dir, 'no-such-secret');
  writeFileSync(
    nodeYaml,
    `node: {id: n1, site: north}\ncommands: {token_file: ${missing}}\nmqtt: {password: x, password_file: ${secret}}\n`,
  );
  const r = await run(['node', '--check', '--config', nodeYaml]);
  assert.equal(r.code, 2);
  assert.equal(
    r.err,
    [
      'error: FM_CONFIG_INVALID: invalid configuration',
      `  ${nodeYaml}: commands.token_file: cannot read ${missing} (no such file)`,
      `  ${nodeYaml}: mqtt.password_file: give password or password_file (${secret}), not both`,
    ].join('\n'),
  );
});

test('cli logger: the censor redacts secret fields, URL passwords and secrets inside logged configs and errors', () => {
  assert.equal(censorLogField('hunter2-password', ['password']), REDACTED);
  assert.equal(censorLogField('mqtt://hub:pw@broker:1883', ['url']), `mqtt://hub:${REDACTED}@broker:1883`);
  assert.deepEqual(censorLogField({ mqtt: { password: 'pw', url: 'mqtt://u:pw@h' }, commands: { token: 't' } }, ['config']), {
    mqtt: { password: REDACTED, url: `mqtt://u:${REDACTED}@h` },
    commands: { token: REDACTED },
  });
  const logged = censorLogField(new Error('git fetch: https://ci:pw@git.example/fleet.git not found'), ['err']) as { message: string };
  assert.equal(logged.message, `git fetch: https://ci:${REDACTED}@git.example/fleet.git not found`);
});
