// Protocol frames: round trips for every frame type and rejection (never a throw) of bad bytes.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import {
  type BirthFrame,
  decodeWireFrame,
  encodeBirth,
  encodeDeath,
  encodeDigest,
  encodeEvent,
  encodeHubState,
  encodeRebirth,
  inferDecimals,
  MAX_FRAME_BYTES,
  PROTOCOL_VERSION,
  quantize,
  type SeriesDef,
} from './frames.js';

const idArb = fc.stringMatching(/^[a-z0-9][a-z0-9_-]{0,15}$/);
const valueArb = fc.oneof(
  fc.constant(null),
  fc.integer({ min: -1_000_000, max: 1_000_000 }).map((n) => n / 100),
  fc.double({ noDefaultInfinity: false }),
);

const seriesArb = (alias: number): fc.Arbitrary<SeriesDef> =>
  fc.record({
    alias: fc.constant(alias),
    name: idArb,
    labels: fc.dictionary(idArb, fc.string({ maxLength: 20 }), { maxKeys: 4 }),
    type: fc.constantFrom('gauge', 'counter', 'state'),
    unit: fc.constantFrom('', 'volts', 'amperes', 'watts', 'percent'),
    decimals: fc.integer({ min: 0, max: 9 }),
    deadband: fc.oneof(
      fc.constant({ kind: 'none' } as const),
      fc.record({ kind: fc.constantFrom('absolute', 'relative'), value: fc.double({ min: 0, max: 100, noNaN: true }) }),
    ),
    maxSilenceMs: fc.integer({ min: 0, max: 3_600_000 }),
    value: valueArb,
    time: fc.integer({ min: 0, max: 2 ** 45 }),
  }) as fc.Arbitrary<SeriesDef>;

const birthArb: fc.Arbitrary<BirthFrame> = fc
  .integer({ min: 0, max: 6 })
  .chain((n) => fc.tuple(...Array.from({ length: n }, (_, i) => seriesArb(i * 3 + 1))))
  .chain((series) =>
    fc.record({
      type: fc.constant('birth' as const),
      epoch: fc.nat(),
      seq: fc.nat(),
      time: fc.integer({ min: 0, max: 2 ** 45 }),
      zone: idArb,
      agentVersion: fc.constant('0.1.0'),
      tickMs: fc.integer({ min: 1, max: 60_000 }),
      heartbeatMs: fc.integer({ min: 1, max: 600_000 }),
      series: fc.constant(series),
      bootTime: fc.integer({ min: 0, max: 2 ** 45 }),
      configVersion: fc.oneof(fc.constant(''), fc.stringMatching(/^[0-9a-f]{12}$/)),
    }),
  );

/** Plain-object copy: fast-check builds null-prototype records. */
const plain = (x: unknown): unknown => JSON.parse(JSON.stringify(x));

/** Values equal the way the protocol promises: the same number, NaN included. */
function sameValue(a: number | null, b: number | null): boolean {
  return a === b || (typeof a === 'number' && typeof b === 'number' && Number.isNaN(a) && Number.isNaN(b));
}

test('frames: a birth decodes to exactly what was encoded', () => {
  fc.assert(
    fc.property(birthArb, (birth) => {
      const decoded = decodeWireFrame(encodeBirth(birth));
      assert.ok(decoded.ok, decoded.ok ? '' : decoded.error.message);
      const got = decoded.frame as BirthFrame;
      assert.deepEqual(plain({ ...got, series: [] }), plain({ ...birth, series: [] }));
      assert.equal(got.series.length, birth.series.length);
      birth.series.forEach((s, i) => {
        const g = got.series[i] as SeriesDef;
        assert.deepEqual(plain({ ...g, value: 0 }), plain({ ...s, value: 0 }));
        assert.ok(sameValue(g.value, s.value), `value ${g.value} != ${s.value}`);
      });
    }),
  );
});

test('frames: events, deaths, rebirths, hub states and digests round trip', () => {
  const event = {
    epoch: 3,
    seq: 9,
    time: 1_760_000_000_123,
    id: 'ev1',
    priority: 'critical' as const,
    kind: 'fire',
    payload: new TextEncoder().encode('{"camera":"cam2","confidence":0.91}'),
  };
  const cases = [
    [encodeEvent(event), { type: 'event', ...event }],
    [encodeDeath({ epoch: 7, reason: 'lost' }), { type: 'death', epoch: 7, reason: 'lost' }],
    [encodeRebirth({ reason: 'gap' }), { type: 'rebirth', reason: 'gap' }],
    [encodeHubState({ epoch: 2, online: true, time: 5 }), { type: 'hubState', epoch: 2, online: true, time: 5 }],
    [
      encodeDigest({ epoch: 1, seq: 4, time: 9, entries: [{ node: 'farm/n1', state: 'stale', lastHeardAgeMs: 12_000 }] }),
      { type: 'digest', epoch: 1, seq: 4, time: 9, entries: [{ node: 'farm/n1', state: 'stale', lastHeardAgeMs: 12_000 }] },
    ],
  ] as const;
  for (const [bytes, expected] of cases) {
    const decoded = decodeWireFrame(bytes);
    assert.ok(decoded.ok);
    assert.deepEqual(decoded.frame, expected);
  }
});

test('frames: random bytes are rejected with a reason and offset, never thrown', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
      const result = decodeWireFrame(bytes);
      if (!result.ok) {
        assert.ok(['truncated', 'malformed', 'oversized', 'version'].includes(result.error.reason));
        assert.ok(result.error.offset >= 0 && result.error.offset <= bytes.length);
        assert.match(result.error.code, /^FM_FRAME_/);
      }
    }),
    { numRuns: 5000 },
  );
});

test('frames: every truncation of a valid birth is rejected as truncated or malformed', () => {
  fc.assert(
    fc.property(birthArb, fc.nat(), (birth, cut) => {
      const bytes = encodeBirth(birth);
      const at = cut % bytes.length;
      const result = decodeWireFrame(bytes.subarray(0, at));
      assert.equal(result.ok, false);
      if (!result.ok) assert.ok(['truncated', 'malformed'].includes(result.error.reason), result.error.message);
    }),
  );
});

test('frames: an unknown protocol version is rejected as such', () => {
  const bytes = encodeDeath({ epoch: 1, reason: 'shutdown' });
  bytes[0] = ((PROTOCOL_VERSION + 1) << 4) | (bytes[0]! & 0x0f);
  const result = decodeWireFrame(bytes);
  assert.equal(result.ok, false);
  assert.equal(!result.ok && result.error.reason, 'version');
  assert.equal(!result.ok && result.error.code, 'FM_FRAME_VERSION');
});

test('frames: an oversized frame is rejected before it is parsed', () => {
  const result = decodeWireFrame(new Uint8Array(MAX_FRAME_BYTES + 1));
  assert.equal(!result.ok && result.error.reason, 'oversized');
});

test('frames: trailing bytes after a complete frame are malformed', () => {
  const bytes = new Uint8Array([...encodeDeath({ epoch: 1, reason: 'lost' }), 0]);
  const result = decodeWireFrame(bytes);
  assert.equal(!result.ok && result.error.reason, 'malformed');
});

test('frames: quantize is exact or refuses, and inferDecimals finds the shortest exact scale', () => {
  assert.equal(quantize(52.31, 2), 5231);
  assert.equal(quantize(52.315, 2), undefined);
  assert.equal(quantize(Number.NaN, 0), undefined);
  assert.equal(inferDecimals(52.3), 1);
  assert.equal(inferDecimals(1200), 0);
  fc.assert(
    fc.property(fc.integer({ min: -10_000_000, max: 10_000_000 }), fc.integer({ min: 0, max: 4 }), (n, d) => {
      const v = n / 10 ** d;
      const decimals = inferDecimals(v);
      assert.ok(decimals <= d);
      const q = quantize(v, decimals);
      assert.ok(q !== undefined && q / 10 ** decimals === v);
    }),
  );
});

test('frames: a birth carries its session start and config version; one from an older build (without them) is refused as truncated', () => {
  const birth = {
    epoch: 4,
    seq: 0,
    time: 1_760_000_060_000,
    zone: 'z1',
    agentVersion: '0.1.0',
    tickMs: 1_000,
    heartbeatMs: 5_000,
    series: [],
    bootTime: 1_760_000_000_000,
    configVersion: '0123456789ab',
  };
  const bytes = encodeBirth(birth);
  const decoded = decodeWireFrame(bytes);
  assert.ok(decoded.ok);
  assert.deepEqual(decoded.frame, { type: 'birth', ...birth });
  // The older layout ends after the series: boot time (6 bytes here) and the config version (13) missing.
  const older = bytes.subarray(0, bytes.length - 6 - 13);
  const refused = decodeWireFrame(older);
  assert.equal(!refused.ok && refused.error.reason, 'truncated');
  assert.match(!refused.ok ? refused.error.message : '', /older build/);
  assert.equal(!refused.ok && refused.error.offset, older.length);
  // Callers without session facts: the boot time is the birth's time, the config version empty.
  const bare = decodeWireFrame(encodeBirth({ ...birth, bootTime: undefined, configVersion: undefined }));
  assert.ok(bare.ok && bare.frame.type === 'birth');
  assert.deepEqual(bare.ok && bare.frame.type === 'birth' && [bare.frame.bootTime, bare.frame.configVersion], [birth.time, '']);
});
