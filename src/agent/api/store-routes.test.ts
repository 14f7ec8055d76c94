// The node's Prometheus API via inject(): range and instant queries with aggregation, series, labels,
// form POSTs like Grafana's, and 400 bad_data naming what is unsupported.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import Fastify from 'fastify';
import { createMemorySampleStore } from './memory-store.js';
import { registerStoreRoutes } from './store-routes.js';

/** Midnight (UTC) yesterday: sample times relative to the run, on a day boundary. */
const T0 = Math.floor(Date.now() / 86_400_000) * 86_400_000 - 86_400_000;
const S0 = T0 / 1_000;

async function setup() {
  const store = createMemorySampleStore();
  const samples = [];
  for (let i = 0; i <= 10; i++) {
    samples.push({ name: 'battery_soc', labels: { site: 's1', node: 'a' }, time: T0 + i * 10_000, value: 50 + i });
    samples.push({ name: 'battery_soc', labels: { site: 's1', node: 'b' }, time: T0 + i * 10_000, value: 60 });
    samples.push({ name: 'battery_soc', labels: { site: 's2', node: 'c' }, time: T0 + i * 10_000, value: 70 });
  }
  samples.push({ name: 'voltage', labels: { site: 's1', node: 'a', phase: 'l1' }, time: T0, value: 230.5 });
  await store.append(samples);
  const app = Fastify({ logger: false });
  await registerStoreRoutes(app, store, { now: () => T0 + 100_000 });
  return { app, store };
}

test('node api query_range: selector steps with Prometheus semantics in the matrix shape', async () => {
  const { app } = await setup();
  const res = await app.inject(`/api/v1/query_range?query=battery_soc{node="a"}&start=${S0}&end=${S0 + 20}&step=5s`);
  assert.equal(res.statusCode, 200);
  assert.deepEqual(res.json(), {
    status: 'success',
    data: {
      resultType: 'matrix',
      result: [
        {
          metric: { __name__: 'battery_soc', site: 's1', node: 'a' },
          values: [
            [S0, '50'],
            [S0 + 5, '50'],
            [S0 + 10, '51'],
            [S0 + 15, '51'],
            [S0 + 20, '52'],
          ],
        },
      ],
    },
  });
});

test('node api query_range: sum by, avg without and count aggregate across series per step', async () => {
  const { app } = await setup();
  const q = async (query: string) =>
    (
      await app.inject({
        method: 'POST',
        url: '/api/v1/query_range',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        payload: new URLSearchParams({ query, start: new Date(T0).toISOString(), end: String(S0 + 10), step: '10' }).toString(),
      })
    ).json();
  assert.deepEqual((await q('sum by (site) (battery_soc)')).data.result, [
    {
      metric: { site: 's1' },
      values: [
        [S0, '110'],
        [S0 + 10, '111'],
      ],
    },
    {
      metric: { site: 's2' },
      values: [
        [S0, '70'],
        [S0 + 10, '70'],
      ],
    },
  ]);
  assert.deepEqual((await q('avg without (node) (battery_soc{site="s1"})')).data.result, [
    {
      metric: { site: 's1' },
      values: [
        [S0, '55'],
        [S0 + 10, '55.5'],
      ],
    },
  ]);
  assert.deepEqual((await q('count(battery_soc)')).data.result, [
    {
      metric: {},
      values: [
        [S0, '3'],
        [S0 + 10, '3'],
      ],
    },
  ]);
});

test('node api query: instant vector at the given time or now, aggregation included', async () => {
  const { app } = await setup();
  const at = await app.inject(`/api/v1/query?query=max(battery_soc)&time=${S0 + 15}`);
  assert.deepEqual(at.json(), { status: 'success', data: { resultType: 'vector', result: [{ metric: {}, value: [S0 + 15, '70'] }] } });
  const now = (await app.inject('/api/v1/query?query=battery_soc{node="a"}')).json();
  assert.deepEqual(now.data.result, [{ metric: { __name__: 'battery_soc', site: 's1', node: 'a' }, value: [S0 + 100, '60'] }]);
  // Grafana's "Save & test": a scalar.
  const probe = await app.inject({
    method: 'POST',
    url: '/api/v1/query',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    payload: 'query=1%2B1&time=4',
  });
  assert.equal(probe.statusCode, 200);
  assert.deepEqual(probe.json(), { status: 'success', data: { resultType: 'scalar', result: [4, '2'] } });
});

test('node api errors: unsupported functions, syntax, bad times and oversized ranges are 400 bad_data naming what is wrong', async () => {
  const { app } = await setup();
  for (const [query, extra, says] of [
    ['holt_winters(battery_soc[5m], 0.5, 0.5)', `&start=${S0}&end=${S0 + 10}&step=1`, /function holt_winters is not supported/],
    ['sum(battery_soc) /', `&start=${S0}&end=${S0 + 10}&step=1`, /1:19: parse error: unexpected end of input/],
    ['battery_soc[5m]', `&start=${S0}&end=${S0 + 10}&step=1`, /invalid expression type "range vector" for range query/],
    ['battery_soc', `&start=yesterday&end=${S0}&step=1`, /invalid parameter "start"/],
    ['battery_soc', `&start=${S0}&end=${S0 + 100_000}&step=1`, /11,000/],
    ['battery_soc', `&start=${S0}&end=${S0 + 10}`, /missing parameter "step"/],
    ['', `&start=${S0}&end=${S0 + 10}&step=1`, /missing parameter "query"/],
  ] as const) {
    const res = await app.inject(`/api/v1/query_range?query=${encodeURIComponent(query)}${extra}`);
    assert.equal(res.statusCode, 400, query);
    const body = res.json();
    assert.equal(body.status, 'error');
    assert.equal(body.errorType, 'bad_data');
    assert.equal(body.code, 'FM_QUERY_INVALID');
    assert.match(body.error, says);
  }
});

test('node api series, labels and label values: match[] one or many, ranges, limit', async () => {
  const { app } = await setup();
  assert.equal((await app.inject('/api/v1/series')).statusCode, 400, 'match[] is required');
  const one = (await app.inject('/api/v1/series?match[]=voltage')).json();
  assert.deepEqual(one, { status: 'success', data: [{ __name__: 'voltage', site: 's1', node: 'a', phase: 'l1' }] });
  const many = await app.inject({
    method: 'POST',
    url: '/api/v1/series',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    payload: 'match%5B%5D=voltage&match%5B%5D=battery_soc%7Bsite%3D%22s2%22%7D',
  });
  assert.equal(many.json().data.length, 2);
  assert.equal((await app.inject('/api/v1/series?match[]=battery_soc&limit=2')).json().data.length, 2);
  assert.deepEqual((await app.inject('/api/v1/labels')).json().data, ['__name__', 'node', 'phase', 'site']);
  assert.deepEqual((await app.inject('/api/v1/labels?match[]=battery_soc')).json().data, ['__name__', 'node', 'site']);
  assert.deepEqual((await app.inject('/api/v1/label/__name__/values')).json().data, ['battery_soc', 'voltage']);
  assert.deepEqual((await app.inject('/api/v1/label/node/values?match[]={site="s1"}')).json().data, ['a', 'b']);
  assert.deepEqual((await app.inject(`/api/v1/label/phase/values?start=${S0 + 50}`)).json().data, [], 'voltage has no samples after start');
  assert.equal((await app.inject('/api/v1/label/bad-name/values')).statusCode, 400);
});

test('node api buildinfo: a Prometheus version for Grafana and fieldmesh versions beside it', async () => {
  const { app } = await setup();
  const body = (await app.inject('/api/v1/status/buildinfo')).json();
  assert.equal(body.status, 'success');
  assert.match(body.data.version, /^2\.\d+\.\d+$/);
  assert.equal(typeof body.data.fieldmeshVersion, 'string');
  assert.deepEqual((await app.inject('/api/v1/rules')).json(), { status: 'success', data: { groups: [] } });
});

test('node api: a closed store answers 503 unavailable; an unexpected failure is a 500 without internals', async () => {
  const { app, store } = await setup();
  await store.close();
  const closed = await app.inject('/api/v1/labels');
  assert.equal(closed.statusCode, 503);
  assert.equal(closed.json().errorType, 'unavailable');
  const broken = Fastify({ logger: false });
  await registerStoreRoutes(broken, { ...store, labelNames: async () => Promise.reject(new Error('disk on fire')) });
  const res = await broken.inject('/api/v1/labels');
  assert.equal(res.statusCode, 500);
  assert.deepEqual([res.json().errorType, res.json().error], ['internal', 'internal error']);
});
