// The completeness report of one node over a time window, from its ledger: the last backlog it
// reported, the ranges it reported dropped, and the coverage the hub holds per series.
// [decision 0001 "Completeness"], [FM-DURABLE-2], [FM-DURABLE-5]

import type { DroppedRange } from '../../protocol/index.js';
import { holes, type SeriesCoverage } from './coverage.js';

/** A node's outbox backlog as its last history frame reported it. */
export interface NodeBacklog {
  readonly pendingRows: number;
  /** Time of the oldest sample still to send, ms; null when nothing is pending. */
  readonly oldestPendingMs: number | null;
  /** Hub time of the report, ms. */
  readonly reportedAt: number;
}

export interface NodeLedger {
  readonly backlog: NodeBacklog | undefined;
  readonly dropped: readonly DroppedRange[];
  readonly coverage: readonly SeriesCoverage[];
}

export interface Completeness {
  readonly start: number;
  readonly end: number;
  readonly complete: boolean;
  /** Covered fraction of the window, averaged over the node's series (0 when it has none). */
  readonly ratio: number;
  readonly missing: ReadonlyArray<{ readonly series: string; readonly from: number; readonly to: number }>;
  readonly dropped: readonly DroppedRange[];
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
 * nothing is pending), no dropped range overlaps the window, and every series of the node is
 * covered across the window (no hole longer than the series' contiguity gap, see coverage.ts).
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
  const dropped = ledger.dropped.filter((d) => d.fromMs < end && d.toMs >= start);
  const complete = backlogClearBy(ledger.backlog, end) && dropped.length === 0 && ledger.coverage.length > 0 && missing.length === 0;
  return { start, end, complete, ratio, missing, dropped };
}
