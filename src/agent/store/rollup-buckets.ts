// Downsampled rollups of one series: per aligned bucket the count, first and last sample time, min,
// max, sum and last value of its raw samples; computed from samples, merged, coarsened, read by function.

import { decimalScale } from './chunk-codec.js';
import type { RollupFn } from './store.js';

/**
 * The buckets of one series at one resolution, as parallel arrays, ascending by `starts`. Only buckets
 * holding at least one sample are present.
 */
export interface RollupBuckets {
  /** Bucket start, ms: a multiple of the resolution (buckets are aligned to the Unix epoch). */
  readonly starts: number[];
  /** Raw samples in the bucket, at least 1. */
  readonly counts: number[];
  /** Time of the bucket's first and last sample, ms; within [start, start + resolution). */
  readonly firstTs: number[];
  readonly lastTs: number[];
  /** As Prometheus' min/max: NaN loses to any number, and is the answer only when every value is NaN. */
  readonly min: number[];
  readonly max: number[];
  /**
   * Sum of the values. Exact when every value is decimal (`m / 10^d`, d ≤ 9, as the chunk codec's
   * decimal modes: the scaled integers are summed, then divided once); otherwise the float64 sum in
   * time order, from 0.
   */
  readonly sum: number[];
  /** The value of the bucket's last sample. */
  readonly last: number[];
}

export const ROLLUP_FNS = ['avg', 'min', 'max', 'sum', 'count', 'last'] as const satisfies readonly RollupFn[];

const POW10 = [1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9];
// Partial sums of scaled integers stay below 2^52, so that every addition is exact.
const MAX_EXACT_SUM = 2 ** 52;

export function emptyBuckets(): RollupBuckets {
  return { starts: [], counts: [], firstTs: [], lastTs: [], min: [], max: [], sum: [], last: [] };
}

/** The sum of values[from..to): exact for decimal values, else the float64 sum in order. */
export function bucketSum(values: ArrayLike<number>, from: number, to: number): number {
  let scale = 0;
  for (let i = from; i < to; i++) {
    const d = decimalScale(values[i] as number);
    if (d < 0) {
      scale = -1;
      break;
    }
    if (d > scale) scale = d;
  }
  if (scale >= 0) {
    const p = POW10[scale] as number;
    let total = 0;
    let exact = true;
    for (let i = from; i < to && exact; i++) {
      const v = values[i] as number;
      const m = Math.round(v * p);
      total += m;
      exact = m / p === v && Math.abs(total) <= MAX_EXACT_SUM;
    }
    if (exact) return total / p;
  }
  let total = 0;
  for (let i = from; i < to; i++) total += values[i] as number;
  return total;
}

/**
 * Buckets of `resolutionMs` over samples ascending by time, one per timestamp (a chunk, or a head's
 * points). The resolution must be a positive integer of ms.
 */
export function computeRollup(ts: ArrayLike<number>, values: ArrayLike<number>, resolutionMs: number): RollupBuckets {
  const out = emptyBuckets();
  let i = 0;
  while (i < ts.length) {
    const t0 = ts[i] as number;
    const start = t0 - (t0 % resolutionMs);
    const end = start + resolutionMs;
    let j = i;
    let min = values[i] as number;
    let max = min;
    while (j < ts.length && (ts[j] as number) < end) {
      const v = values[j] as number;
      if (v < min || Number.isNaN(min)) min = v;
      if (v > max || Number.isNaN(max)) max = v;
      j++;
    }
    out.starts.push(start);
    out.counts.push(j - i);
    out.firstTs.push(t0);
    out.lastTs.push(ts[j - 1] as number);
    out.min.push(min);
    out.max.push(max);
    out.sum.push(bucketSum(values, i, j));
    out.last.push(values[j - 1] as number);
    i = j;
  }
  return out;
}

function pushFrom(out: RollupBuckets, b: RollupBuckets, i: number, start: number): void {
  out.starts.push(start);
  out.counts.push(b.counts[i] as number);
  out.firstTs.push(b.firstTs[i] as number);
  out.lastTs.push(b.lastTs[i] as number);
  out.min.push(b.min[i] as number);
  out.max.push(b.max[i] as number);
  out.sum.push(b.sum[i] as number);
  out.last.push(b.last[i] as number);
}

const pair = [0, 0];

/** Folds bucket `i` of `b` into the last bucket of `out` (same start): counts and sums add, extremes and times widen. */
function foldInto(out: RollupBuckets, b: RollupBuckets, i: number): void {
  const k = out.starts.length - 1;
  out.counts[k] = (out.counts[k] as number) + (b.counts[i] as number);
  pair[0] = out.sum[k] as number;
  pair[1] = b.sum[i] as number;
  // Exact for decimal sums too, so a step's sum (and avg) is the same as one bucket of its width would hold.
  out.sum[k] = bucketSum(pair, 0, 2);
  const lo = b.min[i] as number;
  const hi = b.max[i] as number;
  if (lo < (out.min[k] as number) || Number.isNaN(out.min[k])) out.min[k] = lo;
  if (hi > (out.max[k] as number) || Number.isNaN(out.max[k])) out.max[k] = hi;
  if ((b.firstTs[i] as number) < (out.firstTs[k] as number)) out.firstTs[k] = b.firstTs[i] as number;
  // The later last sample wins; on an equal time, the bucket folded in (the newer write).
  if ((b.lastTs[i] as number) >= (out.lastTs[k] as number)) {
    out.lastTs[k] = b.lastTs[i] as number;
    out.last[k] = b.last[i] as number;
  }
}

/**
 * Buckets of `a` and `b` together, for samples that are in one or the other (never both: a rewrite of
 * a timestamp held in both would count twice). Used when a late sample lands in a window whose raw
 * samples are gone, so the rollup cannot be recomputed.
 */
export function mergeRollups(a: RollupBuckets, b: RollupBuckets): RollupBuckets {
  const out = emptyBuckets();
  let i = 0;
  let j = 0;
  while (i < a.starts.length || j < b.starts.length) {
    const sa = a.starts[i];
    const sb = b.starts[j];
    if (sb === undefined || (sa !== undefined && sa < sb)) pushFrom(out, a, i++, sa as number);
    else if (sa === undefined || sb < sa) pushFrom(out, b, j++, sb);
    else {
      pushFrom(out, a, i++, sa);
      foldInto(out, b, j++);
    }
  }
  return out;
}

/** Pieces of disjoint time ranges (rollup rows of different windows, buckets from raw runs) as one. */
export function concatRollups(pieces: readonly RollupBuckets[]): RollupBuckets {
  const out = emptyBuckets();
  const sorted = pieces.filter((p) => p.starts.length > 0).sort((a, b) => (a.starts[0] as number) - (b.starts[0] as number));
  for (const p of sorted) {
    for (let i = 0; i < p.starts.length; i++) {
      if (out.starts[out.starts.length - 1] === p.starts[i]) foldInto(out, p, i);
      else pushFrom(out, p, i, p.starts[i] as number);
    }
  }
  return out;
}

/** The same buckets at a coarser, aligned resolution (`stepMs` a multiple of theirs): each group folded into one. */
export function coarsenRollup(b: RollupBuckets, stepMs: number): RollupBuckets {
  const out = emptyBuckets();
  for (let i = 0; i < b.starts.length; i++) {
    const s = b.starts[i] as number;
    const start = s - (s % stepMs);
    if (out.starts[out.starts.length - 1] === start) foldInto(out, b, i);
    else pushFrom(out, b, i, start);
  }
  return out;
}

/** The value of bucket `i` for a rollup function; avg is sum / count. */
export function rollupValue(b: RollupBuckets, i: number, fn: RollupFn): number {
  switch (fn) {
    case 'avg':
      return (b.sum[i] as number) / (b.counts[i] as number);
    case 'min':
      return b.min[i] as number;
    case 'max':
      return b.max[i] as number;
    case 'sum':
      return b.sum[i] as number;
    case 'count':
      return b.counts[i] as number;
    case 'last':
      return b.last[i] as number;
  }
}

/** [bucket start, value] for the buckets starting in [startMs, endMs]. */
export function rollupPoints(b: RollupBuckets, fn: RollupFn, startMs: number, endMs: number): [number, number][] {
  const out: [number, number][] = [];
  for (let i = 0; i < b.starts.length; i++) {
    const s = b.starts[i] as number;
    if (s >= startMs && s <= endMs) out.push([s, rollupValue(b, i, fn)]);
  }
  return out;
}
