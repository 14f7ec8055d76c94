// SqliteStorage: the HubStorage port on better-sqlite3 (one file, WAL), the hub's default store.

import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import type { DroppedRange } from '../../../protocol/index.js';
import { EVENT_PRIORITIES, type LabelMatcher, matchesSelector } from '../../../protocol/index.js';
import { addSpan, type Interval, pruneBefore, type SeriesCoverage } from '../../ledger/coverage.js';
import {
  type EventInput,
  type HubStorage,
  type SampleInput,
  type SeriesIdentity,
  type SeriesPoints,
  type StoredNode,
  type StoredSeries,
  seriesKey,
  sortedLabels,
} from '../storage.js';
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

export interface SqliteStorageOptions {
  /** File path, or ":memory:". */
  readonly path: string;
  /** Samples older than this many ms are deleted by `applyRetention`. */
  readonly retentionMs: number;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS series (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL,
  labels TEXT NOT NULL,
  site TEXT NOT NULL,
  node TEXT NOT NULL,
  unit TEXT NOT NULL,
  type TEXT NOT NULL,
  UNIQUE (name, labels)
);
CREATE TABLE IF NOT EXISTS samples (
  series_id INTEGER NOT NULL,
  ts INTEGER NOT NULL,
  value REAL,
  PRIMARY KEY (series_id, ts)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS nodes (
  site TEXT NOT NULL,
  node TEXT NOT NULL,
  zone TEXT NOT NULL,
  state TEXT NOT NULL,
  epoch INTEGER,
  agent_version TEXT,
  tick_ms INTEGER,
  heartbeat_ms INTEGER,
  last_heard INTEGER,
  last_changed INTEGER NOT NULL,
  PRIMARY KEY (site, node)
);
CREATE TABLE IF NOT EXISTS events (
  site TEXT NOT NULL,
  node TEXT NOT NULL,
  id TEXT NOT NULL,
  seq INTEGER NOT NULL,
  epoch INTEGER NOT NULL,
  time INTEGER NOT NULL,
  priority INTEGER NOT NULL,
  kind TEXT NOT NULL,
  payload BLOB NOT NULL,
  received_at INTEGER NOT NULL,
  PRIMARY KEY (site, node, id)
);
CREATE INDEX IF NOT EXISTS events_by_time ON events (time);
CREATE TABLE IF NOT EXISTS backlogs (
  site TEXT NOT NULL,
  node TEXT NOT NULL,
  pending_rows INTEGER NOT NULL,
  oldest_pending_ms INTEGER,
  reported_at INTEGER NOT NULL,
  pending_bytes INTEGER,
  PRIMARY KEY (site, node)
);
CREATE TABLE IF NOT EXISTS dropped_ranges (
  site TEXT NOT NULL,
  node TEXT NOT NULL,
  from_ms INTEGER NOT NULL,
  to_ms INTEGER NOT NULL,
  rows INTEGER NOT NULL,
  reported_at INTEGER,
  repaired_by TEXT,
  PRIMARY KEY (site, node, from_ms, to_ms)
);
CREATE TABLE IF NOT EXISTS backfills (
  id TEXT PRIMARY KEY,
  site TEXT NOT NULL,
  node TEXT NOT NULL,
  from_ms INTEGER NOT NULL,
  to_ms INTEGER NOT NULL,
  selectors TEXT NOT NULL,
  origin TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  sent_at INTEGER,
  attempts INTEGER NOT NULL DEFAULT 0,
  done_at INTEGER
);
CREATE INDEX IF NOT EXISTS backfills_by_node ON backfills (site, node, done_at);
CREATE TABLE IF NOT EXISTS coverage (
  site TEXT NOT NULL,
  node TEXT NOT NULL,
  series TEXT NOT NULL,
  interval_ms INTEGER NOT NULL,
  intervals TEXT NOT NULL,
  PRIMARY KEY (site, node, series)
);
`;

/** Columns added after a table first shipped: added to files created before them. */
const ADDED_COLUMNS: ReadonlyArray<readonly [table: string, column: string, type: string]> = [
  ['backlogs', 'pending_bytes', 'INTEGER'],
  ['dropped_ranges', 'reported_at', 'INTEGER'],
  ['dropped_ranges', 'repaired_by', 'TEXT'],
  ['nodes', 'boot_time', 'INTEGER'],
  ['nodes', 'boot_time_hub', 'INTEGER'],
  ['nodes', 'config_version', 'TEXT'],
  // The commit that stored the sample (remote write's arrival order); NULL for samples stored before it existed.
  ['samples', 'arrival', 'INTEGER'],
];

/** SQLite keeps a request's selectors as JSON text. */
function backfillOf(r: BackfillRow<string>): BackfillRow {
  return { ...r, selectors: JSON.parse(r.selectors) as string[] };
}

export function createSqliteStorage(options: SqliteStorageOptions): HubStorage {
  if (options.path !== ':memory:') mkdirSync(dirname(options.path), { recursive: true });
  const db = new Database(options.path);
  db.pragma('journal_mode = WAL');
  // NORMAL in WAL mode can lose the last transactions on power loss, never corrupt the file: right for the ledger, the
  // registry and the other small writes. Samples and events are what the hub acknowledges to the nodes (which then
  // forget them), so their commits run with FULL (`durably`): the WAL is fsynced before COMMIT returns, which makes
  // every earlier commit durable too. The embedded hub groups its samples' commits (ingest/group-commit.ts).
  db.pragma('synchronous = NORMAL');
  db.exec(SCHEMA);
  for (const [table, column, type] of ADDED_COLUMNS) {
    const columns = db.prepare<[], { name: string }>(`PRAGMA table_info(${table})`).all();
    if (!columns.some((c) => c.name === column)) db.exec(`ALTER TABLE ${table} ADD COLUMN ${column} ${type}`);
  }
  // Arrival order: each sample commit takes the next number of a persisted counter (retention never takes it back).
  // Its index is made by the first reader (a remote write forwarder): a hub without one does not pay for it on every
  // insert (about a third of the insert rate: docs/remote-write.md "Arrival order").
  db.exec(`CREATE TABLE IF NOT EXISTS arrivals (id INTEGER PRIMARY KEY CHECK (id = 1), last INTEGER NOT NULL);
    INSERT OR IGNORE INTO arrivals (id, last) VALUES (1, 0);`);

  const insertSeries = db.prepare<[string, string, string, string, string, string]>(
    'INSERT INTO series (name, labels, site, node, unit, type) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (name, labels) DO UPDATE SET unit = excluded.unit, type = excluded.type RETURNING id',
  );
  // A resend of the same value keeps its row and arrival (not forwarded again); another value is a new arrival.
  const insertSample = db.prepare<[number, number, number | null, number]>(
    `INSERT INTO samples (series_id, ts, value, arrival) VALUES (?, ?, ?, ?)
     ON CONFLICT (series_id, ts) DO UPDATE SET value = excluded.value, arrival = excluded.arrival WHERE samples.value IS NOT excluded.value`,
  );
  const nextArrival = db.prepare<[], { last: number }>('UPDATE arrivals SET last = last + 1 WHERE id = 1 RETURNING last');
  const lastArrival = db.prepare<[], { last: number }>('SELECT last FROM arrivals WHERE id = 1');
  let arrivalIndexed = false;
  function indexArrivals(): void {
    if (arrivalIndexed) return;
    db.exec('CREATE INDEX IF NOT EXISTS samples_by_arrival ON samples (arrival) WHERE arrival IS NOT NULL');
    arrivalIndexed = true;
  }
  const arrivalBound = db.prepare<[number, number], { arrival: number }>(
    'SELECT arrival FROM samples WHERE arrival > ? ORDER BY arrival LIMIT 1 OFFSET ?',
  );
  const arrivedPoints = db.prepare<[number, number], { series_id: number; ts: number; value: number | null }>(
    'SELECT series_id, ts, value FROM samples WHERE arrival > ? AND arrival <= ? ORDER BY series_id, ts',
  );
  const selectPoints = db.prepare<[number, number, number], { ts: number; value: number | null }>(
    'SELECT ts, value FROM samples WHERE series_id = ? AND ts >= ? AND ts <= ? ORDER BY ts',
  );
  const hasPoints = db.prepare<[number, number, number], { one: number }>(
    'SELECT 1 AS one FROM samples WHERE series_id = ? AND ts >= ? AND ts <= ? LIMIT 1',
  );
  const deleteOld = db.prepare<[number, number]>('DELETE FROM samples WHERE series_id = ? AND ts < ?');
  const upsertNodeStmt = db.prepare(
    `INSERT INTO nodes (site, node, zone, state, epoch, agent_version, tick_ms, heartbeat_ms, last_heard, last_changed,
       boot_time, boot_time_hub, config_version)
     VALUES (@site, @node, @zone, @state, @epoch, @agent_version, @tick_ms, @heartbeat_ms, @last_heard, @last_changed,
       @boot_time, @boot_time_hub, @config_version)
     ON CONFLICT (site, node) DO UPDATE SET zone = excluded.zone, state = excluded.state, epoch = excluded.epoch,
       agent_version = excluded.agent_version, tick_ms = excluded.tick_ms, heartbeat_ms = excluded.heartbeat_ms,
       last_heard = excluded.last_heard, last_changed = excluded.last_changed, boot_time = excluded.boot_time,
       boot_time_hub = excluded.boot_time_hub, config_version = excluded.config_version`,
  );

  const upsertNodesTx = db.transaction((nodes: readonly StoredNode[]) => {
    for (const n of nodes) upsertNodeStmt.run(nodeRow(n));
  });

  const insertEvent = db.prepare(
    `INSERT OR IGNORE INTO events (site, node, id, seq, epoch, time, priority, kind, payload, received_at)
     VALUES (@site, @node, @id, @seq, @epoch, @time, @priority, @kind, @payload, @receivedAt)`,
  );
  const upsertBacklog = db.prepare<[string, string, number, number | null, number | null, number]>(
    `INSERT INTO backlogs (site, node, pending_rows, oldest_pending_ms, pending_bytes, reported_at) VALUES (?, ?, ?, ?, ?, ?)
     ON CONFLICT (site, node) DO UPDATE SET pending_rows = excluded.pending_rows,
       oldest_pending_ms = excluded.oldest_pending_ms, pending_bytes = excluded.pending_bytes, reported_at = excluded.reported_at`,
  );
  const insertDropped = db.prepare<[string, string, number, number, number, number]>(
    `INSERT INTO dropped_ranges (site, node, from_ms, to_ms, rows, reported_at) VALUES (?, ?, ?, ?, ?, ?)
     ON CONFLICT (site, node, from_ms, to_ms) DO NOTHING`,
  );
  const growDropped = db.prepare<[number, string, string, number, number]>(
    'UPDATE dropped_ranges SET rows = max(rows, ?) WHERE site = ? AND node = ? AND from_ms = ? AND to_ms = ?',
  );
  const selectBackfill = db.prepare<[string], BackfillRow<string>>('SELECT * FROM backfills WHERE id = ?');
  const upsertCoverage = db.prepare<[string, string, string, number, string]>(
    `INSERT INTO coverage (site, node, series, interval_ms, intervals) VALUES (?, ?, ?, ?, ?)
     ON CONFLICT (site, node, series) DO UPDATE SET interval_ms = excluded.interval_ms, intervals = excluded.intervals`,
  );
  const deleteCoverage = db.prepare<[string, string, string]>('DELETE FROM coverage WHERE site = ? AND node = ? AND series = ?');

  // Coverage lives in memory too (a few intervals per series), so merging a batch reads nothing.
  const coverageByNode = new Map<string, Map<string, SeriesCoverage>>();
  const nodeKeyOf = (site: string, node: string) => `${site}\u0000${node}`;
  for (const row of db
    .prepare<[], { site: string; node: string; series: string; interval_ms: number; intervals: string }>('SELECT * FROM coverage')
    .all()) {
    const key = nodeKeyOf(row.site, row.node);
    const perNode = coverageByNode.get(key) ?? new Map<string, SeriesCoverage>();
    coverageByNode.set(key, perNode);
    perNode.set(row.series, { series: row.series, intervalMs: row.interval_ms, intervals: JSON.parse(row.intervals) as Interval[] });
  }

  // Every series lives in memory too: the hub holds a few thousand, and matchers with regexes run in JS.
  const byKey = new Map<string, StoredSeries>();
  const byId = new Map<number, StoredSeries>();
  for (const row of db.prepare<[], SeriesRow>('SELECT id, name, labels, unit, type FROM series').all()) {
    const s: StoredSeries = {
      id: row.id,
      name: row.name,
      labels: JSON.parse(row.labels) as Record<string, string>,
      unit: row.unit,
      type: row.type as StoredSeries['type'],
    };
    byKey.set(seriesKey(s), s);
    byId.set(s.id, s);
  }

  let open = true;

  /** Each identity object's key, built once: a history frame's samples share theirs, and so do a node's live series. */
  const keyOf = new WeakMap<SeriesIdentity, string>();

  function seriesId(identity: SeriesIdentity): number {
    let key = keyOf.get(identity);
    if (key === undefined) {
      key = seriesKey(identity);
      keyOf.set(identity, key);
    }
    const known = byKey.get(key);
    if (known && known.unit === identity.unit && known.type === identity.type) return known.id;
    const labels = sortedLabels(identity.labels);
    const row = insertSeries.get(
      identity.name,
      JSON.stringify(labels),
      labels.site ?? '',
      labels.node ?? '',
      identity.unit,
      identity.type,
    ) as { id: number };
    const s: StoredSeries = { id: row.id, name: identity.name, labels, unit: identity.unit, type: identity.type };
    byKey.set(key, s);
    byId.set(s.id, s);
    return s.id;
  }

  /** Runs `tx` with synchronous=FULL: resolved means on stable storage (docs/hub.md#storage). */
  function durably<T>(tx: () => T): T {
    db.pragma('synchronous = FULL');
    try {
      return tx();
    } finally {
      db.pragma('synchronous = NORMAL');
    }
  }

  const appendTx = db.transaction((batch: readonly SampleInput[]) => {
    const arrival = (nextArrival.get() as { last: number }).last;
    for (const s of batch) insertSample.run(seriesId(s.series), Math.round(s.ts), storable(s.value), arrival);
    return batch.length;
  });

  const appendEventsTx = db.transaction((events: readonly EventInput[]) => {
    let stored = 0;
    for (const e of events) {
      stored += insertEvent.run({
        site: e.site,
        node: e.node,
        id: e.id,
        seq: e.seq,
        epoch: e.epoch,
        time: Math.round(e.time),
        priority: EVENT_PRIORITIES.indexOf(e.priority),
        kind: e.kind,
        payload: Buffer.from(e.payload.buffer, e.payload.byteOffset, e.payload.byteLength),
        receivedAt: e.receivedAt,
      }).changes;
    }
    return stored;
  });

  const saveCoverageTx = db.transaction((site: string, node: string, changed: readonly SeriesCoverage[]) => {
    for (const c of changed) {
      if (c.intervals.length === 0) deleteCoverage.run(site, node, c.series);
      else upsertCoverage.run(site, node, c.series, c.intervalMs, JSON.stringify(c.intervals));
    }
  });

  // Coverage changes wait for the next turn of the event loop and are written together, as they are then, in one
  // transaction: a live data frame changes its node's coverage every tick, and a commit per frame cost the embedded hub
  // more than its samples at 10,000 nodes (docs/benchmarks.md, hub-scale). recordCoverage resolves once written.
  const dirtyCoverage = new Map<string, Set<string>>();
  let coverageWaiters: Array<{ resolve(): void; reject(err: unknown): void }> = [];
  let coverageFlush: NodeJS.Immediate | undefined;

  const saveDirtyCoverageTx = db.transaction((dirty: ReadonlyMap<string, ReadonlySet<string>>) => {
    for (const [key, series] of dirty) {
      const [site, node] = key.split('\u0000') as [string, string];
      const perNode = coverageByNode.get(key);
      for (const name of series) {
        const c = perNode?.get(name);
        if (c === undefined || c.intervals.length === 0) deleteCoverage.run(site, node, name);
        else upsertCoverage.run(site, node, name, c.intervalMs, JSON.stringify(c.intervals));
      }
    }
  });

  function flushCoverage(): void {
    if (coverageFlush !== undefined) clearImmediate(coverageFlush);
    coverageFlush = undefined;
    const waiters = coverageWaiters;
    coverageWaiters = [];
    const dirty = new Map(dirtyCoverage);
    dirtyCoverage.clear();
    try {
      if (dirty.size > 0) saveDirtyCoverageTx(dirty);
    } catch (err) {
      for (const w of waiters) w.reject(err);
      return;
    }
    for (const w of waiters) w.resolve();
  }

  function matching(matchers: readonly LabelMatcher[]): StoredSeries[] {
    const selector = { matchers, text: '' };
    const out: StoredSeries[] = [];
    for (const s of byId.values()) if (matchesSelector(selector, s.name, s.labels)) out.push(s);
    return out.sort((a, b) => (seriesKey(a) < seriesKey(b) ? -1 : 1));
  }

  return {
    get isOpen() {
      return open;
    },
    async upsertSeries(series) {
      return seriesId(series);
    },
    async appendSamples(batch) {
      if (batch.length === 0) return 0;
      return durably(() => appendTx(batch));
    },
    // One process, always the leader: the same write.
    async appendRecordedSamples(batch) {
      if (batch.length === 0) return 0;
      return durably(() => appendTx(batch));
    },
    async readArrivals(after, limit) {
      indexArrivals();
      // Whole commits: up to the commit of the limit-th sample after `after`, else everything committed.
      const bound = arrivalBound.get(after, Math.max(0, limit - 1))?.arrival ?? (lastArrival.get() as { last: number }).last;
      const bySeries = new Map<number, Array<readonly [number, number | null]>>();
      for (const r of arrivedPoints.all(after, bound)) {
        const list = bySeries.get(r.series_id) ?? [];
        bySeries.set(r.series_id, list);
        list.push([r.ts, r.value]);
      }
      const series: SeriesPoints[] = [];
      for (const [id, points] of bySeries) {
        const s = byId.get(id);
        if (s !== undefined) series.push({ series: s, points });
      }
      return { series, arrival: Math.max(after, bound) };
    },
    async arrivalHead() {
      return (lastArrival.get() as { last: number }).last;
    },
    async querySeries(matchers, startMs, endMs) {
      const out: SeriesPoints[] = [];
      for (const series of matching(matchers)) {
        const points = selectPoints.all(series.id, startMs, endMs).map((r) => [r.ts, r.value] as const);
        if (points.length > 0) out.push({ series, points });
      }
      return out;
    },
    async listSeries(matchers, range) {
      const found = matching(matchers);
      if (range === undefined) return found;
      return found.filter((s) => hasPoints.get(s.id, range.startMs, range.endMs) !== undefined);
    },
    async applyRetention(nowMs) {
      const cutoff = nowMs - options.retentionMs;
      let deleted = 0;
      // Per series, so each delete walks the primary key instead of scanning the table.
      db.transaction(() => {
        for (const id of byId.keys()) deleted += deleteOld.run(id, cutoff).changes;
        db.prepare('DELETE FROM events WHERE time < ?').run(cutoff);
        db.prepare('DELETE FROM dropped_ranges WHERE to_ms < ?').run(cutoff);
        // The node's store keeps its history for about as long: an older range cannot be sent any more.
        db.prepare('DELETE FROM backfills WHERE to_ms < ?').run(cutoff);
      })();
      for (const [key, perNode] of coverageByNode) {
        const [site, node] = key.split('\u0000') as [string, string];
        const changed: SeriesCoverage[] = [];
        for (const [series, c] of perNode) {
          const pruned = pruneBefore(c, cutoff);
          if (pruned.intervals.length === c.intervals.length) continue;
          changed.push(pruned);
          if (pruned.intervals.length === 0) perNode.delete(series);
          else perNode.set(series, pruned);
        }
        if (changed.length > 0) saveCoverageTx(site, node, changed);
      }
      return deleted;
    },
    async appendEvents(events) {
      if (events.length === 0) return 0;
      return durably(() => appendEventsTx(events));
    },
    async queryEvents(q) {
      const where: string[] = [];
      const params: Array<string | number> = [];
      const filter = (clause: string, value: string | number | undefined) => {
        if (value === undefined) return;
        where.push(clause);
        params.push(value);
      };
      filter('site = ?', q.site);
      filter('node = ?', q.node);
      filter('kind = ?', q.kind);
      filter('priority >= ?', q.minPriority === undefined ? undefined : EVENT_PRIORITIES.indexOf(q.minPriority));
      filter('time >= ?', q.start);
      filter('time <= ?', q.end);
      const sql = `SELECT * FROM events ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''}
        ORDER BY time DESC, received_at DESC, site, node, seq DESC LIMIT ?`;
      return db
        .prepare<Array<string | number>, EventRow>(sql)
        .all(...params, Math.max(0, Math.floor(q.limit)))
        .map(toEvent);
    },
    async recordBacklog(site, node, b) {
      upsertBacklog.run(site, node, b.pendingRows, b.oldestPendingMs, b.pendingBytes, b.reportedAt);
    },
    async listBacklogs() {
      return db.prepare<[], BacklogRow>('SELECT * FROM backlogs ORDER BY site, node').all().map(toBacklog);
    },
    async recordDropped(site, node, ranges, reportedAt) {
      if (ranges.length === 0) return [];
      return db.transaction(() => {
        const fresh: DroppedRange[] = [];
        for (const d of ranges) {
          if (insertDropped.run(site, node, d.fromMs, d.toMs, d.rows, reportedAt).changes > 0) fresh.push(d);
          else growDropped.run(d.rows, site, node, d.fromMs, d.toMs);
        }
        return fresh;
      })();
    },
    async createBackfill(r) {
      db.prepare(
        `INSERT INTO backfills (id, site, node, from_ms, to_ms, selectors, origin, created_at, sent_at, attempts, done_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ).run(r.id, r.site, r.node, r.fromMs, r.toMs, JSON.stringify(r.selectors), r.origin, r.createdAt, r.sentAt, r.attempts, r.doneAt);
    },
    async listBackfills(filter = {}) {
      const where: string[] = [];
      const params: string[] = [];
      if (filter.outstanding) where.push('done_at IS NULL');
      if (filter.site !== undefined) {
        where.push('site = ?');
        params.push(filter.site);
      }
      if (filter.node !== undefined) {
        where.push('node = ?');
        params.push(filter.node);
      }
      const sql = `SELECT * FROM backfills ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY created_at, from_ms, id`;
      return db
        .prepare<string[], BackfillRow<string>>(sql)
        .all(...params)
        .map((r) => toBackfill(backfillOf(r)));
    },
    async markBackfillSent(id, at) {
      db.prepare('UPDATE backfills SET sent_at = ?, attempts = attempts + 1 WHERE id = ?').run(at, id);
    },
    async completeBackfill(site, node, report, at) {
      return db.transaction(() => {
        const row = selectBackfill.get(report.requestId);
        if (row === undefined || row.site !== site || row.node !== node || row.done_at !== null) return undefined;
        if (row.from_ms !== report.fromMs || row.to_ms !== report.toMs) return undefined;
        db.prepare('UPDATE backfills SET done_at = ? WHERE id = ?').run(at, row.id);
        // A drop reported after the request was made may be newer than what the node read: not covered.
        if (row.selectors === '[]') {
          db.prepare(
            `UPDATE dropped_ranges SET repaired_by = ? WHERE site = ? AND node = ? AND repaired_by IS NULL
               AND from_ms >= ? AND to_ms <= ? AND COALESCE(reported_at, 0) <= ?`,
          ).run(row.id, site, node, row.from_ms, row.to_ms, row.created_at);
        }
        return toBackfill({ ...backfillOf(row), done_at: at });
      })();
    },
    async recordCoverage(site, node, spans) {
      const key = nodeKeyOf(site, node);
      const perNode = coverageByNode.get(key) ?? new Map<string, SeriesCoverage>();
      coverageByNode.set(key, perNode);
      const dirty = dirtyCoverage.get(key) ?? new Set<string>();
      dirtyCoverage.set(key, dirty);
      for (const span of spans) {
        if (span.times.length === 0) continue;
        perNode.set(span.series, addSpan(perNode.get(span.series), span));
        dirty.add(span.series);
      }
      return new Promise<void>((resolve, reject) => {
        coverageWaiters.push({ resolve, reject });
        coverageFlush ??= setImmediate(flushCoverage);
      });
    },
    async nodeLedger(site, node) {
      const backlog = db.prepare<[string, string], BacklogRow>('SELECT * FROM backlogs WHERE site = ? AND node = ?').get(site, node);
      const ranges = db
        .prepare<[string, string], DroppedRow>(
          'SELECT from_ms, to_ms, rows, repaired_by FROM dropped_ranges WHERE site = ? AND node = ? ORDER BY from_ms, to_ms',
        )
        .all(site, node);
      const repairs = db
        .prepare<[string, string], BackfillRow<string>>(
          'SELECT * FROM backfills WHERE site = ? AND node = ? AND done_at IS NULL ORDER BY created_at, from_ms, id',
        )
        .all(site, node)
        .map(backfillOf);
      return toNodeLedger(backlog, ranges, repairs, [...(coverageByNode.get(nodeKeyOf(site, node))?.values() ?? [])]);
    },
    async upsertNode(n: StoredNode) {
      upsertNodeStmt.run(nodeRow(n));
    },
    async upsertNodes(nodes) {
      if (nodes.length > 0) upsertNodesTx(nodes);
    },
    async listNodes() {
      return db.prepare<[], NodeRow>('SELECT * FROM nodes ORDER BY site, node').all().map(toStoredNode);
    },
    async close() {
      if (!open) return;
      flushCoverage();
      open = false;
      db.close();
    },
  };
}
