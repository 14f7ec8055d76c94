// The awareness plane of a few nodes on a lossless in-memory segment with a manual clock: values and
// heartbeats, a late joiner read after a want, a leave that is no failure, an origin id collision.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ManualClock, silentLogger } from '../kit/index.js';
import { decodeAwarenessFrame, type SeriesDef } from '../protocol/index.js';
import type { FrameLink, LinkPeer } from '../transport/index.js';
import type { MembershipChange } from './membership.js';
import { AwarenessPlane, type CriticalCursor } from './plane.js';

/** Every frame sent reaches every other member 1 ms later; frames are recorded for the test. */
class Segment {
  readonly sent: { from: string; frame: Uint8Array }[] = [];
  private readonly members = new Map<string, (frame: Uint8Array, from: LinkPeer) => void>();
  constructor(private readonly clock: ManualClock) {}
  link(name: string): FrameLink {
    const stats = { framesSent: 0, bytesSent: 0, framesReceived: 0, bytesReceived: 0, sendErrors: 0 };
    return {
      description: `segment ${name}`,
      send: (frame) => {
        stats.framesSent++;
        stats.bytesSent += frame.length;
        this.sent.push({ from: name, frame });
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

function node(segment: Segment, clock: ManualClock, name: string, changes: MembershipChange[] = [], origin?: number) {
  const critical = new OneSeries();
  const plane = new AwarenessPlane({
    identity: { site: 'farm', node: name, zone: 'z' },
    epoch: 1,
    ...(origin !== undefined ? { origin } : {}),
    link: segment.link(name),
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

test('plane: values travel in pulses, one frame per tick, a heartbeat when nothing moved', () => {
  const clock = new ManualClock(1_000_000);
  const segment = new Segment(clock);
  const a = node(segment, clock, 'a');
  const b = node(segment, clock, 'b');
  a.plane.start();
  b.plane.start();
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
