// Relay: once-only delivery, hop-limited forwarding, bounded memory, and flooding over random meshes.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { ManualClock } from '../kit/index.js';
import {
  type AwarenessFrame,
  type AwarenessHeader,
  decodeAwarenessFrame,
  encodeLeave,
  encodePulse,
  encodeWant,
  MAX_HOPS,
  SEQ_MODULO,
  SESSION_MODULO,
} from '../protocol/index.js';
import { Relay } from './relay.js';

type HeardType = 'pulse' | 'want' | 'leave';

function encode(type: HeardType, h: AwarenessHeader): Uint8Array {
  if (type === 'pulse') return encodePulse({ ...h, entries: [{ alias: 1, value: { kind: 'int', q: 42 } }], suspects: [] });
  if (type === 'want') return encodeWant({ ...h, origins: [7] });
  return encodeLeave(h);
}

function decode(bytes: Uint8Array): AwarenessFrame {
  const result = decodeAwarenessFrame(bytes);
  assert.ok(result.ok, result.ok ? '' : result.error.message);
  return result.frame;
}

/** What a node hears: the bytes and their decoded header, as the awareness plane passes them on. */
function heard(type: HeardType, h: AwarenessHeader): [Uint8Array, AwarenessFrame] {
  const bytes = encode(type, h);
  return [bytes, decode(bytes)];
}

const A = 0x0a0a;
const B = 0x0b0b;

test('relay: delivers a first-seen frame once and forwards it with one hop less, same bytes otherwise', () => {
  const relay = new Relay({ self: B });
  const [bytes, frame] = heard('pulse', { origin: A, hops: 3, session: 5, seq: 100 });
  const first = relay.consider(bytes, frame, 0);
  assert.equal(first.deliver, true);
  assert.ok(first.forward);
  const forwarded = decode(first.forward);
  assert.deepEqual(forwarded, { ...frame, hops: 2 });
  assert.deepEqual([...first.forward.slice(4)], [...bytes.slice(4)], 'only the hops/session byte changes');
  assert.deepEqual(relay.consider(bytes, frame, 1), { deliver: false, forward: undefined }, 'the same copy again');
  assert.deepEqual(relay.consider(first.forward, forwarded, 2), { deliver: false, forward: undefined }, 'a copy with other hops');
  assert.deepEqual(relay.stats(), { delivered: 1, duplicates: 2, forwarded: 1, expiredHops: 0, fromSelf: 0, evicted: 0, entries: 1 });
});

test('relay: a frame with no hops left is delivered but not forwarded', () => {
  const relay = new Relay({ self: B });
  const verdict = relay.consider(...heard('leave', { origin: A, hops: 0, session: 0, seq: 1 }), 0);
  assert.deepEqual(verdict, { deliver: true, forward: undefined });
  assert.equal(relay.stats().expiredHops, 1);
  assert.equal(relay.stats().forwarded, 0);
});

test('relay: frames of its own origin are neither delivered nor forwarded, whatever their hops', () => {
  const relay = new Relay({ self: A });
  for (const hops of [0, 3, MAX_HOPS]) {
    assert.deepEqual(relay.consider(...heard('pulse', { origin: A, hops, session: 1, seq: hops }), 0), {
      deliver: false,
      forward: undefined,
    });
  }
  assert.deepEqual(relay.stats(), { delivered: 0, duplicates: 0, forwarded: 0, expiredHops: 0, fromSelf: 3, evicted: 0, entries: 0 });
});

test('relay: seq wrapping to 0, a new session and another frame type are new frames, not duplicates', () => {
  const relay = new Relay({ self: B });
  const deliver = (type: HeardType, session: number, seq: number) =>
    relay.consider(...heard(type, { origin: A, hops: 1, session, seq }), 0).deliver;
  assert.equal(deliver('pulse', 7, SEQ_MODULO - 2), true);
  assert.equal(deliver('pulse', 7, SEQ_MODULO - 1), true);
  assert.equal(deliver('pulse', 7, 0), true, 'seq wrapped');
  assert.equal(deliver('pulse', 7, 1), true);
  assert.equal(deliver('pulse', 7, 0), false, 'the wrapped frame again');
  // The node restarted: a new session counts seq from 0 again, and those are new frames. [FM-AWARE-4]
  assert.equal(deliver('pulse', 8, 0), true, 'same seq, new session');
  assert.equal(deliver('pulse', 8, SEQ_MODULO - 1), true);
  assert.equal(deliver('pulse', SESSION_MODULO - 1, 5), true);
  assert.equal(deliver('pulse', 0, 5), true, 'session wrapped 31 -> 0');
  assert.equal(deliver('want', 0, 5), true, 'same origin, session and seq, another type');
  assert.equal(deliver('leave', 0, 5), true);
  assert.equal(deliver('pulse', 0, 5), false);
  assert.equal(relay.consider(...heard('pulse', { origin: A + 1, hops: 1, session: 0, seq: 5 }), 0).deliver, true, 'another origin');
  assert.deepEqual(relay.stats(), { delivered: 11, duplicates: 2, forwarded: 11, expiredHops: 0, fromSelf: 0, evicted: 0, entries: 11 });
});

test('relay: keys are forgotten after the dedup window, on the clock when no time is given', () => {
  const clock = new ManualClock();
  const relay = new Relay({ self: B, dedupWindowMs: 1_000, clock });
  const first = heard('pulse', { origin: A, hops: 2, session: 0, seq: 1 });
  assert.equal(relay.consider(...first).deliver, true);
  clock.advance(500);
  assert.equal(relay.consider(...heard('pulse', { origin: A, hops: 2, session: 0, seq: 2 })).deliver, true);
  clock.advance(499);
  assert.equal(relay.consider(...first).deliver, false, 'inside the window');
  clock.advance(1);
  assert.equal(relay.stats().entries, 2);
  assert.equal(relay.consider(...first).deliver, true, 'a window after it was first seen, it is news again');
  assert.equal(relay.stats().entries, 2, 'seq 1 expired and came back; seq 2 is still inside its window');
  clock.advance(10_000);
  relay.consider(...heard('pulse', { origin: A, hops: 2, session: 0, seq: 3 }));
  assert.equal(relay.stats().entries, 1);
});

test('relay: memory stays under maxEntries, the oldest key going first', () => {
  const relay = new Relay({ self: B, maxEntries: 100 });
  for (let seq = 0; seq < 10_000; seq++) relay.consider(...heard('pulse', { origin: A, hops: 1, session: 0, seq }), seq);
  assert.equal(relay.stats().entries, 100);
  assert.equal(relay.stats().evicted, 9_900);
  assert.equal(relay.consider(...heard('pulse', { origin: A, hops: 1, session: 0, seq: 9_999 }), 10_000).deliver, false, 'newest kept');
  assert.equal(relay.consider(...heard('pulse', { origin: A, hops: 1, session: 0, seq: 9_899 }), 10_000).deliver, true, 'oldest gone');
});

// ---------- flooding over random meshes ----------

interface Graph {
  readonly kind: string;
  /** adjacency[v]: the neighbours v's broadcast reaches. */
  readonly adjacency: readonly ReadonlySet<number>[];
}

function graphOf(kind: string, n: number, edges: Iterable<[number, number]>): Graph {
  const adjacency = Array.from({ length: n }, () => new Set<number>());
  for (const [a, b] of edges) {
    if (a === b) continue;
    adjacency[a]?.add(b);
    adjacency[b]?.add(a);
  }
  return { kind, adjacency };
}

function ringEdges(n: number): [number, number][] {
  return Array.from({ length: n }, (_, i): [number, number] => [i, (i + 1) % n]);
}

const edgeArb = (n: number) => fc.tuple(fc.nat(n - 1), fc.nat(n - 1));

const graphArb: fc.Arbitrary<Graph> = fc.integer({ min: 2, max: 40 }).chain((n) =>
  fc.oneof(
    fc.constant(graphOf('ring', n, ringEdges(n))),
    fc.array(edgeArb(n), { minLength: 1, maxLength: n }).map((chords) => graphOf('ring+shortcuts', n, [...ringEdges(n), ...chords])),
    fc
      .tuple(fc.array(fc.nat(), { minLength: n - 1, maxLength: n - 1 }), fc.array(edgeArb(n), { maxLength: 2 * n }))
      .map(([parents, extra]) =>
        // A random spanning tree (node i hangs off an earlier node) keeps it connected; extra edges add cycles.
        graphOf('random', n, [...parents.map((p, i): [number, number] => [i + 1, p % (i + 1)]), ...extra]),
      ),
    fc.constant(
      graphOf('full mesh', n, Array.from({ length: n }, (_, a) => Array.from({ length: n }, (_, b): [number, number] => [a, b])).flat()),
    ),
  ),
);

function distancesFrom(graph: Graph, origin: number): number[] {
  const dist = graph.adjacency.map(() => Number.POSITIVE_INFINITY);
  dist[origin] = 0;
  const queue = [origin];
  for (let v = queue.shift(); v !== undefined; v = queue.shift()) {
    for (const u of graph.adjacency[v] ?? []) {
      if (dist[u] === Number.POSITIVE_INFINITY) {
        dist[u] = (dist[v] as number) + 1;
        queue.push(u);
      }
    }
  }
  return dist;
}

interface FrameSpec {
  readonly origin: number;
  readonly radius: number;
  readonly type: HeardType;
  readonly session: number;
  /** The round the origin sends it in; frames of several origins are in flight together. */
  readonly at: number;
}

interface FloodResult {
  readonly rounds: number;
  readonly transmissions: number;
  /** deliveries[frame][node] */
  readonly deliveries: number[][];
  /** copies[frame][node]: datagrams of that frame the node heard (each neighbour's transmission is one). */
  readonly copies: number[][];
  /** sent[frame][node]: times the node transmitted that frame. */
  readonly sent: number[][];
  readonly relays: Relay[];
}

const MAX_ROUNDS = 1_000;

/**
 * Synchronous broadcast flooding: in round r every transmission reaches all neighbours of its sender, each
 * asks its Relay, and forwards go out in round r + 1. No loss, no reordering inside a round.
 */
function flood(graph: Graph, ids: readonly number[], frames: readonly FrameSpec[], seqStart: number): FloodResult {
  const n = graph.adjacency.length;
  const relays = ids.map((self) => new Relay({ self }));
  const nextSeq = new Map<number, number>();
  const byKey = new Map<string, number>();
  const pending = new Map<number, { from: number; bytes: Uint8Array }[]>();
  const schedule = (round: number, from: number, bytes: Uint8Array) => {
    const list = pending.get(round) ?? [];
    list.push({ from, bytes });
    pending.set(round, list);
  };
  const keyOf = (f: AwarenessFrame) => `${f.origin}/${f.session}/${f.type}/${f.seq}`;
  frames.forEach((spec, index) => {
    const seq = nextSeq.get(spec.origin) ?? seqStart;
    nextSeq.set(spec.origin, (seq + 1) % SEQ_MODULO);
    const bytes = encode(spec.type, { origin: ids[spec.origin] as number, hops: spec.radius, session: spec.session, seq });
    byKey.set(keyOf(decode(bytes)), index);
    schedule(spec.at, spec.origin, bytes);
  });
  const zeros = () => frames.map(() => new Array<number>(n).fill(0));
  const deliveries = zeros();
  const copies = zeros();
  const sent = zeros();
  let transmissions = 0;
  let round = 0;
  for (; pending.size > 0; round++) {
    assert.ok(round < MAX_ROUNDS, 'flooding terminates');
    const now = pending.get(round) ?? [];
    pending.delete(round);
    for (const { from, bytes } of now) {
      transmissions++;
      const frame = decode(bytes);
      const index = byKey.get(keyOf(frame)) as number;
      (sent[index] as number[])[from]++;
      for (const to of graph.adjacency[from] ?? []) {
        (copies[index] as number[])[to]++;
        const verdict = (relays[to] as Relay).consider(bytes, decode(bytes), round);
        if (verdict.deliver) (deliveries[index] as number[])[to]++;
        if (verdict.forward !== undefined) schedule(round + 1, to, verdict.forward);
      }
    }
  }
  return { rounds: round, transmissions, deliveries, copies, sent, relays };
}

const scenarioArb = graphArb.chain((graph) => {
  const n = graph.adjacency.length;
  return fc.record({
    graph: fc.constant(graph),
    ids: fc.uniqueArray(fc.integer({ min: 0, max: 0xffff }), { minLength: n, maxLength: n }),
    frames: fc.array(
      fc.record({
        origin: fc.nat(n - 1),
        radius: fc.integer({ min: 0, max: MAX_HOPS }),
        type: fc.constantFrom<HeardType>('pulse', 'want', 'leave'),
        session: fc.nat(SESSION_MODULO - 1),
        at: fc.nat(5),
      }),
      { minLength: 1, maxLength: 12 },
    ),
    // Near the wrap, so frames of one origin straddle seq 16383 -> 0.
    seqStart: fc.oneof(fc.integer({ min: SEQ_MODULO - 4, max: SEQ_MODULO - 1 }), fc.nat(SEQ_MODULO - 1)),
  });
});

test('relay: flooding over rings, shortcuts, random graphs and full meshes reaches radius + 1 hops exactly once', () => {
  fc.assert(
    fc.property(scenarioArb, ({ graph, ids, frames, seqStart }) => {
      const n = graph.adjacency.length;
      const result = flood(graph, ids, frames, seqStart);
      assert.ok(
        result.transmissions <= n * frames.length,
        `${result.transmissions} transmissions for ${n} nodes x ${frames.length} frames`,
      );
      frames.forEach((spec, f) => {
        const dist = distancesFrom(graph, spec.origin);
        for (let v = 0; v < n; v++) {
          const d = dist[v] as number;
          const expected = v !== spec.origin && d <= spec.radius + 1 ? 1 : 0;
          assert.equal(result.deliveries[f]?.[v], expected, `${graph.kind} n=${n}: node ${v} at ${d} hops, radius ${spec.radius}`);
          assert.ok((result.sent[f]?.[v] as number) <= 1, 'a node sends each frame at most once');
          assert.ok((result.copies[f]?.[v] as number) <= (graph.adjacency[v]?.size as number), 'copies heard within the degree');
        }
      });
      const totals = result.relays.map((r) => r.stats());
      const sum = (pick: (s: (typeof totals)[number]) => number) => totals.reduce((a, s) => a + pick(s), 0);
      assert.equal(
        sum((s) => s.delivered),
        result.deliveries.flat().reduce((a, b) => a + b, 0),
      );
      assert.equal(sum((s) => s.forwarded) + frames.length, result.transmissions, 'every transmission is an origin send or a forward');
    }),
    { numRuns: 300 },
  );
});

test('relay: copies heard per receiver per frame on typical meshes (figures)', (t) => {
  const n = 40;
  const rng = fc.sample(fc.array(edgeArb(n), { minLength: 2 * n, maxLength: 2 * n }), { numRuns: 1, seed: 7 })[0] ?? [];
  const tree = Array.from({ length: n - 1 }, (_, i): [number, number] => [i + 1, Math.floor(i / 2)]);
  const graphs = [
    graphOf('ring', n, ringEdges(n)),
    graphOf('ring+shortcuts', n, [...ringEdges(n), [0, 20], [10, 30], [5, 25], [15, 35]]),
    graphOf('random', n, [...tree, ...rng]),
    graphOf('full mesh', 20, Array.from({ length: 20 }, (_, a) => Array.from({ length: 20 }, (_, b): [number, number] => [a, b])).flat()),
  ];
  for (const graph of graphs) {
    const size = graph.adjacency.length;
    const ids = Array.from({ length: size }, (_, i) => 1_000 + i);
    for (const radius of [0, 2, MAX_HOPS]) {
      const frames: FrameSpec[] = Array.from({ length: size }, (_, origin) => ({ origin, radius, type: 'pulse', session: 1, at: 0 }));
      const result = flood(graph, ids, frames, 0);
      let receivers = 0;
      let copies = 0;
      let degreeSum = 0;
      frames.forEach((_, f) => {
        for (let v = 0; v < size; v++) {
          if (result.deliveries[f]?.[v] !== 1) continue;
          receivers++;
          copies += result.copies[f]?.[v] as number;
          degreeSum += graph.adjacency[v]?.size as number;
        }
      });
      const perReceiver = copies / receivers;
      assert.ok(perReceiver <= degreeSum / receivers);
      t.diagnostic(
        `${graph.kind} n=${size} radius=${radius}: ${perReceiver.toFixed(2)} copies per receiver per frame ` +
          `(mean degree ${(degreeSum / receivers).toFixed(2)}), ${(result.transmissions / frames.length).toFixed(1)} transmissions per frame, ` +
          `${(receivers / frames.length).toFixed(1)} receivers per frame`,
      );
    }
  }
});
