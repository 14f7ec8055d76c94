// The completeness report of one node over a time window, from its ledger: the last backlog it
// reported, the ranges it reported dropped (and which of them a backfill repaired), the backfill
// requests still outstanding, and the coverage the hub holds per series.
// [decision 0001 "Completeness"], [FM-DURABLE-2], [FM-DURABLE-5], [FM-DURABLE-6]

import type { DroppedRange } from '../../protocol/index.js';
import { type BackfillRecord, overlaps } from './backfills.js';
import { holes, type SeriesCoverage } from './coverage.js';

/** A node's outbox backlog as its last history frame reported it. */
export interface NodeBacklog {
  readonly pendingRows: number;
  /** Time of the oldest sample still to send, ms; null when nothing is pending. */
  readonly oldestPendingMs: number | null;
  /** What the pending rows will cost on the wire, bytes (the node's estimate); null when not reported. */
  readonly pendingBytes: number | null;
  /** Hub time of the report, ms. */
  readonly reportedAt: number;
}

/** A dropped range a finished backfill request covered: no longer missing. */
export interface RepairedDrop extends DroppedRange {
  readonly requestId: string;
}

export interface NodeLedger {
  readonly backlog: NodeBacklog | undefined;
  /** Dropped ranges no backfill has repaired yet. */
  readonly dropped: readonly DroppedRange[];
  readonly repaired: readonly RepairedDrop[];
  /** Backfill requests to the node not yet reported done. */
  readonly repairs: readonly BackfillRecord[];
  readonly coverage: readonly SeriesCoverage[];
}

export interface Completeness {
  readonly start: number;
  readonly end: number;
  readonly complete: boolean;
  /** Covered fraction of the window, averaged over the node's series (0 when it has none). */
  readonly ratio: number;
  readonly missing: ReadonlyArray<{ readonly series: string; readonly from: number; readonly to: number }>;
  /** Dropped ranges overlapping the window that no backfill has repaired. */
  readonly dropped: readonly DroppedRange[];
  /** Dropped ranges overlapping the window that a finished backfill repaired. */
  readonly repaired: readonly RepairedDrop[];
  /** Outstanding backfill requests overlapping the window. */
  readonly repairs: readonly BackfillRecord[];
}

/**
 * The node's backlog holds nothing from before `end`: the oldest pending sample is after `end`, or
 * nothing is pending. A node that never reported a backlog (no history frame yet) does not qualify:
 * the hub cannot know what it still holds.
 */
export function backlogClearBy(backlog: NodeBacklog | undefined, end: number): boolean {
  if (backlog === undefined) return false;
  return backlog.oldestPendingMs === null || backlog.pendingRows === 0 || backlog.oldestPendingMs >= end;
}

/**
 * The rule: a node is complete over [start, end) when its oldest pending sample is after `end` (or
 * nothing is pending), no dropped range that a backfill has not repaired overlaps the window, and
 * every series of the node is covered across the window (no hole longer than the series' contiguity
 * gap, see coverage.ts). Outstanding requests are listed; they do not decide by themselves.
 */
export function completeness(ledger: NodeLedger, start: number, end: number): Completeness {
  const span = Math.max(0, end - start);
  const missing: Array<{ series: string; from: number; to: number }> = [];
  let coveredSum = 0;
  for (const c of ledger.coverage) {
    const found = holes(c, start, end);
    let missingMs = 0;
    for (const [from, to] of found) {
      missing.push({ series: c.series, from, to });
      missingMs += to - from;
    }
    coveredSum += span === 0 ? 1 : 1 - missingMs / span;
  }
  const ratio = ledger.coverage.length === 0 ? 0 : coveredSum / ledger.coverage.length;
  const dropped = ledger.dropped.filter((d) => overlaps(d, start, end));
  const repaired = ledger.repaired.filter((d) => overlaps(d, start, end));
  const repairs = ledger.repairs.filter((r) => overlaps(r, start, end));
  const complete = backlogClearBy(ledger.backlog, end) && dropped.length === 0 && ledger.coverage.length > 0 && missing.length === 0;
  return { start, end, complete, ratio, missing, dropped, repaired, repairs };
}
