// History, ack and backfill frames: lossless round trips of sample batches and requests, refusal of bad
// bytes and ranges, and of the history layout before FM-DURABLE-6.
// calendar: the dates are rendered data; no clock reads them.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import type { BackfillFrame } from './backfill.js';
import { decodeWireFrame, encodeAck, encodeBackfill, encodeHistory } from './frames.js';
import type { HistoryFrame, HistorySeries } from './history.js';
import { frameToJson } from './json.js';

const valueArb = fc.oneof(
  { weight: 6, arbitrary: fc.integer({ min: -10_000_000, max: 10_000_000 }).map((n) => n / 100) },
  { weight: 1, arbitrary: fc.double() },
);

const seriesArb: fc.Arbitrary<HistorySeries> = fc.record({
  name: fc.stringMatching(/^[a-z_][a-z0-9_]{0,20}$/),
  labels: fc.dictionary(fc.stringMatching(/^[a-z_]{1,8}$/), fc.string({ maxLength: 12 }), { maxKeys: 3 }),
  type: fc.constantFrom('gauge', 'counter', 'state'),
  unit: fc.constantFrom('', 'volts', 'percent'),
  samples: fc
    .tuple(
      fc.integer({ min: 1_600_000_000_000, max: 1_900_000_000_000 }),
      fc.array(fc.tuple(fc.integer({ min: 1, max: 60_000 }), valueArb), { minLength: 1, maxLength: 40 }),
    )
    .map(([start, steps]) => {
      let t = start;
      return steps.map(([dt, v]) => {
        t += dt;
        return [t, v] as const;
      });
    }),
}) as fc.Arbitrary<HistorySeries>;

const frameArb = fc.record({
  epoch: fc.nat(),
  zone: fc.stringMatching(/^[a-z0-9-]{0,10}$/),
  firstSeq: fc.nat({ max: 1_000_000 }),
  span: fc.nat({ max: 10_000 }),
  pendingRows: fc.nat(),
  oldestPendingMs: fc.option(fc.integer({ min: 1, max: 2 ** 45 }), { nil: null }),
  pendingBytes: fc.nat(),
  dropped: fc.array(fc.record({ fromMs: fc.nat(), toMs: fc.nat(), rows: fc.nat() }), { maxLength: 3 }),
  repaired: fc.array(
    fc
      .tuple(fc.string({ minLength: 1, maxLength: 16 }), fc.integer({ min: 0, max: 2 ** 45 }), fc.nat({ max: 86_400_000 }))
      .map(([requestId, fromMs, span]) => ({ requestId, fromMs, toMs: fromMs + span })),
    { maxLength: 3 },
  ),
  series: fc.array(seriesArb, { maxLength: 5 }),
});

/** Seq 1 to 1 of epoch 1, nothing pending, dropped or repaired, no series: the frame the tests vary. */
const EMPTY_HISTORY: Parameters<typeof encodeHistory>[0] = {
  epoch: 1,
  zone: 'z1',
  firstSeq: 1,
  lastSeq: 1,
  pendingRows: 0,
  oldestPendingMs: null,
  pendingBytes: 0,
  dropped: [],
  repaired: [],
  series: [],
};

const plain = (x: unknown): unknown =>
  JSON.parse(JSON.stringify(x, (_k, v) => (typeof v === 'number' && !Number.isFinite(v) ? String(v) : v)));

test('history: any batch of samples decodes to exactly what was encoded', () => {
  fc.assert(
    fc.property(frameArb, ({ span, ...f }) => {
      const frame = { ...f, lastSeq: f.firstSeq + span };
      const decoded = decodeWireFrame(encodeHistory(frame));
      assert.ok(decoded.ok, decoded.ok ? '' : decoded.error.message);
      const got = decoded.frame as HistoryFrame;
      assert.deepEqual(plain({ ...got, series: [] }), plain({ type: 'history', ...frame, series: [] }));
      got.series.forEach((s, i) => {
        const want = frame.series[i] as HistorySeries;
        assert.deepEqual(plain({ ...s, samples: [] }), plain({ ...want, samples: [] }));
        s.samples.forEach(([t, v], k) => {
          const [wt, wv] = want.samples[k] as readonly [number, number];
          assert.equal(t, wt);
          assert.ok(Object.is(v, wv) || (Number.isNaN(v) && Number.isNaN(wv)), `value ${v} != ${wv}`);
        });
      });
    }),
  );
});

test('history: a day of 2 s battery readings costs about two bytes a sample', () => {
  const samples = Array.from(
    { length: 43_200 },
    (_, i) => [1_760_000_000_000 + i * 2_000, 52 + Math.round(Math.sin(i / 500) * 100) / 100] as const,
  );
  const bytes = encodeHistory({
    ...EMPTY_HISTORY,
    lastSeq: 43_200,
    series: [{ name: 'dc_voltage', labels: {}, type: 'gauge', unit: 'volts', samples }],
  });
  assert.ok(bytes.length / samples.length < 2.1, `${(bytes.length / samples.length).toFixed(2)} B/sample`);
});

test('history: truncations are rejected, and ranges must not run backwards', () => {
  const bytes = encodeHistory({
    epoch: 2,
    zone: 'z1',
    firstSeq: 10,
    lastSeq: 12,
    pendingRows: 5,
    oldestPendingMs: 1_760_000_000_000,
    pendingBytes: 160,
    dropped: [{ fromMs: 1_759_000_000_000, toMs: 1_759_000_060_000, rows: 30 }],
    repaired: [{ requestId: 'r1', fromMs: 1_758_000_000_000, toMs: 1_758_000_060_000 }],
    series: [
      {
        name: 'battery_soc',
        labels: { device: 'battery' },
        type: 'gauge',
        unit: 'percent',
        samples: [
          [1_760_000_000_000, 55.2],
          [1_760_000_002_000, 55.3],
        ],
      },
    ],
  });
  for (let cut = 0; cut < bytes.length; cut++) assert.equal(decodeWireFrame(bytes.subarray(0, cut)).ok, false, `cut at ${cut}`);
  const ack = decodeWireFrame(encodeAck({ lane: 'samples', firstSeq: 10, lastSeq: 12 }));
  assert.deepEqual(ack.ok && ack.frame, { type: 'ack', lane: 'samples', firstSeq: 10, lastSeq: 12 });
  const backwards = encodeAck({ lane: 'events', firstSeq: 1, lastSeq: 1 });
  backwards[backwards.length - 1] = 0; // lastSeq 0 < firstSeq 1
  const r = decodeWireFrame(backwards);
  assert.equal(!r.ok && r.error.reason, 'malformed');
  assert.throws(() =>
    encodeHistory({
      ...EMPTY_HISTORY,
      series: [
        {
          name: 'x',
          labels: {},
          type: 'gauge',
          unit: '',
          samples: [
            [5, 1],
            [5, 2],
          ],
        },
      ],
    }),
  );
});

test('history: a frame of the layout before FM-DURABLE-6 (type 8) is refused, never misread', () => {
  const bytes = encodeHistory(EMPTY_HISTORY);
  assert.equal(bytes[0], 0x1b, 'version 1, type 11');
  bytes[0] = 0x18;
  const r = decodeWireFrame(bytes);
  assert.equal(!r.ok && r.error.reason, 'malformed');
  assert.match(!r.ok ? r.error.message : '', /layout before FM-DURABLE-6 .*\(at byte 0\)/);
});

test('history: a repaired range must name a request and run forwards', () => {
  const base = EMPTY_HISTORY;
  assert.throws(() => encodeHistory({ ...base, repaired: [{ requestId: '', fromMs: 1, toMs: 2 }] }), RangeError);
  assert.throws(() => encodeHistory({ ...base, repaired: [{ requestId: 'r', fromMs: 2, toMs: 1 }] }), RangeError);
  const good = encodeHistory({ ...base, repaired: [{ requestId: 'r', fromMs: 1, toMs: 1 }] });
  // The frame ends with the repaired range's id (2 bytes), from, to, then the series count (0).
  const bad = good.slice();
  const fromAt = bad.length - 3;
  bad[fromAt] = 2; // from 2, to 1
  const r = decodeWireFrame(bad);
  assert.equal(!r.ok && r.error.reason, 'malformed');
  assert.equal(!r.ok && r.error.offset, fromAt);
});

const backfillArb: fc.Arbitrary<BackfillFrame> = fc
  .record({
    requestId: fc.string({ minLength: 1, maxLength: 20 }),
    fromMs: fc.integer({ min: 0, max: 2 ** 45 }),
    span: fc.nat({ max: 30 * 86_400_000 }),
    selectors: fc.array(fc.string({ maxLength: 40 }), { maxLength: 4 }),
  })
  .map(({ span, ...f }) => ({ type: 'backfill' as const, ...f, toMs: f.fromMs + span }));

test('backfill: any request decodes to exactly what was encoded; every truncation is refused', () => {
  fc.assert(
    fc.property(backfillArb, ({ type: _type, ...f }) => {
      const bytes = encodeBackfill(f);
      const decoded = decodeWireFrame(bytes);
      assert.ok(decoded.ok, decoded.ok ? '' : decoded.error.message);
      assert.deepEqual(decoded.frame, { type: 'backfill', ...f });
      for (let cut = 0; cut < bytes.length; cut++) {
        const r = decodeWireFrame(bytes.subarray(0, cut));
        assert.equal(r.ok, false, `cut at ${cut}`);
        if (!r.ok && cut > 0) assert.equal(r.error.reason, 'truncated', `cut at ${cut}: ${r.error.message}`);
      }
    }),
  );
});

test('backfill: an empty id, a backwards range or trailing bytes are malformed at their offset; JSON shows times', () => {
  const ok = encodeBackfill({ requestId: 'r1', fromMs: 1_000, toMs: 2_000, selectors: ['battery_soc{device="bms"}'] });
  assert.equal(ok[0], 0x1a, 'version 1, type 10');
  const noId = ok.slice();
  noId[1] = 0; // id length 0; the rest no longer lines up, but the id is refused first
  const r1 = decodeWireFrame(noId);
  assert.deepEqual(!r1.ok && [r1.error.reason, r1.error.offset], ['malformed', 1]);
  const backwards = encodeBackfill({ requestId: 'r1', fromMs: 5, toMs: 5, selectors: [] });
  backwards[5] = 4; // header, id (3 bytes), from = 5, to = 4
  const r2 = decodeWireFrame(backwards);
  assert.deepEqual(!r2.ok && [r2.error.reason, r2.error.offset], ['malformed', 4]);
  assert.match(!r2.ok ? r2.error.message : '', /backfill range 5\.\.4 runs backwards \(at byte 4\)/);
  const trailing = new Uint8Array([...ok, 0]);
  const r3 = decodeWireFrame(trailing);
  assert.deepEqual(!r3.ok && [r3.error.reason, r3.error.offset], ['malformed', ok.length]);
  assert.throws(() => encodeBackfill({ requestId: '', fromMs: 1, toMs: 2, selectors: [] }), RangeError);
  assert.throws(() => encodeBackfill({ requestId: 'r', fromMs: 2, toMs: 1, selectors: [] }), RangeError);
  const decoded = decodeWireFrame(ok);
  assert.ok(decoded.ok);
  assert.deepEqual(frameToJson(decoded.frame), {
    type: 'backfill',
    requestId: 'r1',
    fromMs: 1_000,
    toMs: 2_000,
    selectors: ['battery_soc{device="bms"}'],
    from: '1970-01-01T00:00:01.000Z',
    to: '1970-01-01T00:00:02.000Z',
  });
});
