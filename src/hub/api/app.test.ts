// HTTP API via inject(): nodes and sites, Prometheus-style series/labels/query_range with step
// semantics, errors as 400 bad_data / 404, health, readiness and metrics.
// calendar: the app runs on a manual clock.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import { ManualClock, silentLogger } from '../../kit/index.js';
import { encodeDeath, SessionEncoder } from '../../protocol/index.js';
import { FleetState } from '../fleet/fleet-state.js';
import { createHubMetrics } from '../hub-metrics.js';
import { batterySoc, wire } from '../hub-test-kit.js';
import { createSqliteStorage } from '../storage/sqlite/sqlite-storage.js';
import type { SampleInput, SeriesIdentity } from '../storage/storage.js';
import type { Readiness } from './api-deps.js';
import { createHubApp } from './app.js';
import { LiveFeed } from './live/live-feed.js';
import { toNodeView } from './nodes/node-view.js';

const T0 = Date.UTC(2026, 0, 1);
const SOC = batterySoc({ device: 'bms' });

function setup(ready: Readiness = { ready: true, reasons: [] }) {
  const clock = new ManualClock(T0);
  const fleet = new FleetState({ clock, staleAfterHeartbeats: 2, rebirthMinIntervalMs: 5_000 });
  const storage = createSqliteStorage({ path: ':memory:', retentionMs: 86_400_000 });
  const metrics = createHubMetrics(() => fleet.countByState());
  const live = new LiveFeed({ clock, snapshot: () => [], nodeView: () => undefined });
  const app = createHubApp({ fleet, storage, clock, metrics, live, readiness: () => ready, logger: silentLogger });
  const born = (site: string, node: string, epoch = 1) =>
    fleet.applyFrame(
      { site, node, channel: 'birth' },
      wire(
        new SessionEncoder(epoch).birth({
          time: clock.now(),
          zone: 'z1',
          agentVersion: '0.1.0',
          tickMs: 1_000,
          heartbeatMs: 5_000,
          series: [SOC],
          bootTime: clock.now() - 60_000,
          configVersion: '0a1b2c3d4e5f',
        }),
      ),
    );
  const series = (node: string, name = 'battery_soc'): SeriesIdentity => ({
    name,
    labels: { device: 'bms', site: 's1', node, zone: 'z1' },
    unit: 'percent',
    type: 'gauge',
  });
  return { clock, fleet, storage, app, born, series, metrics };
}

test('api nodes: lists nodes with state, ages and series count; values on request and per node', async () => {
  const { app, born, clock, fleet } = setup();
  born('s1', 'n1');
  born('s2', 'n2');
  fleet.applyFrame({ site: 's2', node: 'n2', channel: 'death' }, wire(encodeDeath({ epoch: 1, reason: 'shutdown' })));
  clock.advance(12_000);
  const res = await app.inject('/api/v1/nodes');
  assert.equal(res.statusCode, 200);
  const { nodes } = res.json();
  assert.equal(nodes.length, 2);
  assert.deepEqual(nodes[0], {
    site: 's1',
    zone: 'z1',
    node: 'n1',
    state: 'online',
    epoch: 1,
    agentVersion: '0.1.0',
    bootTime: new Date(T0 - 60_000).toISOString(),
    uptimeMs: 72_000,
    configVersion: '0a1b2c3d4e5f',
    lastHeard: new Date(T0).toISOString(),
    lastHeardAgeMs: 12_000,
    since: new Date(T0).toISOString(),
    heartbeatMs: 5_000,
    series: 1,
    backlogRows: null,
    backlogOldest: null,
    backlogBytes: null,
  });
  assert.equal(nodes[1].state, 'offline');
  assert.equal(nodes[1].uptimeMs, null, 'an offline node has no uptime');
  const withValues = (await app.inject('/api/v1/nodes?values=1')).json().nodes[0].values;
  assert.deepEqual(withValues, [
    { name: 'battery_soc', labels: { device: 'bms' }, value: 55.5, unit: 'percent', time: new Date(T0).toISOString(), ageMs: 12_000 },
  ]);
  const one = await app.inject('/api/v1/nodes/s1/n1');
  assert.equal(one.statusCode, 200);
  assert.equal(one.json().values.length, 1);
  const missing = await app.inject('/api/v1/nodes/s1/nope');
  assert.equal(missing.statusCode, 404);
  assert.equal(missing.json().code, 'FM_NOT_FOUND');
  assert.match(missing.json().message, /s1\/nope/);
});

test('api sites: counts by state, node list and the worst state per site', async () => {
  const { app, born, fleet } = setup();
  born('s1', 'a');
  born('s1', 'b');
  born('s2', 'c');
  fleet.applyFrame({ site: 's1', node: 'b', channel: 'death' }, wire(encodeDeath({ epoch: 1, reason: 'lost' })));
  const { sites } = (await app.inject('/api/v1/sites')).json();
  assert.deepEqual(
    sites.map((s: Record<string, unknown>) => ({ site: s.site, worst: s.worst, counts: s.counts, nodes: s.nodes, health: s.health })),
    [
      { site: 's1', worst: 'offline', counts: { unknown: 0, online: 1, stale: 0, offline: 1 }, nodes: ['a', 'b'], health: 'error' },
      { site: 's2', worst: 'online', counts: { unknown: 0, online: 1, stale: 0, offline: 0 }, nodes: ['c'], health: 'green' },
    ],
  );
});

test('api query_range: each step takes the last sample at or before it within 5 minutes', async () => {
  const { app, storage, series } = setup();
  const t = T0 / 1000;
  await storage.appendSamples([
    { series: series('n1'), ts: T0 + 1_000, value: 50 },
    { series: series('n1'), ts: T0 + 16_000, value: 51.5 },
    { series: series('n2'), ts: T0 + 2_000, value: 70 },
    { series: series('n2', 'other_metric'), ts: T0 + 2_000, value: 1 },
  ]);
  const res = await app.inject(
    `/api/v1/query_range?query=${encodeURIComponent('battery_soc{node="n1"}')}&start=${t}&end=${t + 30}&step=15s`,
  );
  assert.equal(res.statusCode, 200);
  assert.deepEqual(res.json(), {
    status: 'success',
    data: {
      resultType: 'matrix',
      result: [
        {
          metric: { __name__: 'battery_soc', device: 'bms', node: 'n1', site: 's1', zone: 'z1' },
          values: [
            [t + 15, '50'],
            [t + 30, '51.5'],
          ],
        },
      ],
    },
  });
  // POST form body (Grafana's default), RFC 3339 times, float step, regex matcher.
  const post = await app.inject({
    method: 'POST',
    url: '/api/v1/query_range',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    payload: new URLSearchParams({
      query: 'battery_soc{node=~"n.*"}',
      start: new Date(T0).toISOString(),
      end: new Date(T0 + 2_000).toISOString(),
      step: '1',
    }).toString(),
  });
  assert.equal(post.statusCode, 200);
  assert.deepEqual(
    post.json().data.result.map((r: { metric: { node: string }; values: unknown[] }) => [r.metric.node, r.values]),
    [
      [
        'n1',
        [
          [t + 1, '50'],
          [t + 2, '50'],
        ],
      ],
      ['n2', [[t + 2, '70']]],
    ],
  );
  // Five minutes after the last sample, the series ends.
  const late = await app.inject(`/api/v1/query_range?query=battery_soc{node="n1"}&start=${t + 16 + 300}&end=${t + 16 + 301}&step=1`);
  assert.deepEqual(late.json().data.result[0].values, [[t + 316, '51.5']]);
});

test('api query_range: unsupported functions, syntax errors, times and oversized ranges are 400 bad_data', async () => {
  const { app } = setup();
  const cases: Array<[string, RegExp]> = [
    ['query=holt_winters(x[5m],0.5,0.5)&start=0&end=10&step=1', /^1:1: parse error: function holt_winters is not supported$/],
    ['query=x{a="1"&start=0&end=10&step=1', /^1:8: parse error: unexpected end of input/],
    ['query=x[5m]&start=0&end=10&step=1', /invalid expression type "range vector" for range query/],
    ['start=0&end=10&step=1', /missing parameter "query"/],
    ['query=x&start=yesterday&end=10&step=1', /"start": cannot parse "yesterday"/],
    ['query=x&start=0&end=10', /missing parameter "step"/],
    ['query=x&start=0&end=10&step=0', /step/],
    ['query=x&start=10&end=0&step=1', /end timestamp must not be before start/],
    ['query=x&start=0&end=11001&step=1', /11,000 points/],
  ];
  for (const [qs, message] of cases) {
    const res = await app.inject(`/api/v1/query_range?${qs}`);
    assert.equal(res.statusCode, 400, qs);
    const body = res.json();
    assert.equal(body.status, 'error', qs);
    assert.equal(body.errorType, 'bad_data', qs);
    assert.equal(body.code, 'FM_QUERY_INVALID', qs);
    assert.match(body.error, message, qs);
  }
});

test("api query: the PromQL the old parser refused, through the hub's HTTP API (issue 14)", async () => {
  const { app, storage } = setup();
  const soc = (site: string, node: string, value: number): SampleInput => ({
    series: { name: 'battery_soc', labels: { site, node }, unit: '%', type: 'gauge' },
    ts: T0,
    value,
  });
  await storage.appendSamples([soc('s1', 'a', 40), soc('s1', 'b', 60), soc('s2', 'c', 90)]);
  const t = T0 / 1000 + 10;
  const query = async (q: string, method: 'GET' | 'POST' = 'GET') => {
    const res =
      method === 'GET'
        ? await app.inject(`/api/v1/query?query=${encodeURIComponent(q)}&time=${t}`)
        : await app.inject({
            method: 'POST',
            url: '/api/v1/query',
            headers: { 'content-type': 'application/x-www-form-urlencoded' },
            payload: new URLSearchParams({ query: q, time: String(t) }).toString(),
          });
    assert.equal(res.statusCode, 200, `${q}: ${res.body}`);
    return res.json().data;
  };
  const byNode = (data: { result: Array<{ metric: Record<string, string>; value: [number, string] }> }) =>
    data.result.map((r) => [r.metric.node ?? r.metric.site ?? '', r.value[1]]).sort();
  // Grafana's "Save & test", a form POST.
  assert.deepEqual(await query('1+1', 'POST'), { resultType: 'scalar', result: [t, '2'] });
  assert.deepEqual(byNode(await query('avg by (site) (battery_soc)')), [
    ['s1', '50'],
    ['s2', '90'],
  ]);
  assert.deepEqual(byNode(await query('battery_soc > 50')), [
    ['b', '60'],
    ['c', '90'],
  ]);
  assert.deepEqual((await query('sum by (__name__) (battery_soc)')).result, [{ metric: { __name__: 'battery_soc' }, value: [t, '190'] }]);
  assert.deepEqual(byNode(await query('battery_soc{node=~"(?i)A|B"}')), [
    ['a', '40'],
    ['b', '60'],
  ]);
  assert.equal((await query('(battery_soc)')).result.length, 3);
  assert.deepEqual((await query('battery_soc offset 1m')).result, [], 'a minute before T0 nothing was stored');
  assert.deepEqual(byNode(await query('-battery_soc{site="s2"}')), [['c', '-90']]);
  assert.deepEqual(byNode(await query('sum(max by (site) (battery_soc))')), [['', '150']]);
  assert.deepEqual(byNode(await query('topk(1, battery_soc) / 100')), [['c', '0.9']]);
  // A range of exactly 11,000 steps is answered (11,001 points), as Prometheus answers it.
  const range = await app.inject(`/api/v1/query_range?query=1&start=0&end=11000&step=1`);
  assert.equal(range.statusCode, 200);
  assert.equal(range.json().data.result[0].values.length, 11_001);
});

test('api query: an instant query returns a vector at the given time', async () => {
  const { app, storage, series } = setup();
  await storage.appendSamples([{ series: series('n1'), ts: T0, value: 42 }]);
  const res = await app.inject(`/api/v1/query?query=battery_soc&time=${T0 / 1000 + 10}`);
  assert.deepEqual(res.json().data, {
    resultType: 'vector',
    result: [{ metric: { __name__: 'battery_soc', device: 'bms', node: 'n1', site: 's1', zone: 'z1' }, value: [T0 / 1000 + 10, '42'] }],
  });
});

test('api series, labels and label values: Prometheus envelopes with match[] as one or many', async () => {
  const { app, storage, series } = setup();
  await storage.appendSamples([
    { series: series('n1'), ts: T0, value: 1 },
    { series: series('n2', 'dc_voltage'), ts: T0, value: 2 },
  ]);
  const one = await app.inject('/api/v1/series?match[]=battery_soc');
  assert.deepEqual(one.json(), {
    status: 'success',
    data: [{ __name__: 'battery_soc', device: 'bms', node: 'n1', site: 's1', zone: 'z1' }],
  });
  const many = await app.inject(`/api/v1/series?match[]=battery_soc&match[]=${encodeURIComponent('{node="n2"}')}`);
  assert.equal(many.json().data.length, 2);
  const none = await app.inject('/api/v1/series');
  assert.equal(none.statusCode, 400);
  assert.match(none.json().error, /no match\[\]/);
  const outOfRange = await app.inject(`/api/v1/series?match[]=battery_soc&start=${T0 / 1000 + 60}&end=${T0 / 1000 + 120}`);
  assert.deepEqual(outOfRange.json().data, []);
  assert.deepEqual((await app.inject('/api/v1/labels')).json(), {
    status: 'success',
    data: ['__name__', 'device', 'node', 'site', 'zone'],
  });
  assert.deepEqual((await app.inject('/api/v1/label/__name__/values')).json().data, ['battery_soc', 'dc_voltage']);
  assert.deepEqual((await app.inject('/api/v1/label/node/values?match[]=dc_voltage')).json().data, ['n2']);
  const build = (await app.inject('/api/v1/status/buildinfo')).json();
  assert.equal(build.status, 'success');
  assert.equal(build.data.version, '2.53.0');
  assert.equal(typeof build.data.fieldmeshVersion, 'string');
});

test('api health: healthz always 200, readyz 503 with reasons, metrics in Prometheus text, unknown routes 404', async () => {
  const { app } = setup({ ready: false, reasons: ['mqtt: not connected'] });
  assert.equal((await app.inject('/healthz')).statusCode, 200);
  const ready = await app.inject('/readyz');
  assert.equal(ready.statusCode, 503);
  assert.deepEqual(ready.json().reasons, ['mqtt: not connected']);
  const metrics = await app.inject('/metrics');
  assert.equal(metrics.statusCode, 200);
  assert.match(metrics.body, /fieldmesh_frames_rejected_total\{reason="gap"\} 0/);
  assert.match(metrics.body, /fieldmesh_hub_nodes\{state="online"\} 0/);
  assert.match(metrics.body, /fieldmesh_build_info\{version="[^"]+"\} 1/);
  const missing = await app.inject('/api/v1/nope');
  assert.equal(missing.statusCode, 404);
  assert.equal(missing.json().code, 'FM_NOT_FOUND');
  const page = await app.inject('/');
  assert.match(page.headers['content-type'] as string, /text\/html/);
  // The console's page: its script comes from the hashed assets the build wrote.
  assert.match(page.body, /<script type="module" crossorigin src="\/assets\/index-[\w-]+\.js"><\/script>/);
});

test('api node view: non-finite values render as Prometheus strings', () => {
  const { fleet, born, clock } = setup();
  born('s1', 'n1');
  const r = fleet.get('s1', 'n1')!;
  (r.values as Map<number, unknown>).set(1, { def: SOC, value: Number.POSITIVE_INFINITY, time: clock.now() });
  assert.equal(toNodeView(r, clock.now(), true).values?.[0]?.value, '+Inf');
});

test('api errors: an unexpected failure is a 500 FM_HUB_INTERNAL without internals; a bad form body is 400', async () => {
  const { app } = setup();
  app.get('/boom', async () => {
    throw new Error('secret detail');
  });
  const res = await app.inject('/boom');
  assert.equal(res.statusCode, 500);
  assert.deepEqual(res.json(), {
    status: 'error',
    errorType: 'internal',
    error: 'internal error',
    code: 'FM_HUB_INTERNAL',
    message: 'internal error',
  });
  const json = await app.inject({
    method: 'POST',
    url: '/api/v1/query_range',
    headers: { 'content-type': 'application/json' },
    payload: '{',
  });
  assert.equal(json.statusCode, 400);
  assert.equal(json.json().code, 'FM_QUERY_INVALID');
});

test('api compression: answers of 1 KB or more go out as asked (br, gzip), smaller ones and the console files as they are', async () => {
  const { app } = setup();
  const plain = await app.inject('/metrics');
  assert.equal(plain.headers['content-encoding'], undefined);
  assert.ok(plain.body.length >= 1024, `metrics are ${plain.body.length} bytes`);
  const br = await app.inject({ url: '/metrics', headers: { 'accept-encoding': 'br, gzip' } });
  assert.equal(br.headers['content-encoding'], 'br');
  assert.match(brotliDecompressSync(br.rawPayload).toString(), /fieldmesh_hub_nodes\{state="online"\} 0/);
  assert.ok(br.rawPayload.length < plain.body.length / 3, `${br.rawPayload.length} compressed bytes for ${plain.body.length}`);
  const gz = await app.inject({ url: '/metrics', headers: { 'accept-encoding': 'gzip' } });
  assert.equal(gz.headers['content-encoding'], 'gzip');
  assert.match(gunzipSync(gz.rawPayload).toString(), /fieldmesh_hub_nodes\{state="online"\} 0/);
  const small = await app.inject({ url: '/healthz', headers: { 'accept-encoding': 'br, gzip' } });
  assert.equal(small.headers['content-encoding'], undefined);
  assert.deepEqual(small.json(), { status: 'ok' });
  // The console's page and assets: compressed once, at build time (or not at all), never twice.
  const page = await app.inject({ url: '/', headers: { 'accept-encoding': 'gzip' } });
  const script = /src="(\/assets\/index-[\w-]+\.js)"/.exec(
    page.rawPayload[0] === 0x1f ? gunzipSync(page.rawPayload).toString() : page.body,
  )?.[1];
  assert.ok(script, 'the page names its script');
  const asset = await app.inject({ url: script, headers: { 'accept-encoding': 'gzip' } });
  assert.equal(asset.statusCode, 200);
  assert.equal(asset.headers['content-encoding'], 'gzip');
  assert.match(gunzipSync(asset.rawPayload).toString(), /\S/);
});
