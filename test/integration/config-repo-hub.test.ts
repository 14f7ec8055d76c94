// The hub side of reconciliation end to end: a git repository made here (Debian's git) with commits for the
// fleet and for one site, pulled by a real hub process through a real Mosquitto. The nodes are MQTT clients
// of this test that read their retained config topics and report through event frames, as a node does
// (the node side's own test runs real nodes): a fleet commit changes every node, a site commit only that
// site's, an invalid commit is refused with file:line:col and nothing goes out, reports make nodes in-sync
// or failed, an apply in waves stops at the first failing wave, and a node the repository drops gets its
// retained config cleared.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import mqtt from 'mqtt';
import { type DesiredConfig, decodeConfigFrame, encodeEvent } from '../../src/protocol/index.js';
import { type FieldmeshProcess, fieldmeshKilledAfter, writeHubConfig } from '../kit/fieldmesh-process.js';
import { type MosquittoInstance, startMosquitto } from '../kit/mosquitto.js';
import { waitFor } from '../kit/wait.js';

const start = fieldmeshKilledAfter();
let dir: string;
let repo: string;
let broker: MosquittoInstance;
let hub: FieldmeshProcess;
let hubUrl: string;
let client: mqtt.MqttClient;
/** Every config message seen, newest last, by node (empty payload: cleared). */
const seen = new Map<string, (DesiredConfig | 'cleared')[]>();

function git(...args: string[]): string {
  return execFileSync('git', ['-C', repo, ...args], {
    encoding: 'utf8',
    env: { ...process.env, GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@x', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@x' },
  });
}

function commit(files: Record<string, string | null>, message: string): string {
  for (const [path, text] of Object.entries(files)) {
    if (text === null) git('rm', '-q', path);
    else {
      mkdirSync(join(repo, path, '..'), { recursive: true });
      writeFileSync(join(repo, path), text);
      git('add', path);
    }
  }
  git('commit', '-q', '-m', message);
  return git('rev-parse', 'HEAD').trim();
}

async function api<T>(path: string, body?: unknown): Promise<{ status: number; data: T; message?: string }> {
  const res = await fetch(`${hubUrl}${path}`, {
    method: body === undefined ? 'GET' : 'POST',
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const json = (await res.json()) as { data: T; message?: string };
  return { ...json, status: res.status };
}

const latest = (key: string) => seen.get(key)?.at(-1);
const count = (key: string) => seen.get(key)?.length ?? 0;

let eventSeq = 0;
function report(site: string, node: string, kind: string, payload: unknown): void {
  eventSeq++;
  const frame = encodeEvent({
    epoch: 1,
    seq: eventSeq,
    time: Date.now(),
    id: `ev-${eventSeq}`,
    priority: 'normal',
    kind,
    payload: new TextEncoder().encode(JSON.stringify(payload)),
  });
  client.publish(`fm/${site}/${node}/event`, Buffer.from(frame), { qos: 1 });
}

const NODE = (id: string, site: string) => `node: {id: ${id}, site: ${site}, zone: z1}\n`;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'fm-config-repo-hub-'));
  repo = join(dir, 'repo');
  mkdirSync(repo);
  execFileSync('git', ['init', '-q', '-b', 'main', repo]);
  commit(
    {
      'fleet.yaml': 'store:\n  retention: 30d\ncollectors:\n  - name: host\n    type: host\n',
      'sites/north.yaml': 'name: North\n',
      'sites/south.yaml': 'name: South\n',
      'nodes/n1.yaml': NODE('n1', 'north'),
      'nodes/n2.yaml': NODE('n2', 'north'),
      'nodes/s1.yaml': NODE('s1', 'south'),
    },
    'fleet: first',
  );
  broker = await startMosquitto();
  const hubYaml = await writeHubConfig(dir, broker.url);
  // A rule on the hub's own reconciliation series: a refused revision is an alert like any other.
  const rules = join(dir, 'config-rules.yaml');
  writeFileSync(
    rules,
    'groups:\n  - name: config\n    rules:\n      - alert: ConfigRefused\n        expr: fieldmesh_config_revision_refused == 1\n',
  );
  writeFileSync(
    hubYaml,
    `topicPrefix: fm\nconfigRepo:\n  git: {url: "${repo}", branch: main, interval: 1h}\n  applyTimeout: 10s\nalerts: {evaluationInterval: 1s, ruleFiles: ["${rules}"]}\n`,
    { flag: 'a' },
  );
  hub = start(['hub', '--config', hubYaml]);
  hubUrl = (await hub.waitForOutput(/console (http:\/\/\S+)\//))[1] as string;
  client = mqtt.connect(broker.url, { clientId: 'config-watcher' });
  client.on('message', (topic, payload) => {
    const key = topic.split('/').slice(-2).join('/');
    const list = seen.get(key) ?? [];
    seen.set(key, list);
    if (payload.length === 0) list.push('cleared');
    else void decodeConfigFrame(new Uint8Array(payload)).then((d) => list.push(d));
  });
  await client.subscribeAsync('fm/_hub/config/#', { qos: 1 });
});

after(async () => {
  await client?.endAsync();
  hub?.kill('SIGTERM');
  await hub?.exited();
  await broker?.stop();
  rmSync(dir, { recursive: true, force: true });
});

test('config repo at the hub: the first commit reaches every node retained, with its commit and source', async () => {
  await waitFor(() => ['north/n1', 'north/n2', 'south/s1'].every((k) => count(k) === 1), { timeoutMs: 15_000 });
  const head = git('rev-parse', 'HEAD').trim();
  const n1 = latest('north/n1') as DesiredConfig;
  assert.equal(n1.commit, head);
  assert.equal(n1.source, `git:${repo}@main`);
  assert.deepEqual(n1.config.node, { id: 'n1', site: 'north', zone: 'z1' });
  const { data } = await api<{ lastGood: { commit: string }; nodes: { total: number; states: Record<string, number> } }>('/api/v1/config');
  assert.equal(data.lastGood.commit, head);
  assert.equal(data.nodes.states.offline, 3, 'no node reported yet, none known to the fleet');
});

test('config repo at the hub: a fleet commit changes every node, a site commit only its site', async () => {
  const fleetCommit = commit({ 'fleet.yaml': 'store:\n  retention: 14d\ncollectors:\n  - name: host\n    type: host\n' }, 'fleet: 14d');
  const sync = await api<{ lastGood: { commit: string } }>('/api/v1/config/sync', {});
  assert.equal(sync.data.lastGood.commit, fleetCommit);
  await waitFor(() => ['north/n1', 'north/n2', 'south/s1'].every((k) => count(k) === 2));
  assert.deepEqual((latest('south/s1') as DesiredConfig).config.store, { retention: '14d' });
  const siteCommit = commit({ 'sites/north.yaml': 'name: North\nstore:\n  retention: 60d\n' }, 'north: 60d');
  await api('/api/v1/config/sync', {});
  await waitFor(() => count('north/n1') === 3 && count('north/n2') === 3);
  assert.equal((latest('north/n2') as DesiredConfig).commit, siteCommit);
  assert.deepEqual((latest('north/n1') as DesiredConfig).config.store, { retention: '60d' });
  assert.equal(count('south/s1'), 2, 'the south node is untouched by the north commit');
});

test('config repo at the hub: an invalid commit is refused as a whole with file:line:col; nothing goes out', async () => {
  const before = ['north/n1', 'north/n2', 'south/s1'].map(count);
  const good = git('rev-parse', 'HEAD').trim();
  const bad = commit(
    {
      'fleet.yaml': 'store:\n  retention: 14d\ncollectors:\n  - name: host\n    type: host\n    interval: soon\n',
      'nodes/s1.yaml': `${NODE('s1', 'south')}bogus: 1\n`,
    },
    'broken',
  );
  const sync = await api<{
    refused: boolean;
    lastGood: { commit: string };
    lastRefused: { commit: string; problems: { file: string; line: number; col: number; path: string; message: string }[] };
  }>('/api/v1/config/sync', {});
  assert.equal(sync.data.refused, true);
  assert.equal(sync.data.lastGood.commit, good);
  assert.equal(sync.data.lastRefused.commit, bad);
  const where = sync.data.lastRefused.problems.map((p) => `${p.file}:${p.line}:${p.col}: ${p.path}`);
  assert.ok(where.includes('nodes/s1.yaml:2:1: bogus'), where.join('\n'));
  assert.ok(
    where.some((w) => /^fleet\.yaml:6:\d+: collectors\[0\]\.interval/.test(w)),
    where.join('\n'),
  );
  const metrics = await (await fetch(`${hubUrl}/metrics`)).text();
  assert.match(metrics, /^fieldmesh_config_revision_refused 1$/m);
  assert.match(metrics, /^fieldmesh_config_revisions_total\{result="refused"\} 1$/m);
  const firing = async () =>
    (await api<{ alerts: { labels: Record<string, string>; state: string }[] }>('/api/v1/alerts')).data.alerts.some(
      (a) => a.labels.alertname === 'ConfigRefused' && a.state === 'firing',
    );
  await waitFor(firing, { what: 'ConfigRefused firing on fieldmesh_config_revision_refused' });
  // Give a stray publish every chance to arrive: a round trip through the broker after the sync.
  await client.publishAsync('fm/_test/barrier', 'x', { qos: 1 });
  assert.deepEqual(['north/n1', 'north/n2', 'south/s1'].map(count), before);
  commit(
    { 'fleet.yaml': 'store:\n  retention: 14d\ncollectors:\n  - name: host\n    type: host\n', 'nodes/s1.yaml': NODE('s1', 'south') },
    'fixed',
  );
  const fixed = await api<{ refused: boolean }>('/api/v1/config/sync', {});
  assert.equal(fixed.data.refused, false);
  await waitFor(async () => !(await firing()), { what: 'ConfigRefused resolved' });
  assert.deepEqual(['north/n1', 'north/n2', 'south/s1'].map(count), before, 'the fixed commit renders what was published: nothing to send');
});

test("config repo at the hub: nodes' reports make them in-sync, pending-restart or failed", async () => {
  const hashOf = (k: string) => (latest(k) as DesiredConfig).hash;
  report('north', 'n1', 'config_applied', { hash: hashOf('north/n1'), commit: null, applied: ['store'], pendingRestart: [] });
  report('north', 'n2', 'config_applied', { hash: hashOf('north/n2'), commit: null, applied: [], pendingRestart: ['store'] });
  report('south', 's1', 'config_rejected', { hash: hashOf('south/s1'), commit: null, stage: 'apply', error: 'collector host failed' });
  const states = await waitFor(async () => {
    const { data } = await api<{ nodes: { node: string; state: string }[] }>('/api/v1/config/nodes');
    const s = data.nodes.map((n) => `${n.node}:${n.state}`).join(' ');
    return s === 'n1:in-sync n2:pending-restart s1:failed' ? s : undefined;
  });
  assert.ok(states);
  const one = await api<{ state: string; provenance: Record<string, { file: string }>; config: { store: unknown } }>(
    '/api/v1/config/nodes/north/n1',
  );
  assert.equal(one.data.state, 'in-sync');
  assert.equal(one.data.provenance['store.retention']?.file, 'sites/north.yaml');
  assert.equal((await api('/api/v1/config/nodes/north/nope')).status, 404);
  // A hand edit: a hash the hub never issued.
  report('north', 'n1', 'config_applied', { hash: 'f'.repeat(64), commit: null, applied: [], pendingRestart: [] });
  await waitFor(
    async () =>
      (await api<{ nodes: { node: string; drift: boolean }[] }>('/api/v1/config/nodes')).data.nodes.find((n) => n.node === 'n1')?.drift,
  );
});

test('config repo at the hub: apply in waves stops at the first failing wave; the later waves are skipped', async () => {
  const hashOf = (k: string) => (latest(k) as DesiredConfig).hash;
  const applying = api<{ state: string; stoppedBy: string; waves: { state: string; nodes: { node: string; result: string }[] }[] }>(
    '/api/v1/config/apply',
    { target: { sites: ['north'] }, waves: [1], wait: true },
  );
  // Wave 1 (n1) is out once its config is published again; the node refuses it.
  await waitFor(() => count('north/n1') === 4);
  report('north', 'n1', 'config_rejected', {
    hash: hashOf('north/n1'),
    commit: null,
    stage: 'apply',
    error: 'collector host failed to start',
  });
  const { status, data } = await applying;
  assert.equal(status, 200);
  assert.equal(data.state, 'stopped');
  assert.deepEqual(
    data.waves.map((w) => `${w.state}:${w.nodes.map((n) => `${n.node}=${n.result}`).join(',')}`),
    ['failed:n1=failed', 'skipped:n2=skipped'],
  );
  assert.match(data.stoppedBy, /north\/n1 failed \(apply: collector host failed to start\)/);
  assert.equal(count('north/n2'), 3, 'the skipped wave got nothing');
});

test('config repo at the hub: a node the repository drops has its retained config cleared and shows removed', async () => {
  commit({ 'nodes/n2.yaml': null }, 'drop n2');
  await api('/api/v1/config/sync', {});
  await waitFor(() => latest('north/n2') === 'cleared');
  const { data } = await api<{ nodes: { node: string; state: string }[] }>('/api/v1/config/nodes');
  assert.equal(data.nodes.find((n) => n.node === 'n2')?.state, 'removed');
});
