// Tests of the influx collector's v1/v2 endpoints through fastify inject (no socket).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { gzipSync } from 'node:zlib';
import Fastify from 'fastify';
import { ManualClock } from '../../kit/index.js';
import { createInfluxCollector, influxCollectorSchema } from './influx.js';
import { createTestContext } from './test-context.js';

/** Midnight (UTC) yesterday: sample times relative to the run, on a day boundary. */
const T0 = Math.floor(Date.now() / 86_400_000) * 86_400_000 - 86_400_000;

async function setup(extra: Record<string, unknown> = {}) {
  const http = Fastify();
  const clock = new ManualClock(T0);
  const ctx = createTestContext({ http, clock });
  const collector = createInfluxCollector(influxCollectorSchema.parse({ type: 'influx', ...extra }), 0);
  await collector.start(ctx);
  return { http, ctx, collector };
}

const TELEGRAF = [
  `cpu,cpu=cpu-total,host=gx usage_idle=97.5,usage_user=1.25 ${T0}000000`,
  `victron,system_id=c0619ab1a2b3 battery_soc=76.4,dc_voltage=52.31,gen_running=true,state="bulk" ${T0}000000`,
  'temp,sensor=t1 value=21i',
].join('\n');

test('influx: a v1 write maps points to samples the VictoriaMetrics way and answers 204 after recording', async () => {
  const { http, ctx, collector } = await setup();
  const res = await http.inject({ method: 'POST', url: '/write?db=telegraf&precision=ns', payload: TELEGRAF });
  assert.equal(res.statusCode, 204, res.body);
  const byName = Object.fromEntries(ctx.samples.map((s) => [s.name, s]));
  assert.deepEqual(Object.keys(byName).sort(), [
    'cpu_usage_idle',
    'cpu_usage_user',
    'temp',
    'victron_battery_soc',
    'victron_dc_voltage',
    'victron_gen_running',
  ]);
  assert.deepEqual(byName.cpu_usage_idle, {
    name: 'cpu_usage_idle',
    labels: { cpu: 'cpu-total', host: 'gx' },
    value: 97.5,
    time: T0,
  });
  assert.equal(byName.victron_gen_running?.value, 1);
  assert.deepEqual(byName.temp?.labels, { sensor: 't1' });
  assert.equal(byName.temp?.time, T0, 'no timestamp: receive time');
  assert.equal(collector.skippedStringFields, 1);
});

test('influx: v2 write with Token auth, seconds precision and a gzip body', async () => {
  const { http, ctx } = await setup({ token: 'tok' });
  const res = await http.inject({
    method: 'POST',
    url: '/api/v2/write?org=o&bucket=b&precision=s',
    payload: gzipSync(`m,a=1 v=2 ${T0 / 1000}\n`),
    headers: { authorization: 'Token tok', 'content-encoding': 'gzip', 'content-type': 'text/plain; charset=utf-8' },
  });
  assert.equal(res.statusCode, 204, res.body);
  assert.deepEqual(ctx.samples, [{ name: 'm_v', labels: { a: '1' }, value: 2, time: T0 }]);
});

test('influx: v1 auth by u/p query, basic auth or bearer; 401 otherwise; ping and health stay open', async () => {
  const { http, ctx } = await setup({ token: 'tok' });
  const ok = [
    { url: '/write?db=x&u=telegraf&p=tok' },
    { url: '/write?db=x', headers: { authorization: `Basic ${Buffer.from('telegraf:tok').toString('base64')}` } },
    { url: '/write?db=x', headers: { authorization: 'Bearer tok' } },
  ];
  for (const r of ok) assert.equal((await http.inject({ method: 'POST', payload: 'm v=1', ...r })).statusCode, 204, r.url);
  for (const r of [{ url: '/write?db=x' }, { url: '/write?db=x&p=bad' }, { url: '/query?q=SHOW+DATABASES' }]) {
    const res = await http.inject({ method: 'POST', payload: 'm v=1', ...r });
    assert.equal(res.statusCode, 401, r.url);
    assert.equal(res.json().code, 'FM_PUSH_UNAUTHORIZED');
  }
  assert.deepEqual(ctx.rejections, ['unauthorized', 'unauthorized', 'unauthorized']);
  const ping = await http.inject({ method: 'GET', url: '/ping' });
  assert.equal(ping.statusCode, 204);
  assert.ok(ping.headers['x-influxdb-version']);
  assert.equal((await http.inject({ method: 'HEAD', url: '/ping' })).statusCode, 204);
  const health = await http.inject({ method: 'GET', url: '/health' });
  assert.equal(health.statusCode, 200);
  assert.equal(health.json().status, 'pass');
});

test('influx: a bad line rejects the whole request with its line and column; nothing is recorded', async () => {
  const { http, ctx } = await setup();
  const res = await http.inject({ method: 'POST', url: '/write?db=x', payload: 'm v=1\nm v=2\nm,host=a value=abc\nm v=4' });
  assert.equal(res.statusCode, 400);
  const message = 'line 3, column 16: invalid field value "abc" (expected a number, 12i, 12u, a boolean or a "string")';
  assert.deepEqual(res.json(), { code: 'FM_LINE_PROTOCOL_INVALID', message, error: message, line: 3, column: 16 });
  assert.equal(ctx.samples.length, 0);
  assert.deepEqual(ctx.rejections, ['invalid']);
  const badPrecision = await http.inject({ method: 'POST', url: '/write?db=x&precision=fortnight', payload: 'm v=1' });
  assert.equal(badPrecision.statusCode, 400);
  assert.equal(badPrecision.json().code, 'FM_QUERY_INVALID');
});

test('influx: bodies over max_body_bytes, compressed or decompressed, answer 413', async () => {
  const { http, ctx } = await setup({ max_body_bytes: 100 });
  const big = `${'m v=1\n'.repeat(40)}`;
  const plain = await http.inject({ method: 'POST', url: '/write', payload: big });
  assert.equal(plain.statusCode, 413);
  assert.equal(plain.json().code, 'FM_PUSH_TOO_LARGE');
  const zipped = gzipSync(big);
  assert.ok(zipped.length < 100, 'compressed body fits the limit');
  const bomb = await http.inject({ method: 'POST', url: '/write', payload: zipped, headers: { 'content-encoding': 'gzip' } });
  assert.equal(bomb.statusCode, 413);
  assert.match(bomb.json().message, /decompressed/);
  const broken = await http.inject({ method: 'POST', url: '/write', payload: 'not gzip', headers: { 'content-encoding': 'gzip' } });
  assert.equal(broken.statusCode, 400);
  assert.deepEqual(ctx.rejections, ['too-large', 'too-large', 'invalid']);
  assert.equal(ctx.samples.length, 0);
});

test('influx: /query answers the statements Telegraf sends at start-up', async () => {
  const { http } = await setup({ prefix: '/influx' });
  const create = await http.inject({ method: 'POST', url: '/influx/query?q=CREATE+DATABASE+%22telegraf%22' });
  assert.equal(create.statusCode, 200);
  assert.deepEqual(create.json(), { results: [{ statement_id: 0 }] });
  const form = await http.inject({
    method: 'POST',
    url: '/influx/query',
    payload: 'q=SHOW+DATABASES',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
  });
  assert.equal(form.json().results[0].series[0].name, 'databases');
  const other = await http.inject({ method: 'GET', url: '/influx/query?q=SELECT+*+FROM+cpu' });
  assert.equal(other.statusCode, 400);
  assert.equal((await http.inject({ method: 'POST', url: '/influx/write', payload: 'm v=1' })).statusCode, 204);
});
