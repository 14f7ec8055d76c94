// Range evaluation with Prometheus semantics, shared by hub and node: at each step, the last sample at
// or before the step within the lookback window; a staleness marker (null) ends a series until the next real sample.

import { FieldmeshError } from '../../kit/index.js';
import { type Params, parseStepMs, single, timeParam } from './params.js';

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

/**
 * The start, end and step of a range query (query_range's parameters), checked the way Prometheus
 * checks them: FM_QUERY_INVALID names the missing or bad parameter, or the range that is empty or has
 * more than MAX_POINTS_PER_SERIES steps.
 */
export function rangeParams(params: Params): { readonly startMs: number; readonly endMs: number; readonly stepMs: number } {
  const startMs = timeParam(params, 'start');
  const endMs = timeParam(params, 'end');
  const step = single(params, 'step');
  if (step === undefined || step === '') throw new FieldmeshError('FM_QUERY_INVALID', 'missing parameter "step"');
  const stepMs = parseStepMs(step);
  rangeSteps(startMs, endMs, stepMs);
  return { startMs, endMs, stepMs };
}
