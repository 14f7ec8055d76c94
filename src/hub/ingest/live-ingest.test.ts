// Live ingest: the rebirth requests the fleet state asks for go out through the hub's transport, one per broken
// session while the broker has not taken it yet (issue 13's rebirth storm).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ManualClock, silentLogger } from '../../kit/index.js';
import { commandTopic, decodeWireFrame, type SeriesDef, SessionEncoder, type WireFrame } from '../../protocol/index.js';
import { createMemoryTransport, MemoryBroker, type Transport } from '../../transport/index.js';
import { FleetState } from '../fleet/fleet-state.js';
import { createHubMetrics, newHubCounters } from '../hub-metrics.js';
import type { HubStorage } from '../storage/storage.js';
import { LiveIngest } from './live-ingest.js';
import { WriteQueue } from './write-queue.js';

const SERIES: SeriesDef[] = [
  {
    alias: 1,
    name: 'battery_soc',
    labels: {},
    type: 'gauge',
    unit: 'percent',
    decimals: 1,
    deadband: { kind: 'none' },
    maxSilenceMs: 30_000,
    value: 55.2,
  },
];

function wire(bytes: Uint8Array): WireFrame {
  const r = decodeWireFrame(bytes);
  if (!r.ok) throw r.error;
  return r.frame;
}

async function connected(t: Transport): Promise<void> {
  t.start();
  if (!t.connected) await new Promise<void>((resolve) => t.on('connected', () => resolve()));
}

test('live ingest: a broken session asks for one rebirth while the broker has not taken the request, whatever the frames that follow', async () => {
  const clock = new ManualClock();
  const broker = new MemoryBroker();
  const hubLink = createMemoryTransport(broker, { clientId: 'hub' });
  const nodeLink = createMemoryTransport(broker, { clientId: 'n1' });
  await Promise.all([connected(hubLink), connected(nodeLink)]);
  try {
    const requests: number[] = [];
    await nodeLink.subscribe(commandTopic('fieldmesh', 's1', 'n1', 'rebirth'), () => requests.push(clock.monotonic())).ready;
    // A hub behind on its broker link: its QoS 1 publishes wait (behind its acks) until released.
    const held: (() => void)[] = [];
    const behind: Transport = Object.create(hubLink, {
      publish: {
        value: (topic: string, payload: Uint8Array, options: { qos: 0 | 1 }) =>
          new Promise<void>((resolve, reject) => held.push(() => hubLink.publish(topic, payload, options).then(resolve, reject))),
      },
    });
    const fleet = new FleetState({ clock, staleAfterHeartbeats: 3, rebirthMinIntervalMs: 5_000 });
    const live = new LiveIngest({
      prefix: 'fieldmesh',
      fleet,
      // Not reached: live samples are not stored here (storeSamples false) and nothing is persisted.
      storage: {} as HubStorage,
      writes: new WriteQueue({ logger: silentLogger, onError: () => {} }),
      clock,
      logger: silentLogger,
      metrics: createHubMetrics(() => fleet.countByState()),
      counters: newHubCounters(),
      transport: () => behind,
      onFleetEvents: () => {},
      storeSamples: false,
      onBirth: () => {},
    });
    const enc = new SessionEncoder(1);
    const source = (channel: 'birth' | 'data') => ({ site: 's1', node: 'n1', channel });
    live.apply(
      source('birth'),
      wire(enc.birth({ time: clock.now(), zone: 'z1', agentVersion: 't', tickMs: 2_000, heartbeatMs: 10_000, series: SERIES })),
    );
    enc.data(clock.now(), [{ alias: 1, value: 60 }]); // lost on the way
    let rejected = 0;
    for (let t = 0; t < 30_000; t += 2_000) {
      if (live.apply(source('data'), wire(enc.data(clock.now(), [{ alias: 1, value: 61 }]))).rejected === 'gap') rejected++;
      clock.advance(2_000);
    }
    assert.equal(rejected, 15, 'every frame after the gap is refused until a birth');
    assert.equal(held.length, 1, 'one request in 30 s, not one every rebirthMinInterval');
    for (const release of held.splice(0)) release();
    await new Promise<void>((resolve) => setImmediate(resolve));
    assert.equal(requests.length, 1, 'the node got it once the broker took it');
    // Timed from the broker's ack: asked again 5 s later only if no birth came.
    live.apply(source('data'), wire(enc.data(clock.now(), [{ alias: 1, value: 62 }])));
    clock.advance(4_000);
    live.apply(source('data'), wire(enc.data(clock.now(), [{ alias: 1, value: 63 }])));
    assert.equal(held.length, 0);
    live.apply(
      source('birth'),
      wire(enc.birth({ time: clock.now(), zone: 'z1', agentVersion: 't', tickMs: 2_000, heartbeatMs: 10_000, series: SERIES })),
    );
    clock.advance(2_000);
    const healed = live.apply(source('data'), wire(enc.data(clock.now(), [{ alias: 1, value: 64 }])));
    assert.equal(healed.applied, true);
    assert.equal(held.length, 0, 'the birth answered: nothing more to ask');
  } finally {
    await Promise.all([hubLink.close(), nodeLink.close()]);
  }
});
