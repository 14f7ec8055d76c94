// Tests of the http_push collector through fastify inject (no socket).
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import Fastify from 'fastify';
import { ManualClock, resolveSecretFiles } from '../../kit/index.js';
import { createHttpPushCollector, httpPushCollectorSchema } from './http-push.js';
import { createTestContext } from './test-context.js';

/** Midnight (UTC) yesterday: sample times relative to the run, on a day boundary. */
const T0 = Math.floor(Date.now() / 86_400_000) * 86_400_000 - 86_400_000;

const TOKEN = 's3cret-token';

async function setup(extra: Record<string, unknown> = {}, failRecord?: Error) {
  const http = Fastify();
  http.get('/other', async () => ({ ok: true }));
  const clock = new ManualClock(T0);
  const ctx = createTestContext({ http, clock, ...(failRecord ? { failRecord } : {}) });
  const collector = createHttpPushCollector(httpPushCollectorSchema.parse({ type: 'http_push', token: TOKEN, ...extra }), 0);
  await collector.start(ctx);
  const post = (payload: string | Buffer, headers: Record<string, string> = { authorization: `Bearer ${TOKEN}` }) =>
    http.inject({ method: 'POST', url: '/events', payload, headers });
  return { http, ctx, collector, post, clock };
}

test('http_push: an array of probe results becomes samples and events, answered after recording', async () => {
  const { ctx, post, http } = await setup();
  const body = [
    {
      kind: 'probe_result',
      time: new Date(T0 + 5_000).toISOString(),
      metrics: { rtt_seconds: 0.031, loss_ratio: 0 },
      labels: { target: 'dns' },
    },
    { metrics: { jitter_seconds: 0.002 } },
    { kind: 'link_down', priority: 'high', time: T0 + 123, id: 'probe-7', payload: { iface: 'wlan0' } },
  ];
  const res = await post(JSON.stringify(body), { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/x-www-form-urlencoded' });
  assert.equal(res.statusCode, 200, res.body);
  assert.deepEqual(res.json(), { accepted: { samples: 3, events: 2 } });
  assert.deepEqual(ctx.samples[0], {
    name: 'rtt_seconds',
    labels: { target: 'dns' },
    value: 0.031,
    time: T0 + 5_000,
    type: 'gauge',
  });
  assert.equal(ctx.samples[2]?.time, T0, 'no time: the receive time');
  assert.equal(ctx.events[0]?.kind, 'probe_result');
  assert.equal(ctx.events[0]?.priority, 'normal');
  assert.deepEqual(ctx.events[0]?.payload, body[0]);
  assert.deepEqual(
    { id: ctx.events[1]?.id, kind: ctx.events[1]?.kind, priority: ctx.events[1]?.priority, time: ctx.events[1]?.time },
    { id: 'probe-7', kind: 'link_down', priority: 'high', time: T0 + 123 },
  );
  assert.deepEqual(ctx.rejections, []);
  assert.equal((await http.inject({ method: 'GET', url: '/other' })).statusCode, 200, 'other routes undisturbed');
});

test('http_push: a single object without content type is accepted', async () => {
  const { ctx, http } = await setup();
  const res = await http.inject({
    method: 'POST',
    url: '/events',
    payload: '{"kind":"door_open"}',
    headers: { authorization: `Bearer ${TOKEN}` },
  });
  assert.equal(res.statusCode, 200, res.body);
  assert.equal(ctx.events.length, 1);
});

test('http_push: missing or wrong token answers 401 FM_PUSH_UNAUTHORIZED and records nothing', async () => {
  const { ctx, post } = await setup();
  const missing = await post('{"kind":"x"}', {});
  const wrong = await post('{"kind":"x"}', { authorization: 'Bearer nope' });
  for (const res of [missing, wrong]) {
    assert.equal(res.statusCode, 401);
    assert.equal(res.json().code, 'FM_PUSH_UNAUTHORIZED');
  }
  assert.match(missing.json().message, /missing/);
  assert.deepEqual(ctx.rejections, ['unauthorized', 'unauthorized']);
  assert.equal(ctx.events.length, 0);
});

test('http_push: a body over max_body_bytes answers 413 FM_PUSH_TOO_LARGE', async () => {
  const { ctx, post } = await setup({ max_body_bytes: 64 });
  const res = await post(JSON.stringify({ kind: 'x', pad: 'y'.repeat(100) }), {
    authorization: `Bearer ${TOKEN}`,
    'content-type': 'application/json',
  });
  assert.equal(res.statusCode, 413);
  assert.deepEqual(res.json(), { code: 'FM_PUSH_TOO_LARGE', message: 'body is larger than 64 bytes' });
  assert.deepEqual(ctx.rejections, ['too-large']);
});

test('http_push: bad JSON and wrong shapes answer 400 naming the problem and record nothing', async () => {
  const { ctx, post } = await setup();
  const cases: [string, RegExp][] = [
    ['{"kind": "x",', /^invalid JSON: .*(position|end)/i],
    ['[{"kind":"a"},{"kind":"b"},{"kind":"c"},{"metrics":{"rtt":"fast"}}]', /^\[3\]\.metrics\.rtt: expected a number$/],
    ['{"metrics":{"rtt":1},"labels":{"a":1}}', /^labels\.a: expected a string$/],
    ['{"kind":"x","priority":"urgent"}', /^priority: expected one of low, normal, high, critical$/],
    ['{"kind":"x","time":"yesterday"}', /^time: expected milliseconds/],
    ['[1]', /^\[0\]: expected an object$/],
    ['"hello"', /^\(root\): expected an object or an array/],
    ['{"labels":{}}', /expected a "kind"/],
    ['{"metrics":{"bad name":1}}', /metrics\.bad name: expected a metric name/],
  ];
  for (const [payload, pattern] of cases) {
    const res = await post(payload);
    assert.equal(res.statusCode, 400, payload);
    assert.equal(res.json().code, 'FM_PUSH_INVALID');
    assert.match(res.json().message, pattern, payload);
  }
  assert.equal(ctx.rejections.length, cases.length);
  assert.ok(ctx.rejections.every((r) => r === 'invalid'));
  assert.equal(ctx.samples.length + ctx.events.length, 0);
});

test('http_push: token_file and a custom path; 503 when recording fails', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'fm-push-'));
  const file = join(dir, 'token');
  writeFileSync(file, 'from-file\n');
  const http = Fastify();
  const ctx = createTestContext({ http, failRecord: new Error('store full') });
  const { value } = resolveSecretFiles({ type: 'http_push', path: '/ingest', token_file: file }, { read: (p) => readFileSync(p, 'utf8') });
  await createHttpPushCollector(httpPushCollectorSchema.parse(value), 1).start(ctx);
  const res = await http.inject({
    method: 'POST',
    url: '/ingest',
    payload: '{"metrics":{"x":1}}',
    headers: { authorization: 'Bearer from-file' },
  });
  assert.equal(res.statusCode, 503);
  assert.match(res.json().message, /store full/);
});

test('http_push: without ctx.http the collector logs a warning and serves nothing', async () => {
  const ctx = createTestContext();
  await createHttpPushCollector(httpPushCollectorSchema.parse({ type: 'http_push' }), 0).start(ctx);
  assert.equal(ctx.logs[0]?.level, 'warn');
  assert.match(ctx.logs[0]?.msg ?? '', /without HTTP/);
});
