// The node's local time-series store port: every sample every collector collects, kept for its
// retention, queryable; `append` resolves only once the samples are on stable storage.

import type { LabelMatcher, Sample, SeriesType } from '../../protocol/index.js';

/** Width of the aligned window one chunk covers unless a store is told otherwise; rollup resolutions divide it. */
export const DEFAULT_CHUNK_SPAN_MS = 2 * 3_600_000;

export interface StoreSeries {
  readonly id: number;
  readonly name: string;
  /** Labels as collected (never `__name__`). */
  readonly labels: Readonly<Record<string, string>>;
  readonly type: SeriesType;
  readonly unit: string;
}

export interface StorePoints {
  readonly series: StoreSeries;
  /** [ms, value] ascending by time, one per timestamp (a later write of the same timestamp wins). */
  readonly points: ReadonlyArray<readonly [number, number]>;
}

export interface StoreStats {
  readonly series: number;
  /** Samples held, head and chunks together. */
  readonly samples: number;
  /** Database file size including WAL, in bytes. */
  readonly diskBytes: number;
  readonly oldestMs: number | undefined;
  readonly newestMs: number | undefined;
}

/** A rollup the store keeps: per series, buckets of `resolutionMs` holding min, max, sum, count, last. */
export interface StoreRollup {
  /** Bucket width, ms; divides the store's chunk span. Buckets are aligned to the Unix epoch. */
  readonly resolutionMs: number;
  /** Buckets whose start is older than this (ms) are deleted by retention. */
  readonly retentionMs: number;
}

/** What a rollup bucket answers: avg is sum / count; last is the value of the bucket's last sample. */
export type RollupFn = 'avg' | 'min' | 'max' | 'sum' | 'count' | 'last';

/** How far back the store's data reaches. */
export interface StoreCoverage {
  /** The oldest raw sample held (head or chunks), ms; undefined when there is none. */
  readonly rawOldestMs: number | undefined;
  /** Every configured rollup, finest first, with the start of its oldest bucket held (undefined: none yet). */
  readonly rollups: ReadonlyArray<StoreRollup & { readonly oldestMs: number | undefined }>;
}

export interface SampleStore {
  /**
   * Appends samples. Resolves once they are durable: committed with the WAL fsynced
   * (`synchronous=FULL`). Appends arriving close together share one commit (group commit).
   */
  append(samples: readonly Sample[]): Promise<void>;
  /** Points of every series matching all matchers, within [startMs, endMs]. */
  query(matchers: readonly LabelMatcher[], startMs: number, endMs: number): Promise<StorePoints[]>;
  /**
   * Rollup values of every series matching all matchers: one point per aligned step of `stepMs`
   * (a multiple of `resolutionMs`, default `resolutionMs`; steps are aligned to the Unix epoch) that
   * starts in [startMs - startMs mod stepMs, endMs], at the step's start, with `fn` over the buckets
   * of the step (avg: sum of sums / sum of counts). Windows the rollup does not hold yet (the head,
   * windows compacted before the rollup was configured) are computed from the raw samples. Throws
   * FM_QUERY_INVALID when no rollup of `resolutionMs` is configured.
   */
  queryRollup(
    matchers: readonly LabelMatcher[],
    startMs: number,
    endMs: number,
    resolutionMs: number,
    fn: RollupFn,
    stepMs?: number,
  ): Promise<StorePoints[]>;
  /** The configured rollups and how far back raw samples and each rollup reach. */
  coverage(): Promise<StoreCoverage>;
  /** Series matching all matchers (all series when empty) that have samples in the range, when given. */
  series(matchers: readonly LabelMatcher[], startMs?: number, endMs?: number): Promise<StoreSeries[]>;
  /** Label names in use, `__name__` included, sorted. */
  labelNames(): Promise<string[]>;
  /** Values of one label (`__name__` for metric names), sorted. */
  labelValues(name: string): Promise<string[]>;
  /** Deletes what is older than the retention and, past the size cap, the oldest chunks. */
  applyRetention(nowMs: number): Promise<{ deletedSamples: number }>;
  stats(): Promise<StoreStats>;
  close(): Promise<void>;
}
