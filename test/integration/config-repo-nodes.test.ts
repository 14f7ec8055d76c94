// Reconciliation end to end with real parts: a git repository made here (Debian's git), a real hub process
// pulling it, a real Mosquitto, and three real node processes that receive their retained configs, apply
// them live and report through their outboxes. A fleet commit reaches every node, a site commit only that
// site's nodes, an invalid commit is refused and every node keeps running what it ran, and a node that was
// down while a commit went out converges when it comes back.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { type FieldmeshProcess, fieldmeshKilledAfter, writeHubConfig } from '../kit/fieldmesh-process.js';
import { type MosquittoInstance, startMosquitto } from '../kit/mosquitto.js';
import { freePort } from '../kit/ports.js';
import { waitFor } from '../kit/wait.js';

const start = fieldmeshKilledAfter();
const NODES = [
  { id: 'n1', site: 'north' },
  { id: 'n2', site: 'north' },
  { id: 's1', site: 'south' },
] as const;
let dir: string;
let repo: string;
let broker: MosquittoInstance;
let hub: FieldmeshProcess;
let hubUrl: string;
const nodes = new Map<string, { yaml: string; url: string; proc: FieldmeshProcess | undefined }>();

interface NodeRow {
  site: string;
  node: string;
  state: string;
  desired: { hash: string } | null;
  reported: { hash: string; kind: string } | null;
}

function git(...args: string[]): string {
  const env = { ...process.env, GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@x', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@x' };
  return execFileSync('git', ['-C', repo, ...args], { encoding: 'utf8', env });
}

function commit(files: Record<string, string>, message: string): string {
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(join(repo, path, '..'), { recursive: true });
    writeFileSync(join(repo, path), text);
    git('add', path);
  }
  git('commit', '-q', '-m', message);
  return git('rev-parse', 'HEAD').trim();
}

async function get<T>(url: string): Promise<T> {
  return ((await (await fetch(url)).json()) as { data: T }).data;
}

async function sync(): Promise<{ refused: boolean; lastRefused: { problems: { file: string; line: number; path: string }[] } | null }> {
  const res = await fetch(`${hubUrl}/api/v1/config/sync`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
  return ((await res.json()) as { data: never }).data;
}

const rows = async () => (await get<{ nodes: NodeRow[] }>(`${hubUrl}/api/v1/config/nodes`)).nodes;
const runningHash = async (id: string) => (await get<{ running: { hash: string } }>(`${nodes.get(id)?.url}/api/v1/config`)).running.hash;

/** Waits until every named node is in-sync at the hub; answers the desired hashes by node. */
async function inSync(ids: readonly string[]): Promise<Map<string, string>> {
  const found = await waitFor(
    async () => {
      const all = await rows();
      const ok = ids.every((id) => all.find((r) => r.node === id)?.state === 'in-sync');
      return ok ? new Map(all.map((r) => [r.node, r.desired?.hash ?? ''])) : undefined;
    },
    { timeoutMs: 20_000 },
  );
  return found;
}

async function startNode(id: string): Promise<void> {
  const n = nodes.get(id);
  assert.ok(n);
  n.proc = start(['node', '-c', n.yaml]);
  await n.proc.waitForOutput(/HTTP http/);
}

async function stopNode(id: string): Promise<void> {
  const n = nodes.get(id);
  n?.proc?.kill('SIGTERM');
  await n?.proc?.exited();
}

const FLEET = (deadband: string) =>
  `collectors:\n  - name: host\n    type: host\ncritical:\n  - match: battery_soc\n    deadband: ${deadband}\n`;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'fm-config-nodes-'));
  repo = join(dir, 'repo');
  mkdirSync(repo);
  execFileSync('git', ['init', '-q', '-b', 'main', repo]);
  const files: Record<string, string> = {
    'fleet.yaml': FLEET('2%'),
    'sites/north.yaml': 'name: North\n',
    'sites/south.yaml': 'name: South\n',
  };
  for (const n of NODES) files[`nodes/${n.id}.yaml`] = `node: {id: ${n.id}, site: ${n.site}, zone: z1}\n`;
  commit(files, 'fleet: first');
  broker = await startMosquitto();
  const hubYaml = await writeHubConfig(dir, broker.url);
  writeFileSync(hubYaml, `configRepo:\n  git: {url: "${repo}", branch: main, interval: 1h}\n  applyTimeout: 20s\n`, { flag: 'a' });
  hub = start(['hub', '--config', hubYaml]);
  hubUrl = (await hub.waitForOutput(/console (http:\/\/\S+)\//))[1] as string;
  for (const n of NODES) {
    const port = await freePort();
    const yaml = join(dir, `${n.id}.yaml`);
    writeFileSync(
      yaml,
      [
        `node: {id: ${n.id}, site: ${n.site}, zone: z1}`,
        `mqtt: {url: "${broker.url}"}`,
        `dataDir: ${join(dir, n.id)}`,
        `http: {port: ${port}}`,
      ].join('\n'),
    );
    nodes.set(n.id, { yaml, url: `http://127.0.0.1:${port}`, proc: undefined });
  }
  await Promise.all(NODES.map((n) => startNode(n.id)));
});

after(async () => {
  for (const n of NODES) await stopNode(n.id).catch(() => {});
  hub?.kill('SIGTERM');
  await hub?.exited();
  await broker?.stop();
  rmSync(dir, { recursive: true, force: true });
});

test('config repo with real nodes: each node applies its retained config at start and reports it; the hub shows in-sync', async () => {
  const desired = await inSync(['n1', 'n2', 's1']);
  for (const n of NODES) assert.equal(await runningHash(n.id), desired.get(n.id), `${n.id} runs what the hub wants`);
});

test('config repo with real nodes: a fleet commit changes every node, a site commit only that site', async () => {
  const before = await inSync(['n1', 'n2', 's1']);
  commit({ 'fleet.yaml': FLEET('3%') }, 'fleet: deadband 3%');
  await sync();
  const afterFleet = await waitFor(async () => {
    const m = await inSync(['n1', 'n2', 's1']);
    return NODES.every((n) => m.get(n.id) !== before.get(n.id)) ? m : undefined;
  });
  for (const n of NODES) assert.equal(await runningHash(n.id), afterFleet.get(n.id));
  commit({ 'sites/north.yaml': 'name: North\ncollectors: !append\n  - name: battery\n    type: sim_battery\n' }, 'north: a battery');
  await sync();
  const afterSite = await waitFor(async () => {
    const m = await inSync(['n1', 'n2', 's1']);
    return m.get('n1') !== afterFleet.get('n1') && m.get('n2') !== afterFleet.get('n2') ? m : undefined;
  });
  assert.equal(afterSite.get('s1'), afterFleet.get('s1'), 'the south node is untouched');
  assert.equal(await runningHash('n1'), afterSite.get('n1'));
  assert.equal(await runningHash('s1'), afterFleet.get('s1'));
});

test('config repo with real nodes: an invalid commit is refused with its reason and every node keeps its config', async () => {
  const running = new Map(await Promise.all(NODES.map(async (n) => [n.id, await runningHash(n.id)] as const)));
  commit({ 'fleet.yaml': `${FLEET('3%')}store:\n  retention: forever\n` }, 'broken retention');
  const answer = await sync();
  assert.equal(answer.refused, true);
  assert.ok(
    answer.lastRefused?.problems.some((p) => p.file === 'fleet.yaml' && p.line === 8 && p.path === 'store.retention'),
    JSON.stringify(answer.lastRefused?.problems),
  );
  // Each node still runs what it ran and still reports in-sync with the last good revision.
  await inSync(['n1', 'n2', 's1']);
  for (const n of NODES) assert.equal(await runningHash(n.id), running.get(n.id));
  commit({ 'fleet.yaml': FLEET('3%') }, 'fix retention');
  assert.equal((await sync()).refused, false);
});

test('config repo with real nodes: a node down while a commit goes out converges when it comes back', async () => {
  await stopNode('s1');
  commit({ 'fleet.yaml': FLEET('4%') }, 'fleet: deadband 4%');
  await sync();
  const north = await inSync(['n1', 'n2']);
  // Down (its death told the hub) and behind: offline, its retained config waiting on the broker.
  const s1 = await waitFor(async () => (await rows()).find((r) => r.node === 's1' && r.state === 'offline'));
  assert.notEqual(s1.reported?.hash, s1.desired?.hash, 's1 has not applied the new commit');
  await startNode('s1');
  const all = await inSync(['n1', 'n2', 's1']);
  assert.equal(all.get('n1'), north.get('n1'));
  assert.equal(await runningHash('s1'), all.get('s1'));
});

test('config repo with real nodes: a commit that waits for a restart shows pending-restart, and in-sync once the node restarted', async () => {
  commit({ 'fleet.yaml': `${FLEET('4%')}store:\n  retention: 20d\n` }, 'fleet: retention 20d (a restart key)');
  await sync();
  const waiting = await waitFor(async () => (await rows()).find((r) => r.node === 'n1' && r.state === 'pending-restart'));
  await stopNode('n1');
  await startNode('n1');
  // The restart took the retention; the desired config did not change, so only the node's start report says so.
  const after = await inSync(['n1']);
  assert.equal(after.get('n1'), waiting.desired?.hash);
  assert.equal(await runningHash('n1'), waiting.desired?.hash);
  const status = await get<{ pendingRestart: string[] }>(`${nodes.get('n1')?.url}/api/v1/config`);
  assert.deepEqual(status.pendingRestart, []);
});
