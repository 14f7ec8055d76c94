// The frame router over a real in-process broker (the memory transport): each message's topic parsed once and its
// frame decoded once for every handler of it; routes scoped by node, zone and channel; undecodable frames counted by
// reason, reported once and seen by no handler.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isFieldmeshError } from '../../src/kit/index.js';
import {
  commandTopic,
  createFrameRouter,
  encodeAck,
  encodeBundle,
  encodeDeath,
  encodeHubState,
  encodeLeave,
  encodeRebirth,
  encodeZoneCertificate,
  encodeZoneFrame,
  type FrameRouter,
  hubTopic,
  nodeTopic,
  type RouteRejection,
  zoneTopic,
} from '../../src/protocol/index.js';
import { createMemoryTransport, MemoryBroker, type Transport } from '../../src/transport/index.js';
import { waitFor } from '../kit/wait.js';

const P = 'fieldmesh';

async function connected(broker: MemoryBroker, clientId: string): Promise<Transport> {
  const t = createMemoryTransport(broker, { clientId });
  t.start();
  await waitFor(() => t.connected, { what: `${clientId} connected` });
  return t;
}

async function setup(): Promise<{ router: FrameRouter; rejections: RouteRejection[]; pub: Transport; node: Transport }> {
  const broker = new MemoryBroker();
  const node = await connected(broker, 'node');
  const pub = await connected(broker, 'pub');
  const rejections: RouteRejection[] = [];
  const router = createFrameRouter({ source: node, prefix: P, onRejected: (r) => rejections.push(r) });
  return { router, rejections, pub, node };
}

test('frame router: three handlers of the hub state get one message parsed once and decoded once', async () => {
  const { router, pub, node } = await setup();
  const seen: string[] = [];
  const subs = [
    router.on('hub/state', (f, c) => seen.push(`a${f.epoch}${c.message.retain ? 'r' : ''}`)),
    router.on('hub/state', (f) => seen.push(`b${f.epoch}`)),
    router.on('hub/state', (f) => seen.push(`c${f.epoch}`)),
  ];
  await Promise.all(subs.map((s) => s.ready));
  await pub.publish(hubTopic(P, 'state'), encodeHubState({ epoch: 7, online: true, time: 0 }), { qos: 1 });
  await waitFor(() => seen.length === 3, { what: 'the three handlers' });
  assert.deepEqual(seen, ['a7', 'b7', 'c7']);
  const stats = router.stats();
  assert.equal(stats.messages, 1);
  assert.equal(stats.topicsParsed, 1);
  assert.equal(stats.framesDecoded, 1);
  assert.equal(stats.delivered, 3);
  await node.close();
  await pub.close();
});

test('frame router: routes are scoped by node and channel, and each handler gets its typed frame with the parsed topic', async () => {
  const { router, pub, rejections } = await setup();
  const acks: string[] = [];
  const rebirths: string[] = [];
  const deaths: string[] = [];
  await router.on('cmd/ack', (f, c) => acks.push(`${c.topic.node}:${f.lane}:${f.firstSeq}-${f.lastSeq}`), { site: 's', node: 'n1' }).ready;
  await router.on('cmd/rebirth', (f, c) => rebirths.push(`${c.topic.node}:${f.reason}`), { site: 's' }).ready;
  await router.on('death', (f, c) => deaths.push(`${c.topic.site}/${c.topic.node}:${f.reason}`)).ready;
  await pub.publish(commandTopic(P, 's', 'n1', 'ack'), encodeAck({ lane: 'samples', firstSeq: 1, lastSeq: 4 }), { qos: 1 });
  await pub.publish(commandTopic(P, 's', 'n2', 'ack'), encodeAck({ lane: 'events', firstSeq: 1, lastSeq: 1 }), { qos: 1 });
  await pub.publish(commandTopic(P, 's', 'n2', 'rebirth'), encodeRebirth({ reason: 'gap' }), { qos: 1 });
  await pub.publish(commandTopic(P, 'other', 'n1', 'rebirth'), encodeRebirth({ reason: 'gap' }), { qos: 1 });
  await pub.publish(nodeTopic(P, 'x', 'y', 'death'), encodeDeath({ epoch: 3, reason: 'shutdown' }), { qos: 1 });
  await waitFor(() => deaths.length === 1, { what: 'the death' });
  assert.deepEqual(acks, ['n1:samples:1-4']);
  assert.deepEqual(rebirths, ['n2:gap']);
  assert.deepEqual(deaths, ['x/y:shutdown']);
  assert.deepEqual(rejections, []);
  assert.throws(
    () => router.on('data', () => {}, { site: 'Not An Id' }),
    (err) => isFieldmeshError(err, 'FM_TOPIC_INVALID'),
  );
});

test('frame router: an undecodable frame, a frame of another channel and one of another zone reach no handler and are reported once each', async () => {
  const { router, pub, rejections } = await setup();
  let handled = 0;
  for (let i = 0; i < 2; i++) await router.on('cmd/ack', () => handled++, { site: 's', node: 'n' }).ready;
  await router.on('zone', () => handled++, { site: 's' }).ready;
  await router.on('death', () => handled++).ready;
  const ack = commandTopic(P, 's', 'n', 'ack');
  await pub.publish(ack, Uint8Array.of(0x19, 0x01), { qos: 1 });
  await pub.publish(ack, encodeRebirth({ reason: 'gap' }), { qos: 1 });
  await pub.publish(ack, Uint8Array.of(0x29), { qos: 1 });
  const vote = encodeZoneFrame({ type: 'epoch', zone: 'north', epoch: 2, by: 'v1', reason: 'elect' });
  await pub.publish(zoneTopic(P, 's', 'v1', 'south'), vote, { qos: 1 });
  // Not a fieldmesh node: the death route's `+` matches it, the namespace does not.
  await pub.publish(`${P}/Bad/n/death`, encodeDeath({ epoch: 1, reason: 'lost' }), { qos: 1 });
  await waitFor(() => rejections.length === 5, { what: 'five rejections' });
  assert.equal(handled, 0, 'no handler saw any of them');
  assert.deepEqual(
    rejections.map((r) => [r.reason, r.topic]),
    [
      ['truncated', ack],
      ['malformed', ack],
      ['version', ack],
      ['other-zone', zoneTopic(P, 's', 'v1', 'south')],
      ['unknown-topic', `${P}/Bad/n/death`],
    ],
  );
  assert.match(rejections[1]?.message ?? '', /a rebirth frame on a topic of ack frames/);
  const stats = router.stats();
  assert.deepEqual({ ...stats.rejected }, { truncated: 1, malformed: 1, oversized: 0, version: 1, 'unknown-topic': 1, 'other-zone': 1 });
  assert.equal(stats.messages, 5, 'each counted once although two ack handlers had it');
  assert.equal(stats.framesDecoded, 4, 'the unknown topic was parsed, never decoded');
});

test('frame router: a zone frame of its own zone and a certificate reach the zone route; a digest cut short delivers its good frames and is reported', async () => {
  const { router, pub, rejections } = await setup();
  const zone: string[] = [];
  const digests: number[] = [];
  await router.on('zone', (m, c) => zone.push(`${c.topic.node}/${c.topic.zone}:${m.kind}`), { site: 's', zone: 'north' }).ready;
  await router.on('hub/aware', (frames) => digests.push(frames.length), { zone: 'north' }).ready;
  await pub.publish(
    zoneTopic(P, 's', 'v1', 'north'),
    encodeZoneFrame({ type: 'epoch', zone: 'north', epoch: 2, by: 'v1', reason: 'elect' }),
    {
      qos: 1,
    },
  );
  await pub.publish(
    zoneTopic(P, 's', 'v1', 'south'),
    encodeZoneFrame({ type: 'epoch', zone: 'south', epoch: 2, by: 'v1', reason: 'elect' }),
    {
      qos: 1,
    },
  );
  const certificate = encodeZoneCertificate(Uint8Array.of(0x30, 0x03, 0x02, 0x01, 0x01));
  await pub.publish(zoneTopic(P, 's', 'v2', 'north'), certificate, { qos: 1 });
  const leave = encodeLeave({ origin: 9, hops: 1, session: 1, seq: 1 });
  const bundle = encodeBundle([leave, leave]);
  await pub.publish(`${P}/_hub/aware/north`, bundle.subarray(0, bundle.length - 1), { qos: 0 });
  await waitFor(() => zone.length === 2 && digests.length === 1, { what: 'the zone messages and the digest' });
  assert.deepEqual(zone, ['v1/north:frame', 'v2/north:control']);
  assert.deepEqual(digests, [1], 'the frame before the fault');
  assert.deepEqual(
    rejections.map((r) => r.reason),
    ['truncated'],
  );
});
