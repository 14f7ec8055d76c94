// Secrets given only as files, end to end with real processes: a Mosquitto that requires passwords, a hub
// whose broker password is hub.yaml's `mqtt.password_file`, a node with `mqtt.password_file` and
// `commands.token_file` in its node.yaml, another with FIELDMESH_MQTT__URL_FILE (a URL with userinfo) and
// FIELDMESH_COMMANDS__TOKEN_FILE, and a configuration repository whose fleet file gives every node an
// http_push collector with a token (a secret distributed by the hub). Everything connects and the tokens work,
// and no secret string shows in GET /api/v1/config of the nodes, in the hub's config API, in
// `fieldmesh config render`, nor anywhere in the processes' stdout and stderr (debug logs).

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { type FieldmeshProcess, runFieldmesh } from '../kit/fieldmesh-process.js';
import { type MosquittoInstance, startMosquitto } from '../kit/mosquitto.js';
import { freePort } from '../kit/ports.js';
import { waitFor } from '../kit/wait.js';

const secret = (what: string) => `${what}-${randomBytes(9).toString('hex')}`;
const SECRETS = {
  hubPassword: secret('hub-pw'),
  n1Password: secret('n1-pw'),
  n2Password: secret('n2-pw'),
  n1Token: secret('n1-command-token'),
  n2Token: secret('n2-command-token'),
  pushToken: secret('push-token'),
};
const LOG = { FIELDMESH_LOG_LEVEL: 'debug' };

let dir: string;
let repo: string;
let broker: MosquittoInstance;
let hubUrl: string;
const processes: FieldmeshProcess[] = [];
const nodes = new Map<string, { url: string; args: string[]; env: Record<string, string>; proc?: FieldmeshProcess }>();

function start(args: string[], env: Record<string, string> = {}): FieldmeshProcess {
  const p = runFieldmesh(args, { ...LOG, ...env });
  processes.push(p);
  return p;
}

/** A file holding `text` and a line break, as `echo ... > file` or `docker secret create` leave it. */
function secretFile(name: string, text: string): string {
  const path = join(dir, 'secrets', name);
  writeFileSync(path, `${text}\n`, { mode: 0o600 });
  return path;
}

async function startNode(id: string): Promise<void> {
  const n = nodes.get(id);
  assert.ok(n);
  n.proc = start(n.args, n.env);
  await n.proc.waitForOutput(/HTTP http/);
}

async function get(url: string): Promise<{ text: string; data: unknown }> {
  const res = await fetch(url);
  const text = await res.text();
  assert.equal(res.status, 200, `${url}: ${text}`);
  return { text, data: (JSON.parse(text) as { data: unknown }).data };
}

function assertNoSecret(text: string, where: string): void {
  for (const [name, value] of Object.entries(SECRETS)) assert.ok(!text.includes(value), `${where} shows ${name}:\n${text}`);
}

/**
 * Waits until the hub sees each node run its desired config: `in-sync`, or `pending-restart` (the http_push
 * collector serves a route, so it waits for the node's next start). Needs the hub's and the nodes' broker logins.
 */
const applied = (states: readonly string[] = ['in-sync', 'pending-restart']) =>
  waitFor(
    async () => {
      const { data } = await get(`${hubUrl}/api/v1/config/nodes`);
      const rows = (data as { nodes: { node: string; state: string }[] }).nodes;
      return ['n1', 'n2'].every((id) => states.includes(rows.find((r) => r.node === id)?.state ?? '')) && rows;
    },
    { timeoutMs: 30_000, what: `n1 and n2 ${states.join(' or ')} at the hub` },
  );

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'fm-secrets-'));
  mkdirSync(join(dir, 'secrets'));
  broker = await startMosquitto({
    users: [
      { username: 'hub', password: SECRETS.hubPassword },
      { username: 'n1', password: SECRETS.n1Password },
      { username: 'n2', password: SECRETS.n2Password },
    ],
  });
  repo = join(dir, 'repo');
  mkdirSync(join(repo, 'nodes'), { recursive: true });
  writeFileSync(join(repo, 'fleet.yaml'), `collectors:\n  - name: push\n    type: http_push\n    token: ${SECRETS.pushToken}\n`);
  writeFileSync(join(repo, 'nodes', 'n1.yaml'), 'node: {id: n1, site: north, zone: z1}\n');
  writeFileSync(join(repo, 'nodes', 'n2.yaml'), 'node: {id: n2, site: north, zone: z1}\n');

  const hubYaml = join(dir, 'hub.yaml');
  writeFileSync(
    hubYaml,
    [
      `mqtt: {url: "${broker.url}", username: hub, password_file: ${secretFile('hub-mqtt', SECRETS.hubPassword)}}`,
      `http: {port: ${await freePort()}}`,
      `storage: {path: ${join(dir, 'hub.db')}}`,
      `dataDir: ${dir}`,
      `configRepo: {dir: ${repo}, interval: 1h, applyTimeout: 20s}`,
      '',
    ].join('\n'),
  );
  const hub = start(['hub', '--config', hubYaml]);
  hubUrl = (await hub.waitForOutput(/console (http:\/\/\S+)\//))[1] as string;

  const n1Port = await freePort();
  const n1Yaml = join(dir, 'n1.yaml');
  writeFileSync(
    n1Yaml,
    [
      'node: {id: n1, site: north, zone: z1}',
      `mqtt: {url: "${broker.url}", username: n1, password_file: ${secretFile('n1-mqtt', SECRETS.n1Password)}}`,
      `commands: {token_file: ${secretFile('n1-commands', SECRETS.n1Token)}}`,
      `dataDir: ${join(dir, 'n1')}`,
      `http: {port: ${n1Port}}`,
      '',
    ].join('\n'),
  );
  nodes.set('n1', { url: `http://127.0.0.1:${n1Port}`, args: ['node', '-c', n1Yaml], env: {} });

  const n2Port = await freePort();
  const n2Yaml = join(dir, 'n2.yaml');
  writeFileSync(n2Yaml, ['node: {id: n2, site: north, zone: z1}', `dataDir: ${join(dir, 'n2')}`, `http: {port: ${n2Port}}`, ''].join('\n'));
  nodes.set('n2', {
    url: `http://127.0.0.1:${n2Port}`,
    args: ['node', '-c', n2Yaml],
    env: {
      FIELDMESH_MQTT__URL_FILE: secretFile('n2-url', `mqtt://n2:${SECRETS.n2Password}@127.0.0.1:${broker.port}`),
      FIELDMESH_COMMANDS__TOKEN_FILE: secretFile('n2-commands', SECRETS.n2Token),
    },
  });
  await Promise.all(['n1', 'n2'].map(startNode));
});

after(async () => {
  for (const p of processes) p.kill('SIGTERM');
  await Promise.all(processes.map((p) => p.exited()));
  await broker?.stop();
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
});

test('secrets from files: the hub and both nodes authenticate to Mosquitto, the nodes apply the distributed config', async () => {
  await applied();
  const n2 = nodes.get('n2')?.proc;
  assert.match(n2?.stdout() ?? '', /-> mqtt:\/\/n2:<redacted>@127\.0\.0\.1:\d+; HTTP/, 'n2 says where it connects, password redacted');
});

test('secrets from files: each node takes its command token from its file (right token: past auth; wrong: 401)', async () => {
  for (const [id, token] of [
    ['n1', SECRETS.n1Token],
    ['n2', SECRETS.n2Token],
  ] as const) {
    const url = `${nodes.get(id)?.url}/api/v1/services/no-such-service/start`;
    const post = (t: string) => fetch(url, { method: 'POST', headers: { authorization: `Bearer ${t}` } });
    assert.equal((await post(token)).status, 404, `${id}: the right token reaches the (unknown) service`);
    assert.equal((await post('wrong-token-of-enough-length')).status, 401, `${id}: a wrong token is refused`);
  }
});

test("secrets redacted: nodes' GET /api/v1/config, the hub's config API and `fieldmesh config render` never show a secret", async () => {
  await applied();
  for (const id of ['n1', 'n2']) assertNoSecret((await get(`${nodes.get(id)?.url}/api/v1/config`)).text, `${id} GET /api/v1/config`);
  assertNoSecret((await get(`${hubUrl}/api/v1/config`)).text, 'hub GET /api/v1/config');
  assertNoSecret((await get(`${hubUrl}/api/v1/config/nodes`)).text, 'hub GET /api/v1/config/nodes');
  const detail = await get(`${hubUrl}/api/v1/config/nodes/north/n1`);
  assertNoSecret(detail.text, 'hub GET /api/v1/config/nodes/north/n1');
  const view = detail.data as { config: { collectors: { token: string }[] }; provenance: Record<string, { file: string }> };
  assert.equal(view.config.collectors[0]?.token, '<redacted>');
  assert.equal(view.provenance['collectors[0].token']?.file, 'fleet.yaml', 'the provenance of the secret stays');

  const render = start(['config', 'render', 'n1', '--repo', repo]);
  assert.equal(await render.exited(), 0, render.stderr());
  assertNoSecret(render.stdout() + render.stderr(), 'fieldmesh config render');
  assert.match(render.stdout(), /token: "?<redacted>"? # fleet\.yaml:4/);
});

test('secrets from the hub: a restarted node runs the distributed push token (right token: 200; wrong: 401)', async () => {
  await applied();
  const n1 = nodes.get('n1');
  assert.ok(n1?.proc);
  n1.proc.kill('SIGTERM');
  await n1.proc.exited();
  await startNode('n1');
  // It starts from the last good distributed config: the push collector runs, nothing waits for a restart.
  const status = (await get(`${n1.url}/api/v1/config`)).data as { running: { source: string }; pendingRestart: string[] };
  assert.deepEqual([status.running.source, status.pendingRestart], ['hub', []]);
  const push = (t: string) =>
    fetch(`${n1.url}/events`, {
      method: 'POST',
      headers: { authorization: `Bearer ${t}`, 'content-type': 'application/json' },
      body: '{"metrics":{"x":1}}',
    });
  assert.equal((await push(SECRETS.pushToken)).status, 200);
  assert.equal((await push('wrong-token')).status, 401);
});

test('secrets never logged: no secret in any process output (hub, nodes, render), debug level', async () => {
  await applied();
  // Provoke the logs that name URLs and configs: a sync, an apply, a refused command.
  await fetch(`${hubUrl}/api/v1/config/sync`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
  for (const p of processes) {
    const where = `fieldmesh ${(p.proc.spawnargs ?? []).slice(2).join(' ')}`;
    assertNoSecret(p.stdout(), `${where} stdout`);
    assertNoSecret(p.stderr(), `${where} stderr`);
  }
  assert.ok(processes.every((p) => p.stderr().length > 0 || p.stdout().length > 0));
});
