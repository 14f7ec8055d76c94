// The node side of config distribution end to end: a real Mosquitto, real `fieldmesh node` processes, and the
// test in the hub's place publishing retained config frames (the protocol's own encoder) on
// <prefix>/_hub/config/<site>/<node>: a valid config applies live (the new collector's series at the node's
// API, a config_applied event on the node's event channel), an invalid one is refused with its reason (GET
// /api/v1/config, a config_rejected event) and the old config keeps running, a restart-only change is
// reported pending, a node down when its config was published applies it at start. Then the standalone
// mode: a node reconciling from its clone of a git repository made here, a commit that adds a collector
// applied after a pull on SIGHUP, an invalid commit refused.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { silentLogger } from '../../src/kit/index.js';
import {
  createFrameRouter,
  type DesiredConfig,
  desiredConfigOf,
  encodeConfigFrame,
  hubConfigTopic,
  type NodeConfigStatus,
} from '../../src/protocol/index.js';
import { createMqttTransport, type Transport } from '../../src/transport/index.js';
import { type FieldmeshProcess, runFieldmesh } from '../kit/fieldmesh-process.js';
import { type MosquittoInstance, startMosquitto } from '../kit/mosquitto.js';
import { nodeMetric } from '../kit/node-api.js';
import { freePort } from '../kit/ports.js';
import { waitFor } from '../kit/wait.js';

const dir = mkdtempSync(join(tmpdir(), 'fm-reconcile-it-'));
let mosquitto: MosquittoInstance;
let hub: Transport;
/** Every event frame a node sent, by node: [kind, payload]. */
const events = new Map<string, Array<{ kind: string; payload: Record<string, unknown> }>>();
const running = new Set<FieldmeshProcess>();

before(async () => {
  mosquitto = await startMosquitto();
  hub = createMqttTransport({ url: mosquitto.url, clientId: 'test-hub', logger: silentLogger });
  const eventFrames = createFrameRouter({ source: hub, prefix: 'fieldmesh' }).on('event', (frame, { topic }) => {
    const list = events.get(topic.node) ?? [];
    list.push({ kind: frame.kind, payload: JSON.parse(new TextDecoder().decode(frame.payload)) });
    events.set(topic.node, list);
  });
  hub.start();
  await eventFrames.ready;
});

after(async () => {
  for (const p of running) p.kill('SIGKILL');
  await hub?.close();
  await mosquitto?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const B1 = { type: 'sim_battery', name: 'b1', interval: '500ms' };
const HOST = { type: 'host', name: 'h1', interval: '500ms' };

/** The node's own node.yaml: identity, broker, state, HTTP (the local keys), and a first config. */
async function writeNodeYaml(node: string, extra = ''): Promise<string> {
  const path = join(dir, `${node}.yaml`);
  writeFileSync(
    path,
    `node: {id: ${node}, site: ranch}\nmqtt: {url: "${mosquitto.url}"}\ndataDir: ${join(dir, 'data')}\nhttp: {port: ${await freePort()}}\n` +
      `publish: {tick: 500ms, heartbeat: 2s}\ncollectors: [{type: sim_battery, name: b1, interval: 500ms}]\n${extra}`,
  );
  return path;
}

async function startNode(config: string, args: readonly string[] = []): Promise<{ proc: FieldmeshProcess; url: string }> {
  const proc = runFieldmesh(['node', '--config', config, ...args], { FIELDMESH_LOG_LEVEL: 'info' });
  running.add(proc);
  const [, url] = await proc.waitForOutput(/HTTP (http:\/\/\S+)/, 20_000);
  return { proc, url: url as string };
}

async function stopNode(proc: FieldmeshProcess): Promise<void> {
  proc.kill('SIGTERM');
  await proc.exited();
  running.delete(proc);
}

async function configStatus(url: string): Promise<NodeConfigStatus> {
  const res = await fetch(`${url}/api/v1/config`);
  assert.equal(res.status, 200);
  return ((await res.json()) as { data: NodeConfigStatus }).data;
}

async function metricNames(url: string): Promise<string[]> {
  const res = await fetch(`${url}/api/v1/label/__name__/values`);
  return ((await res.json()) as { data: string[] }).data;
}

function desired(node: string, config: Record<string, unknown>, commit: string): DesiredConfig {
  return desiredConfigOf(
    { node: { id: node, site: 'ranch' }, ...config },
    { commit, source: 'git:https://example.org/fleet.git@main', issuedAt: Date.now() },
  );
}

async function publishDesired(node: string, d: DesiredConfig): Promise<void> {
  await hub.publish(hubConfigTopic('fieldmesh', 'ranch', node), await encodeConfigFrame(d), { qos: 1, retain: true });
}

function eventOf(node: string, kind: string, hash: string) {
  return events.get(node)?.find((e) => e.kind === kind && e.payload.hash === hash);
}

describe('a node takes its config from the hub', () => {
  test('config from the hub: applied live, an invalid one refused with its reason, a restart-only change pending, and applied at start by a node that was down', async () => {
    const yaml = await writeNodeYaml('r1');
    let node = await startNode(yaml);
    const first = await configStatus(node.url);
    assert.equal(first.running.source, 'file');
    assert.equal(first.lastGood, null);

    // 1. A new collector, live: its series appear at the node's API; the report reaches the hub's side.
    const v1 = desired(
      'r1',
      { publish: { tick: '500ms', heartbeat: '2s' }, collectors: [B1, HOST], mqtt: { url: 'mqtt://elsewhere:1883' } },
      'c1',
    );
    await publishDesired('r1', v1);
    await waitFor(async () => (await configStatus(node.url)).running.hash === v1.hash, { what: 'v1 running', timeoutMs: 15_000 });
    await waitFor(async () => (await metricNames(node.url)).includes('host_load1'), {
      what: "the new collector's series",
      timeoutMs: 15_000,
    });
    assert.ok((await metricNames(node.url)).includes('battery_soc'), 'the kept collector still runs');
    const applied = await waitFor(() => eventOf('r1', 'config_applied', v1.hash), { what: 'config_applied', timeoutMs: 15_000 });
    assert.deepEqual(applied.payload, {
      hash: v1.hash,
      commit: 'c1',
      applied: ['collectors'],
      pendingRestart: [],
      ignoredLocalKeys: ['mqtt.url'],
      // node.yaml's own first collectors differ from the distributed ones: they do not run (a hand edit).
      handEdited: ['collectors'],
    });
    const s1 = await configStatus(node.url);
    assert.deepEqual(s1.handEdited, ['collectors']);
    assert.deepEqual({ ...s1.running, appliedAt: 0 }, { hash: v1.hash, commit: 'c1', source: 'hub', appliedAt: 0 });
    assert.deepEqual(s1.lastGood, { hash: v1.hash, commit: 'c1' });

    // 2. An invalid config: refused with the reason; v1 keeps running.
    const bad = desired('r1', { publish: { tick: 'soon' }, collectors: [B1] }, 'c2');
    await publishDesired('r1', bad);
    const refused = await waitFor(async () => (await configStatus(node.url)).lastRejected, { what: 'the refusal', timeoutMs: 15_000 });
    assert.equal(refused.hash, bad.hash);
    assert.equal(refused.stage, 'schema');
    assert.match(refused.error, /publish\.tick/);
    const rejectedEvent = await waitFor(() => eventOf('r1', 'config_rejected', bad.hash), { what: 'config_rejected', timeoutMs: 15_000 });
    assert.equal(rejectedEvent.payload.stage, 'schema');
    assert.equal((await configStatus(node.url)).running.hash, v1.hash);
    const hostSamples = async () => (await nodeMetric(node.url, 'fieldmesh_agent_samples_collected_total', 'collector="h1"')) ?? 0;
    const before = await hostSamples();
    await waitFor(async () => (await hostSamples()) > before, { what: 'the v1 collector still collects', timeoutMs: 10_000 });

    // 3. A restart-only change: reported pending, not applied.
    const v3 = desired('r1', { publish: { tick: '1s', heartbeat: '2s' }, collectors: [B1, HOST] }, 'c3');
    await publishDesired('r1', v3);
    await waitFor(async () => (await configStatus(node.url)).running.hash === v3.hash, { what: 'v3 running', timeoutMs: 15_000 });
    assert.deepEqual((await configStatus(node.url)).pendingRestart, ['publish']);
    const v3Event = await waitFor(() => eventOf('r1', 'config_applied', v3.hash), { what: 'config_applied v3', timeoutMs: 15_000 });
    assert.deepEqual(v3Event.payload.pendingRestart, ['publish']);

    // 4. The node is down while the hub publishes v4; it starts with its last good (v3) and applies v4 from the retained frame.
    await stopNode(node.proc);
    const v4 = desired('r1', { publish: { tick: '1s', heartbeat: '2s' }, collectors: [HOST], critical: [{ match: 'host_load1' }] }, 'c4');
    await publishDesired('r1', v4);
    node = await startNode(yaml);
    await node.proc.waitForOutput(
      new RegExp(`config: running hub config ${v3.hash.slice(0, 12)} \\(commit c3\\); node.yaml supplies the local keys`),
      10_000,
    );
    await waitFor(async () => (await configStatus(node.url)).running.hash === v4.hash, {
      what: 'v4 applied after the start',
      timeoutMs: 15_000,
    });
    const s4 = await configStatus(node.url);
    assert.deepEqual(s4.pendingRestart, [], "the restart took v3's publish.tick");
    await stopNode(node.proc);
  });

  test('config from the hub: --config-source file ignores it', async () => {
    const yaml = await writeNodeYaml('r2');
    const v1 = desired('r2', { collectors: [B1, HOST] }, 'c1');
    await publishDesired('r2', v1);
    const node = await startNode(yaml, ['--config-source', 'file']);
    // A subscriber gets the retained frame at once (r1 above applied its v4 well within the node's first second);
    // r2 runs a few collection rounds with it waiting there, and stays on node.yaml.
    await waitFor(async () => ((await nodeMetric(node.url, 'fieldmesh_agent_samples_collected_total', 'collector="b1"')) ?? 0) >= 5 * 4, {
      what: 'r2 collects for a few rounds',
      timeoutMs: 15_000,
    });
    const s = await configStatus(node.url);
    assert.equal(s.running.source, 'file');
    assert.equal(s.lastGood, null);
    assert.equal((await metricNames(node.url)).includes('host_load1'), false);
    await stopNode(node.proc);
  });
});

function git(cwd: string, ...args: string[]): string {
  return execFileSync(
    'git',
    ['-c', 'user.name=fieldmesh test', '-c', 'user.email=test@example.org', '-c', 'init.defaultBranch=main', ...args],
    {
      cwd,
      encoding: 'utf8',
    },
  );
}

describe('a node reconciles from its own clone of the configuration repository', () => {
  test('standalone: a commit that adds a collector is applied after a pull (SIGHUP); an invalid commit is refused and the node keeps its config', async () => {
    const origin = join(dir, 'origin');
    mkdirSync(join(origin, 'nodes'), { recursive: true });
    git(origin, 'init', '-q');
    writeFileSync(
      join(origin, 'fleet.yaml'),
      'publish: {tick: 500ms, heartbeat: 2s}\ncollectors:\n  - {type: sim_battery, name: b1, interval: 500ms}\n',
    );
    writeFileSync(join(origin, 'nodes', 'r3.yaml'), 'node: {id: r3, site: ranch, zone: default}\n');
    git(origin, 'add', '.');
    git(origin, 'commit', '-q', '-m', 'first');
    const clone = join(dir, 'clone');
    git(dir, 'clone', '-q', origin, clone);
    const yaml = await writeNodeYaml('r3', `reconcile: {repo: ${clone}, pull: 1h}\n`);
    const node = await startNode(yaml);
    const head1 = git(origin, 'rev-parse', 'HEAD').trim();
    await waitFor(async () => (await configStatus(node.url)).running.commit === head1, {
      what: 'the first commit applied',
      timeoutMs: 15_000,
    });
    assert.equal((await configStatus(node.url)).running.source, 'repo');

    writeFileSync(
      join(origin, 'nodes', 'r3.yaml'),
      'node: {id: r3, site: ranch, zone: default}\ncollectors: !append\n  - {type: host, name: h1, interval: 500ms}\n',
    );
    git(origin, 'commit', '-q', '-am', 'r3: host metrics');
    const head2 = git(origin, 'rev-parse', 'HEAD').trim();
    node.proc.kill('SIGHUP');
    await waitFor(async () => (await configStatus(node.url)).running.commit === head2, {
      what: 'the second commit applied',
      timeoutMs: 15_000,
    });
    await waitFor(async () => (await metricNames(node.url)).includes('host_load1'), {
      what: "the added collector's series",
      timeoutMs: 15_000,
    });

    writeFileSync(join(origin, 'nodes', 'r3.yaml'), 'node: {id: r3, site: ranch, zone: default}\nstore: {retention: forever}\n');
    git(origin, 'commit', '-q', '-am', 'r3: a typo');
    node.proc.kill('SIGHUP');
    const refused = await waitFor(async () => (await configStatus(node.url)).lastRejected, {
      what: 'the invalid commit refused',
      timeoutMs: 15_000,
    });
    assert.equal(refused.stage, 'schema');
    assert.equal(refused.commit, git(origin, 'rev-parse', 'HEAD').trim());
    assert.match(refused.error, /FM_FLEET_CONFIG_INVALID: nodes\/r3\.yaml:2:\d+: store\.retention/);
    const s = await configStatus(node.url);
    assert.equal(s.running.commit, head2, 'the node keeps the last good commit');
    assert.ok((await metricNames(node.url)).includes('host_load1'));
    await stopNode(node.proc);
  });
});
