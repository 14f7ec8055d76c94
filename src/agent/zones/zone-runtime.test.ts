// The zone runtime's links: zone frames through an in-memory broker and on an in-memory UDP segment (zone
// datagrams) at once, so every frame is heard twice; detections, votes and commands still count once. Bad
// datagrams (malformed, another site's, naming this node) are counted and change nothing; the zone figures
// reach /metrics. The real UDP sockets run in test/e2e/zones-udp.test.ts.
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { Registry } from 'prom-client';
import { waitFor } from '../../../test/kit/wait.js';
import { ManualClock, silentLogger } from '../../kit/index.js';
import { createFrameRouter, encodeZoneDatagram, encodeZoneFrame, zonesSchema } from '../../protocol/index.js';
import { createMemoryTransport, type FrameLink, type LinkPeer, MemoryBroker } from '../../transport/index.js';
import { registerZoneMetrics } from './zone-metrics.js';
import { reachableVoters, startZoneRuntime, type ZoneRuntime } from './zone-runtime.js';

const ZONES = zonesSchema.parse([
  {
    id: 'north',
    voters: ['a', 'b', 'c'],
    cameras: [
      { id: 'cam-a', node: 'a' },
      { id: 'cam-b', node: 'b' },
    ],
    pumps: [{ id: 'pump-1', node: 'c', driver: { type: 'sim' }, envelope: { minOff: '0s' } }],
    policy: { window: '60s', minCameras: 2, minNodes: 2, threshold: 1, voteTtl: '3s' },
  },
]);

/** An in-memory UDP segment: every datagram reaches every other link, a macrotask later. */
function segment() {
  const receivers = new Map<string, ((frame: Uint8Array, from: LinkPeer) => void) | undefined>();
  const link = (name: string): FrameLink => {
    receivers.set(name, undefined);
    return {
      description: `test segment (${name})`,
      send(frame) {
        for (const [other, r] of receivers) if (other !== name) setImmediate(() => r?.(frame.slice(), { address: name }));
      },
      onFrame(r) {
        receivers.set(name, r);
      },
      stats: () => ({ framesSent: 0, bytesSent: 0, framesReceived: 0, bytesReceived: 0, sendErrors: 0 }),
      close: async () => {
        receivers.delete(name);
      },
    };
  };
  /** A datagram from nowhere in particular (a stray host on the segment). */
  const inject = (bytes: Uint8Array) => {
    for (const r of receivers.values()) setImmediate(() => r?.(bytes, { address: 'stray' }));
  };
  return { link, inject };
}

async function fleet() {
  const clock = new ManualClock();
  const broker = new MemoryBroker();
  const seg = segment();
  const dir = mkdtempSync(join(tmpdir(), 'fm-zone-runtime-'));
  const nodes = new Map<string, ZoneRuntime>();
  const latencies: { zone: string; pump: string; ms: number }[] = [];
  for (const id of ['a', 'b', 'c']) {
    const transport = createMemoryTransport(broker, { clientId: id, clock });
    transport.start();
    await waitFor(() => transport.connected, { what: `${id} connected` });
    nodes.set(
      id,
      await startZoneRuntime({
        site: 'ranch',
        node: id,
        prefix: 'fieldmesh',
        zones: ZONES,
        dataDir: join(dir, id),
        clock,
        logger: silentLogger,
        boot: 1,
        tickMs: 500,
        transport,
        router: createFrameRouter({ source: transport, prefix: 'fieldmesh' }),
        segment: seg.link(id),
        onDecisionLatency: (zone, pump, ms) => latencies.push({ zone, pump, ms }),
      }),
    );
  }
  const node = (id: string) => nodes.get(id) as ZoneRuntime;
  const until = <T>(predicate: () => T, what: string) =>
    waitFor(
      () => {
        clock.advance(100);
        return predicate();
      },
      { timeoutMs: 10_000, intervalMs: 2, what },
    );
  const stop = async () => {
    for (const n of nodes.values()) await n.stop();
  };
  return { clock, seg, node, until, stop, latencies };
}

const running = (r: ZoneRuntime) => r.status('north')?.pumps.find((p) => p.id === 'pump-1')?.running === true;

test('zone runtime on both links: every frame is heard twice, detections, votes and commands count once', async () => {
  const f = await fleet();
  try {
    const t0 = f.clock.now();
    f.node('a').detect({ id: 'd-a', camera: 'cam-a', node: 'a', class: 'fire', confidence: 0.9, time: t0 });
    f.node('b').detect({ id: 'd-b', camera: 'cam-b', node: 'b', class: 'fire', confidence: 0.8, time: t0 });
    await f.until(() => running(f.node('c')), 'the pump on c running');
    // Run a few more ticks: votes are repeated each tick on both links.
    for (let i = 0; i < 20; i++) {
      f.clock.advance(100);
      await new Promise((r) => setImmediate(r));
    }
    const c = f.node('c');
    const status = c.status('north');
    assert.deepEqual(status?.detections.map((d) => d.id).sort(), ['d-a', 'd-b'], 'each detection held once');
    assert.deepEqual(status?.refusals, {}, 'no vote refused: a copy from the other link is an exact repeat, not a replay');
    const stats = c.stats();
    assert.ok((stats.received.udp.vote ?? 0) > 0 && (stats.received.mqtt.vote ?? 0) > 0, JSON.stringify(stats.received));
    assert.ok((stats.received.udp.detection ?? 0) > 0 && (stats.received.mqtt.detection ?? 0) > 0);
    assert.ok((f.node('a').stats().sent.udp.detection ?? 0) >= 1 && (f.node('a').stats().sent.mqtt.detection ?? 0) >= 1);
    assert.deepEqual(stats.pumps, [
      { zone: 'north', pump: 'pump-1', running: true, starts: { majority: 1 }, stops: {}, staleEpochRefused: 0 },
    ]);
    const zone = stats.zones.find((z) => z.zone === 'north');
    assert.equal(zone?.majorityHeld, 1);
    assert.equal(zone?.participation, 1);
    assert.ok((f.node('a').stats().zones[0]?.votesCast ?? 0) >= 1);
    assert.equal(f.node('a').stats().zones[0]?.majorityHeld, undefined, 'a drives no pump: it counts no votes');
    // The decision latency at the owner: from the second detection's timestamp to the start.
    assert.equal(f.latencies.length, 1);
    assert.ok((f.latencies[0]?.ms ?? -1) >= 0 && (f.latencies[0]?.ms ?? Number.POSITIVE_INFINITY) < 5_000, JSON.stringify(f.latencies));

    // An operator's stop through a, carried to c on both links, is executed once.
    f.node('a').command('north', 'pump-1', 'stop', 'api:olga', 'cmd-1');
    await f.until(() => !running(c), 'the pump stopped');
    for (let i = 0; i < 5; i++) {
      f.clock.advance(100);
      await new Promise((r) => setImmediate(r));
    }
    const commands = (c.status('north')?.decisions ?? []).filter((d) => d.kind === 'command');
    assert.equal(commands.length, 1, JSON.stringify(commands));
    const after = c.stats();
    // Every copy after the first (the other link's, and the sender's repeats until c's stopped state reached
    // it [FM-ZONE-ENGINE-7]) is dropped as a duplicate.
    assert.ok(after.duplicates.mqtt + after.duplicates.udp >= 1, 'the second copy of the command dropped');
    assert.deepEqual(after.pumps[0]?.stops, { manual: 1 });
  } finally {
    await f.stop();
  }
});

test('zone runtime on UDP: malformed datagrams, other sites and datagrams naming this node are counted and change nothing', async () => {
  const f = await fleet();
  try {
    const epochFrame = encodeZoneFrame({
      type: 'epoch',
      zone: 'north',
      epoch: 7,
      by: 'mallory',
      reason: 'elect',
    });
    f.seg.inject(Uint8Array.of(0x10, 24, 0xff)); // a zone datagram cut short
    f.seg.inject(Uint8Array.of(0x10, 24, 1, 0x21, 1, 0x61, 0x10, 20)); // site "!" is not an id
    f.seg.inject(encodeZoneDatagram('other-ranch', 'a', epochFrame)); // another site's
    f.seg.inject(encodeZoneDatagram('ranch', 'c', epochFrame).slice(0, -1)); // its frame truncated
    await waitFor(() => (f.node('c').stats().rejected.udp.truncated ?? 0) >= 2, { what: 'rejections counted' });
    const rejected = f.node('c').stats().rejected.udp;
    assert.deepEqual(rejected, { truncated: 2, malformed: 1, 'other-site': 1 });
    assert.equal(f.node('c').status('north')?.epoch, 0, 'no epoch taken from a refused datagram');

    // A datagram that names c as its sender reaches c: ignored as its own.
    f.seg.inject(encodeZoneDatagram('ranch', 'c', epochFrame));
    await waitFor(() => f.node('c').stats().rejected.udp.own === 1, { what: 'own datagram ignored' });
    assert.equal(f.node('c').status('north')?.epoch, 0);
    // ... while a and b take it (the sender is claimed, not proven: docs/consensus.md).
    await waitFor(() => f.node('a').status('north')?.epoch === 7, { what: 'a takes the epoch' });
  } finally {
    await f.stop();
  }
});

test('zone metrics: the runtime figures in Prometheus text, by link, type, zone and pump', async () => {
  const f = await fleet();
  try {
    const registry = new Registry();
    const metrics = registerZoneMetrics(registry, () => f.node('c').stats());
    const t0 = f.clock.now();
    f.node('a').detect({ id: 'd-a', camera: 'cam-a', node: 'a', class: 'fire', confidence: 0.9, time: t0 });
    f.node('b').detect({ id: 'd-b', camera: 'cam-b', node: 'b', class: 'fire', confidence: 0.8, time: t0 });
    await f.until(() => running(f.node('c')), 'the pump on c running');
    metrics.decisionLatency('north', 'pump-1', 180);
    const text = await registry.metrics();
    for (const line of [
      'fieldmesh_zone_majority_held{zone="north"} 1',
      'fieldmesh_zone_epoch{zone="north"} 0',
      'fieldmesh_zone_participation_ratio{zone="north"} 1',
      'fieldmesh_pump_running{zone="north",pump="pump-1"} 1',
      'fieldmesh_pump_starts_total{zone="north",pump="pump-1",cause="majority"} 1',
      'fieldmesh_pump_stale_epoch_refusals_total{zone="north",pump="pump-1"} 0',
      'fieldmesh_zone_decision_latency_seconds_bucket{le="0.25",zone="north",pump="pump-1"} 1',
      'fieldmesh_zone_decision_latency_seconds_bucket{le="0.1",zone="north",pump="pump-1"} 0',
    ])
      assert.ok(text.includes(line), `${line}\n${text}`);
    assert.match(text, /fieldmesh_zone_frames_received_total\{link="udp",type="vote"\} [1-9]/);
    assert.match(text, /fieldmesh_zone_frames_received_total\{link="mqtt",type="detection"\} [1-9]/);
    assert.match(text, /fieldmesh_zone_frames_sent_total\{link="udp",type="vote"\} [1-9]/);
  } finally {
    await f.stop();
  }
});

test('zone runtime: the reachable voters are the zone voters the awareness plane holds live, and the node itself [FM-ZONE-REACH]', () => {
  let live: string[] = [];
  const reach = reachableVoters(ZONES, 'a', () => live);
  assert.deepEqual(reach('north'), ['a']);
  live = ['b', 'x', 'cam-only'];
  assert.deepEqual(reach('north'), ['a', 'b'], 'only configured voters count');
  assert.deepEqual(reachableVoters(ZONES, 'z', () => ['c'])('north'), ['c'], 'a node that is not a voter does not count itself');
  assert.deepEqual(reach('nowhere'), []);
});
