// The hub's storage port: series and their samples (the history of critical metrics), the event log,
// the completeness ledger and the fleet registry, so all survive a hub restart. Implementations:
// SqliteStorage (sqlite/, the default) and PostgresStorage (postgres/, for hubs of several processes); both pass storage.contract.ts.

import type {
  DroppedRange,
  EventPriority,
  LabelMatcher,
  NodeStateName,
  RepairedRange,
  SeriesName,
  SeriesType,
} from '../../protocol/index.js';
import type { BackfillRecord } from '../ledger/backfills.js';
import type { NodeBacklog, NodeLedger } from '../ledger/completeness.js';
import type { CoverageSpan } from '../ledger/coverage.js';

/** What names a series: its metric name and labels; labels always include site, node and zone. */
export interface SeriesIdentity extends SeriesName {
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
  /** The node's session start by its own clock (its birth's bootTime), ms since the Unix epoch. */
  readonly bootTime?: number | undefined;
  /** The same instant by the hub's clock, from which uptime is counted. */
  readonly bootTimeHub?: number | undefined;
  /** The short hash of the node's effective config its birth carried. */
  readonly configVersion?: string | undefined;
}

/** An event as a node sent it in an event frame. [FM-DURABLE-1] */
export interface EventInput {
  readonly site: string;
  readonly node: string;
  /** The node's event id: with site and node, what deduplicates a resend. [FM-DURABLE-3] */
  readonly id: string;
  /** The node's outbox seq of the event (the frame's seq). */
  readonly seq: number;
  readonly epoch: number;
  /** Event time, ms since the Unix epoch (the node's clock). */
  readonly time: number;
  readonly priority: EventPriority;
  readonly kind: string;
  readonly payload: Uint8Array;
  /** Hub time of receipt, ms. */
  readonly receivedAt: number;
}

export interface EventQuery {
  readonly site?: string | undefined;
  readonly node?: string | undefined;
  readonly kind?: string | undefined;
  /** Only events of this priority or higher. */
  readonly minPriority?: EventPriority | undefined;
  /** Event time bounds, inclusive, ms. */
  readonly start?: number | undefined;
  readonly end?: number | undefined;
  readonly limit: number;
}

/** A node's last reported backlog, keyed by node (for the node view after a restart). */
export interface StoredBacklog extends NodeBacklog {
  readonly site: string;
  readonly node: string;
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
  /**
   * Stores samples the hub computed itself (recording rules' results), as appendSamples does; but one of
   * the leader's writes: on a scale-out hub it is fenced by the leader lease, so a deposed leader's
   * evaluation writes nothing (FM_LEADER_DEPOSED).
   */
  appendRecordedSamples(batch: readonly SampleInput[]): Promise<number>;
  /** Samples with startMs <= ts <= endMs of every series matching all matchers. */
  querySeries(matchers: readonly LabelMatcher[], startMs: number, endMs: number): Promise<SeriesPoints[]>;
  /**
   * Samples in arrival order (docs/remote-write.md "Arrival order"): every sample stored (or given another value) by a
   * commit after arrival position `after`, whatever its time, up to about `limit` samples (whole commits: more when one
   * commit holds more), per series in time order; and the position up to which it read, the next call's `after`. A
   * position is a number that only grows; nothing committed later is ever at or below a position returned.
   * Optional: both stores have it; a store without it is forwarded by sample time.
   */
  readArrivals?(after: number, limit: number): Promise<{ readonly series: SeriesPoints[]; readonly arrival: number }>;
  /** The arrival position of everything committed so far (where a reader that wants only what comes next starts). */
  arrivalHead?(): Promise<number>;
  /** Series matching all matchers (every series when none); with a range, only those with samples in it. */
  listSeries(matchers: readonly LabelMatcher[], range?: { startMs: number; endMs: number }): Promise<StoredSeries[]>;
  /** Deletes samples (and events, ledger ranges) older than the retention; returns how many samples went. */
  applyRetention(nowMs: number): Promise<number>;
  /**
   * Stores events atomically; an event already stored (same site, node and id) is ignored, so a
   * resend after a lost ack does not duplicate it. Returns the number newly stored. [FM-DURABLE-3]
   */
  appendEvents(events: readonly EventInput[]): Promise<number>;
  /** Events matching every filter given, newest first (by event time). */
  queryEvents(query: EventQuery): Promise<EventInput[]>;
  /** Replaces a node's last reported backlog. */
  recordBacklog(site: string, node: string, backlog: NodeBacklog): Promise<void>;
  listBacklogs(): Promise<StoredBacklog[]>;
  /**
   * Adds dropped ranges a node reported at hub time `reportedAt` (a resent report is absorbed).
   * Returns the ranges not known before. [FM-DURABLE-5]
   */
  recordDropped(site: string, node: string, ranges: readonly DroppedRange[], reportedAt: number): Promise<DroppedRange[]>;
  /** Remembers a backfill request (outstanding until completed). [FM-DURABLE-6] */
  createBackfill(request: BackfillRecord): Promise<void>;
  /** Backfill requests, oldest first (then earliest range): only those not reported done when `outstanding` is true. */
  listBackfills(filter?: { readonly outstanding?: boolean; readonly site?: string; readonly node?: string }): Promise<BackfillRecord[]>;
  /** Notes that a request was published at `at`, once more. */
  markBackfillSent(id: string, at: number): Promise<void>;
  /**
   * A node reported a request done: when it is the node's outstanding request of that id and range,
   * marks it done at `at`, and, for a request of all critical series (no selectors), marks repaired
   * every dropped range of the node it covers that was reported no later than the request was made.
   * Returns the request as completed, or undefined when nothing matched (unknown, or done already).
   */
  completeBackfill(site: string, node: string, report: RepairedRange, at: number): Promise<BackfillRecord | undefined>;
  /** Merges the sample times of a batch into the node's per-series coverage (see ledger/coverage.ts). */
  recordCoverage(site: string, node: string, spans: readonly CoverageSpan[]): Promise<void>;
  /**
   * The node's ledger: backlog, dropped ranges (unrepaired, and repaired with the request that repaired
   * them), outstanding backfill requests, coverage per series (empty for an unknown node).
   */
  nodeLedger(site: string, node: string): Promise<NodeLedger>;
  upsertNode(node: StoredNode): Promise<void>;
  /**
   * Many registry entries at once (the live ingest's periodic persist): one transaction, so the whole batch is written
   * or none of it. Optional: a store without it gets one upsertNode per entry.
   */
  upsertNodes?(nodes: readonly StoredNode[]): Promise<void>;
  listNodes(): Promise<StoredNode[]>;
  /**
   * The cursor of the remote write forwarder named `remote` (docs/remote-write.md), undefined before its first save.
   * Optional: a store shared by a scale-out hub's api processes has it, so a new leader resumes where the last one
   * stopped; the embedded hub keeps its cursors in files of its dataDir.
   */
  loadRemoteWriteCursor?(remote: string): Promise<number | undefined>;
  /** Saves a remote's cursor, committed before it resolves; one of the leader's writes (fenced: FM_LEADER_DEPOSED). */
  saveRemoteWriteCursor?(remote: string, cursor: number): Promise<void>;
  close(): Promise<void>;
}

// One series identity and its strings for every part (src/protocol/series.ts).
export { labelsJson, seriesKey, sortedLabels } from '../../protocol/index.js';
