// Time coverage of one series at the hub: the [from, to] intervals it holds, merged on insert, for
// the completeness ledger [decision 0001 "Completeness"].
//
// The contiguity rule: two samples of a series closer than CONTIGUITY_FACTOR x the series' usual
// interval belong to one covered interval; a longer silence is a hole. The usual interval is, for
// live data, the series' maximum silence (live frames report by exception but promise a frame at
// least that often); for a history batch, the lower median spacing of its samples (three or more),
// else the series' last known interval. The latest batch sets it.

import { seriesText } from '../../protocol/index.js';

/** Samples closer than this many usual intervals count as contiguous. */
export const CONTIGUITY_FACTOR = 3;
/** At most this many intervals are kept per series; past it the oldest are forgotten. */
export const MAX_INTERVALS_PER_SERIES = 1_024;
/** The usual interval when nothing better is known (a lone first sample of a series). */
export const DEFAULT_INTERVAL_MS = 10_000;

/** A covered interval, ms since the Unix epoch, `from <= to`. */
export type Interval = readonly [from: number, to: number];

export interface SeriesCoverage {
  /** The series as Prometheus writes it, without site, node and zone: `battery_soc{device="bms"}`. */
  readonly series: string;
  /** The series' usual interval between samples, ms. */
  readonly intervalMs: number;
  /** Disjoint, ascending. */
  readonly intervals: readonly Interval[];
}

/** What one batch adds to a series' coverage: its sample times and the interval to merge with. */
export interface CoverageSpan {
  readonly series: string;
  /** Sample times of the batch, any order. */
  readonly times: readonly number[];
  /** The series' usual interval when the caller knows it (live data: the max silence), ms. */
  readonly intervalMs?: number | undefined;
}

/** The contiguity gap of a series: a silence shorter than this is not a hole. */
export function gapMs(intervalMs: number): number {
  return CONTIGUITY_FACTOR * intervalMs;
}

/** The (lower) median spacing of ascending distinct times, or undefined with fewer than two. */
export function medianSpacing(sortedTimes: readonly number[]): number | undefined {
  const deltas: number[] = [];
  for (let i = 1; i < sortedTimes.length; i++) {
    const d = (sortedTimes[i] as number) - (sortedTimes[i - 1] as number);
    if (d > 0) deltas.push(d);
  }
  if (deltas.length === 0) return undefined;
  deltas.sort((a, b) => a - b);
  return deltas[Math.floor((deltas.length - 1) / 2)];
}

/** Inserts [from, to] into disjoint ascending intervals, joining every interval within `gap` of it. */
export function mergeInterval(intervals: readonly Interval[], from: number, to: number, gap: number): Interval[] {
  const out: Interval[] = [];
  let lo = from;
  let hi = to;
  let placed = false;
  for (const [a, b] of intervals) {
    if (b + gap <= lo) out.push([a, b]);
    else if (a - gap >= hi) {
      if (!placed) out.push([lo, hi]);
      placed = true;
      out.push([a, b]);
    } else {
      lo = Math.min(lo, a);
      hi = Math.max(hi, b);
    }
  }
  if (!placed) out.push([lo, hi]);
  return out.length > MAX_INTERVALS_PER_SERIES ? out.slice(out.length - MAX_INTERVALS_PER_SERIES) : out;
}

/** A series' coverage after a batch of its samples. `previous` is undefined for a new series. */
export function addSpan(previous: SeriesCoverage | undefined, span: CoverageSpan): SeriesCoverage {
  const times = [...span.times].sort((a, b) => a - b);
  // Two samples say little about a series' spacing (they may straddle a hole): a batch teaches the
  // interval from three samples on, or when nothing else is known.
  const learned = times.length >= 3 || previous === undefined ? medianSpacing(times) : undefined;
  const intervalMs = span.intervalMs ?? learned ?? previous?.intervalMs ?? DEFAULT_INTERVAL_MS;
  const gap = gapMs(intervalMs);
  let intervals: Interval[] = [...(previous?.intervals ?? [])];
  // Split the batch itself at its holes, then merge each run.
  let runFrom: number | undefined;
  let runTo = 0;
  for (const t of times) {
    if (runFrom !== undefined && t - runTo >= gap) {
      intervals = mergeInterval(intervals, runFrom, runTo, gap);
      runFrom = undefined;
    }
    if (runFrom === undefined) runFrom = t;
    runTo = t;
  }
  if (runFrom !== undefined) intervals = mergeInterval(intervals, runFrom, runTo, gap);
  return { series: span.series, intervalMs, intervals };
}

/** Forgets intervals that end before `cutoffMs` (retention). */
export function pruneBefore(c: SeriesCoverage, cutoffMs: number): SeriesCoverage {
  return { ...c, intervals: c.intervals.filter(([, to]) => to >= cutoffMs) };
}

/**
 * The holes of a series within [start, end): uncovered stretches at least as long as the
 * series' contiguity gap (a shorter one, at the window's edges too, is the usual spacing between samples).
 */
export function holes(c: SeriesCoverage, start: number, end: number): Interval[] {
  const gap = gapMs(c.intervalMs);
  const out: Interval[] = [];
  let cursor = start;
  for (const [a, b] of c.intervals) {
    if (b < start) continue;
    if (a >= end) break;
    if (a - cursor >= gap) out.push([cursor, a]);
    cursor = Math.max(cursor, b);
  }
  if (end - cursor >= gap) out.push([cursor, end]);
  return out;
}

/** A series as the ledger names it: Prometheus' text form, without the site, node and zone labels. */
export function ledgerSeries(name: string, labels: Readonly<Record<string, string>>): string {
  return seriesText({ name, labels }, TARGET_LABEL_NAMES);
}

/** The labels every hub series carries that the node's own names lack. */
const TARGET_LABEL_NAMES = ['site', 'node', 'zone'];
