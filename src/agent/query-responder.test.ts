// The query responder on the in-memory broker: a few queries at once, a bounded queue, busy beyond it,
// requests the hub gave up on dropped, answers too large for a reply refused. [FM-QUERY-3] [FM-QUERY-4]
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { inflateRawSync } from 'node:zlib';
import { FieldmeshError, ManualClock, silentLogger } from '../kit/index.js';
import { commandTopic, createFrameRouter, encodeQuery, type ReplyFrame } from '../protocol/index.js';
import { createMemoryTransport, MemoryBroker, type Transport } from '../transport/index.js';
import { createAgentMetrics } from './agent-metrics.js';
import type { StoreQueries } from './api/store-queries.js';
import { QueryResponder } from './query-responder.js';

const identity = { site: 's1', zone: 'z1', node: 'n1' };

async function connected(t: Transport): Promise<void> {
  t.start();
  for (let i = 0; i < 100 && !t.connected; i++) await new Promise((r) => setImmediate(r));
  assert.ok(t.connected);
}

async function setup(queries: StoreQueries) {
  const broker = new MemoryBroker();
  const clock = new ManualClock(1_800_000_000_000);
  const node = createMemoryTransport(broker, { clientId: 'node', clock });
  const hub = createMemoryTransport(broker, { clientId: 'hub', clock });
  await connected(node);
  await connected(hub);
  const metrics = createAgentMetrics(identity);
  const responder = new QueryResponder({
    identity,
    prefix: 'fieldmesh',
    epoch: 3,
    bootTime: clock.now() - 5_000,
    configVersion: 'abcdefabcdef',
    transport: node,
    router: createFrameRouter({ source: node, prefix: 'fieldmesh' }),
    queries,
    clock,
    logger: silentLogger,
    metrics,
    concurrency: 1,
    queueLength: 1,
  });
  responder.start();
  const replies: Array<{ frame: ReplyFrame; body: { code?: string; message?: string } & Record<string, unknown> }> = [];
  await createFrameRouter({ source: hub, prefix: 'fieldmesh' }).on(
    'reply',
    (frame) => replies.push({ frame, body: JSON.parse(inflateRawSync(frame.body).toString('utf8')) }),
    { site: 's1', node: 'n1' },
  ).ready;
  const ask = (requestId: string, kind: 'ping' | 'query_range' | 'series', timeoutMs = 10_000) =>
    hub.publish(
      commandTopic('fieldmesh', 's1', 'n1', 'query'),
      encodeQuery({ requestId, kind, timeoutMs, params: [['nonce', requestId]] }),
      { qos: 1 },
    );
  const settle = async (n: number) => {
    for (let i = 0; i < 200 && replies.length < n; i++) await new Promise((r) => setImmediate(r));
    assert.equal(replies.length, n, `${n} replies`);
  };
  return { clock, metrics, replies, ask, settle };
}

function stubQueries(queryRange: StoreQueries['queryRange']): StoreQueries {
  const never = () => Promise.reject(new Error('not used'));
  return { queryRange, series: queryRange, instant: never, labels: never, labelValues: never };
}

test('query responder: one query at a time, one waiting, the next refused as busy; a ping jumps the queue', async () => {
  const gates: Array<() => void> = [];
  const { replies, ask, settle } = await setup(
    stubQueries(() => new Promise((resolve) => gates.push(() => resolve({ status: 'success', data: [] })))),
  );
  await ask('q1', 'query_range');
  await ask('q2', 'query_range');
  await ask('q3', 'series');
  await settle(1);
  assert.deepEqual([replies[0]?.frame.requestId, replies[0]?.frame.status, replies[0]?.body.code], ['q3', 'error', 'FM_NODE_BUSY']);
  await ask('p1', 'ping');
  await settle(2);
  assert.deepEqual(
    [replies[1]?.frame.requestId, replies[1]?.body.epoch, replies[1]?.body.uptimeMs, replies[1]?.body.nonce],
    ['p1', 3, 5_000, 'p1'],
  );
  assert.equal(gates.length, 1, 'the second query waits for the first');
  gates[0]?.();
  await settle(3);
  assert.equal(gates.length, 2, 'the waiting query runs once the first is answered');
  gates[1]?.();
  await settle(4);
  assert.deepEqual(
    replies.slice(2).map((r) => [r.frame.requestId, r.frame.status]),
    [
      ['q1', 'ok'],
      ['q2', 'ok'],
    ],
  );
});

test('query responder: a waiting query the hub has given up on is dropped, not evaluated', async () => {
  const gates: Array<() => void> = [];
  const { clock, metrics, replies, ask, settle } = await setup(
    stubQueries(() => new Promise((resolve) => gates.push(() => resolve({ status: 'success', data: [] })))),
  );
  await ask('q1', 'query_range');
  await ask('q2', 'query_range', 1_000);
  for (let i = 0; i < 20 && gates.length < 1; i++) await new Promise((r) => setImmediate(r));
  clock.advance(1_500);
  gates[0]?.();
  await settle(1);
  for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
  assert.equal(gates.length, 1, 'q2 was never evaluated');
  assert.equal(replies.length, 1);
  const expired = (await metrics.remoteQueries.get()).values.find((v) => v.labels.result === 'expired');
  assert.equal(expired?.value, 1);
});

test('query responder: an answer too large for a reply is refused with a code telling to narrow the range', async () => {
  // Incompressible: 400 KiB of random bytes in base64 stays above the reply bound after deflate.
  const { replies, ask, settle } = await setup(
    stubQueries(async () => ({ status: 'success', data: [randomBytes(400 * 1024).toString('base64')] })),
  );
  await ask('big', 'query_range');
  await settle(1);
  assert.equal(replies[0]?.frame.status, 'error');
  assert.equal(replies[0]?.body.code, 'FM_NODE_REPLY_TOO_LARGE');
  assert.match(replies[0]?.body.message ?? '', /too large, narrow the range or raise step/);
});

test('query responder: a query error travels back as its code and message; an unexpected one as FM_AGENT_INTERNAL without details', async () => {
  let fail: Error = new FieldmeshError('FM_QUERY_INVALID', 'invalid parameter "step": nope');
  const { replies, ask, settle } = await setup(stubQueries(() => Promise.reject(fail)));
  await ask('bad', 'query_range');
  await settle(1);
  assert.deepEqual(replies[0]?.body, { code: 'FM_QUERY_INVALID', message: 'invalid parameter "step": nope' });
  fail = new Error('disk on fire at /secret/path');
  await ask('boom', 'query_range');
  await settle(2);
  assert.equal(replies[1]?.body.code, 'FM_AGENT_INTERNAL');
  assert.doesNotMatch(replies[1]?.body.message ?? '', /secret/);
});
