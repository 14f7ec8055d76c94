// The awareness plane of a few nodes on a lossless in-memory segment with a manual clock: values and
// heartbeats, a late joiner read after a want, a leave that is no failure, an origin id collision, a node
// frozen and resumed (whichever of its timers or its socket runs first), the node itself in its own view.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type Clock, ManualClock, silentLogger, type TimerHandle } from '../kit/index.js';
import { decodeAwarenessFrame, type SeriesDef } from '../protocol/index.js';
import type { FrameLink, LinkPeer } from '../transport/index.js';
import type { MembershipChange } from './membership.js';
import { AwarenessPlane, type CriticalCursor } from './plane.js';

/** Every frame sent reaches every other member 1 ms later; frames are recorded for the test. */
class Segment {
  readonly sent: { from: string; frame: Uint8Array; atMs: number }[] = [];
  private readonly members = new Map<string, (frame: Uint8Array, from: LinkPeer) => void>();
  constructor(private readonly clock: ManualClock) {}
  link(name: string): FrameLink {
    const stats = { framesSent: 0, bytesSent: 0, framesReceived: 0, bytesReceived: 0, sendErrors: 0 };
    return {
      description: `segment ${name}`,
      send: (frame) => {
        stats.framesSent++;
        stats.bytesSent += frame.length;
        this.sent.push({ from: name, frame, atMs: this.clock.now() });
        for (const [other, receive] of this.members) {
          if (other !== name) this.clock.setTimeout(() => this.members.get(other) === receive && receive(frame, { address: name }), 1);
        }
      },
      onFrame: (r) => this.members.set(name, r),
      stats: () => ({ ...stats }),
      close: async () => {
        this.members.delete(name);
      },
    };
  }
}

/** A critical set of one series whose value the test sets. */
class OneSeries implements CriticalCursor {
  value = 50;
  private sent: number | undefined;
  birthNeeded = false;
  birthSeries(): SeriesDef[] {
    this.sent = this.value;
    return [
      {
        alias: 1,
        name: 'battery_soc',
        labels: {},
        type: 'gauge',
        unit: 'percent',
        decimals: 1,
        deadband: { kind: 'none' },
        maxSilenceMs: 60_000,
        value: this.value,
      },
    ];
  }
  due() {
    if (this.sent === this.value) return [];
    this.sent = this.value;
    return [{ alias: 1, value: this.value }];
  }
}

function node(
  segment: Segment,
  clock: Clock,
  name: string,
  changes: MembershipChange[] = [],
  origin?: number,
  wrapLink: (link: FrameLink) => FrameLink = (link) => link,
) {
  const critical = new OneSeries();
  const plane = new AwarenessPlane({
    identity: { site: 'farm', node: name, zone: 'z' },
    epoch: 1,
    ...(origin !== undefined ? { origin } : {}),
    link: wrapLink(segment.link(name)),
    critical,
    clock,
    logger: silentLogger,
    tickMs: 2000,
    onEvent: (c) => changes.push(c),
  });
  return { plane, critical };
}

const valueAt = (plane: AwarenessPlane, node: string) =>
  plane
    .snapshot()
    .nodes.find((n) => n.node === node)
    ?.series.find((s) => s.name === 'battery_soc')?.value;

/** Nodes a and b on a segment, started. */
function twoNodes() {
  const clock = new ManualClock(1_000_000);
  const segment = new Segment(clock);
  const a = node(segment, clock, 'a');
  const b = node(segment, clock, 'b');
  a.plane.start();
  b.plane.start();
  return { clock, segment, a, b };
}

test('plane: values travel in pulses, one frame per tick, a heartbeat when nothing moved', () => {
  const { clock, segment, a, b } = twoNodes();
  clock.advance(100);
  assert.equal(valueAt(b.plane, 'a'), 50);
  a.critical.value = 51.5;
  clock.advance(2000);
  assert.equal(valueAt(b.plane, 'a'), 51.5);
  const before = segment.sent.filter((s) => s.from === 'a').length;
  clock.advance(20_000);
  const fromA = segment.sent.filter((s) => s.from === 'a').slice(before);
  assert.equal(fromA.length, 10, 'one frame per tick');
  const last = decodeAwarenessFrame(fromA.at(-1)?.frame as Uint8Array);
  assert.ok(last.ok && last.frame.type === 'pulse' && last.frame.entries.length === 0, 'a heartbeat carries nothing');
  assert.equal(fromA.at(-1)?.frame.length, 6);
});

test('plane: a node that missed the announces asks for one and reads the pulses after it', () => {
  const clock = new ManualClock(1_000_000);
  const segment = new Segment(clock);
  const a = node(segment, clock, 'a');
  a.plane.start();
  clock.advance(5_000); // a's two boot announces went out before b was listening
  const b = node(segment, clock, 'b');
  b.plane.start();
  clock.advance(2_500);
  const wants = segment.sent
    .filter((s) => s.from === 'b')
    .map((s) => decodeAwarenessFrame(s.frame))
    .filter((d) => d.ok && d.frame.type === 'want');
  assert.equal(wants.length, 1);
  a.critical.value = 42;
  clock.advance(2_000);
  assert.equal(valueAt(b.plane, 'a'), 42);
});

test('plane: a leave is left, not a failure, and a silent node is declared dead by a lone observer', () => {
  const clock = new ManualClock(1_000_000);
  const segment = new Segment(clock);
  const changes: MembershipChange[] = [];
  const a = node(segment, clock, 'a', changes);
  const b = node(segment, clock, 'b');
  const c = node(segment, clock, 'c');
  for (const n of [a, b, c]) n.plane.start();
  clock.advance(5_000);
  void b.plane.stop(true);
  void c.plane.stop(false);
  clock.advance(30_000);
  const about = (x: AwarenessPlane) => changes.filter((ch) => ch.origin === x.originId).map((ch) => ch.kind);
  assert.deepEqual(about(b.plane), ['joined', 'left']);
  assert.deepEqual(about(c.plane).slice(0, 1), ['joined']);
  assert.ok(about(c.plane).includes('failed'), `c: ${about(c.plane).join(', ')}`);
});

test('plane: two nodes with the same origin id: the one whose name sorts later takes another', () => {
  const clock = new ManualClock(1_000_000);
  const segment = new Segment(clock);
  const a = node(segment, clock, 'a', [], 7);
  const z = node(segment, clock, 'z', [], 7);
  a.plane.start();
  z.plane.start();
  clock.advance(6_000);
  assert.equal(a.plane.originId, 7);
  assert.notEqual(z.plane.originId, 7);
  assert.ok(z.plane.stats().collisions >= 1);
  a.critical.value = 61.2;
  z.critical.value = 12.5;
  clock.advance(10_000);
  assert.equal(valueAt(z.plane, 'a'), 61.2, 'z hears a again under its new id');
  assert.equal(valueAt(a.plane, 'z'), 12.5);
});

/**
 * One node's clock and socket, frozen as a SIGSTOPped process is: its timers and the frames that reach it wait,
 * then run at once when it resumes, in the order the test asks (the event loop may run either timer first).
 */
class FreezableClock implements Clock {
  private frozen = false;
  private held: { kind: 'judge' | 'send' | 'frame' | 'other'; fn: () => void }[] = [];
  constructor(
    private readonly base: ManualClock,
    private readonly tickMs: number,
  ) {}
  now(): number {
    return this.base.now();
  }
  monotonic(): number {
    return this.base.monotonic();
  }
  setTimeout(fn: () => void, ms: number): TimerHandle {
    // The plane judges every quarter tick and sends once per tick; other timers (wants, answers) are shorter.
    const kind = ms === this.tickMs / 4 ? 'judge' : ms > this.tickMs / 4 ? 'send' : 'other';
    return this.base.setTimeout(() => (this.frozen ? this.held.push({ kind, fn }) : fn()), ms);
  }
  clearTimeout(handle: TimerHandle): void {
    this.base.clearTimeout(handle);
  }
  link(link: FrameLink): FrameLink {
    return {
      ...link,
      onFrame: (receive) =>
        link.onFrame((frame, from) =>
          this.frozen ? this.held.push({ kind: 'frame', fn: () => receive(frame, from) }) : receive(frame, from),
        ),
    };
  }
  freeze(): void {
    this.frozen = true;
  }
  /** Resumes: the held callbacks of kind `first` run first, then the others in the order they fell due. */
  thaw(first: 'judge' | 'send' | 'frame'): void {
    this.frozen = false;
    const held = this.held;
    this.held = [];
    for (const h of [...held.filter((h) => h.kind === first), ...held.filter((h) => h.kind !== first)]) h.fn();
  }
}

for (const first of ['judge', 'send', 'frame'] as const) {
  test(`plane: a node frozen for 6 s suspects nobody when it resumes, whichever runs first (${first})`, () => {
    const clock = new ManualClock(1_000_000);
    const segment = new Segment(clock);
    const frozenClock = new FreezableClock(clock, 2_000);
    const changes: MembershipChange[] = [];
    const a = node(segment, clock, 'a');
    const b = node(segment, clock, 'b');
    const c = node(segment, frozenClock, 'c', changes, undefined, (link) => frozenClock.link(link));
    for (const n of [a, b, c]) n.plane.start();
    clock.advance(20_000);
    assert.deepEqual(
      changes.map((ch) => ch.kind),
      ['joined', 'joined'],
    );
    // Past the suspicion timeout (2.5 ticks, 5 s) and not at a tick boundary.
    clock.advance(333);
    frozenClock.freeze();
    clock.advance(6_000);
    const resumedAt = clock.now();
    frozenClock.thaw(first);
    assert.equal(c.plane.stats().stalls, 1, 'the stall was noticed');
    assert.ok(c.plane.membership.inGrace(clock.now()), 'in its grace period right after');
    clock.advance(30_000);
    assert.deepEqual(
      changes.filter((ch) => ch.kind !== 'joined'),
      [],
      'no suspicion, no verdict, no isolation by the resumed node',
    );
    assert.equal(c.plane.stats().changes.suspected, 0);
    const suspectsSent = segment.sent
      .filter((s) => s.from === 'c' && s.atMs >= resumedAt)
      .map((s) => decodeAwarenessFrame(s.frame))
      .flatMap((d) => (d.ok && d.frame.type === 'pulse' ? d.frame.suspects : []));
    assert.deepEqual(suspectsSent, [], 'its pulses named nobody');
    for (const other of [a, b]) {
      const view = other.plane.snapshot().nodes.find((n) => n.node === 'c');
      assert.equal(view?.suspicionsRaised, 0, 'the others heard no suspicion from it');
      assert.equal(view?.state, 'alive');
    }
  });
}

test('plane: the fleet view lists the node itself, marked, with the values it last sent', () => {
  const { clock, a, b } = twoNodes();
  a.critical.value = 61.5;
  clock.advance(4_100);
  const { nodes, self, isolated } = a.plane.snapshot();
  assert.equal(isolated, false);
  assert.deepEqual(
    nodes.map((n) => [n.node, n.self, n.state]),
    [
      ['a', true, 'alive'],
      ['b', false, 'alive'],
    ],
  );
  const own = nodes.find((n) => n.self);
  assert.equal(own?.origin, self);
  assert.equal(own?.series.find((s) => s.name === 'battery_soc')?.value, 61.5);
  assert.equal(valueAt(b.plane, 'a'), 61.5, 'what the others hold too');
});
