// Range evaluation: last sample at or before each step within 5 minutes; staleness markers; point caps.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isFieldmeshError } from '../../kit/index.js';
import { evaluateRange, LOOKBACK_MS, rangeSteps } from './range-query.js';

test('range query: each step takes the last sample at or before it', () => {
  const points: [number, number][] = [
    [1_000, 1],
    [2_500, 2],
    [3_000, 3],
  ];
  assert.deepEqual(evaluateRange(points, 0, 4_000, 1_000), [
    [1_000, 1],
    [2_000, 1],
    [3_000, 3],
    [4_000, 3],
  ]);
});

test('range query: a sample older than the lookback window gives no value', () => {
  const points: [number, number][] = [[0, 7]];
  assert.deepEqual(evaluateRange(points, 0, LOOKBACK_MS + 60_000, 60_000).at(-1), [LOOKBACK_MS, 7]);
  assert.equal(evaluateRange(points, 0, LOOKBACK_MS + 60_000, 60_000).length, 6);
});

test('range query: a staleness marker ends the series until the next sample', () => {
  const points: [number, number | null][] = [
    [0, 1],
    [1_500, null],
    [3_200, 4],
  ];
  assert.deepEqual(evaluateRange(points, 0, 4_000, 1_000), [
    [0, 1],
    [1_000, 1],
    [4_000, 4],
  ]);
});

test('range query: more than 11,000 points per series and an end before the start are refused', () => {
  assert.equal(rangeSteps(0, 10_999_000, 1_000), 11_000);
  assert.throws(
    () => rangeSteps(0, 11_000_000, 1_000),
    (e) => isFieldmeshError(e, 'FM_QUERY_INVALID') && /11,000/.test(e.message),
  );
  assert.throws(
    () => rangeSteps(10, 0, 1),
    (e) => isFieldmeshError(e, 'FM_QUERY_INVALID'),
  );
});
