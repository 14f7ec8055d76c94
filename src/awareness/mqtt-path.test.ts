// The awareness plane's MQTT path on the in-memory broker: the aggregator bundles one digest per tick,
// links deliver the others' frames and never their own, a bad digest is reported, and `auto` takes the
// aggregation over while the hub is offline and hands it back when it returns.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ManualClock, silentLogger } from '../kit/index.js';
import { createFrameRouter, encodeHubState, encodePulse, hubTopic, type RouteRejection } from '../protocol/index.js';
import { createMemoryTransport, MemoryBroker, type Transport } from '../transport/index.js';
import { Aggregator } from './aggregator.js';
import { createMqttLink } from './mqtt-link.js';
import { AggregatorTakeover } from './takeover.js';
import { digestTopic } from './topics.js';

const PREFIX = 'fieldmesh';

async function connected(broker: MemoryBroker, clientId: string, clock: ManualClock): Promise<Transport> {
  const t = createMemoryTransport(broker, { clientId, clock });
  const up = new Promise<void>((resolve) => t.on('connected', resolve));
  t.start();
  await up;
  return t;
}

/** Lets in-memory deliveries (setImmediate) run. */
const settle = () => new Promise((resolve) => setImmediate(() => setImmediate(resolve)));

const pulse = (origin: number, seq: number) => encodePulse({ origin, hops: 0, session: 1, seq, entries: [], suspects: [] });

test('mqtt path: one digest per tick bundles what every node sent; each link delivers the others, not its own', async () => {
  const clock = new ManualClock(0);
  const broker = new MemoryBroker();
  const hub = await connected(broker, 'hub', clock);
  const aggregator = new Aggregator({ transport: hub, prefix: PREFIX, clock, logger: silentLogger, tickMs: 2000 });
  aggregator.start();
  const received: Record<string, number[]> = { a: [], b: [] };
  const links = await Promise.all(
    (['a', 'b'] as const).map(async (node, i) => {
      const t = await connected(broker, node, clock);
      const router = createFrameRouter({ source: t, prefix: PREFIX });
      const link = createMqttLink({ transport: t, router, prefix: PREFIX, site: 'farm', node, origin: () => i + 1 });
      link.onFrame((frame) => received[node]?.push(((frame[1] as number) << 8) | (frame[2] as number)));
      return link;
    }),
  );
  await settle();
  links[0]?.send(pulse(1, 1));
  links[1]?.send(pulse(2, 1));
  links[1]?.send(pulse(2, 2));
  await settle();
  assert.deepEqual(received, { a: [], b: [] }, 'nothing before the tick: nodes read the digest, not each other');
  clock.advance(2000);
  await settle();
  assert.deepEqual(received, { a: [2, 2], b: [1] });
  assert.deepEqual(aggregator.stats(), {
    framesIn: 3,
    framesDropped: 0,
    digestsOut: 1,
    bytesOut: aggregator.stats().bytesOut,
  });
  clock.advance(2000);
  await settle();
  assert.equal(aggregator.stats().digestsOut, 1, 'a quiet tick sends no digest');
  aggregator.stop();
});

test('mqtt path: a malformed frame never reaches the aggregator and a malformed digest is reported, both by their frame router', async () => {
  const clock = new ManualClock(0);
  const broker = new MemoryBroker();
  const hub = await connected(broker, 'hub', clock);
  const hubRouter = createFrameRouter({ source: hub, prefix: PREFIX });
  const aggregator = new Aggregator({ transport: hub, router: hubRouter, prefix: PREFIX, clock, logger: silentLogger, tickMs: 2000 });
  aggregator.start();
  const node = await connected(broker, 'n', clock);
  const bad: RouteRejection[] = [];
  const link = createMqttLink({
    transport: node,
    router: createFrameRouter({ source: node, prefix: PREFIX, onRejected: (r) => bad.push(r) }),
    prefix: PREFIX,
    site: 'farm',
    node: 'n',
    origin: () => 9,
  });
  const got: Uint8Array[] = [];
  link.onFrame((f) => got.push(f));
  await settle();
  await node.publish(`${PREFIX}/farm/n/aware`, Uint8Array.of(0x1c, 0, 1), { qos: 0 });
  await settle();
  assert.equal(hubRouter.stats().rejected.truncated, 1);
  assert.equal(aggregator.stats().framesIn, 0);
  // A digest cut in the middle of its second frame: the first is still delivered.
  const first = pulse(3, 1);
  await hub.publish(digestTopic(PREFIX), Uint8Array.of(first.length, ...first, 40, 1, 2), { qos: 0 });
  await settle();
  assert.equal(got.length, 1);
  assert.equal(bad.length, 1);
  assert.match(bad[0]?.message ?? '', /announces 40 bytes/);
  aggregator.stop();
});

test('mqtt path: with auto, the lowest live origin aggregates while the hub is offline and hands back when it returns', async () => {
  const clock = new ManualClock(0);
  const broker = new MemoryBroker();
  const hubLink = await connected(broker, 'hub', clock);
  const mk = async (self: number) => {
    const t = await connected(broker, `n${self}`, clock);
    const aggregator = new Aggregator({ transport: t, prefix: PREFIX, clock, logger: silentLogger, tickMs: 2000 });
    const takeover = new AggregatorTakeover({
      router: createFrameRouter({ source: t, prefix: PREFIX }),
      aggregator,
      mode: 'auto',
      self: () => self,
      aliveOrigins: () => [5, 7].filter((o) => o !== self),
      clock,
      logger: silentLogger,
      everyMs: 2000,
    });
    takeover.start();
    return { aggregator, takeover };
  };
  const low = await mk(5);
  const high = await mk(7);
  await settle();
  assert.deepEqual([low.aggregator.isActive, high.aggregator.isActive], [false, false], 'hub state unknown: nobody takes over');
  await hubLink.publish(hubTopic(PREFIX, 'state'), encodeHubState({ epoch: 1, online: false, time: 0 }), { qos: 1, retain: true });
  await settle();
  assert.deepEqual([low.aggregator.isActive, high.aggregator.isActive], [true, false]);
  await hubLink.publish(hubTopic(PREFIX, 'state'), encodeHubState({ epoch: 2, online: true, time: 1 }), { qos: 1, retain: true });
  await settle();
  assert.deepEqual([low.aggregator.isActive, high.aggregator.isActive], [false, false]);
  low.takeover.stop();
  high.takeover.stop();
});
