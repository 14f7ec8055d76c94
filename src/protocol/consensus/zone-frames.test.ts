// Zone frames: round trips of every type, every truncation and random bytes rejected (never a throw), the
// type numbers apart from the other families', and the sizes of a vote and a detection.
// calendar: the Frigate event ids are opaque strings; no clock reads them.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { ManualClock } from '../../kit/index.js';
import { AwarenessType } from '../awareness.js';
import { decodeWireFrame, encodeBirth, FrameType } from '../frames.js';
import type { Detection } from './types.js';
import {
  decodeZoneFrame,
  EPOCH_REASONS,
  encodeZoneFrame,
  MAX_ZONE_FRAME_BYTES,
  ZONE_PUMP_ACTIONS,
  ZONE_PUMP_STATES,
  type ZoneFrame,
  ZoneFrameType,
  zoneFrameTypeOf,
} from './zone-frames.js';

const T0 = new ManualClock().now();
// Ids are bounded in bytes (a command id at 64): twelve graphemes of up to 4 code points can pass that, so
// the arbitrary keeps to what the layout carries (the encoder's refusal beyond it has its own test).
const idArb = fc.string({ unit: 'grapheme', minLength: 1, maxLength: 12 }).filter((s) => new TextEncoder().encode(s).length <= 64);
const nameArb = fc.string({ maxLength: 16 });
const countArb = fc.nat({ max: 2 ** 40 });
const timeArb = fc.integer({ min: 0, max: 2 ** 45 });
const decimalArb = fc.oneof(
  fc.integer({ min: 0, max: 10_000 }).map((q) => q / 10_000),
  fc.double(),
  fc.integer({ min: 0, max: 4_000 }),
);

const detectionArb: fc.Arbitrary<Detection> = fc.record(
  {
    id: idArb,
    camera: nameArb,
    node: nameArb,
    class: fc.constantFrom('fire', 'smoke', 'person'),
    confidence: fc.oneof(
      fc.integer({ min: 0, max: 10_000 }).map((q) => q / 10_000),
      fc.double({ min: 0, max: 1, noNaN: true }),
    ),
    time: timeArb,
    box: fc.tuple(decimalArb, decimalArb, decimalArb, decimalArb),
  },
  { requiredKeys: ['id', 'camera', 'node', 'class', 'confidence', 'time'], noNullPrototype: true },
);

const frameArb: fc.Arbitrary<ZoneFrame> = fc.oneof(
  fc.record(
    { type: fc.constant('detection' as const), zone: nameArb, epoch: countArb, detection: detectionArb },
    { noNullPrototype: true },
  ),
  fc.record(
    {
      type: fc.constant('vote' as const),
      vote: fc.record(
        {
          zone: nameArb,
          epoch: countArb,
          voter: nameArb,
          configHash: fc.oneof(fc.stringMatching(/^[0-9a-f]{16}$/), nameArb, fc.stringMatching(/^[0-9a-f]{1,9}$/)),
          boot: countArb,
          seq: countArb,
          time: timeArb,
          ttlMs: countArb,
          evidence: fc.array(idArb, { maxLength: 32 }),
        },
        { noNullPrototype: true },
      ),
    },
    { noNullPrototype: true },
  ),
  fc.record(
    { type: fc.constant('epoch' as const), zone: nameArb, epoch: countArb, by: nameArb, reason: fc.constantFrom(...EPOCH_REASONS) },
    { noNullPrototype: true },
  ),
  fc.record(
    {
      type: fc.constant('pumpState' as const),
      zone: nameArb,
      pump: nameArb,
      state: fc.constantFrom(...ZONE_PUMP_STATES),
      cause: fc.constantFrom('', 'majority', 'overlap', 'manual', 'max-runtime'),
      epoch: countArb,
      since: timeArb,
      runtimeMs: countArb,
      leaseUntil: timeArb,
    },
    { requiredKeys: ['type', 'zone', 'pump', 'state', 'cause', 'epoch', 'since', 'runtimeMs'], noNullPrototype: true },
  ),
  fc.record(
    {
      type: fc.constant('command' as const),
      zone: nameArb,
      pump: nameArb,
      action: fc.constantFrom(...ZONE_PUMP_ACTIONS),
      epoch: countArb,
      id: idArb,
      by: nameArb,
      time: timeArb,
    },
    { noNullPrototype: true },
  ),
  fc.record(
    { type: fc.constant('held' as const), zone: nameArb, epoch: countArb, keys: fc.array(fc.nat({ max: 0xffffffff }), { maxLength: 40 }) },
    { noNullPrototype: true },
  ),
);

test('zone frames: every frame decodes to exactly what was encoded', () => {
  fc.assert(
    fc.property(frameArb, (frame) => {
      const bytes = encodeZoneFrame(frame);
      const result = decodeZoneFrame(bytes);
      assert.ok(result.ok, result.ok ? '' : result.error.message);
      assert.deepStrictEqual(result.frame, frame);
      assert.equal(zoneFrameTypeOf(bytes), frame.type);
    }),
    { numRuns: 2_000 },
  );
});

test('zone frames: every truncation is rejected as truncated, at an offset inside what arrived', () => {
  fc.assert(
    fc.property(frameArb, (frame) => {
      const bytes = encodeZoneFrame(frame);
      for (let n = 0; n < bytes.length; n++) {
        const result = decodeZoneFrame(bytes.subarray(0, n));
        assert.ok(!result.ok, `a prefix of ${n} of ${bytes.length} bytes decoded`);
        assert.equal(result.error.reason, 'truncated', `${n} of ${bytes.length}: ${result.error.message}`);
        assert.ok(result.error.offset <= n);
      }
    }),
    { numRuns: 300 },
  );
});

test('zone frames: random bytes, bare or behind a zone header, are rejected with a reason and an offset, never thrown', () => {
  const headed = fc
    .tuple(fc.constantFrom(...Object.values(ZoneFrameType)), fc.uint8Array({ maxLength: 200 }))
    .map(([type, body]) => Uint8Array.from([0x10, type, ...body]));
  fc.assert(
    fc.property(fc.oneof(fc.uint8Array({ maxLength: 300 }), headed), (bytes) => {
      const result = decodeZoneFrame(bytes);
      if (!result.ok) {
        assert.ok(['truncated', 'malformed', 'oversized', 'version'].includes(result.error.reason));
        assert.ok(result.error.offset >= 0 && result.error.offset <= bytes.length);
        assert.match(result.error.message, /at byte \d+/);
      } else {
        // Whatever decodes encodes again to a frame that decodes the same.
        const again = decodeZoneFrame(encodeZoneFrame(result.frame));
        assert.ok(again.ok);
        assert.deepStrictEqual(again.frame, result.frame);
      }
    }),
    { numRuns: 5_000 },
  );
});

test('zone frames: faults are named with their byte', () => {
  const vote = encodeZoneFrame({
    type: 'vote',
    vote: { zone: 'n', epoch: 0, voter: 'a', configHash: 'h', boot: 1, seq: 1, time: 5, ttlMs: 6_000, evidence: [] },
  });
  const cases: [Uint8Array, string, number][] = [
    [Uint8Array.from([...vote, 0]), 'malformed', vote.length],
    [Uint8Array.from([0x20, 19]), 'version', 0],
    [Uint8Array.from([0x13]), 'malformed', 0],
    [Uint8Array.from([0x10, 17]), 'malformed', 1],
    [Uint8Array.from([0x10, 20, 1, 0x6e, 0, 0, 2]), 'malformed', 6],
    // A vote announcing 33 evidence ids: the count's byte.
    [Uint8Array.from([...vote.subarray(0, vote.length - 1), 33]), 'malformed', vote.length - 1],
    // A confidence of 2 (float64).
    [Uint8Array.from([0x10, 18, 0, 0, 1, 0x64, 0, 0, 0, 0, ...new Uint8Array(new Float64Array([2]).buffer), 0, 0]), 'malformed', 9],
    [new Uint8Array(MAX_ZONE_FRAME_BYTES + 1), 'oversized', MAX_ZONE_FRAME_BYTES],
  ];
  for (const [bytes, reason, offset] of cases) {
    const result = decodeZoneFrame(bytes);
    assert.ok(!result.ok);
    assert.deepEqual([result.error.reason, result.error.offset], [reason, offset], result.error.message);
  }
});

test('zone frames: the encoder refuses what the layout cannot carry', () => {
  const detection: Detection = { id: 'd1', camera: 'c', node: 'n', class: 'fire', confidence: 0.5, time: T0 };
  assert.throws(
    () => encodeZoneFrame({ type: 'detection', zone: 'z', epoch: 0, detection: { ...detection, confidence: 1.5 } }),
    RangeError,
  );
  assert.throws(() => encodeZoneFrame({ type: 'detection', zone: 'z', epoch: 0, detection: { ...detection, id: '' } }), RangeError);
  assert.throws(() => encodeZoneFrame({ type: 'detection', zone: 'z'.repeat(65), epoch: 0, detection }), RangeError);
  assert.throws(() => encodeZoneFrame({ type: 'epoch', zone: 'z', epoch: -1, by: 'op', reason: 'elect' }), RangeError);
  assert.throws(() => encodeZoneFrame({ type: 'held', zone: 'z', epoch: 0, keys: [2 ** 32] }), RangeError);
  assert.throws(
    () =>
      encodeZoneFrame({
        type: 'vote',
        vote: { zone: 'z', epoch: 0, voter: 'a', configHash: 'h', boot: 1, seq: 1, time: T0, ttlMs: 1, evidence: Array(33).fill('d') },
      }),
    RangeError,
  );
});

test('zone frames: the type numbers are apart from the broker and awareness frames, and neither family misreads the other', () => {
  const taken = new Set<number>([...Object.values(FrameType), ...Object.values(AwarenessType), 8]);
  for (const n of Object.values(ZoneFrameType)) assert.ok(n >= 18 && !taken.has(n), `type ${n}`);
  const epoch = encodeZoneFrame({ type: 'epoch', zone: 'north', epoch: 3, by: 'operator', reason: 'elect' });
  const asWire = decodeWireFrame(epoch);
  assert.ok(!asWire.ok && asWire.error.reason === 'malformed');
  const birth = encodeBirth({ epoch: 1, seq: 0, time: T0, zone: 'z', agentVersion: '1', tickMs: 1_000, heartbeatMs: 1_000, series: [] });
  const asZone = decodeZoneFrame(birth);
  assert.ok(!asZone.ok && asZone.error.reason === 'malformed');
  assert.equal(zoneFrameTypeOf(birth), undefined);
});

test('zone frames: a vote and a detection of a real deployment each take well under 100 bytes', () => {
  const seen: Detection = {
    id: '1718900000.123456-ab12cd',
    camera: 'cam-north-1',
    node: 'node001',
    class: 'fire',
    confidence: 0.9137,
    time: T0 + 123,
  };
  const detection = encodeZoneFrame({ type: 'detection', zone: 'north-ridge', epoch: 2, detection: seen });
  const boxed = encodeZoneFrame({
    type: 'detection',
    zone: 'north-ridge',
    epoch: 2,
    detection: { ...seen, box: [0.4125, 0.2, 0.05, 0.0875] },
  });
  const vote = (evidence: string[]) =>
    encodeZoneFrame({
      type: 'vote',
      vote: {
        zone: 'north-ridge',
        epoch: 2,
        voter: 'node001',
        configHash: '9f3c2a71e04b8d56',
        boot: 41,
        seq: 1_234,
        time: T0 + 123,
        ttlMs: 6_000,
        evidence,
      },
    });
  const sizes = {
    detection: detection.length,
    detectionWithBox: boxed.length,
    vote: vote([]).length,
    voteWithTwoShortIds: vote(['cam-north-1#812', 'cam-north-2#77']).length,
    voteWithTwoFrigateIds: vote(['1718900000.123456-ab12cd', '1718900001.654321-ef34gh']).length,
    epoch: encodeZoneFrame({ type: 'epoch', zone: 'north-ridge', epoch: 3, by: 'operator', reason: 'elect' }).length,
    pumpState: encodeZoneFrame({
      type: 'pumpState',
      zone: 'north-ridge',
      pump: 'pump-1',
      state: 'running',
      cause: 'majority',
      epoch: 2,
      since: T0,
      runtimeMs: 45_000,
      leaseUntil: T0 + 51_000,
    }).length,
    command: encodeZoneFrame({
      type: 'command',
      zone: 'north-ridge',
      pump: 'pump-1',
      action: 'estop',
      epoch: 2,
      id: 'c-7f3a',
      by: 'alice',
      time: T0,
    }).length,
  };
  // Figures of docs/protocol.md (Zone frames).
  assert.deepEqual(sizes, {
    detection: 74,
    detectionWithBox: 82,
    vote: 44,
    voteWithTwoShortIds: 75,
    voteWithTwoFrigateIds: 94,
    epoch: 25,
    pumpState: 47,
    command: 42,
  });
});
