// Node registration with approval, end to end: a real Mosquitto, a hub process in registration.mode approve
// with login on (admin and operator API tokens made by `fieldmesh hub token create`), and three real node
// processes. A pre-approved node is admitted at once; an unknown one is pending and none of its samples are
// at the hub; `fieldmesh hub nodes approve` admits it, it comes online, and every sample it recorded while
// pending reaches the hub (compared with the node's own store); a rejected node stays out; an operator's
// token is refused. docs/registration.md.

import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { type FieldmeshProcess, fieldmeshKilledAfter, runFieldmesh, writeHubConfig } from '../kit/fieldmesh-process.js';
import { type MosquittoInstance, startMosquitto } from '../kit/mosquitto.js';
import { freePort } from '../kit/ports.js';
import { waitFor } from '../kit/wait.js';

const start = fieldmeshKilledAfter();
let dir: string;
let broker: MosquittoInstance;
let hubUrl: string;
let adminToken: string;
const nodeUrls = new Map<string, string>();
const tokenFile = (name: string) => join(dir, `${name}.token`);

/** Runs a short `fieldmesh` command to its end: exit code, stdout, stderr. */
async function cli(args: readonly string[]): Promise<{ code: number | string; out: string; err: string }> {
  const p = runFieldmesh(args);
  const code = await p.exited();
  return { code, out: p.stdout(), err: p.stderr() };
}

async function hubAnswer<T>(path: string): Promise<T> {
  const res = await fetch(`${hubUrl}${path}`, { headers: { authorization: `Bearer ${adminToken}` } });
  assert.equal(res.status, 200, `${path}: ${res.status}`);
  return (await res.json()) as T;
}
const hubGet = async <T>(path: string): Promise<T> => (await hubAnswer<{ data: T }>(path)).data;

interface Matrix {
  result: { metric: Record<string, string>; values: [number, string][] }[];
}

/** When the nodes started: the window of their pending samples starts here. */
let startedAt = 0;
const STEP_MS = 100;

/**
 * battery_soc of `node` from `startedAt` to `endMs` every 100 ms (the samples come every 300 ms), at the hub
 * or from the node's own store: equal answers mean the hub holds the node's samples of the window.
 */
async function socValues(where: 'hub' | 'node', node: string, endMs: number): Promise<[number, string][]> {
  const selector = where === 'hub' ? `battery_soc{node="${node}"}` : 'battery_soc';
  const query = `/api/v1/query_range?query=${encodeURIComponent(selector)}&start=${startedAt / 1000}&end=${endMs / 1000}&step=${STEP_MS / 1000}`;
  const data =
    where === 'hub'
      ? await hubGet<Matrix>(query)
      : ((await (await fetch(`${nodeUrls.get(node)}${query}`)).json()) as { data: Matrix }).data;
  assert.ok(data.result.length <= 1, JSON.stringify(data.result.map((r) => r.metric)));
  return data.result[0]?.values ?? [];
}

async function startNode(id: string): Promise<FieldmeshProcess> {
  const path = join(dir, `${id}.yaml`);
  writeFileSync(
    path,
    `node: {id: ${id}, site: ranch, zone: west}\nmqtt: {url: "${broker.url}"}\ndataDir: ${join(dir, 'data')}\n` +
      `http: {port: ${await freePort()}}\npublish: {tick: 300ms, heartbeat: 2s}\noutbox: {historyInterval: 300ms}\n` +
      'collectors: [{type: sim_battery, name: b1, interval: 300ms, speedup: 600}]\ncritical: [{match: battery_soc}]\n',
  );
  const proc = start(['node', '--config', path]);
  const [, url] = await proc.waitForOutput(/HTTP (http:\/\/\S+)/, 20_000);
  nodeUrls.set(id, url as string);
  return proc;
}

const fleetNodes = async () => (await hubAnswer<{ nodes: { site: string; node: string; state: string }[] }>('/api/v1/nodes')).nodes;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'fm-registration-'));
  broker = await startMosquitto();
  const hubYaml = await writeHubConfig(dir, broker.url);
  writeFileSync(hubYaml, 'registration: {mode: approve}\nauth: {mode: on}\n', { flag: 'a' });
  for (const [name, role] of [
    ['admin', 'admin'],
    ['ops', 'operator'],
  ] as const) {
    const made = await cli(['hub', 'token', 'create', '--config', hubYaml, '--name', name, '--role', role]);
    assert.equal(made.code, 0, made.err);
    writeFileSync(tokenFile(name), made.out);
  }
  adminToken = readFileSync(tokenFile('admin'), 'utf8').trim();
  const hub = start(['hub', '--config', hubYaml]);
  hubUrl = (await hub.waitForOutput(/console (http:\/\/\S+)\//))[1] as string;
});

after(async () => {
  await broker?.stop();
  rmSync(dir, { recursive: true, force: true });
});

test('registration: a pre-approved node is admitted, unknown ones wait; an operator may not approve; a rejected node stays out', async () => {
  const pre = await cli(['hub', 'nodes', 'approve', 'ranch/alpha', '--hub', hubUrl, '--token-file', tokenFile('admin')]);
  assert.equal(pre.code, 0, pre.err);
  assert.match(pre.out, /ranch\/alpha approved/);
  startedAt = Date.now();
  await Promise.all([startNode('alpha'), startNode('bravo'), startNode('charlie')]);

  await waitFor(async () => (await fleetNodes()).some((n) => n.node === 'alpha' && n.state === 'online'), {
    what: 'alpha online',
    timeoutMs: 15_000,
  });
  await waitFor(async () => (await hubGet<{ registrations: unknown[] }>('/api/v1/registrations')).registrations.length === 2, {
    what: 'bravo and charlie pending',
  });
  const pending = await cli(['hub', 'nodes', 'pending', '--hub', hubUrl, '--token-file', tokenFile('admin')]);
  assert.equal(pending.code, 1, 'exit 1: nodes wait for approval');
  assert.match(pending.out, /^2 nodes waiting for approval, 0 rejected, 1 approved \(registration.mode approve\)/);
  assert.match(pending.out, /ranch\/bravo +pending +west +\S+/);
  assert.deepEqual(
    (await fleetNodes()).map((n) => n.node),
    ['alpha'],
  );
  await waitFor(async () => (await socValues('hub', 'alpha', Date.now())).length > 0, { what: 'alpha replicates' });
  assert.deepEqual(await socValues('hub', 'bravo', Date.now()), [], 'nothing of bravo is stored at the hub');

  const refused = await cli(['hub', 'nodes', 'approve', 'ranch/bravo', '--hub', hubUrl, '--token-file', tokenFile('ops')]);
  assert.equal(refused.code, 2);
  assert.match(refused.err, /FM_AUTH_FORBIDDEN: .*registrations need an admin/);
  const usage = await cli(['hub', 'nodes', 'approve', 'bravo', '--hub', hubUrl, '--token-file', tokenFile('admin')]);
  assert.deepEqual([usage.code, /FM_CLI_USAGE: "bravo": expected SITE\/NODE/.test(usage.err)], [2, true]);

  const rejected = await cli(['hub', 'nodes', 'reject', 'ranch/charlie', '--hub', hubUrl, '--token-file', tokenFile('admin')]);
  assert.equal(rejected.code, 0, rejected.err);
});

test('registration: approving a pending node brings it online and every sample it recorded while pending reaches the hub', async (t) => {
  // bravo records for a while unacknowledged: its outbox keeps it all.
  // bravo records for a while unacknowledged: its outbox keeps it all. The window ends a second ago, so
  // every sample in it is in the node's store.
  await waitFor(async () => (await socValues('node', 'bravo', Date.now() - 1_000)).length >= 30, { what: 'bravo recorded 3 s' });
  const endMs = Date.now() - 1_000;
  const recorded = await socValues('node', 'bravo', endMs);
  assert.ok(new Set(recorded.map(([, v]) => v)).size > 3, 'the samples differ: a missing one would show');
  assert.deepEqual(await socValues('hub', 'bravo', endMs), []);

  const t0 = Date.now();
  const approved = await cli(['hub', 'nodes', 'approve', 'ranch/bravo', '--hub', hubUrl, '--token-file', tokenFile('admin')]);
  assert.equal(approved.code, 0, approved.err);
  assert.match(approved.out, /^ranch\/bravo approved: rebirth requested, its outbox drains to the hub/);
  await waitFor(async () => (await fleetNodes()).some((n) => n.node === 'bravo' && n.state === 'online'), { what: 'bravo online' });
  const online = Date.now() - t0;
  await waitFor(async () => JSON.stringify(await socValues('hub', 'bravo', endMs)) === JSON.stringify(recorded), {
    what: 'every sample bravo recorded while pending at the hub',
    timeoutMs: 20_000,
  });
  const drained = Date.now() - t0;
  // Well before the replicator's 15 s ack timeout: the unknown-node rebirth made it resend at once.
  assert.ok(drained < 10_000, `drained in ${drained} ms`);
  t.diagnostic(`bravo online ${online} ms and its pending samples at the hub ${drained} ms after approval`);

  // charlie, rejected, stays out: listed as rejected, nothing stored.
  const pending = await cli(['hub', 'nodes', 'pending', '--hub', hubUrl, '--token-file', tokenFile('admin'), '--json']);
  assert.equal(pending.code, 0, 'exit 0: nobody waits');
  const list = JSON.parse(pending.out) as { registrations: { node: string; status: string; framesIgnored: number }[] };
  assert.deepEqual(
    list.registrations.map((r) => [r.node, r.status]),
    [['charlie', 'rejected']],
  );
  assert.ok((list.registrations[0]?.framesIgnored ?? 0) > 0);
  assert.ok(!(await fleetNodes()).some((n) => n.node === 'charlie'));
  assert.deepEqual(await socValues('hub', 'charlie', Date.now()), []);
});
