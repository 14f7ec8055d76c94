// The hub's one frame router on an in-memory broker: a birth, a data frame, a history frame, a reply, a zone frame and
// an awareness frame each parsed once and decoded once, for the hub's readers and its aggregator; what does not
// decode is counted once, where its reader counts it (the hub's rejections, the zone monitor's, the signer's).
// calendar: the hub runs on a manual clock.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { waitFor } from '../../test/kit/wait.js';
import { ManualClock } from '../kit/index.js';
import {
  encodeLeave,
  encodeZoneFrame,
  type FrameRouterStats,
  nodeTopic,
  originIdOf,
  SessionEncoder,
  zoneTopic,
} from '../protocol/index.js';
import { batterySoc, birthOf, historyOf, hubTestKit } from './hub-test-kit.js';

const { startHub, connectClient } = hubTestKit();

/** What the router counted since `before`. */
function since(before: FrameRouterStats, after: FrameRouterStats) {
  return {
    messages: after.messages - before.messages,
    topicsParsed: after.topicsParsed - before.topicsParsed,
    framesDecoded: after.framesDecoded - before.framesDecoded,
    delivered: after.delivered - before.delivered,
  };
}

test('hub router: each frame the hub reads is parsed once and decoded once; what does not decode is counted once by its reader', async () => {
  const { hub, clock, broker } = await startHub({ prefix: 'fieldmesh-hub-router-', clock: new ManualClock(Date.UTC(2026, 0, 5, 9)) });
  const router = hub.router;
  assert.ok(router !== undefined, 'the hub has its router once started');
  const { transport: node } = await connectClient(broker, 'node-s1-n1');
  const enc = new SessionEncoder(4);
  const stats = () => router.stats();
  const once = { messages: 1, topicsParsed: 1, framesDecoded: 1, delivered: 1 };

  let before = stats();
  await node.publish(nodeTopic('fieldmesh', 's1', 'n1', 'birth'), birthOf(enc, clock.now(), [batterySoc()]), { qos: 1 });
  await waitFor(() => hub.fleet.get('s1', 'n1')?.state === 'online', { what: 'n1 online' });
  assert.deepEqual(since(before, stats()), once, 'the birth: one parse, one decode, live ingest');

  before = stats();
  clock.advance(1_000);
  await node.publish(nodeTopic('fieldmesh', 's1', 'n1', 'data'), enc.data(clock.now(), [{ alias: 1, value: 56.5 }]), { qos: 1 });
  await waitFor(() => hub.stats().samplesStored >= 2, { what: 'the data frame stored' });
  assert.deepEqual(since(before, stats()), once, 'the data frame');

  before = stats();
  const history = historyOf(4, clock.now() - 60_000);
  await node.publish(nodeTopic('fieldmesh', 's1', 'n1', 'history'), history, { qos: 1 });
  await waitFor(() => hub.stats().historySamplesStored === 1, { what: 'the history frame stored' });
  assert.deepEqual(since(before, stats()), once, 'the history frame: durable ingest');

  // The hub's aggregator reads the awareness frames on the hub's router (it made one of its own before).
  before = stats();
  const leave = encodeLeave({ origin: originIdOf('s1', 'n1'), hops: 1, session: 4, seq: 1 });
  await node.publish(nodeTopic('fieldmesh', 's1', 'n1', 'aware'), leave, { qos: 0 });
  await waitFor(() => stats().delivered > before.delivered, { what: 'the awareness frame at the aggregator' });
  assert.deepEqual(since(before, stats()), once, 'the awareness frame: the aggregator');

  // A zone frame from an admitted node: the zone monitor's (no zones configured: refused there as unknown-zone).
  before = stats();
  const epochFrame = encodeZoneFrame({ type: 'epoch', zone: 'north', epoch: 2, by: 'n1', reason: 'elect' });
  await node.publish(zoneTopic('fieldmesh', 's1', 'n1', 'north'), epochFrame, { qos: 1 });
  await waitFor(() => stats().delivered > before.delivered, { what: 'the zone frame at the zone monitor' });
  assert.deepEqual(since(before, stats()), once, 'the zone frame: the zone monitor');

  // Refused: a truncated data frame (the hub's count), a zone frame on another zone's topic (the zone monitor's),
  // an unreadable certificate request (said once, no pki). None reaches a reader.
  before = stats();
  await node.publish(nodeTopic('fieldmesh', 's1', 'n1', 'data'), Uint8Array.of(0x13, 0xff), { qos: 1 });
  await node.publish(zoneTopic('fieldmesh', 's1', 'n1', 'south'), epochFrame, { qos: 1 });
  await node.publish(nodeTopic('fieldmesh', 's1', 'n1', 'csr'), new TextEncoder().encode('{"requestId":"x"}'), { qos: 1 });
  await waitFor(() => stats().messages - before.messages === 3, { what: 'the three refused messages routed' });
  const after = stats();
  assert.deepEqual(since(before, after), { messages: 3, topicsParsed: 3, framesDecoded: 3, delivered: 0 });
  assert.equal(after.rejected.truncated - before.rejected.truncated, 1);
  assert.equal(after.rejected['other-zone'] - before.rejected['other-zone'], 1);
  assert.equal(after.rejected.malformed - before.rejected.malformed, 1);
  const metrics = (await hub.app.inject('/metrics')).body;
  assert.match(metrics, /^fieldmesh_frames_rejected_total\{reason="truncated"\} 1$/m);
  assert.match(metrics, /^fieldmesh_zone_frames_rejected_total\{reason="other-zone"\} 1$/m);
  assert.equal(hub.stats().framesRejected, 1, 'only the data frame is the hub ingest refusal');
});
