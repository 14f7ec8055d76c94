// Remote queries through a real Mosquitto: the hub reads a node's own store over MQTT (cmd/query ->
// .../reply), non-critical series included; pings measure the round trip; offline and unknown nodes
// fail fast, a silent node times out, and bad replies are counted without harm. [FM-QUERY-1..5]
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { type Agent, agentConfigSchema, createAgent } from '../../src/agent/index.js';
import { createHub, type Hub, hubConfigSchema } from '../../src/hub/index.js';
import type { Logger } from '../../src/kit/index.js';
import { createFrameRouter, encodeReply, FIELDMESH_VERSION, nodeTopic, SessionEncoder } from '../../src/protocol/index.js';
import { createMqttTransport, type Transport } from '../../src/transport/index.js';
import { feederCollector } from '../kit/feeder-collector.js';
import { type MosquittoInstance, startMosquitto } from '../kit/mosquitto.js';
import { waitFor } from '../kit/wait.js';

const SITE = 'farm';
const NODE = 'bess-01';
const BASE = `/api/v1/nodes/${SITE}/${NODE}`;

let mosquitto: MosquittoInstance;
let hub: Hub;
let agent: Agent;
let fake: Transport;
let dataDir: string;
const collector = feederCollector();
const warnings: string[] = [];
const logger: Logger = {
  debug() {},
  info() {},
  warn(_obj, msg) {
    warnings.push(msg ?? '');
  },
  error() {},
  child: () => logger,
};
/** How the fake node answers queries: not at all, or with a reply whose body is not deflated JSON. */
let fakeMode: 'silent' | 'garbage' = 'silent';

before(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'fm-node-query-it-'));
  mosquitto = await startMosquitto();
  hub = createHub(
    hubConfigSchema.parse({ dataDir, storage: { path: join(dataDir, 'hub.db') }, mqtt: { url: mosquitto.url, clientId: 'hub' } }),
    { logger },
  );
  await hub.start({ listen: false });
  agent = createAgent(
    agentConfigSchema.parse({
      dataDir,
      node: { id: NODE, site: SITE, zone: 'north' },
      mqtt: { url: mosquitto.url },
      http: { enabled: false },
      publish: { tick: '200ms', heartbeat: '1s' },
      critical: [{ match: 'battery_soc' }],
    }),
    { epoch: 7, collectors: [collector] },
  );
  await agent.start();
  await waitFor(() => hub.fleet.get(SITE, NODE)?.state === 'online', { what: 'the node online at the hub', timeoutMs: 10_000 });

  // A node that is online at the hub (it sent a birth) but answers queries as `fakeMode` says.
  fake = createMqttTransport({ url: mosquitto.url, clientId: 'fake-node' });
  const queries = createFrameRouter({ source: fake, prefix: 'fieldmesh' }).on(
    'cmd/query',
    (query) => {
      if (fakeMode !== 'garbage') return;
      const garbage = encodeReply({ requestId: query.requestId, status: 'ok', body: new Uint8Array([0xff, 0xfe, 0xfd]) });
      void fake.publish(nodeTopic('fieldmesh', SITE, 'mute', 'reply'), garbage, { qos: 1 });
    },
    { site: SITE, node: 'mute' },
  );
  fake.start();
  await queries.ready;
  const birth = new SessionEncoder(1).birth({
    time: Date.now(),
    zone: 'north',
    agentVersion: 't',
    tickMs: 1_000,
    heartbeatMs: 60_000,
    series: [],
  });
  await fake.publish(nodeTopic('fieldmesh', SITE, 'mute', 'birth'), birth, { qos: 1 });
  await waitFor(() => hub.fleet.get(SITE, 'mute')?.state === 'online', { what: 'the fake node online at the hub' });
});

after(async () => {
  await fake?.close();
  await agent?.stop();
  await hub?.stop();
  await mosquitto?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

/** Ten minutes two hours ago, every 10 s: a critical series and one the hub never receives. */
const start = Math.floor(Date.now() / 10_000) * 10_000 - 2 * 3_600_000;
const POINTS = 60;
const temperature = (i: number) => 20 + (i % 13) / 4;

test('node query: a range query through the hub returns exactly the samples the node stored, non-critical ones included', async () => {
  const samples = [];
  for (let i = 0; i < POINTS; i++) {
    const time = start + i * 10_000;
    samples.push(
      { name: 'battery_soc', labels: { device: 'bms' }, time, value: 50 + i / 10 },
      { name: 'cabinet_temperature_celsius', labels: { device: 'cab' }, time, value: temperature(i) },
    );
  }
  await collector.ctx?.record(samples);
  const range = `start=${start / 1_000}&end=${(start + (POINTS - 1) * 10_000) / 1_000}&step=10s`;

  const atHub = (await hub.app.inject(`/api/v1/query_range?query=cabinet_temperature_celsius&${range}`)).json();
  assert.deepEqual(atHub.data.result, [], 'the hub itself holds no non-critical series');

  const res = await hub.app.inject(`${BASE}/query_range?query=cabinet_temperature_celsius&${range}`);
  assert.equal(res.statusCode, 200, res.body);
  const body = res.json();
  assert.equal(body.status, 'success');
  assert.equal(body.data.resultType, 'matrix');
  assert.equal(body.data.result.length, 1);
  const [series] = body.data.result;
  assert.deepEqual(series.metric, { __name__: 'cabinet_temperature_celsius', device: 'cab', site: SITE, node: NODE, zone: 'north' });
  assert.deepEqual(
    series.values,
    Array.from({ length: POINTS }, (_, i) => [(start + i * 10_000) / 1_000, String(temperature(i))]),
  );

  // A form POST (as Grafana sends it) reads the same, here an aggregation the node evaluates.
  const posted = await hub.app.inject({
    method: 'POST',
    url: `${BASE}/query_range`,
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    payload: `query=${encodeURIComponent('max(battery_soc)')}&${range}`,
  });
  assert.equal(posted.statusCode, 200, posted.body);
  const soc = posted.json().data.result[0].values;
  assert.equal(soc.length, POINTS);
  assert.deepEqual(soc[POINTS - 1], [(start + (POINTS - 1) * 10_000) / 1_000, String(50 + (POINTS - 1) / 10)]);
});

test('node query: a query the node refuses answers 400 with its message; one past 11,000 points is refused at the hub', async () => {
  const tooMany = await hub.app.inject(`${BASE}/query_range?query=battery_soc&start=0&end=1000000&step=1s`);
  assert.equal(tooMany.statusCode, 400);
  assert.match(tooMany.json().error, /11,000 points/);
  const rollup = await hub.app.inject(`${BASE}/query_range?query=battery_soc&start=0&end=100&step=10s&rollup=7m`);
  assert.equal(rollup.statusCode, 400, rollup.body);
  assert.equal(rollup.json().code, 'FM_QUERY_INVALID');
  assert.match(rollup.json().error, /keeps no 7m rollup/, "the message is the node's");
});

test("node query: the series list is the node's own, every series without match[], labelled as the hub labels them", async () => {
  const all = await hub.app.inject(`${BASE}/series`);
  assert.equal(all.statusCode, 200, all.body);
  const names = all
    .json()
    .data.map((s: Record<string, string>) => s.__name__)
    .sort();
  assert.deepEqual(names, ['battery_soc', 'cabinet_temperature_celsius']);
  const one = await hub.app.inject(`${BASE}/series?match[]=battery_soc`);
  assert.deepEqual(one.json().data, [{ __name__: 'battery_soc', device: 'bms', site: SITE, node: NODE, zone: 'north' }]);
});

test("node query: a ping answers with the round trip and the node's session, and the node view shows its facts", async () => {
  const res = await hub.app.inject({ method: 'POST', url: `${BASE}/ping` });
  assert.equal(res.statusCode, 200, res.body);
  const ping = res.json();
  assert.deepEqual(Object.keys(ping).sort(), ['agentVersion', 'epoch', 'rttMs', 'uptimeMs']);
  assert.equal(ping.epoch, 7);
  assert.equal(ping.agentVersion, FIELDMESH_VERSION);
  assert.ok(ping.rttMs >= 0 && ping.rttMs < 5_000, `rtt ${ping.rttMs} ms`);
  assert.ok(ping.uptimeMs >= 0 && ping.uptimeMs <= Date.now() - agent.bootTime, `uptime ${ping.uptimeMs} ms`);

  const view = (await hub.app.inject(BASE)).json();
  assert.equal(view.configVersion, agent.configVersion);
  assert.match(view.configVersion, /^[0-9a-f]{12}$/);
  assert.equal(view.bootTime, new Date(agent.bootTime).toISOString());
  assert.ok(view.uptimeMs >= 0 && view.uptimeMs < 60_000, `uptime ${view.uptimeMs}`);
});

test('node query: a node that does not answer times out with 504; a reply the hub cannot read fails with 502 and is counted', async () => {
  fakeMode = 'silent';
  const t0 = Date.now();
  const silent = await hub.app.inject({ method: 'POST', url: `/api/v1/nodes/${SITE}/mute/ping?timeout=0.3s` });
  assert.equal(silent.statusCode, 504, silent.body);
  assert.equal(silent.json().code, 'FM_NODE_TIMEOUT');
  assert.ok(Date.now() - t0 >= 300, 'it waited for the timeout');

  fakeMode = 'garbage';
  const rejected = hub.stats().framesRejected;
  const unreadable = await hub.app.inject(`/api/v1/nodes/${SITE}/mute/series?timeout=5s`);
  assert.equal(unreadable.statusCode, 502, unreadable.body);
  assert.equal(unreadable.json().code, 'FM_NODE_QUERY_FAILED');
  assert.equal(hub.stats().framesRejected, rejected + 1, 'the unreadable reply is counted');
});

test('node query: an undecodable reply frame is counted and logged; the hub carries on answering', async () => {
  const rejected = hub.stats().framesRejected;
  await fake.publish(nodeTopic('fieldmesh', SITE, 'mute', 'reply'), new Uint8Array([0x10, 17, 0]), { qos: 1 });
  await waitFor(() => hub.stats().framesRejected > rejected, { what: 'the bad reply counted' });
  assert.ok(
    warnings.some((w) => w.startsWith('reply frame rejected')),
    warnings.join('\n'),
  );
  const metrics = await hub.metrics.registry.getSingleMetricAsString('fieldmesh_frames_rejected_total');
  assert.match(metrics, /reason="(truncated|malformed)"/);
  const res = await hub.app.inject({ method: 'POST', url: `${BASE}/ping` });
  assert.equal(res.statusCode, 200, 'the hub still answers');
});

test('node query: unknown and offline nodes fail fast with 404 and 503', async () => {
  const t0 = Date.now();
  const unknown = await hub.app.inject(`/api/v1/nodes/${SITE}/nope/query_range?query=up&start=0&end=60&step=15s`);
  assert.equal(unknown.statusCode, 404);
  assert.equal(unknown.json().code, 'FM_NOT_FOUND');

  await agent.stop();
  await waitFor(() => hub.fleet.get(SITE, NODE)?.state === 'offline', { what: 'the node offline at the hub' });
  const t1 = Date.now();
  const offline = await hub.app.inject({ method: 'POST', url: `${BASE}/ping?timeout=30s` });
  assert.equal(offline.statusCode, 503, offline.body);
  assert.equal(offline.json().code, 'FM_NODE_OFFLINE');
  assert.ok(Date.now() - t1 < 1_000 && t1 - t0 < 10_000, 'answered without waiting for the timeout');
  assert.equal((await hub.app.inject(BASE)).json().uptimeMs, null, 'an offline node shows no uptime');
});
