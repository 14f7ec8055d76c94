import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ManualClock } from '../kit/index.js';
import {
  buildTopology,
  createPointToPointNetwork,
  createSharedRadio,
  createSimRandom,
  frameAirtimeUs,
  MCS0_1MHZ_CHANNEL,
  neighboursOf,
  RADIO_FRAME_OVERHEAD_US,
  RADIO_HEADER_BYTES,
  type SimMedium,
} from './medium.js';

const NODES = ['n1', 'n2', 'n3', 'n4'];
/** 16 B of payload + 66 B of headers at 300 kbps after 1,266 us of fixed cost. */
const AIRTIME_16_MS = (1_266 + ((16 + 66) * 8 * 1e6) / 300_000) / 1_000;

interface Arrival {
  readonly atMs: number;
  readonly to: string;
  readonly from: string;
  readonly byte: number;
}

function record<S>(medium: SimMedium<S>, clock: ManualClock, nodes: readonly string[]): Arrival[] {
  const arrivals: Arrival[] = [];
  for (const to of nodes) {
    medium.link(to).onFrame((frame, from) => arrivals.push({ atMs: clock.monotonic(), to, from: from.address, byte: frame[0] ?? -1 }));
  }
  return arrivals;
}

const frame16 = (tag: number) => new Uint8Array(16).fill(tag);

test('medium: a 16-byte broadcast frame takes 3.45 ms of a 1 MHz MCS0 channel, 4.17 ms unicast', () => {
  assert.equal(RADIO_FRAME_OVERHEAD_US, 1_266);
  assert.equal(RADIO_HEADER_BYTES, 66);
  assert.ok(Math.abs(frameAirtimeUs(16) - 3_452.667) < 0.001);
  assert.ok(Math.abs(frameAirtimeUs(16, MCS0_1MHZ_CHANNEL, true) - 4_172.667) < 0.001);
  // The research floor: 50 nodes, one 24 B frame per 2 s tick each, is 9.2 % of the channel.
  const share = (25 * frameAirtimeUs(24)) / 1e6;
  assert.ok(Math.abs(share - 0.0917) < 0.0005, `floor share ${share}`);
});

test('radio delivers a frame to every other node once its airtime has passed, never back to the sender', () => {
  const clock = new ManualClock();
  const radio = createSharedRadio({ clock, seed: 1, nodes: NODES });
  const arrivals = record(radio, clock, NODES);
  radio.link('n1').send(frame16(7));
  clock.advance(AIRTIME_16_MS - 0.01);
  assert.equal(arrivals.length, 0);
  clock.advance(0.02);
  assert.deepEqual(
    arrivals.map((a) => [a.to, a.from, a.byte]),
    [
      ['n2', 'n1', 7],
      ['n3', 'n1', 7],
      ['n4', 'n1', 7],
    ],
  );
  const stats = radio.stats();
  assert.equal(stats.frames, 1);
  assert.equal(stats.payloadBytes, 16);
  assert.equal(stats.onAirBytes, 82);
  assert.equal(stats.deliveries, 3);
  assert.equal(stats.perNode.n1?.framesSent, 1);
  assert.equal(stats.perNode.n3?.payloadBytesReceived, 16);
  assert.ok(Math.abs(stats.airtimeSeconds - AIRTIME_16_MS / 1_000) < 1e-9);
  assert.deepEqual(radio.link('n1').stats(), { framesSent: 1, bytesSent: 16, framesReceived: 0, bytesReceived: 0, sendErrors: 0 });
});

test('radio serialises frames on the channel: a burst queues and the queueing delay is accounted', () => {
  const clock = new ManualClock();
  const radio = createSharedRadio({ clock, seed: 1, nodes: NODES });
  const arrivals = record(radio, clock, NODES);
  for (let i = 0; i < 5; i++) {
    radio.link('n1').send(frame16(i));
    radio.link('n2').send(frame16(10 + i));
  }
  assert.ok(Math.abs(radio.stats().backlogMs - 10 * AIRTIME_16_MS) < 1e-6);
  clock.advance(1_000);
  const atN3 = arrivals.filter((a) => a.to === 'n3');
  assert.deepEqual(
    atN3.map((a) => a.byte),
    [0, 10, 1, 11, 2, 12, 3, 13, 4, 14],
  );
  atN3.forEach((a, k) => {
    assert.ok(Math.abs(a.atMs - (k + 1) * AIRTIME_16_MS) < 1e-6, `frame ${k} at ${a.atMs}`);
  });
  const stats = radio.stats();
  assert.ok(Math.abs(stats.queueDelayMs.max - 9 * AIRTIME_16_MS) < 1e-6);
  assert.ok(Math.abs(stats.queueDelayMs.mean - 4.5 * AIRTIME_16_MS) < 1e-6);
  assert.ok(Math.abs(stats.airtimeShare - (10 * AIRTIME_16_MS) / 1_000) < 1e-9);
  assert.equal(stats.backlogMs, 0);
});

test('radio loses frames per receiver independently, at the configured rate within statistical bounds', () => {
  const clock = new ManualClock();
  const nodes = Array.from({ length: 10 }, (_, i) => `n${i}`);
  const radio = createSharedRadio({ clock, seed: 42, nodes, loss: 0.1, lossOverrides: [{ from: 'n0', to: 'n9', loss: 1 }] });
  const arrivals = record(radio, clock, nodes);
  const sent = 2_000;
  for (let i = 0; i < sent; i++) {
    radio.link('n0').send(frame16(1));
    clock.advance(10);
  }
  assert.equal(arrivals.filter((a) => a.to === 'n9').length, 0);
  // 8 receivers at 10 %: mean 1,600 losses of 16,000, sd 38; accept 5 sd.
  const lost = 8 * sent - arrivals.filter((a) => a.to !== 'n9').length;
  assert.ok(Math.abs(lost - 1_600) < 5 * 38, `lost ${lost}`);
  for (const to of nodes.slice(1, 9)) {
    const got = arrivals.filter((a) => a.to === to).length;
    assert.ok(got > 0.85 * sent && got < 0.95 * sent, `${to} got ${got}`);
  }
  assert.equal(radio.stats().drops.loss, lost + sent);
});

test('radio partition stops frames between the two sides until healed; each side still hears itself', () => {
  const clock = new ManualClock();
  const radio = createSharedRadio({ clock, seed: 1, nodes: NODES });
  const arrivals = record(radio, clock, NODES);
  radio.partition(['n1', 'n2']);
  radio.link('n1').send(frame16(1));
  radio.link('n3').send(frame16(3));
  clock.advance(100);
  assert.deepEqual(
    arrivals.map((a) => `${a.from}>${a.to}`),
    ['n1>n2', 'n3>n4'],
  );
  assert.equal(radio.stats().drops.partition, 4);
  radio.heal();
  radio.link('n1').send(frame16(1));
  clock.advance(100);
  assert.equal(arrivals.length, 5);
});

test('radio down node neither sends nor receives, and takes no airtime, until up again', () => {
  const clock = new ManualClock();
  const radio = createSharedRadio({ clock, seed: 1, nodes: NODES });
  const arrivals = record(radio, clock, NODES);
  radio.down('n2');
  radio.link('n2').send(frame16(2));
  radio.link('n1').send(frame16(1));
  clock.advance(100);
  assert.deepEqual(
    arrivals.map((a) => `${a.from}>${a.to}`),
    ['n1>n3', 'n1>n4'],
  );
  assert.equal(radio.stats().frames, 1);
  assert.equal(radio.stats().drops.down, 2);
  assert.equal(radio.isUp('n2'), false);
  radio.up('n2');
  radio.link('n2').send(frame16(2));
  clock.advance(100);
  assert.equal(arrivals.filter((a) => a.from === 'n2').length, 3);
});

test('radio runs repeat exactly for a seed and differ for another seed', () => {
  const run = (seed: number) => {
    const clock = new ManualClock();
    const nodes = Array.from({ length: 6 }, (_, i) => `n${i}`);
    const radio = createSharedRadio({ clock, seed, nodes, loss: 0.3 });
    const arrivals = record(radio, clock, nodes);
    const random = createSimRandom(seed, 9);
    for (let tick = 0; tick < 50; tick++) {
      for (const n of nodes) if (random.next() < 0.7) radio.link(n).send(frame16(tick));
      clock.advance(random.next() * 200);
    }
    clock.advance(1_000);
    return JSON.stringify({ arrivals, stats: radio.stats() });
  };
  assert.equal(run(7), run(7));
  assert.notEqual(run(7), run(8));
});

test('radio with a line topology: a frame reaches only the neighbours, and far neighbourhoods share no airtime', () => {
  const clock = new ManualClock();
  const nodes = ['a', 'b', 'c', 'd', 'e'];
  const radio = createSharedRadio({ clock, seed: 1, nodes, topology: { kind: 'line' } });
  const arrivals = record(radio, clock, nodes);
  radio.link('a').send(frame16(1));
  radio.link('e').send(frame16(2));
  clock.advance(AIRTIME_16_MS + 0.001);
  // a and e are not in range of each other's neighbourhoods, so both go on air at once.
  assert.deepEqual(arrivals.map((x) => `${x.from}>${x.to}`).sort(), ['a>b', 'e>d']);
  const stats = radio.stats();
  assert.ok(Math.abs(stats.maxLocalAirtimeShare * stats.elapsedSeconds * 1_000 - AIRTIME_16_MS) < 1e-6);
  assert.ok(stats.airtimeShare > stats.maxLocalAirtimeShare);
});

test('radio sends a datagram above the MTU as IP fragments, one frame and one header each', () => {
  const clock = new ManualClock();
  const radio = createSharedRadio({ clock, seed: 1, nodes: ['a', 'b'] });
  const arrivals = record(radio, clock, ['a', 'b']);
  radio.link('a').send(new Uint8Array(3_000));
  clock.advance(1_000);
  assert.equal(arrivals.length, 1);
  const stats = radio.stats();
  assert.equal(stats.frames, 3);
  assert.equal(stats.datagrams, 1);
  assert.equal(stats.onAirBytes, 3_000 + 3 * 66);
});

test('radio gives a closed node a fresh link; frames meanwhile are dropped as closed', async () => {
  const clock = new ManualClock();
  const radio = createSharedRadio({ clock, seed: 1, nodes: ['a', 'b'] });
  const first = radio.link('b');
  assert.equal(radio.link('b'), first);
  await first.close();
  radio.link('a').send(frame16(1));
  clock.advance(100);
  assert.equal(radio.stats().drops.closed, 1);
  first.send(frame16(1));
  assert.equal(first.stats().sendErrors, 1);
  const second = radio.link('b');
  assert.notEqual(second, first);
  let got = 0;
  second.onFrame(() => got++);
  radio.link('a').send(frame16(1));
  clock.advance(100);
  assert.equal(got, 1);
});

test('point-to-point delivers after serialisation plus latency, one copy per link, and queues per direction', () => {
  const clock = new ManualClock();
  const net = createPointToPointNetwork({
    clock,
    seed: 1,
    links: [
      { a: 'a', b: 'b', bitsPerSecond: 8_000, latencyMs: 50, queueLimit: 3 },
      { a: 'a', b: 'c', bitsPerSecond: 8_000, latencyMs: 10 },
    ],
    headerBytes: 4,
  });
  const arrivals = record(net, clock, ['a', 'b', 'c']);
  // 16 + 4 bytes at 8 kbps = 20 ms each.
  for (let i = 0; i < 5; i++) net.link('a').send(frame16(i));
  clock.advance(1_000);
  const atB = arrivals.filter((x) => x.to === 'b');
  assert.deepEqual(
    atB.map((x) => [x.byte, Math.round(x.atMs)]),
    [
      [0, 70],
      [1, 90],
      [2, 110],
    ],
  );
  assert.equal(arrivals.filter((x) => x.to === 'c').length, 5);
  const stats = net.stats();
  const ab = stats.links.find((l) => l.name === 'a<->b');
  assert.equal(ab?.aToB.drops.queue, 2);
  assert.equal(ab?.aToB.delivered, 3);
  assert.equal(stats.frames, 8);
  assert.equal(stats.datagrams, 5);
  assert.equal(stats.wireBytes, 8 * 20);
  assert.equal(arrivals.filter((x) => x.to === 'a').length, 0);
});

test('point-to-point loss, partition and down nodes, deterministic per seed', () => {
  const run = (seed: number) => {
    const clock = new ManualClock();
    const net = createPointToPointNetwork({
      clock,
      seed,
      links: buildTopology(['a', 'b', 'c'], { kind: 'ring' }).map(([a, b]) => ({ a, b })),
      defaults: { loss: 0.2, jitterMs: 5 },
    });
    const arrivals = record(net, clock, ['a', 'b', 'c']);
    for (let i = 0; i < 500; i++) {
      net.link('a').send(frame16(1));
      clock.advance(100);
    }
    const lossy = arrivals.length;
    net.partition(['a'], ['b']);
    net.down('c');
    net.link('a').send(frame16(2));
    net.link('c').send(frame16(3));
    clock.advance(100);
    return { lossy, after: arrivals.length - lossy, stats: net.stats(), arrivals };
  };
  const r = run(3);
  assert.ok(r.lossy > 0.75 * 1_000 && r.lossy < 0.85 * 1_000, `delivered ${r.lossy} of 1000`);
  assert.equal(r.after, 0);
  assert.equal(r.stats.drops.partition, 1);
  assert.equal(r.stats.drops.down, 1 + 2);
  assert.deepEqual(run(3).arrivals, r.arrivals);
  assert.notDeepEqual(run(4).arrivals, r.arrivals);
});

test('topologies: ring, line, and a connected random graph of about the asked degree, the same for a seed', () => {
  const nodes = Array.from({ length: 30 }, (_, i) => `n${i}`);
  assert.equal(buildTopology(nodes, { kind: 'ring' }).length, 30);
  assert.equal(buildTopology(nodes, { kind: 'line' }).length, 29);
  assert.equal(buildTopology(nodes, { kind: 'full' }).length, 435);
  const random = buildTopology(nodes, { kind: 'random', degree: 4 }, 5);
  assert.deepEqual(buildTopology(nodes, { kind: 'random', degree: 4 }, 5), random);
  assert.ok(random.length >= 55 && random.length <= 60, `${random.length} edges`);
  const adjacency = neighboursOf(random);
  const seen = new Set(['n0']);
  const todo = ['n0'];
  for (let node = todo.pop(); node !== undefined; node = todo.pop()) {
    for (const next of adjacency.get(node) ?? []) {
      if (seen.has(next)) continue;
      seen.add(next);
      todo.push(next);
    }
  }
  assert.equal(seen.size, 30);
  assert.deepEqual(buildTopology(['a', 'b', 'c'], { kind: 'adjacency', neighbours: { a: ['b'], b: ['a', 'c'] } }), [
    ['a', 'b'],
    ['b', 'c'],
  ]);
});
