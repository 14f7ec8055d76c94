// Range query parameters: start, end and step checked as Prometheus checks them.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isFieldmeshError } from '../../kit/index.js';
import { rangeParams } from './range-query.js';

test('range query: exactly 11,000 steps (11,001 points) are answered, one step more is refused', () => {
  assert.deepEqual(rangeParams({ start: '0', end: '11000', step: '1' }), { startMs: 0, endMs: 11_000_000, stepMs: 1_000 });
  assert.throws(
    () => rangeParams({ start: '0', end: '11001', step: '1' }),
    (e) => isFieldmeshError(e, 'FM_QUERY_INVALID') && /exceeded maximum resolution of 11,000 points per timeseries/.test(e.message),
  );
});

test('range query: an end before the start, a missing step or a zero step is refused by name', () => {
  assert.throws(
    () => rangeParams({ start: '10', end: '0', step: '1' }),
    (e) => isFieldmeshError(e, 'FM_QUERY_INVALID') && /end timestamp must not be before start time/.test(e.message),
  );
  assert.throws(
    () => rangeParams({ start: '0', end: '10' }),
    (e) => isFieldmeshError(e, 'FM_QUERY_INVALID') && /missing parameter "step"/.test(e.message),
  );
  assert.throws(
    () => rangeParams({ start: '0', end: '10', step: '0' }),
    (e) => isFieldmeshError(e, 'FM_QUERY_INVALID') && /zero or negative/.test(e.message),
  );
});
