// Coverage of a series: intervals merge on insert under the contiguity rule (3 x the usual interval),
// holes are what lies beyond it, and the list stays bounded.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { addSpan, holes, ledgerSeries, MAX_INTERVALS_PER_SERIES, medianSpacing, mergeInterval, pruneBefore } from './coverage.js';

test('coverage: samples closer than 3 x the usual interval merge into one interval; a longer silence is a hole', () => {
  // 2 s spacing, so gaps up to 6 s are contiguous.
  let c = addSpan(undefined, { series: 'soc', times: [0, 2_000, 4_000, 6_000] });
  assert.equal(c.intervalMs, 2_000);
  assert.deepEqual(c.intervals, [[0, 6_000]]);
  c = addSpan(c, { series: 'soc', times: [12_000, 14_000] });
  assert.deepEqual(
    c.intervals,
    [
      [0, 6_000],
      [12_000, 14_000],
    ],
    'a silence of exactly 3 x 2 s is a hole; anything shorter joins',
  );
  c = addSpan(c, { series: 'soc', times: [19_999, 22_001] });
  assert.deepEqual(
    c.intervals,
    [
      [0, 6_000],
      [12_000, 22_001],
    ],
    '5.999 s after 14 s joins',
  );
  c = addSpan(c, { series: 'soc', times: [30_000, 32_000] });
  assert.deepEqual(c.intervals, [
    [0, 6_000],
    [12_000, 22_001],
    [30_000, 32_000],
  ]);
  // A late batch that fills the hole joins all three.
  c = addSpan(c, { series: 'soc', times: [4_000, 8_000, 10_000] });
  assert.deepEqual(
    c.intervals,
    [
      [0, 22_001],
      [30_000, 32_000],
    ],
    'a late batch fills the hole',
  );
  // A batch with its own hole is split at it.
  c = addSpan(c, { series: 'soc', times: [100_000, 102_000, 200_000, 202_000] });
  assert.deepEqual(c.intervals.slice(2), [
    [100_000, 102_000],
    [200_000, 202_000],
  ]);
});

test('coverage: live data uses the given interval (max silence); a lone sample keeps the last known one', () => {
  let c = addSpan(undefined, { series: 'soc', times: [0], intervalMs: 30_000 });
  c = addSpan(c, { series: 'soc', times: [80_000], intervalMs: 30_000 });
  assert.deepEqual(c.intervals, [[0, 80_000]], 'within 90 s');
  c = addSpan(c, { series: 'soc', times: [200_000] });
  assert.equal(c.intervalMs, 30_000);
  assert.deepEqual(c.intervals, [
    [0, 80_000],
    [200_000, 200_000],
  ]);
  assert.equal(medianSpacing([1, 2, 2, 10, 11]), 1);
  assert.equal(medianSpacing([5]), undefined);
});

test('coverage: holes in a window ignore gaps up to the contiguity gap, at the edges too', () => {
  const c = {
    series: 'soc',
    intervalMs: 1_000,
    intervals: [
      [1_000, 40_000],
      [50_000, 98_000],
    ] as const,
  };
  assert.deepEqual(holes(c, 0, 100_000), [[40_000, 50_000]]);
  assert.deepEqual(holes(c, 0, 120_000), [
    [40_000, 50_000],
    [98_000, 120_000],
  ]);
  assert.deepEqual(holes(c, 45_000, 60_000), [[45_000, 50_000]]);
  assert.deepEqual(holes({ ...c, intervals: [] }, 0, 10_000), [[0, 10_000]]);
  assert.deepEqual(pruneBefore(c, 45_000).intervals, [[50_000, 98_000]]);
});

test('coverage: the interval list is bounded; past the cap the oldest are forgotten', () => {
  let intervals: Array<readonly [number, number]> = [];
  for (let i = 0; i <= MAX_INTERVALS_PER_SERIES; i++) intervals = mergeInterval(intervals, i * 100, i * 100, 10);
  assert.equal(intervals.length, MAX_INTERVALS_PER_SERIES);
  assert.deepEqual(intervals[0], [100, 100]);
});

test('coverage: a series is named as Prometheus writes it, without site, node and zone', () => {
  assert.equal(
    ledgerSeries('battery_soc', { site: 's1', node: 'n1', zone: 'z', device: 'bms', a: 'x"y' }),
    'battery_soc{a="x\\"y",device="bms"}',
  );
  assert.equal(ledgerSeries('up', { site: 's1' }), 'up');
});
