// Awareness frames: round trips, rejection (never a throw) of bad bytes, and the sizes the issue asks for.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import {
  type AnnounceFrame,
  awarenessKey,
  decodeAwarenessFrame,
  decodeBundle,
  encodeAnnounce,
  encodeBundle,
  encodeLeave,
  encodePulse,
  encodeWant,
  MAX_HOPS,
  originIdOf,
  type PulseEntry,
  type PulseFrame,
  pulseValueOf,
  SEQ_MODULO,
  wireValueOf,
  withHops,
} from './awareness.js';

const headerArb = fc.record({
  origin: fc.integer({ min: 0, max: 0xffff }),
  hops: fc.integer({ min: 0, max: MAX_HOPS }),
  session: fc.integer({ min: 0, max: 31 }),
  seq: fc.integer({ min: 0, max: SEQ_MODULO - 1 }),
});

const valueArb = fc.oneof(
  fc.constant({ kind: 'null' } as const),
  fc.record({ kind: fc.constant('int' as const), q: fc.integer({ min: -(2 ** 40), max: 2 ** 40 }) }, { noNullPrototype: true }),
  fc.record({ kind: fc.constant('f64' as const), v: fc.double({ noNaN: true }) }, { noNullPrototype: true }),
);

const entriesArb = (maxAlias: number) =>
  fc
    .uniqueArray(fc.integer({ min: 0, max: maxAlias }), { maxLength: 20 })
    .chain((aliases) => fc.tuple(...aliases.map((alias) => valueArb.map((value): PulseEntry => ({ alias, value })))));

const pulseArb: fc.Arbitrary<PulseFrame> = fc.record(
  {
    type: fc.constant('pulse' as const),
    origin: headerArb.map((h) => h.origin),
    hops: headerArb.map((h) => h.hops),
    session: headerArb.map((h) => h.session),
    seq: headerArb.map((h) => h.seq),
    entries: fc.oneof(entriesArb(48), entriesArb(5000)).map((es) => [...es].sort((a, b) => a.alias - b.alias)),
    suspects: fc.array(fc.integer({ min: 0, max: 0xffff }), { maxLength: 5 }),
  },
  { noNullPrototype: true },
);

test('awareness: pulses round-trip, bitmap and list forms alike', () => {
  fc.assert(
    fc.property(pulseArb, (pulse) => {
      const result = decodeAwarenessFrame(encodePulse(pulse));
      assert.ok(result.ok, !result.ok ? result.error.message : '');
      assert.deepEqual(result.frame, pulse);
    }),
    { numRuns: 2000 },
  );
});

const announce: AnnounceFrame = {
  type: 'announce',
  origin: originIdOf('ranch', 'node001'),
  hops: 3,
  session: 7,
  seq: 41,
  site: 'ranch',
  node: 'node001',
  birth: {
    type: 'birth',
    epoch: 39,
    seq: 0,
    time: 1_767_225_600_000,
    zone: 'north',
    agentVersion: '0.1.0',
    tickMs: 2000,
    heartbeatMs: 10_000,
    bootTime: 1_767_225_000_000,
    configVersion: '3f2a9c41d0e7',
    series: [
      {
        alias: 0,
        name: 'battery_soc',
        labels: { device: 'battery' },
        type: 'gauge',
        unit: 'percent',
        decimals: 1,
        deadband: { kind: 'absolute', value: 0.5 },
        maxSilenceMs: 10_000,
        value: 55.3,
        time: 1_767_225_600_000,
      },
    ],
  },
};

test('awareness: announce, want and leave round-trip', () => {
  for (const frame of [
    announce,
    { type: 'want' as const, origin: 9, hops: 1, session: 0, seq: 0, origins: [1, 0xffff, 300] },
    { type: 'leave' as const, origin: 0xffff, hops: 0, session: 31, seq: SEQ_MODULO - 1 },
  ]) {
    const bytes = frame.type === 'announce' ? encodeAnnounce(frame) : frame.type === 'want' ? encodeWant(frame) : encodeLeave(frame);
    const result = decodeAwarenessFrame(bytes);
    assert.ok(result.ok, !result.ok ? result.error.message : '');
    assert.deepEqual(result.frame, frame);
  }
});

test('awareness: random bytes never throw, and every rejection names a reason and an offset inside the frame', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
      const result = decodeAwarenessFrame(bytes);
      if (!result.ok) {
        assert.ok(['truncated', 'malformed', 'oversized', 'version'].includes(result.error.reason));
        assert.ok(result.error.offset >= 0 && result.error.offset <= bytes.length, `${result.error.offset} of ${bytes.length}`);
      }
    }),
    { numRuns: 5000 },
  );
});

test('awareness: every truncation of a valid frame is rejected', () => {
  fc.assert(
    fc.property(pulseArb, fc.nat(), (pulse, cut) => {
      const bytes = encodePulse(pulse);
      const result = decodeAwarenessFrame(bytes.subarray(0, cut % bytes.length));
      assert.equal(result.ok, false);
    }),
  );
  const bytes = encodeAnnounce(announce);
  for (let at = 0; at < bytes.length; at++) {
    const result = decodeAwarenessFrame(bytes.subarray(0, at));
    assert.equal(result.ok, false, `cut at ${at}`);
    if (!result.ok) assert.ok(result.error.offset <= at, `offset ${result.error.offset} past the cut at ${at}`);
  }
});

test('awareness: a bad birth inside an announce is reported at its byte in the outer frame', () => {
  const bytes = encodeAnnounce(announce);
  // After the series: the boot time (6-byte varint), the config version, the sample age (1 byte: 0).
  const end = bytes.length - 6 - 13 - 1;
  const tagAt = end - 3; // the birth's last series: ... maxSilence varint(2 bytes), value tag, value
  const broken = Uint8Array.from(bytes);
  broken[end - 2] = 9; // the value tag of the last series' birth value
  const result = decodeAwarenessFrame(broken);
  assert.equal(result.ok, false);
  assert.ok(!result.ok && result.error.offset >= tagAt && result.error.offset < bytes.length, !result.ok ? result.error.message : '');
  assert.match(!result.ok ? result.error.message : '', /birth inside announce/);
});

test('awareness: one seed-004 node-tick of five quantised metrics fits in 16 bytes', () => {
  // battery_soc 55.3 %, dc_voltage 53.12 V, dc_current -12.3 A, ac_in 0 W, ac_out 1234 W, at their resolutions.
  const values: [number, number][] = [
    [55.3, 1],
    [53.12, 2],
    [-12.3, 1],
    [0, 0],
    [1234, 0],
  ];
  const pulse = encodePulse({
    origin: originIdOf('farm', 'node017'),
    hops: 2,
    session: 3,
    seq: 9_000,
    entries: values.map(([v, d], alias) => ({ alias, value: pulseValueOf(v, d) })),
    suspects: [],
  });
  assert.ok(pulse.length <= 16, `${pulse.length} bytes`);
  const heartbeat = encodePulse({ origin: 1, hops: 0, session: 0, seq: 5, entries: [], suspects: [] });
  assert.equal(heartbeat.length, 6, 'header 4 bytes, seq 1, empty bitmap 1');
});

test('awareness: values come back at their decimals; NaN and null travel as null', () => {
  assert.equal(wireValueOf(pulseValueOf(53.12, 2), 2), 53.12);
  assert.deepEqual(pulseValueOf(Number.NaN, 1), { kind: 'null' });
  assert.deepEqual(pulseValueOf(0.123456, 2), { kind: 'f64', v: 0.123456 });
  assert.equal(wireValueOf({ kind: 'null' }, 3), null);
});

test('awareness: a relay changes only the hops, so the dedup key survives forwarding', () => {
  const bytes = encodePulse({ origin: 77, hops: 5, session: 4, seq: 1000, entries: [], suspects: [] });
  const forwarded = decodeAwarenessFrame(withHops(bytes, 4));
  const original = decodeAwarenessFrame(bytes);
  assert.ok(forwarded.ok && original.ok);
  assert.equal(forwarded.frame.hops, 4);
  assert.equal(awarenessKey(forwarded.frame), awarenessKey(original.frame));
  const other = decodeAwarenessFrame(encodeLeave({ origin: 77, hops: 5, session: 4, seq: 1000 }));
  assert.ok(other.ok);
  assert.notEqual(awarenessKey(other.frame), awarenessKey(original.frame), 'another frame type, another key');
});

test('awareness: origin ids spread (50 nodes of one site collide rarely) and a salt moves an id', () => {
  const ids = new Set(Array.from({ length: 50 }, (_, i) => originIdOf('farm', `node${String(i + 1).padStart(3, '0')}`)));
  assert.ok(ids.size >= 49, `${ids.size} distinct ids of 50`);
  assert.notEqual(originIdOf('farm', 'node001', 1), originIdOf('farm', 'node001'));
});

test('awareness: bundles carry frames intact, and a cut bundle keeps the frames before the cut', () => {
  const frames = [
    encodePulse({ origin: 1, hops: 0, session: 1, seq: 1, entries: [], suspects: [] }),
    encodeAnnounce(announce),
    encodeWant({ origin: 2, hops: 0, session: 0, seq: 3, origins: [1] }),
  ];
  const bundle = encodeBundle(frames);
  assert.deepEqual(decodeBundle(bundle), { frames });
  const cut = decodeBundle(bundle.subarray(0, bundle.length - 2));
  assert.equal(cut.frames.length, 2);
  assert.equal(cut.error?.reason, 'truncated');
  assert.deepEqual(decodeBundle(new Uint8Array(0)), { frames: [] });
});
