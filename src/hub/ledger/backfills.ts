// Repair requests the hub sends nodes: what they are, and which are due to go out now (new ones at once,
// unanswered ones again after a timeout, at most one per node per interval). [FM-DURABLE-6]

import { nodeKey } from '../fleet/fleet-state.js';

/** Why the hub asked: a range the node reported dropped, or an operator's request over the API. */
export type BackfillOrigin = 'dropped' | 'operator';
export const BACKFILL_ORIGINS: readonly BackfillOrigin[] = ['dropped', 'operator'];

/** A backfill request as the hub keeps it (in storage, so a hub restart does not forget it). */
export interface BackfillRecord {
  /** The request id on the wire. */
  readonly id: string;
  readonly site: string;
  readonly node: string;
  /** Both ends inclusive, ms since the Unix epoch. */
  readonly fromMs: number;
  readonly toMs: number;
  /** Selectors as sent; empty means the node's critical series. */
  readonly selectors: readonly string[];
  readonly origin: BackfillOrigin;
  /** Hub time the request was made, ms. */
  readonly createdAt: number;
  /** Hub time it was last published, ms; null before the first time. */
  readonly sentAt: number | null;
  /** Times it was published. */
  readonly attempts: number;
  /** Hub time the node reported it done, ms; null while outstanding. */
  readonly doneAt: number | null;
}

export interface BackfillPacing {
  /** At most one request published per node within this interval, ms. */
  readonly minIntervalMs: number;
  /** A request not reported done this long after it was last published goes out again, ms. */
  readonly timeoutMs: number;
}

/**
 * The outstanding requests to publish at `now`, oldest first (then earliest range): never sent, or sent at least `timeoutMs`
 * ago without a report; only to nodes `reachable` says may hear them, and at most one per node when
 * its last publish was at least `minIntervalMs` ago (`lastSentByNode`, keyed by `nodeKey`).
 */
export function dueBackfills(
  outstanding: Iterable<BackfillRecord>,
  now: number,
  pacing: BackfillPacing,
  lastSentByNode: ReadonlyMap<string, number>,
  reachable: (site: string, node: string) => boolean,
): BackfillRecord[] {
  const due: BackfillRecord[] = [];
  const taken = new Set<string>();
  const sorted = [...outstanding]
    .filter((r) => r.doneAt === null)
    .sort((a, b) => a.createdAt - b.createdAt || a.fromMs - b.fromMs || (a.id < b.id ? -1 : 1));
  for (const r of sorted) {
    const key = nodeKey(r.site, r.node);
    if (taken.has(key)) continue;
    if (r.sentAt !== null && now - r.sentAt < pacing.timeoutMs) continue;
    const last = lastSentByNode.get(key);
    if (last !== undefined && now - last < pacing.minIntervalMs) continue;
    if (!reachable(r.site, r.node)) continue;
    taken.add(key);
    due.push(r);
  }
  return due;
}

/** True when a request's range overlaps [start, end). */
export function overlaps(r: { readonly fromMs: number; readonly toMs: number }, start: number, end: number): boolean {
  return r.fromMs < end && r.toMs >= start;
}
