// Assigning a site and a zone at approval, end to end: a real Mosquitto, a hub process in registration.mode
// approve with login on, and a real node process whose node.yaml says site ranch zone west. It waits pending,
// recording; `fieldmesh hub nodes approve ranch/delta --site farm --zone east` assigns it: the node restarts its
// agent in the process under farm/delta zone east, its state dir moved, so every sample it recorded while
// pending reaches the hub under the new identity (compared with the node's own store); the old key never enters
// the fleet, and the hub's retained assignment is cleared. A restart of the node keeps the assignment. Bad
// input: the CLI refuses an id that is not one before asking, the hub an unknown field.
// docs/registration.md "Assigning a site and a zone".

import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import mqtt from 'mqtt';
import { type FieldmeshProcess, runFieldmesh, writeHubConfig } from '../kit/fieldmesh-process.js';
import { type MosquittoInstance, startMosquitto } from '../kit/mosquitto.js';
import { freePort } from '../kit/ports.js';
import { waitFor } from '../kit/wait.js';

let dir: string;
let broker: MosquittoInstance;
let hub: FieldmeshProcess;
let hubUrl: string;
let adminToken: string;
const running: FieldmeshProcess[] = [];
const tokenFile = () => join(dir, 'admin.token');

/** A long-running `fieldmesh` process, killed after the file (info logs: the identity lines are info). */
function start(args: readonly string[]): FieldmeshProcess {
  const p = runFieldmesh(args, { FIELDMESH_LOG_LEVEL: 'info' });
  running.push(p);
  return p;
}

async function cli(args: readonly string[]): Promise<{ code: number | string; out: string; err: string }> {
  const p = runFieldmesh(args);
  const code = await p.exited();
  return { code, out: p.stdout(), err: p.stderr() };
}

async function hubGet<T>(path: string): Promise<T> {
  const res = await fetch(`${hubUrl}${path}`, { headers: { authorization: `Bearer ${adminToken}` } });
  assert.equal(res.status, 200, `${path}: ${res.status}`);
  return ((await res.json()) as { data: T }).data;
}
const fleetNodes = async () =>
  (
    (await (await fetch(`${hubUrl}/api/v1/nodes`, { headers: { authorization: `Bearer ${adminToken}` } })).json()) as {
      nodes: { site: string; node: string; zone: string; state: string; epoch: number }[];
    }
  ).nodes;

interface Matrix {
  result: { metric: Record<string, string>; values: [number, string][] }[];
}
const STEP_MS = 100;

/**
 * battery_soc from `startMs` to `endMs` every 100 ms (the samples come every 300 ms), at the hub for `selector`
 * or from the node's own store: equal answers mean the hub holds the node's samples of the window.
 */
async function socValues(from: { hub: string } | { nodeUrl: string }, startMs: number, endMs: number): Promise<[number, string][]> {
  const selector = 'hub' in from ? from.hub : 'battery_soc';
  const query = `/api/v1/query_range?query=${encodeURIComponent(selector)}&start=${startMs / 1000}&end=${endMs / 1000}&step=${STEP_MS / 1000}`;
  const data =
    'hub' in from ? await hubGet<Matrix>(query) : ((await (await fetch(`${from.nodeUrl}${query}`)).json()) as { data: Matrix }).data;
  assert.ok(data.result.length <= 1, JSON.stringify(data.result.map((r) => r.metric)));
  return data.result[0]?.values ?? [];
}

/** Whether the broker holds a retained message on `topic`: a marker published after subscribing comes after it. */
async function retainedOn(topic: string): Promise<boolean> {
  const client = await mqtt.connectAsync(broker.url, { clientId: `probe-${Date.now()}`, reconnectPeriod: 0 });
  try {
    const seen: Buffer[] = [];
    client.on('message', (_t, payload) => seen.push(payload));
    await client.subscribeAsync(topic, { qos: 1 });
    await client.publishAsync(topic, 'marker', { qos: 1 });
    await waitFor(() => seen.some((p) => p.toString() === 'marker'), { what: 'marker back' });
    return seen[0]?.toString() !== 'marker';
  } finally {
    await client.endAsync();
  }
}

let nodeYaml: string;
let nodeYamlText: string;
const dataDir = () => join(dir, 'data');

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'fm-registration-assign-'));
  broker = await startMosquitto();
  const hubYaml = await writeHubConfig(dir, broker.url);
  writeFileSync(hubYaml, 'registration: {mode: approve}\nauth: {mode: on}\n', { flag: 'a' });
  const made = await cli(['hub', 'token', 'create', '--config', hubYaml, '--name', 'ada', '--role', 'admin']);
  assert.equal(made.code, 0, made.err);
  writeFileSync(tokenFile(), made.out);
  adminToken = made.out.trim();
  hub = start(['hub', '--config', hubYaml]);
  hubUrl = (await hub.waitForOutput(/console (http:\/\/\S+)\//))[1] as string;
  nodeYaml = join(dir, 'delta.yaml');
  nodeYamlText =
    `node: {id: delta, site: ranch, zone: west}\nmqtt: {url: "${broker.url}"}\ndataDir: ${dataDir()}\n` +
    `http: {port: ${await freePort()}}\npublish: {tick: 300ms, heartbeat: 2s}\noutbox: {historyInterval: 300ms}\n` +
    'collectors: [{type: sim_battery, name: b1, interval: 300ms, speedup: 600}]\ncritical: [{match: battery_soc}]\n';
  writeFileSync(nodeYaml, nodeYamlText);
});

after(async () => {
  for (const p of running) p.kill('SIGKILL');
  await Promise.all(running.map((p) => p.exited()));
  await broker?.stop();
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
});

test('registration assign: approved with --site farm --zone east, a pending node runs as farm/delta in east and its pending samples reach the hub under it', async (t) => {
  const startedAt = Date.now();
  const node = start(['node', '--config', nodeYaml]);
  const nodeUrl = (await node.waitForOutput(/fieldmesh node ranch\/delta \(boot \d+\) .*HTTP (http:\/\/\S+)/, 20_000))[1] as string;
  await waitFor(async () => (await hubGet<{ registrations: { node: string }[] }>('/api/v1/registrations')).registrations.length === 1, {
    what: 'delta pending',
    timeoutMs: 15_000,
  });
  // Bad input first: nothing is decided.
  const badId = await cli(['hub', 'nodes', 'approve', 'ranch/delta', '--site', 'Farm', '--hub', hubUrl, '--token-file', tokenFile()]);
  assert.equal(badId.code, 2);
  assert.match(badId.err, /FM_CLI_USAGE: --site "Farm": expected an id/);
  const unknown = await fetch(`${hubUrl}/api/v1/registrations/ranch/delta/approve`, {
    method: 'POST',
    headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
    body: JSON.stringify({ site: 'farm', zones: 'east' }),
  });
  assert.equal(unknown.status, 400);
  assert.match(((await unknown.json()) as { message: string }).message, /body: unknown field "zones"/);

  // delta records for a while unacknowledged: its outbox keeps it all. The window ends a second ago, so every
  // sample in it is in the node's store.
  await waitFor(async () => (await socValues({ nodeUrl }, startedAt, Date.now() - 1_000)).length >= 30, { what: 'delta recorded 3 s' });
  const endMs = Date.now() - 1_000;
  const recorded = await socValues({ nodeUrl }, startedAt, endMs);
  assert.ok(new Set(recorded.map(([, v]) => v)).size > 3, 'the samples differ: a missing one would show');
  assert.deepEqual(await socValues({ hub: 'battery_soc{node="delta"}' }, startedAt, endMs), []);

  const t0 = Date.now();
  const approved = await cli([
    'hub',
    'nodes',
    'approve',
    'ranch/delta',
    '--site',
    'farm',
    '--zone',
    'east',
    '--hub',
    hubUrl,
    '--token-file',
    tokenFile(),
  ]);
  assert.equal(approved.code, 0, approved.err);
  assert.equal(
    approved.out.trim(),
    'ranch/delta approved as farm/delta in zone east: assignment sent; the node restarts under it and its outbox drains to the hub',
  );
  await node.waitForOutput(/identity assigned by the hub: site farm zone east \(it ran as site ranch zone west\); restarting under it/);
  const restartedUrl = (
    await node.waitForOutput(/fieldmesh node farm\/delta \(boot \d+\) .*HTTP (http:\/\/\S+); site and zone assigned/)
  )[1];
  assert.equal(restartedUrl, nodeUrl, 'the same HTTP port after the restart');
  await waitFor(async () => (await fleetNodes()).some((n) => n.site === 'farm' && n.node === 'delta' && n.state === 'online'), {
    what: 'farm/delta online',
    timeoutMs: 10_000,
  });
  const online = Date.now() - t0;
  assert.equal((await fleetNodes()).find((n) => n.node === 'delta')?.zone, 'east');
  await waitFor(
    async () =>
      JSON.stringify(await socValues({ hub: 'battery_soc{site="farm",node="delta",zone="east"}' }, startedAt, endMs)) ===
      JSON.stringify(recorded),
    {
      what: 'every sample delta recorded while pending at the hub, as farm/delta in east',
      timeoutMs: 20_000,
    },
  );
  const drained = Date.now() - t0;
  assert.ok(drained < 10_000, `drained in ${drained} ms`);
  t.diagnostic(
    `farm/delta online ${online} ms and its ${recorded.length} pending points (at 100 ms steps) at the hub ${drained} ms after approval`,
  );

  // Nothing under the old identity, anywhere.
  assert.deepEqual(
    (await fleetNodes()).map((n) => `${n.site}/${n.node}`),
    ['farm/delta'],
  );
  assert.deepEqual(await socValues({ hub: 'battery_soc{site="ranch"}' }, startedAt, Date.now()), []);
  // The node: its identity from the hub, node.yaml untouched, the state dir under the new site.
  const config = ((await (await fetch(`${nodeUrl}/api/v1/config`)).json()) as { data: { identity: Record<string, unknown> } }).data;
  assert.deepEqual(config.identity, {
    site: 'farm',
    zone: 'east',
    node: 'delta',
    assigned: { site: 'farm', zone: 'east', by: 'ada', at: (config.identity.assigned as { at: number }).at },
    nodeYaml: { site: 'ranch', zone: 'west' },
  });
  assert.equal(readFileSync(nodeYaml, 'utf8'), nodeYamlText);
  assert.equal(existsSync(join(dataDir(), 'farm', 'delta', 'store.db')), true);
  assert.equal(existsSync(join(dataDir(), 'ranch', 'delta')), false);
  // The hub cleared its retained assignment once farm/delta announced itself.
  await waitFor(async () => !(await retainedOn('fieldmesh/_hub/assign/ranch/delta')), { what: 'retained assignment cleared' });

  // A restart keeps the assignment: the node comes back as farm/delta in east, a new session.
  const epoch = (await fleetNodes()).find((n) => n.node === 'delta')?.epoch ?? 0;
  node.kill('SIGTERM');
  assert.equal(await node.exited(), 0);
  const again = start(['node', '--config', nodeYaml]);
  await again.waitForOutput(/identity assigned by the hub: site farm zone east \(node.yaml says site ranch zone west\)/, 20_000);
  await again.waitForOutput(/fieldmesh node farm\/delta \(boot \d+\)/, 20_000);
  await waitFor(
    async () => (await fleetNodes()).some((n) => n.site === 'farm' && n.node === 'delta' && n.state === 'online' && n.epoch > epoch),
    { what: 'farm/delta online again after its restart', timeoutMs: 15_000 },
  );
  assert.deepEqual(
    (await fleetNodes()).map((n) => `${n.site}/${n.node} ${n.zone}`),
    ['farm/delta east'],
  );
  assert.match(again.stdout() + again.stderr(), /site and zone assigned by the hub \(farm, east\)/);
});
