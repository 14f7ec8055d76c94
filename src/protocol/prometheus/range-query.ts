// A range query's parameters, checked the way Prometheus checks them; evaluation is ../promql's.

import { FieldmeshError } from '../../kit/index.js';
import { checkRange, LOOKBACK_DELTA_MS, MAX_RANGE_STEPS } from '../promql/index.js';
import { type Params, parseStepMs, single, timeParam } from './params.js';

/** Prometheus' default lookback delta (--query.lookback-delta). */
export const LOOKBACK_MS = LOOKBACK_DELTA_MS;
/** Prometheus refuses range queries whose (end - start) / step exceeds this (so at most 11,001 points). */
export const MAX_RANGE_STEPS_PER_QUERY = MAX_RANGE_STEPS;

/**
 * The start, end and step of a range query (query_range's parameters): FM_QUERY_INVALID names the
 * missing or bad parameter, or the range that ends before it starts or has more than 11,000 steps.
 */
export function rangeParams(params: Params): { readonly startMs: number; readonly endMs: number; readonly stepMs: number } {
  const startMs = timeParam(params, 'start');
  const endMs = timeParam(params, 'end');
  const step = single(params, 'step');
  if (step === undefined || step === '') throw new FieldmeshError('FM_QUERY_INVALID', 'missing parameter "step"');
  const stepMs = parseStepMs(step);
  checkRange(startMs, endMs, stepMs);
  return { startMs, endMs, stepMs };
}
