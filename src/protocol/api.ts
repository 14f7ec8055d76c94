// JSON shapes of the hub's HTTP API (/api/v1) and live feed: the contract between the hub and its
// clients (CLI, dashboard, scripts). The hub builds them; src/client reads them.

import type { EventPriority, NodeStateName } from './frames.js';

export interface NodeValueView {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  /** A number, null for "no value", or "NaN" / "+Inf" / "-Inf" as Prometheus writes them. */
  readonly value: number | string | null;
  readonly unit: string;
  /** RFC 3339 time of the frame that carried the value. */
  readonly time: string;
  readonly ageMs: number;
}

export interface NodeView {
  readonly site: string;
  readonly zone: string;
  readonly node: string;
  readonly state: NodeStateName;
  readonly epoch: number | null;
  readonly agentVersion: string | null;
  /** RFC 3339 time of the last frame from the node itself (a will does not count). */
  readonly lastHeard: string | null;
  readonly lastHeardAgeMs: number | null;
  /** When the node entered its current state. */
  readonly since: string | null;
  readonly heartbeatMs: number | null;
  readonly series: number;
  readonly values?: readonly NodeValueView[];
  /** Outbox rows the node still has to send, as its last history frame reported; null when never reported. */
  readonly backlogRows?: number | null;
  /** RFC 3339 time of the oldest of those rows; null when nothing is pending or never reported. */
  readonly backlogOldest?: string | null;
  /** What those rows will cost on the wire, bytes (the node's estimate); null when never reported. */
  readonly backlogBytes?: number | null;
}

export interface SiteView {
  readonly site: string;
  /** The worst state of any node: offline > stale > unknown > online. */
  readonly worst: NodeStateName;
  readonly counts: Readonly<Record<NodeStateName, number>>;
  readonly nodes: readonly string[];
}

/** An event as GET /api/v1/events and the live feed's `event` messages carry it. */
export interface EventView {
  readonly site: string;
  readonly node: string;
  readonly id: string;
  /** The node's outbox seq of the event (events lane). */
  readonly seq: number;
  readonly epoch: number;
  /** RFC 3339 event time (the node's clock). */
  readonly time: string;
  readonly priority: EventPriority;
  readonly kind: string;
  /** The payload parsed as JSON when it is UTF-8 JSON, else its bytes in base64. */
  readonly payload: unknown;
  readonly payloadEncoding: 'json' | 'base64';
  /** RFC 3339 hub time of receipt. */
  readonly receivedAt: string;
}

/**
 * A backfill request: answered by POST /api/v1/nodes/:site/:node/backfill (202) and listed in the
 * completeness report while outstanding. [FM-DURABLE-6]
 */
export interface BackfillView {
  readonly id: string;
  readonly site: string;
  readonly node: string;
  /** RFC 3339 range, both ends inclusive. */
  readonly from: string;
  readonly to: string;
  /** Selectors; empty means the node's critical series. */
  readonly series: readonly string[];
  /** `dropped`: asked by the hub for a range the node reported dropped; `operator`: asked over the API. */
  readonly origin: 'dropped' | 'operator';
  readonly state: 'outstanding' | 'done';
  /** RFC 3339 hub times: made, last published (null before the first time), reported done. */
  readonly requestedAt: string;
  readonly lastSentAt: string | null;
  /** Times published. */
  readonly attempts: number;
  readonly doneAt: string | null;
}

/** GET /api/v1/nodes/:site/:node/completeness: what the hub holds of a node over a window. */
export interface CompletenessView {
  readonly site: string;
  readonly node: string;
  /** RFC 3339 window [start, end). */
  readonly start: string;
  readonly end: string;
  readonly complete: boolean;
  /** Covered fraction of the window, 0..1, averaged over the node's series. */
  readonly ratio: number;
  readonly backlog: {
    readonly pendingRows: number | null;
    readonly oldestPending: string | null;
    readonly pendingBytes: number | null;
    readonly reportedAt: string | null;
  };
  /** Holes in the hub's coverage, per series. */
  readonly missing: ReadonlyArray<{ readonly series: string; readonly from: string; readonly to: string }>;
  /** Ranges the node reported dropped at its outbox's disk cap, overlapping the window, not yet repaired. */
  readonly dropped: ReadonlyArray<{ readonly from: string; readonly to: string; readonly rows: number }>;
  /** Dropped ranges overlapping the window that a finished backfill request repaired (`request` is its id). */
  readonly repaired: ReadonlyArray<{ readonly from: string; readonly to: string; readonly rows: number; readonly request: string }>;
  /** Backfill requests to the node overlapping the window, not yet reported done. */
  readonly repairs: readonly BackfillView[];
}
