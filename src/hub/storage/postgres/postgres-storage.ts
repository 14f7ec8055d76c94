// PostgresStorage: the HubStorage port on PostgreSQL (13+), for hubs of several processes sharing one
// database: samples in day partitions (or a TimescaleDB hypertable), one transaction per batch, nothing
// kept in memory that another process could change except series ids, which never change.

import type { Pool, PoolClient } from 'pg';
import { type DroppedRange, EVENT_PRIORITIES, type LabelMatcher, matchesSelector } from '../../../protocol/index.js';
import { addSpan, type Interval, pruneBefore, type SeriesCoverage } from '../../ledger/coverage.js';
import type { HubStorage, SampleInput, SeriesIdentity, SeriesPoints, StoredNode, StoredSeries } from '../storage.js';
import { labelsJson, seriesKey } from '../storage.js';
import {
  type BackfillRow,
  type BacklogRow,
  type DroppedRow,
  type EventRow,
  type NodeRow,
  nodeRow,
  type SeriesRow,
  storable,
  toBackfill,
  toBacklog,
  toEvent,
  toNodeLedger,
  toStoredNode,
} from '../storage-rows.js';
import { openMigratedPool } from './migrate.js';
import { inTransaction, type PostgresPoolOptions } from './pool.js';
import {
  createPartitions,
  DAY_MS,
  dayStart,
  dropChunksBefore,
  dropPartitionsBefore,
  listPartitions,
  type SamplesLayout,
  samplesLayout,
} from './sample-partitions.js';
import { STORAGE_MIGRATIONS } from './storage-migrations.js';

export interface PostgresStorageOptions extends PostgresPoolOptions {
  /** Samples (and events, ledger ranges) older than this many ms are deleted by `applyRetention`. */
  readonly retentionMs: number;
  /** Day partitions made ahead of the current day (default 2), at open and at every retention pass. */
  readonly partitionsAheadDays?: number;
  /** The hub's clock, ms since the epoch (default Date.now), for the partitions made ahead. */
  readonly now?: () => number;
}

/** The advisory lock class of one node's ledger ("fmld"), with hashtext(site, node) as the second key. */
const LEDGER_LOCK = 0x666d6c64;

/** The JS Date range: a sample time outside it names no day, so no partition can hold it. */
const MAX_TS_MS = 8.64e15;

/** `check_violation`, which PostgreSQL raises for a row that no partition accepts. */
const NO_PARTITION = '23514';

interface CoverageRow {
  site: string;
  node: string;
  series: string;
  interval_ms: number;
  intervals: Interval[];
}

/** The nodes table's columns, site and node (the key) first. */
const NODE_COLUMNS: ReadonlyArray<keyof NodeRow> = [
  'site',
  'node',
  'zone',
  'state',
  'epoch',
  'agent_version',
  'tick_ms',
  'heartbeat_ms',
  'last_heard',
  'last_changed',
  'boot_time',
  'boot_time_hub',
  'config_version',
];

function byText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Locks one node's ledger rows for the transaction (coverage is read, merged and written back). */
async function lockNodeLedger(client: PoolClient, site: string, node: string): Promise<void> {
  // Two nodes may share a lock (a hash collision): only less concurrency, never less safety.
  await client.query(`SELECT pg_advisory_xact_lock($1, hashtext(length($2) || ':' || $2 || $3))`, [LEDGER_LOCK, site, node]);
}

async function saveCoverage(client: PoolClient, site: string, node: string, changed: readonly SeriesCoverage[]): Promise<void> {
  const gone = changed.filter((c) => c.intervals.length === 0).map((c) => c.series);
  const kept = changed.filter((c) => c.intervals.length > 0);
  if (gone.length > 0) {
    await client.query('DELETE FROM coverage WHERE site = $1 AND node = $2 AND series = ANY($3)', [site, node, gone]);
  }
  if (kept.length > 0) {
    await client.query(
      `INSERT INTO coverage (site, node, series, interval_ms, intervals)
       SELECT $1, $2, c.series, c.interval_ms, c.intervals FROM unnest($3::text[], $4::bigint[], $5::jsonb[]) AS c(series, interval_ms, intervals)
       ON CONFLICT (site, node, series) DO UPDATE SET interval_ms = excluded.interval_ms, intervals = excluded.intervals`,
      [site, node, kept.map((c) => c.series), kept.map((c) => c.intervalMs), kept.map((c) => JSON.stringify(c.intervals))],
    );
  }
}

/** The arrival position below which every transaction has ended: its snapshot's xmin minus one. */
async function settledArrival(client: PoolClient): Promise<number> {
  const r = await client.query<{ xmin: string }>('SELECT pg_snapshot_xmin(pg_current_snapshot())::text AS xmin');
  return Number(r.rows[0]?.xmin ?? '1') - 1;
}

/** A check run first in a write's transaction (a leader lease's `check`): throwing refuses the write, and nothing of it is written. */
export type WriteFence = (client: PoolClient) => Promise<void>;

/** The writes only the leader of a scale-out hub makes: its node registry, its backfill requests, retention, recording rules' results, remote write cursors. */
export type LeaderWrites = Required<
  Pick<
    HubStorage,
    | 'upsertNode'
    | 'upsertNodes'
    | 'createBackfill'
    | 'markBackfillSent'
    | 'applyRetention'
    | 'appendRecordedSamples'
    | 'saveRemoteWriteCursor'
  >
>;

/** Rows of one registry upsert statement (13 parameters each: 10,400, under PostgreSQL's 65,535). */
const NODE_UPSERT_CHUNK = 800;

/** The registry upsert of `count` rows: one multi-row INSERT ... ON CONFLICT. */
function nodeUpsertSql(count: number): string {
  const n = NODE_COLUMNS.length;
  const rows = Array.from({ length: count }, (_, r) => `(${NODE_COLUMNS.map((_, i) => `$${r * n + i + 1}`).join(', ')})`);
  return `INSERT INTO nodes (${NODE_COLUMNS.join(', ')}) VALUES ${rows.join(', ')}
    ON CONFLICT (site, node) DO UPDATE SET ${NODE_COLUMNS.slice(2)
      .map((c) => `${c} = excluded.${c}`)
      .join(', ')}`;
}

/** The store's methods that HubStorage leaves optional, all present. */
type PostgresStore = HubStorage &
  Required<Pick<HubStorage, 'loadRemoteWriteCursor' | 'saveRemoteWriteCursor' | 'readArrivals' | 'arrivalHead'>>;

export interface PostgresStorage extends HubStorage {
  /**
   * The same store, with the leader's writes (LeaderWrites) each checking `fence` in their own transaction:
   * a deposed leader's registry update, backfill request or retention pass writes nothing (FM_LEADER_DEPOSED).
   * Reads and the other writes (ingest: any process's) are the store's own. Closing it closes the store.
   */
  fencedBy(fence: WriteFence): HubStorage;
  loadRemoteWriteCursor(remote: string): Promise<number | undefined>;
  saveRemoteWriteCursor(remote: string, cursor: number): Promise<void>;
}

/** Connects, brings the schema up to date and makes the partitions ahead; the hub's store on PostgreSQL. */
export async function createPostgresStorage(options: PostgresStorageOptions): Promise<PostgresStorage> {
  return openPostgresStorage(await openMigratedPool(options, 'storage', STORAGE_MIGRATIONS), options);
}

async function openPostgresStorage(pool: Pool, options: PostgresStorageOptions): Promise<PostgresStorage> {
  const now = options.now ?? Date.now;
  const aheadDays = options.partitionsAheadDays ?? 2;

  const layout: SamplesLayout = await inTransaction(pool, samplesLayout);
  /** Day starts of the partitions this process knows exist; another process may drop old ones. */
  const partitions = new Set<number>();

  async function refreshPartitions(client: PoolClient): Promise<void> {
    partitions.clear();
    for (const p of await listPartitions(client)) partitions.add(p.fromMs);
  }

  async function ensurePartitions(days: Iterable<number>): Promise<void> {
    if (layout !== 'partitions') return;
    const missing = [...days].filter((d) => !partitions.has(d));
    if (missing.length === 0) return;
    await inTransaction(pool, async (client) => {
      await createPartitions(client, missing);
      await refreshPartitions(client);
    });
  }

  function daysAhead(): number[] {
    const today = dayStart(now());
    return Array.from({ length: aheadDays + 1 }, (_, i) => today + i * DAY_MS);
  }

  if (layout === 'partitions') {
    await inTransaction(pool, refreshPartitions);
    await ensurePartitions(daysAhead());
  }

  // Series ids never change once given, so every process may cache them; the list itself is read again
  // at each query, since another process may have added series.
  const byKey = new Map<string, StoredSeries>();
  const byId = new Map<number, StoredSeries>();

  function remember(row: SeriesRow): StoredSeries {
    const known = byId.get(row.id);
    if (known && known.unit === row.unit && known.type === row.type) return known;
    const s: StoredSeries = {
      id: row.id,
      name: row.name,
      labels: known?.labels ?? (JSON.parse(row.labels) as Record<string, string>),
      unit: row.unit,
      type: row.type as StoredSeries['type'],
    };
    byKey.set(seriesKey(s), s);
    byId.set(s.id, s);
    return s;
  }

  /** The series of these ids: from the cache, the others read (another process made them). */
  async function seriesByIds(client: PoolClient, ids: readonly number[]): Promise<Map<number, StoredSeries>> {
    const missing = ids.filter((id) => !byId.has(id));
    if (missing.length > 0) {
      const r = await client.query<SeriesRow>('SELECT id, name, labels, unit, type FROM series WHERE id = ANY($1)', [missing]);
      for (const row of r.rows) remember(row);
    }
    const out = new Map<number, StoredSeries>();
    for (const id of ids) {
      const s = byId.get(id);
      if (s !== undefined) out.set(id, s);
    }
    return out;
  }

  /** Ids of the identities (created when new), in one statement; the cache is filled only after commit. */
  async function seriesIds(client: PoolClient, identities: readonly SeriesIdentity[]): Promise<{ ids: number[]; rows: SeriesRow[] }> {
    const ids: number[] = new Array(identities.length);
    const unknown = new Map<string, { identity: SeriesIdentity; labels: string; at: number[] }>();
    identities.forEach((identity, i) => {
      const key = seriesKey(identity);
      const known = byKey.get(key);
      if (known && known.unit === identity.unit && known.type === identity.type) {
        ids[i] = known.id;
        return;
      }
      const entry = unknown.get(key) ?? { identity, labels: labelsJson(identity.labels), at: [] };
      entry.identity = identity;
      entry.at.push(i);
      unknown.set(key, entry);
    });
    if (unknown.size === 0) return { ids, rows: [] };
    // Sorted, so two writers lock new series rows in one order.
    const fresh = [...unknown.values()].sort((a, b) => byText(a.identity.name, b.identity.name) || byText(a.labels, b.labels));
    const labels = fresh.map((f) => JSON.parse(f.labels) as Record<string, string>);
    const r = await client.query<SeriesRow>(
      `INSERT INTO series (name, labels, site, node, unit, type)
       SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[])
       ON CONFLICT (name, labels) DO UPDATE SET unit = excluded.unit, type = excluded.type
       RETURNING id, name, labels, unit, type`,
      [
        fresh.map((f) => f.identity.name),
        fresh.map((f) => f.labels),
        labels.map((l) => l.site ?? ''),
        labels.map((l) => l.node ?? ''),
        fresh.map((f) => f.identity.unit),
        fresh.map((f) => f.identity.type),
      ],
    );
    const idByKey = new Map(r.rows.map((row) => [`${row.name}${row.labels}`, row.id]));
    for (const f of fresh) {
      const id = idByKey.get(`${f.identity.name}${f.labels}`) as number;
      for (const i of f.at) ids[i] = id;
    }
    return { ids, rows: r.rows };
  }

  async function writeSamples(batch: readonly SampleInput[], fence?: WriteFence): Promise<number> {
    const { written, rows } = await inTransaction(pool, async (client) => {
      await fence?.(client);
      const { ids, rows } = await seriesIds(
        client,
        batch.map((s) => s.series),
      );
      // One row per (series, ts), the batch's last: ON CONFLICT may not touch a row twice in one statement.
      const last = new Map<string, [number, number, number | null]>();
      batch.forEach((s, i) => {
        const ts = Math.round(s.ts);
        last.set(`${ids[i]}:${ts}`, [ids[i] as number, ts, storable(s.value)]);
      });
      // Sorted, so two writers of the same rows lock them in one order (no deadlock).
      const sorted = [...last.values()].sort((a, b) => a[0] - b[0] || a[1] - b[1]);
      await client.query(
        // A resend of the same value keeps its row and arrival (not forwarded again); another value is a new arrival.
        `INSERT INTO samples (series_id, ts, value, arrival)
         SELECT s.*, pg_current_xact_id() FROM unnest($1::integer[], $2::bigint[], $3::double precision[]) AS s
         ON CONFLICT (series_id, ts) DO UPDATE SET value = excluded.value, arrival = excluded.arrival
           WHERE samples.value IS DISTINCT FROM excluded.value`,
        [sorted.map((r) => r[0]), sorted.map((r) => r[1]), sorted.map((r) => r[2])],
      );
      return { written: batch.length, rows };
    });
    for (const row of rows) remember(row);
    return written;
  }

  /** Reads the series list again (only those of one name when a matcher fixes it) and matches in JS. */
  async function matching(matchers: readonly LabelMatcher[]): Promise<StoredSeries[]> {
    const name = matchers.find((m) => m.name === '__name__' && m.op === '=')?.value;
    const r =
      name === undefined
        ? await pool.query<SeriesRow>('SELECT id, name, labels, unit, type FROM series')
        : await pool.query<SeriesRow>('SELECT id, name, labels, unit, type FROM series WHERE name = $1', [name]);
    const selector = { matchers, text: '' };
    const out: StoredSeries[] = [];
    for (const row of r.rows) {
      const s = remember(row);
      if (matchesSelector(selector, s.name, s.labels)) out.push(s);
    }
    return out.sort((a, b) => byText(seriesKey(a), seriesKey(b)));
  }

  /** Samples in one transaction (`fence` first, when there is one). */
  async function appendSamples(input: readonly SampleInput[], fence?: WriteFence): Promise<number> {
    // A time outside the Date range names no day partition; such a sample cannot be a real one.
    const batch = input.filter((s) => Math.abs(s.ts) <= MAX_TS_MS);
    if (batch.length === 0) return 0;
    await ensurePartitions(batch.map((s) => dayStart(Math.round(s.ts))));
    try {
      return await writeSamples(batch, fence);
    } catch (err) {
      // Another process's retention dropped a partition this one believed in: learn and make it again.
      if ((err as { code?: string }).code !== NO_PARTITION || layout !== 'partitions') throw err;
      await inTransaction(pool, refreshPartitions);
      await ensurePartitions(batch.map((s) => dayStart(Math.round(s.ts))));
      return writeSamples(batch, fence);
    }
  }

  /** One write of the leader's: in a transaction of its own, `fence` first, when there is one. */
  function leaderWrite<T>(fence: WriteFence | undefined, write: (client: PoolClient) => Promise<T>): Promise<T> {
    return inTransaction(pool, async (client) => {
      await fence?.(client);
      return write(client);
    });
  }

  /** LeaderWrites, fenced by `fence` (undefined: the store's own, unfenced). */
  function leaderWrites(fence: WriteFence | undefined): LeaderWrites {
    return {
      appendRecordedSamples: (batch) => appendSamples(batch, fence),
      async applyRetention(nowMs) {
        const cutoff = nowMs - options.retentionMs;
        const deleted = await leaderWrite(fence, async (client) => {
          const gone = layout === 'partitions' ? await dropPartitionsBefore(client, cutoff) : await dropChunksBefore(client, cutoff);
          await client.query('DELETE FROM events WHERE time < $1', [cutoff]);
          await client.query('DELETE FROM dropped_ranges WHERE to_ms < $1', [cutoff]);
          // The node's store keeps its history for about as long: an older range cannot be sent any more.
          await client.query('DELETE FROM backfills WHERE to_ms < $1', [cutoff]);
          const rows = await client.query<CoverageRow>('SELECT * FROM coverage ORDER BY site, node, series FOR UPDATE');
          const changed = new Map<string, { site: string; node: string; list: SeriesCoverage[] }>();
          for (const row of rows.rows) {
            const c: SeriesCoverage = { series: row.series, intervalMs: row.interval_ms, intervals: row.intervals };
            const pruned = pruneBefore(c, cutoff);
            if (pruned.intervals.length === c.intervals.length) continue;
            const key = `${row.site}\u0000${row.node}`;
            const entry = changed.get(key) ?? { site: row.site, node: row.node, list: [] };
            changed.set(key, entry);
            entry.list.push(pruned);
          }
          for (const { site, node, list } of changed.values()) await saveCoverage(client, site, node, list);
          if (layout === 'partitions') await refreshPartitions(client);
          return gone;
        });
        await ensurePartitions(daysAhead());
        return deleted;
      },
      async createBackfill(r) {
        await leaderWrite(fence, (client) =>
          client.query(
            `INSERT INTO backfills (id, site, node, from_ms, to_ms, selectors, origin, created_at, sent_at, attempts, done_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
            [r.id, r.site, r.node, r.fromMs, r.toMs, JSON.stringify(r.selectors), r.origin, r.createdAt, r.sentAt, r.attempts, r.doneAt],
          ),
        );
      },
      async saveRemoteWriteCursor(remote, cursor) {
        await leaderWrite(fence, (client) =>
          client.query(
            `INSERT INTO remote_write_cursors (remote, cursor, updated_at) VALUES ($1, $2, $3)
             ON CONFLICT (remote) DO UPDATE SET cursor = excluded.cursor, updated_at = excluded.updated_at`,
            [remote, Math.round(cursor), now()],
          ),
        );
      },
      async markBackfillSent(id, at) {
        await leaderWrite(fence, (client) =>
          client.query('UPDATE backfills SET sent_at = $1, attempts = attempts + 1 WHERE id = $2', [at, id]),
        );
      },
      async upsertNode(n: StoredNode) {
        const row = nodeRow(n);
        await leaderWrite(fence, (client) =>
          client.query(
            nodeUpsertSql(1),
            NODE_COLUMNS.map((c) => row[c]),
          ),
        );
      },
      async upsertNodes(nodes) {
        if (nodes.length === 0) return;
        // One key once per statement (ON CONFLICT cannot touch a row twice): the last entry of a key wins.
        const rows = [...new Map(nodes.map((n) => [`${n.site}\u0000${n.node}`, nodeRow(n)])).values()];
        await leaderWrite(fence, async (client) => {
          for (let i = 0; i < rows.length; i += NODE_UPSERT_CHUNK) {
            const chunk = rows.slice(i, i + NODE_UPSERT_CHUNK);
            await client.query(
              nodeUpsertSql(chunk.length),
              chunk.flatMap((row) => NODE_COLUMNS.map((c) => row[c])),
            );
          }
        });
      },
    };
  }

  let open = true;

  const store: PostgresStore = {
    get isOpen() {
      return open;
    },
    async upsertSeries(series) {
      const { ids, rows } = await inTransaction(pool, (client) => seriesIds(client, [series]));
      for (const row of rows) remember(row);
      return ids[0] as number;
    },
    appendSamples: (input) => appendSamples(input),
    async querySeries(matchers, startMs, endMs) {
      const series = await matching(matchers);
      if (series.length === 0) return [];
      const r = await pool.query<{ series_id: number; ts: number; value: number | null }>(
        `SELECT series_id, ts, value FROM samples WHERE series_id = ANY($1) AND ts >= $2 AND ts <= $3 ORDER BY series_id, ts`,
        [series.map((s) => s.id), Math.ceil(startMs), Math.floor(endMs)],
      );
      const points = new Map<number, Array<readonly [number, number | null]>>();
      for (const row of r.rows) {
        const list = points.get(row.series_id) ?? [];
        points.set(row.series_id, list);
        list.push([row.ts, row.value]);
      }
      const out: SeriesPoints[] = [];
      for (const s of series) {
        const p = points.get(s.id);
        if (p !== undefined) out.push({ series: s, points: p });
      }
      return out;
    },
    async listSeries(matchers, range) {
      const found = await matching(matchers);
      if (range === undefined || found.length === 0) return found;
      const r = await pool.query<{ id: number }>(
        `SELECT s.id FROM unnest($1::integer[]) AS s(id)
          WHERE EXISTS (SELECT 1 FROM samples WHERE series_id = s.id AND ts >= $2 AND ts <= $3)`,
        [found.map((s) => s.id), Math.ceil(range.startMs), Math.floor(range.endMs)],
      );
      const having = new Set(r.rows.map((row) => row.id));
      return found.filter((s) => having.has(s.id));
    },
    ...leaderWrites(undefined),
    async appendEvents(events) {
      if (events.length === 0) return 0;
      const sorted = [...events].sort((a, b) => byText(a.site, b.site) || byText(a.node, b.node) || byText(a.id, b.id));
      const r = await pool.query(
        `INSERT INTO events (site, node, id, seq, epoch, time, priority, kind, payload, received_at)
         SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::bigint[], $6::bigint[], $7::smallint[],
           $8::text[], $9::bytea[], $10::bigint[])
         ON CONFLICT (site, node, id) DO NOTHING`,
        [
          sorted.map((e) => e.site),
          sorted.map((e) => e.node),
          sorted.map((e) => e.id),
          sorted.map((e) => e.seq),
          sorted.map((e) => e.epoch),
          sorted.map((e) => Math.round(e.time)),
          sorted.map((e) => EVENT_PRIORITIES.indexOf(e.priority)),
          sorted.map((e) => e.kind),
          sorted.map((e) => Buffer.from(e.payload.buffer, e.payload.byteOffset, e.payload.byteLength)),
          sorted.map((e) => e.receivedAt),
        ],
      );
      return r.rowCount ?? 0;
    },
    async queryEvents(q) {
      const where: string[] = [];
      const params: Array<string | number> = [];
      const filter = (column: string, op: string, value: string | number | undefined) => {
        if (value === undefined) return;
        params.push(value);
        where.push(`${column} ${op} $${params.length}`);
      };
      filter('site', '=', q.site);
      filter('node', '=', q.node);
      filter('kind', '=', q.kind);
      filter('priority', '>=', q.minPriority === undefined ? undefined : EVENT_PRIORITIES.indexOf(q.minPriority));
      filter('time', '>=', q.start);
      filter('time', '<=', q.end);
      params.push(Math.max(0, Math.floor(q.limit)));
      const r = await pool.query<EventRow>(
        `SELECT * FROM events ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''}
         ORDER BY time DESC, received_at DESC, site COLLATE "C", node COLLATE "C", seq DESC LIMIT $${params.length}`,
        params,
      );
      return r.rows.map(toEvent);
    },
    async recordBacklog(site, node, b) {
      await pool.query(
        `INSERT INTO backlogs (site, node, pending_rows, oldest_pending_ms, pending_bytes, reported_at) VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (site, node) DO UPDATE SET pending_rows = excluded.pending_rows, oldest_pending_ms = excluded.oldest_pending_ms,
           pending_bytes = excluded.pending_bytes, reported_at = excluded.reported_at`,
        [site, node, b.pendingRows, b.oldestPendingMs, b.pendingBytes, b.reportedAt],
      );
    },
    async listBacklogs() {
      const r = await pool.query<BacklogRow>('SELECT * FROM backlogs ORDER BY site COLLATE "C", node COLLATE "C"');
      return r.rows.map(toBacklog);
    },
    async recordDropped(site, node, ranges, reportedAt) {
      if (ranges.length === 0) return [];
      const unique = new Map<string, DroppedRange>();
      for (const d of ranges) {
        const key = `${d.fromMs}:${d.toMs}`;
        const seen = unique.get(key);
        unique.set(key, seen === undefined || d.rows > seen.rows ? d : seen);
      }
      const list = [...unique.values()].sort((a, b) => a.fromMs - b.fromMs || a.toMs - b.toMs);
      // xmax is 0 on a row this statement inserted: what was not known before.
      const r = await pool.query<{ from_ms: number; to_ms: number; inserted: boolean }>(
        `INSERT INTO dropped_ranges (site, node, from_ms, to_ms, rows, reported_at)
         SELECT $1, $2, d.from_ms, d.to_ms, d.rows, $3 FROM unnest($4::bigint[], $5::bigint[], $6::bigint[]) AS d(from_ms, to_ms, rows)
         ON CONFLICT (site, node, from_ms, to_ms) DO UPDATE SET rows = greatest(dropped_ranges.rows, excluded.rows)
         RETURNING from_ms, to_ms, (xmax = 0) AS inserted`,
        [site, node, reportedAt, list.map((d) => d.fromMs), list.map((d) => d.toMs), list.map((d) => d.rows)],
      );
      const fresh = new Set(r.rows.filter((row) => row.inserted).map((row) => `${row.from_ms}:${row.to_ms}`));
      const out: DroppedRange[] = [];
      for (const d of ranges) {
        const key = `${d.fromMs}:${d.toMs}`;
        if (fresh.delete(key)) out.push(d);
      }
      return out;
    },
    async listBackfills(filter = {}) {
      const where: string[] = [];
      const params: string[] = [];
      if (filter.outstanding) where.push('done_at IS NULL');
      if (filter.site !== undefined) {
        params.push(filter.site);
        where.push(`site = $${params.length}`);
      }
      if (filter.node !== undefined) {
        params.push(filter.node);
        where.push(`node = $${params.length}`);
      }
      const r = await pool.query<BackfillRow>(
        `SELECT * FROM backfills ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY created_at, from_ms, id COLLATE "C"`,
        params,
      );
      return r.rows.map(toBackfill);
    },
    async completeBackfill(site, node, report, at) {
      return inTransaction(pool, async (client) => {
        const r = await client.query<BackfillRow>('SELECT * FROM backfills WHERE id = $1 FOR UPDATE', [report.requestId]);
        const row = r.rows[0];
        if (row === undefined || row.site !== site || row.node !== node || row.done_at !== null) return undefined;
        if (row.from_ms !== report.fromMs || row.to_ms !== report.toMs) return undefined;
        await client.query('UPDATE backfills SET done_at = $1 WHERE id = $2', [at, row.id]);
        // A drop reported after the request was made may be newer than what the node read: not covered.
        if (row.selectors.length === 0) {
          await client.query(
            `UPDATE dropped_ranges SET repaired_by = $1 WHERE site = $2 AND node = $3 AND repaired_by IS NULL
               AND from_ms >= $4 AND to_ms <= $5 AND COALESCE(reported_at, 0) <= $6`,
            [row.id, site, node, row.from_ms, row.to_ms, row.created_at],
          );
        }
        return toBackfill({ ...row, done_at: at });
      });
    },
    async recordCoverage(site, node, spans) {
      const present = spans.filter((s) => s.times.length > 0);
      if (present.length === 0) return;
      await inTransaction(pool, async (client) => {
        await lockNodeLedger(client, site, node);
        const names = [...new Set(present.map((s) => s.series))];
        const r = await client.query<CoverageRow>('SELECT * FROM coverage WHERE site = $1 AND node = $2 AND series = ANY($3)', [
          site,
          node,
          names,
        ]);
        const current = new Map<string, SeriesCoverage>(
          r.rows.map((row) => [row.series, { series: row.series, intervalMs: row.interval_ms, intervals: row.intervals }]),
        );
        for (const span of present) current.set(span.series, addSpan(current.get(span.series), span));
        await saveCoverage(client, site, node, [...current.values()]);
      });
    },
    async nodeLedger(site, node) {
      const [backlog, ranges, repairs, coverage] = await Promise.all([
        pool.query<BacklogRow>('SELECT * FROM backlogs WHERE site = $1 AND node = $2', [site, node]),
        pool.query<DroppedRow>(
          'SELECT from_ms, to_ms, rows, repaired_by FROM dropped_ranges WHERE site = $1 AND node = $2 ORDER BY from_ms, to_ms',
          [site, node],
        ),
        pool.query<BackfillRow>(
          'SELECT * FROM backfills WHERE site = $1 AND node = $2 AND done_at IS NULL ORDER BY created_at, from_ms, id COLLATE "C"',
          [site, node],
        ),
        pool.query<CoverageRow>('SELECT * FROM coverage WHERE site = $1 AND node = $2', [site, node]),
      ]);
      return toNodeLedger(
        backlog.rows[0],
        ranges.rows,
        repairs.rows,
        coverage.rows.map((row) => ({ series: row.series, intervalMs: row.interval_ms, intervals: row.intervals })),
      );
    },
    async readArrivals(after, limit) {
      return inTransaction(pool, async (client) => {
        // Every transaction below xmin has ended: its samples are all there, or none will be.
        const head = await settledArrival(client);
        const bound = await client.query<{ arrival: string }>(
          `SELECT arrival::text FROM samples WHERE arrival > $1::xid8 AND arrival <= $2::xid8 ORDER BY arrival OFFSET $3 LIMIT 1`,
          [String(after), String(head), Math.max(0, limit - 1)],
        );
        const upTo = bound.rows[0] === undefined ? head : Number(bound.rows[0].arrival);
        if (upTo <= after) return { series: [], arrival: after };
        const r = await client.query<{ series_id: number; ts: number; value: number | null }>(
          `SELECT series_id, ts, value FROM samples WHERE arrival > $1::xid8 AND arrival <= $2::xid8 ORDER BY series_id, ts`,
          [String(after), String(upTo)],
        );
        const bySeries = new Map<number, Array<readonly [number, number | null]>>();
        for (const row of r.rows) {
          const list = bySeries.get(row.series_id) ?? [];
          bySeries.set(row.series_id, list);
          list.push([row.ts, row.value]);
        }
        const known = await seriesByIds(client, [...bySeries.keys()]);
        const series: SeriesPoints[] = [];
        for (const [id, points] of bySeries) {
          const s = known.get(id);
          if (s !== undefined) series.push({ series: s, points });
        }
        return { series, arrival: upTo };
      });
    },
    async arrivalHead() {
      return inTransaction(pool, settledArrival);
    },
    async loadRemoteWriteCursor(remote) {
      const r = await pool.query<{ cursor: string }>('SELECT cursor FROM remote_write_cursors WHERE remote = $1', [remote]);
      const row = r.rows[0];
      return row === undefined ? undefined : Number(row.cursor);
    },
    async listNodes() {
      const r = await pool.query<NodeRow>('SELECT * FROM nodes');
      return r.rows.sort((a, b) => byText(a.site, b.site) || byText(a.node, b.node)).map(toStoredNode);
    },
    async close() {
      if (!open) return;
      open = false;
      await pool.end();
    },
  };
  return Object.assign(store, {
    // The store's getters and methods, the leader's writes replaced by fenced ones.
    fencedBy: (fence: WriteFence): HubStorage => Object.assign(Object.create(store) as HubStorage, leaderWrites(fence)),
  });
}
