// The range functions of rule expressions, each on a window of samples with values worked out by hand from
// Prometheus' definitions (promql/functions.go): left-open windows, staleness markers skipped, extrapolation.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { evaluateRangeCall, quantileOf, type RangeCall } from './range-functions.js';

const NOW = 1_000_000_000;
const S = 1_000;
/** 10 at the window's open edge (excluded), then 20, 30, 40, 50 every 15 s up to now; a staleness marker between. */
const points: Array<readonly [number, number | null]> = [
  [NOW - 60 * S, 10],
  [NOW - 50 * S, null],
  [NOW - 45 * S, 20],
  [NOW - 30 * S, 30],
  [NOW - 15 * S, 40],
  [NOW, 50],
];
const at = (fn: RangeCall['fn'], series = points, rangeMs = 60 * S, quantile?: number) =>
  evaluateRangeCall(quantile === undefined ? { fn, rangeMs } : { fn, rangeMs, quantile }, series, NOW);

test('range functions: *_over_time over the left-open window, staleness markers not counted', () => {
  assert.equal(at('avg_over_time'), 35);
  assert.equal(at('sum_over_time'), 140);
  assert.equal(at('min_over_time'), 20);
  assert.equal(at('max_over_time'), 50);
  assert.equal(at('count_over_time'), 4);
  assert.equal(at('last_over_time'), 50);
  assert.equal(at('count_over_time', points, 61 * S), 5, 'a window one second wider takes the sample at its edge');
  assert.equal(at('avg_over_time', [[NOW - 61 * S, 1]]), undefined, 'no sample in the window: no value');
});

test('range functions: quantile_over_time interpolates between ranks as Prometheus does', () => {
  assert.equal(at('quantile_over_time', points, 60 * S, 0.5), 35);
  assert.equal(at('quantile_over_time', points, 60 * S, 0.9), 47);
  assert.equal(at('quantile_over_time', points, 60 * S, 0), 20);
  assert.equal(at('quantile_over_time', points, 60 * S, 1), 50);
  assert.equal(quantileOf(-0.1, [1]), Number.NEGATIVE_INFINITY);
  assert.equal(quantileOf(1.5, [1]), Number.POSITIVE_INFINITY);
  assert.equal(quantileOf(0.5, [7]), 7);
});

test('range functions: rate, increase and delta extrapolate to the window as Prometheus does', () => {
  // 30 over 45 s of samples, extrapolated by 15 s to the window start (within 1.1 spacings): 30 * 60 / 45.
  assert.equal(at('increase'), 40);
  assert.equal(at('rate'), 40 / 60);
  assert.equal(at('delta'), 40);
  // A counter reset (30 -> 6) adds the value before it back; from 0 it is not extrapolated below zero.
  const reset: Array<readonly [number, number]> = [
    [NOW - 45 * S, 0],
    [NOW - 30 * S, 30],
    [NOW - 15 * S, 6],
    [NOW, 36],
  ];
  assert.equal(at('increase', reset), 66);
  assert.equal(at('rate', reset), 1.1);
  assert.equal(at('delta', reset), 48, 'delta knows no resets and extrapolates a gauge past zero: 36 * 60 / 45');
  // Samples 20 s from both edges, 20 s apart: each edge within 1.1 spacings, so the whole window counts.
  assert.equal(
    at('increase', [
      [NOW - 40 * S, 10],
      [NOW - 20 * S, 20],
    ]),
    30,
  );
  // Far from the edges (more than 1.1 spacings): half a spacing each side. 10 over 10 s, +5 s each side.
  assert.equal(
    at('increase', [
      [NOW - 35 * S, 100],
      [NOW - 25 * S, 110],
    ]),
    20,
  );
  assert.equal(at('rate', [[NOW, 1]]), undefined, 'one sample has no rate');
});
