// Rows of the hub's SQL stores (SQLite and PostgreSQL share column names) and their mapping to the port's
// shapes, written once for both.

import { type DroppedRange, EVENT_PRIORITIES, type EventPriority } from '../../protocol/index.js';
import type { BackfillOrigin, BackfillRecord } from '../ledger/backfills.js';
import type { NodeLedger } from '../ledger/completeness.js';
import type { SeriesCoverage } from '../ledger/coverage.js';
import type { EventInput, StoredBacklog, StoredNode } from './storage.js';

export interface BackfillRow<Selectors = readonly string[]> {
  id: string;
  site: string;
  node: string;
  from_ms: number;
  to_ms: number;
  selectors: Selectors;
  origin: string;
  created_at: number;
  sent_at: number | null;
  attempts: number;
  done_at: number | null;
}

export function toBackfill(r: BackfillRow): BackfillRecord {
  return {
    id: r.id,
    site: r.site,
    node: r.node,
    fromMs: r.from_ms,
    toMs: r.to_ms,
    selectors: r.selectors,
    origin: r.origin as BackfillOrigin,
    createdAt: r.created_at,
    sentAt: r.sent_at,
    attempts: r.attempts,
    doneAt: r.done_at,
  };
}

export interface EventRow {
  site: string;
  node: string;
  id: string;
  seq: number;
  epoch: number;
  time: number;
  priority: number;
  kind: string;
  payload: Uint8Array;
  received_at: number;
}

export function toEvent(r: EventRow): EventInput {
  return {
    site: r.site,
    node: r.node,
    id: r.id,
    seq: r.seq,
    epoch: r.epoch,
    time: r.time,
    priority: (EVENT_PRIORITIES[r.priority] ?? 'normal') as EventPriority,
    kind: r.kind,
    payload: new Uint8Array(r.payload),
    receivedAt: r.received_at,
  };
}

export interface SeriesRow {
  id: number;
  name: string;
  labels: string;
  unit: string;
  type: string;
}

export interface NodeRow {
  site: string;
  node: string;
  zone: string;
  state: string;
  epoch: number | null;
  agent_version: string | null;
  tick_ms: number | null;
  heartbeat_ms: number | null;
  last_heard: number | null;
  last_changed: number;
  boot_time: number | null;
  boot_time_hub: number | null;
  config_version: string | null;
}

function opt<T>(v: T | null): T | undefined {
  return v === null ? undefined : v;
}

export function toStoredNode(r: NodeRow): StoredNode {
  return {
    site: r.site,
    node: r.node,
    zone: r.zone,
    state: r.state as StoredNode['state'],
    epoch: opt(r.epoch),
    agentVersion: opt(r.agent_version),
    tickMs: opt(r.tick_ms),
    heartbeatMs: opt(r.heartbeat_ms),
    lastHeard: opt(r.last_heard),
    lastChanged: r.last_changed,
    bootTime: opt(r.boot_time),
    bootTimeHub: opt(r.boot_time_hub),
    configVersion: opt(r.config_version),
  };
}

/** The row of a node, nulls for what it lacks. */
export function nodeRow(n: StoredNode): NodeRow {
  return {
    site: n.site,
    node: n.node,
    zone: n.zone,
    state: n.state,
    epoch: n.epoch ?? null,
    agent_version: n.agentVersion ?? null,
    tick_ms: n.tickMs ?? null,
    heartbeat_ms: n.heartbeatMs ?? null,
    last_heard: n.lastHeard ?? null,
    last_changed: n.lastChanged,
    boot_time: n.bootTime ?? null,
    boot_time_hub: n.bootTimeHub ?? null,
    config_version: n.configVersion ?? null,
  };
}

export interface BacklogRow {
  site: string;
  node: string;
  pending_rows: number;
  oldest_pending_ms: number | null;
  pending_bytes: number | null;
  reported_at: number;
}

export function toBacklog(r: BacklogRow): StoredBacklog {
  return {
    site: r.site,
    node: r.node,
    pendingRows: r.pending_rows,
    oldestPendingMs: r.oldest_pending_ms,
    pendingBytes: r.pending_bytes,
    reportedAt: r.reported_at,
  };
}

export interface DroppedRow {
  from_ms: number;
  to_ms: number;
  rows: number;
  repaired_by: string | null;
}

/** A node's ledger from its rows; coverage sorted by series name in code point order, whatever the database's collation. */
export function toNodeLedger(
  backlog: BacklogRow | undefined,
  ranges: readonly DroppedRow[],
  repairs: readonly BackfillRow[],
  coverage: readonly SeriesCoverage[],
): NodeLedger {
  const dropped: DroppedRange[] = ranges
    .filter((r) => r.repaired_by === null)
    .map((r) => ({ fromMs: r.from_ms, toMs: r.to_ms, rows: r.rows }));
  return {
    backlog:
      backlog === undefined
        ? undefined
        : {
            pendingRows: backlog.pending_rows,
            oldestPendingMs: backlog.oldest_pending_ms,
            pendingBytes: backlog.pending_bytes,
            reportedAt: backlog.reported_at,
          },
    dropped,
    repaired: ranges.flatMap((r) =>
      r.repaired_by === null ? [] : [{ fromMs: r.from_ms, toMs: r.to_ms, rows: r.rows, requestId: r.repaired_by }],
    ),
    repairs: repairs.map(toBackfill),
    coverage: [...coverage].sort((a, b) => (a.series < b.series ? -1 : a.series > b.series ? 1 : 0)),
  };
}

/** NaN is stored as null (a staleness marker): SQLite cannot hold it; ±Inf survive as REAL / double precision. */
export function storable(value: number | null): number | null {
  return value === null || Number.isNaN(value) ? null : value;
}
