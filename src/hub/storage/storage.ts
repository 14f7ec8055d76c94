// The hub's storage port: series and their samples (the history of critical metrics) and the fleet
// registry, so both survive a hub restart. Implementations: SqliteStorage (later PostgresStorage).

import type { LabelMatcher, NodeStateName, SeriesType } from '../../protocol/index.js';

/** What names a series: its metric name and labels; labels always include site, node and zone. */
export interface SeriesIdentity {
  readonly name: string;
  /** Every label of the series, `site`, `node` and `zone` included; never `__name__`. */
  readonly labels: Readonly<Record<string, string>>;
  readonly unit: string;
  readonly type: SeriesType;
}

export interface StoredSeries extends SeriesIdentity {
  readonly id: number;
}

/**
 * One sample. `value` null is a staleness marker: the source went away at `ts`, and queries do not
 * carry the previous value past it (as Prometheus' stale NaN).
 */
export interface SampleInput {
  readonly series: SeriesIdentity;
  /** Sample time, ms since the Unix epoch (the node's clock). */
  readonly ts: number;
  readonly value: number | null;
}

export interface SeriesPoints {
  readonly series: StoredSeries;
  /** [ms since the Unix epoch, value] in ascending time; one point per timestamp. */
  readonly points: ReadonlyArray<readonly [number, number | null]>;
}

/** A node as the registry remembers it. */
export interface StoredNode {
  readonly site: string;
  readonly node: string;
  readonly zone: string;
  readonly state: NodeStateName;
  readonly epoch?: number | undefined;
  readonly agentVersion?: string | undefined;
  readonly tickMs?: number | undefined;
  readonly heartbeatMs?: number | undefined;
  /** Hub time the node was last heard, ms since the Unix epoch. */
  readonly lastHeard?: number | undefined;
  /** Hub time of the last state change. */
  readonly lastChanged: number;
}

export interface HubStorage {
  /** True between open and `close`. */
  readonly isOpen: boolean;
  /** Returns the id of the series, creating it when new. */
  upsertSeries(series: SeriesIdentity): Promise<number>;
  /**
   * Stores a batch atomically (one transaction). A second sample for the same (series, ts) replaces
   * the first, so redelivered frames do not duplicate history. Returns the number of samples written.
   */
  appendSamples(batch: readonly SampleInput[]): Promise<number>;
  /** Samples with startMs <= ts <= endMs of every series matching all matchers. */
  querySeries(matchers: readonly LabelMatcher[], startMs: number, endMs: number): Promise<SeriesPoints[]>;
  /** Series matching all matchers (every series when none); with a range, only those with samples in it. */
  listSeries(matchers: readonly LabelMatcher[], range?: { startMs: number; endMs: number }): Promise<StoredSeries[]>;
  /** Deletes samples older than the retention; returns how many went. */
  applyRetention(nowMs: number): Promise<number>;
  upsertNode(node: StoredNode): Promise<void>;
  listNodes(): Promise<StoredNode[]>;
  close(): Promise<void>;
}

/** Labels with sorted keys, so equal label sets serialise equally. */
export function sortedLabels(labels: Readonly<Record<string, string>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of Object.keys(labels).sort()) out[k] = labels[k] as string;
  return out;
}

export function seriesKey(s: Pick<SeriesIdentity, 'name' | 'labels'>): string {
  return `${s.name}${JSON.stringify(sortedLabels(s.labels))}`;
}
