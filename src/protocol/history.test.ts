// History and ack frames: lossless round trips of sample batches, refusal of bad bytes and ranges.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { decodeWireFrame, encodeAck, encodeHistory } from './frames.js';
import type { HistoryFrame, HistorySeries } from './history.js';

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
  dropped: fc.array(fc.record({ fromMs: fc.nat(), toMs: fc.nat(), rows: fc.nat() }), { maxLength: 3 }),
  series: fc.array(seriesArb, { maxLength: 5 }),
});

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
    epoch: 1,
    zone: 'z1',
    firstSeq: 1,
    lastSeq: 43_200,
    pendingRows: 0,
    oldestPendingMs: null,
    dropped: [],
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
    dropped: [],
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
      epoch: 1,
      zone: 'z1',
      firstSeq: 1,
      lastSeq: 1,
      pendingRows: 0,
      oldestPendingMs: null,
      dropped: [],
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
