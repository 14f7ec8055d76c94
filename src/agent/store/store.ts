// The node's local time-series store port: every sample every collector collects, kept for its
// retention, queryable; `append` resolves only once the samples are on stable storage.

import type { LabelMatcher, SeriesType } from '../../protocol/index.js';

export interface StoreSeries {
  readonly id: number;
  readonly name: string;
  /** Labels as collected (never `__name__`). */
  readonly labels: Readonly<Record<string, string>>;
  readonly type: SeriesType;
  readonly unit: string;
}

export interface StoreSample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  /** ms since the Unix epoch. */
  readonly time: number;
  /** NaN is kept as NaN; null is not stored (a source that went away is simply silent). */
  readonly value: number;
  readonly type?: SeriesType;
  readonly unit?: string;
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

export interface SampleStore {
  /**
   * Appends samples. Resolves once they are durable: committed with the WAL fsynced
   * (`synchronous=FULL`). Appends arriving close together share one commit (group commit).
   */
  append(samples: readonly StoreSample[]): Promise<void>;
  /** Points of every series matching all matchers, within [startMs, endMs]. */
  query(matchers: readonly LabelMatcher[], startMs: number, endMs: number): Promise<StorePoints[]>;
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
