// The range-vector functions rule expressions speak (`avg_over_time(x[5m])`, `rate(x[5m])`,
// `quantile_over_time(0.95, x[5m])`...), each computed over one series' samples in a window as Prometheus
// computes it (promql/functions.go): the window is left-open, (t - range, t], and staleness markers are
// not samples.

export const RANGE_FUNCTIONS = [
  'avg_over_time',
  'sum_over_time',
  'min_over_time',
  'max_over_time',
  'count_over_time',
  'last_over_time',
  'quantile_over_time',
  'rate',
  'increase',
  'delta',
] as const;
export type RangeFunction = (typeof RANGE_FUNCTIONS)[number];

export interface RangeCall {
  readonly fn: RangeFunction;
  /** The window, ms (`[5m]`). */
  readonly rangeMs: number;
  /** quantile_over_time's φ. */
  readonly quantile?: number;
}

/** Prometheus' quantile of sorted-able values: linear interpolation between the closest ranks; φ outside [0, 1] is ±Inf. */
export function quantileOf(phi: number, values: readonly number[]): number {
  if (values.length === 0 || Number.isNaN(phi)) return Number.NaN;
  if (phi < 0) return Number.NEGATIVE_INFINITY;
  if (phi > 1) return Number.POSITIVE_INFINITY;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = phi * (sorted.length - 1);
  const lower = Math.max(0, Math.floor(rank));
  const upper = Math.min(sorted.length - 1, lower + 1);
  const weight = rank - Math.floor(rank);
  return (sorted[lower] as number) * (1 - weight) + (sorted[upper] as number) * weight;
}

/**
 * rate, increase and delta: Prometheus' extrapolatedRate. The change between the first and last sample
 * (counter resets added back for rate and increase), extrapolated toward the window's edges by at most
 * half the average spacing of samples when the series does not reach them (and, for a counter, never
 * below zero); rate divides by the window in seconds. Fewer than two samples: no value.
 */
function extrapolatedRate(
  points: ReadonlyArray<readonly [number, number]>,
  startMs: number,
  endMs: number,
  fn: 'rate' | 'increase' | 'delta',
) {
  if (points.length < 2) return undefined;
  const isCounter = fn !== 'delta';
  const [firstT, firstV] = points[0] as readonly [number, number];
  const [lastT, lastV] = points[points.length - 1] as readonly [number, number];
  let result = lastV - firstV;
  if (isCounter) {
    let previous = firstV;
    for (const [, v] of points) {
      if (v < previous) result += previous;
      previous = v;
    }
  }
  let durationToStart = (firstT - startMs) / 1_000;
  let durationToEnd = (endMs - lastT) / 1_000;
  const sampled = (lastT - firstT) / 1_000;
  const averageSpacing = sampled / (points.length - 1);
  const threshold = averageSpacing * 1.1;
  let interval = sampled;
  if (durationToStart >= threshold) durationToStart = averageSpacing / 2;
  if (isCounter && result > 0 && firstV >= 0) {
    // A counter does not go below zero: extrapolate toward the start no further than where it would be 0.
    const durationToZero = sampled * (firstV / result);
    if (durationToZero < durationToStart) durationToStart = durationToZero;
  }
  interval += durationToStart;
  if (durationToEnd >= threshold) durationToEnd = averageSpacing / 2;
  interval += durationToEnd;
  let factor = interval / sampled;
  if (fn === 'rate') factor /= (endMs - startMs) / 1_000;
  return result * factor;
}

/**
 * The function's value at `endMs` over a series' points (ascending; null is a staleness marker), taking
 * those with endMs - rangeMs < ts <= endMs. Undefined when the window holds no sample (or fewer than two
 * for rate, increase and delta): the series has no element then.
 */
export function evaluateRangeCall(
  call: RangeCall,
  points: ReadonlyArray<readonly [number, number | null]>,
  endMs: number,
): number | undefined {
  const startMs = endMs - call.rangeMs;
  const window: Array<readonly [number, number]> = [];
  for (const [t, v] of points) if (t > startMs && t <= endMs && v !== null) window.push([t, v]);
  if (window.length === 0) return undefined;
  const values = window.map(([, v]) => v);
  switch (call.fn) {
    case 'avg_over_time':
      return values.reduce((a, b) => a + b, 0) / values.length;
    case 'sum_over_time':
      return values.reduce((a, b) => a + b, 0);
    case 'min_over_time':
      return values.reduce((a, b) => (b < a || Number.isNaN(a) ? b : a));
    case 'max_over_time':
      return values.reduce((a, b) => (b > a || Number.isNaN(a) ? b : a));
    case 'count_over_time':
      return values.length;
    case 'last_over_time':
      return values[values.length - 1];
    case 'quantile_over_time':
      return quantileOf(call.quantile ?? Number.NaN, values);
    case 'rate':
    case 'increase':
    case 'delta':
      return extrapolatedRate(window, startMs, endMs, call.fn);
  }
}
