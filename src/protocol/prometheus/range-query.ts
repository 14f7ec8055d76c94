// Range evaluation with Prometheus semantics, shared by hub and node: at each step, the last sample at
// or before the step within the lookback window; a staleness marker (null) ends a series until the next real sample.

import { FieldmeshError } from '../../kit/index.js';

/** Prometheus' default lookback delta (--query.lookback-delta). */
export const LOOKBACK_MS = 5 * 60_000;
/** Prometheus refuses range queries with more points per series than this. */
export const MAX_POINTS_PER_SERIES = 11_000;

/** The step timestamps of a range; throws FM_QUERY_INVALID for an empty or oversized range. */
export function rangeSteps(startMs: number, endMs: number, stepMs: number): number {
  if (endMs < startMs) throw new FieldmeshError('FM_QUERY_INVALID', 'invalid parameter "end": end timestamp must not be before start time');
  const points = Math.floor((endMs - startMs) / stepMs) + 1;
  if (points > MAX_POINTS_PER_SERIES) {
    throw new FieldmeshError(
      'FM_QUERY_INVALID',
      `exceeded maximum resolution of 11,000 points per timeseries (this range would need ${points}). Try decreasing the query resolution (?step=XX)`,
    );
  }
  return points;
}

/**
 * Evaluates one series over the steps. `points` must be ascending in time. Returns [step ms, value]
 * for the steps that have a value.
 */
export function evaluateRange(
  points: ReadonlyArray<readonly [number, number | null]>,
  startMs: number,
  endMs: number,
  stepMs: number,
  lookbackMs = LOOKBACK_MS,
): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  let i = 0;
  for (let t = startMs; t <= endMs; t += stepMs) {
    while (i < points.length && (points[i] as readonly [number, number | null])[0] <= t) i++;
    const last = i > 0 ? points[i - 1] : undefined;
    if (last === undefined || last[1] === null || last[0] < t - lookbackMs) continue;
    out.push([t, last[1]]);
  }
  return out;
}
