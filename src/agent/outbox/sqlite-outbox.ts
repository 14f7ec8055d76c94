// The durable outbox: samples of critical series and every event, kept on disk until the hub
// acknowledges them, and the hub's backfill requests with their progress. [FM-DURABLE-1] [FM-DURABLE-5]
// [FM-DURABLE-6]; design in docs/decisions/0001-durable-plane.md.

import type Database from 'better-sqlite3';
import { createGroupCommit, FieldmeshError, type Logger, silentLogger } from '../../kit/index.js';
import { openDurableDatabase } from '../../platform/index.js';
import type { AckLane, DroppedRange, EventPriority, HistorySeries, RepairedRange, SeriesType, TypedSample } from '../../protocol/index.js';
import { labelsJson } from '../../protocol/index.js';

/** Default cap of the sample lane: about 200 MB of rows, days of a node's critical series. */
export const OUTBOX_MAX_SAMPLE_ROWS = 5_000_000;
/** When the cap is passed, coalescing deletes down to this share of it, so it does not run per append. */
const COALESCE_TO = 0.9;
/** Finished backfill requests remembered after their report was acknowledged (to report again if asked). */
const REPORTED_BACKFILLS_KEPT = 256;

export interface OutboxEvent {
  readonly id: string;
  readonly kind: string;
  readonly priority: EventPriority;
  readonly time: number;
  readonly payload: Uint8Array;
}

export interface PendingEvent extends OutboxEvent {
  readonly seq: number;
}

/**
 * What one history frame will carry: rows (firstSeq..lastSeq] of the sample lane, by series, and the
 * reports still owed to the hub. A report-only batch carries no rows (`firstSeq = lastSeq`).
 */
export interface HistoryBatch {
  readonly firstSeq: number;
  readonly lastSeq: number;
  readonly rows: number;
  readonly series: HistorySeries[];
  readonly dropped: DroppedRange[];
  readonly repaired: RepairedRange[];
}

/** A backfill request from the hub, as the frame carried it. [FM-DURABLE-6] */
export interface BackfillRequest {
  readonly id: string;
  /** Both ends inclusive, ms since the Unix epoch. */
  readonly fromMs: number;
  readonly toMs: number;
  /** Selectors as written; empty means the node's critical series. */
  readonly selectors: readonly string[];
}

/** A backfill request still being read from the store: `cursorMs` is the next ms to read. */
export interface BackfillTask extends BackfillRequest {
  readonly cursorMs: number;
}

/**
 * What became of a backfill request: `added` (new, or a known id with another range, read afresh),
 * `pending` (already being read or waiting for its acks), `reported-again` (already finished: it is
 * reported again, as the hub evidently missed the report).
 */
export type BackfillAdmission = 'added' | 'pending' | 'reported-again';

export interface OutboxBacklog {
  readonly sampleRows: number;
  readonly eventRows: number;
  /** Time of the oldest queued sample (rows queue in collection order), undefined when none. */
  readonly oldestPendingMs: number | undefined;
}

/**
 * Where the outbox keeps its tables (all named `outbox_*`): `database`, a connection it shares (the agent's is
 * the store's, so that the record sink commits both in one transaction: decision 0001), or a file of its own
 * at `path` (opened, and a damaged one moved aside, as `openDurableDatabase` does).
 */
export type OutboxOptions = OutboxSettings & ({ readonly path: string } | { readonly database: Database.Database });

export interface OutboxSettings {
  readonly maxSampleRows?: number;
  readonly logger?: Logger;
  /** Called with the rows deleted unsent by coalescing (for counters). */
  readonly onDropped?: (rows: number) => void;
}

export interface Outbox {
  /** The connection the outbox's tables live on. */
  readonly database: Database.Database;
  /** Durable once resolved (same group commit for concurrent callers). */
  appendSamples(samples: readonly TypedSample[]): Promise<void>;
  appendEvent(event: OutboxEvent): Promise<void>;
  /**
   * For a caller that commits the outbox's rows in a transaction of its own on `database` (the record sink,
   * with the store's rows): call inside that transaction, then `settleWrite` once it committed or rolled back.
   * The samples must have whole ms times from 0 on.
   */
  writeInTransaction(samples: readonly TypedSample[], events: readonly OutboxEvent[]): void;
  /** After `writeInTransaction`'s transaction: counts its coalesced rows once committed, forgets its cached series once rolled back. */
  settleWrite(committed: boolean): void;
  /** Events with seq > afterSeq, oldest first. */
  pendingEvents(afterSeq: number, limit: number): PendingEvent[];
  /** Sample rows with seq > afterSeq, at most maxRows, grouped by series with ascending unique times. */
  historyBatch(afterSeq: number, maxRows: number): HistoryBatch | undefined;
  /** Deletes exactly the acknowledged range of a lane; returns the rows deleted. */
  ack(lane: AckLane, firstSeq: number, lastSeq: number): number;
  backlog(): OutboxBacklog;
  /** Sample rows the lane may still take before its cap. */
  sampleRoom(): number;
  /** Persists a backfill request (it survives restarts). [FM-DURABLE-6] */
  addBackfill(request: BackfillRequest, receivedAt: number): BackfillAdmission;
  /** Requests still being read from the store, in arrival order. */
  backfillTasks(): BackfillTask[];
  /**
   * Queues samples read for a request as ordinary sample rows and moves its cursor to `nextCursorMs`, in
   * one durable transaction. Refuses (false, nothing written) when the rows would take the lane past
   * its cap: a repair waits, it never makes the outbox coalesce. A piece of a task that changed meanwhile
   * (its cursor moved, or its id now names another range) is dropped (true, nothing written).
   */
  enqueueBackfill(task: BackfillTask, samples: readonly TypedSample[], nextCursorMs: number): boolean;
  /**
   * A batch with no rows that carries the dropped and repaired ranges still owed to the hub, for when
   * there are no rows to carry them; undefined when nothing is owed. Call only when every row sent so
   * far is acknowledged: its range [lastSeq, lastSeq] names the last row ever queued.
   */
  reportBatch(): HistoryBatch | undefined;
  /** Where a damaged file was moved at open, if it was (only with a file of its own). */
  readonly quarantinedTo: string | undefined;
  /** Closes the file of its own; a shared connection is its owner's to close. */
  close(): void;
}

type Write = { kind: 'samples'; samples: readonly TypedSample[] } | { kind: 'event'; event: OutboxEvent };

/** Bytes of `db`'s file that the outbox's tables and indexes take (their pages, from `dbstat`). */
export function outboxDiskBytes(db: Database.Database): number {
  // One b-tree at a time: dbstat walks only the b-tree its `name` constraint names.
  const names = db
    .prepare("SELECT name FROM sqlite_master WHERE tbl_name LIKE 'outbox\\_%' ESCAPE '\\' AND rootpage > 0")
    .pluck()
    .all() as string[];
  const size = db.prepare('SELECT COALESCE(SUM(pgsize), 0) FROM dbstat WHERE name = ? AND aggregate = TRUE').pluck();
  let bytes = 0;
  for (const name of names) bytes += size.get(name) as number;
  return bytes;
}

/** Tables of the outbox, all `outbox_*` so that they can share the store's file; created when missing. */
export function createOutboxTables(db: Database.Database): void {
  db.exec(`
    CREATE TABLE IF NOT EXISTS outbox_series (id INTEGER PRIMARY KEY, name TEXT NOT NULL, labels TEXT NOT NULL, type TEXT NOT NULL, unit TEXT NOT NULL, UNIQUE (name, labels));
    CREATE TABLE IF NOT EXISTS outbox_samples (seq INTEGER PRIMARY KEY AUTOINCREMENT, series_id INTEGER NOT NULL, ts INTEGER NOT NULL, value REAL);
    CREATE TABLE IF NOT EXISTS outbox_events (seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, kind TEXT NOT NULL, priority TEXT NOT NULL, ts INTEGER NOT NULL, payload BLOB NOT NULL);
    CREATE TABLE IF NOT EXISTS outbox_dropped (id INTEGER PRIMARY KEY AUTOINCREMENT, from_ms INTEGER NOT NULL, to_ms INTEGER NOT NULL, rows INTEGER NOT NULL);
    CREATE INDEX IF NOT EXISTS outbox_samples_by_series ON outbox_samples (series_id, seq);
    CREATE TABLE IF NOT EXISTS outbox_backfills (
      id TEXT PRIMARY KEY, from_ms INTEGER NOT NULL, to_ms INTEGER NOT NULL, selectors TEXT NOT NULL,
      cursor_ms INTEGER NOT NULL, last_seq INTEGER NOT NULL DEFAULT 0, received_at INTEGER NOT NULL,
      reported INTEGER NOT NULL DEFAULT 0, arrival INTEGER NOT NULL DEFAULT 0
    );
  `);
}

export function createSqliteOutbox(options: OutboxOptions): Outbox {
  const logger = options.logger ?? silentLogger;
  const maxRows = options.maxSampleRows ?? OUTBOX_MAX_SAMPLE_ROWS;
  const owned = 'path' in options;
  const { db, quarantinedTo } = owned
    ? openDurableDatabase(options.path, logger, 'outbox')
    : { db: options.database, quarantinedTo: undefined };
  createOutboxTables(db);
  const seriesIds = new Map<string, number>();
  const seriesById = new Map<number, { name: string; labels: Record<string, string>; type: SeriesType; unit: string }>();
  for (const row of db.prepare('SELECT id, name, labels, type, unit FROM outbox_series').all() as Array<{
    id: number;
    name: string;
    labels: string;
    type: SeriesType;
    unit: string;
  }>) {
    seriesIds.set(`${row.name}${row.labels}`, row.id);
    seriesById.set(row.id, { name: row.name, labels: JSON.parse(row.labels) as Record<string, string>, type: row.type, unit: row.unit });
  }
  let sampleRows = (db.prepare('SELECT COUNT(*) AS n FROM outbox_samples').get() as { n: number }).n;

  const insertSeries = db.prepare('INSERT INTO outbox_series (name, labels, type, unit) VALUES (?, ?, ?, ?)');
  // SQLite stores NaN as NULL; values are never null otherwise, so NULL reads back as NaN.
  const insertSample = db.prepare('INSERT INTO outbox_samples (series_id, ts, value) VALUES (?, ?, ?)');
  const insertEvent = db.prepare('INSERT OR IGNORE INTO outbox_events (id, kind, priority, ts, payload) VALUES (?, ?, ?, ?, ?)');

  /**
   * What the transaction in progress changed in memory, undone when it rolls back (the ids of the series it
   * added may be handed out again) and counted when it commits (rows coalesced).
   */
  let unsettled = { series: [] as string[], dropped: 0 };
  function settle(committed: boolean): void {
    const done = unsettled;
    unsettled = { series: [], dropped: 0 };
    if (committed) {
      if (done.dropped > 0) options.onDropped?.(done.dropped);
      return;
    }
    for (const key of done.series) {
      const id = seriesIds.get(key);
      seriesIds.delete(key);
      if (id !== undefined) seriesById.delete(id);
    }
    sampleRows = (db.prepare('SELECT COUNT(*) AS n FROM outbox_samples').get() as { n: number }).n;
  }
  /** Runs `tx` (a transaction) and settles what it changed in memory. */
  function settled<A extends unknown[], R>(tx: (...args: A) => R): (...args: A) => R {
    return (...args) => {
      let result: R;
      try {
        result = tx(...args);
      } catch (err) {
        settle(false);
        throw err;
      }
      settle(true);
      return result;
    };
  }

  function seriesId(s: TypedSample): number {
    const labels = labelsJson(s.labels);
    const key = `${s.name}${labels}`;
    let id = seriesIds.get(key);
    if (id === undefined) {
      id = Number(insertSeries.run(s.name, labels, s.type, s.unit).lastInsertRowid);
      seriesIds.set(key, id);
      seriesById.set(id, { name: s.name, labels: JSON.parse(labels) as Record<string, string>, type: s.type, unit: s.unit });
      unsettled.series.push(key);
    }
    return id;
  }

  /** [FM-DURABLE-5] Past the cap, sample rows coalesce to the latest per series; drops are recorded. */
  function coalesce(): void {
    if (sampleRows <= maxRows) return;
    const excess = sampleRows - Math.floor(maxRows * COALESCE_TO);
    const victims = db
      .prepare(
        `SELECT seq, ts FROM outbox_samples WHERE seq NOT IN (SELECT MAX(seq) FROM outbox_samples GROUP BY series_id) ORDER BY seq LIMIT ?`,
      )
      .all(excess) as Array<{ seq: number; ts: number }>;
    if (victims.length === 0) return;
    const del = db.prepare('DELETE FROM outbox_samples WHERE seq = ?');
    let from = Number.POSITIVE_INFINITY;
    let to = Number.NEGATIVE_INFINITY;
    for (const v of victims) {
      del.run(v.seq);
      from = Math.min(from, v.ts);
      to = Math.max(to, v.ts);
    }
    db.prepare('INSERT INTO outbox_dropped (from_ms, to_ms, rows) VALUES (?, ?, ?)').run(from, to, victims.length);
    sampleRows -= victims.length;
    unsettled.dropped += victims.length;
    logger.warn({ rows: victims.length, fromMs: from, toMs: to }, 'outbox at its cap: older samples coalesced to the latest per series');
  }

  /** Inside a transaction: the rows, then coalescing past the cap. */
  function write(samples: readonly TypedSample[], events: readonly OutboxEvent[]): void {
    for (const e of events) insertEvent.run(e.id, e.kind, e.priority, e.time, Buffer.from(e.payload));
    for (const s of samples) {
      insertSample.run(seriesId(s), s.time, Number.isNaN(s.value) ? null : s.value);
      sampleRows++;
    }
    coalesce();
  }

  const flush = settled(
    db.transaction((writes: readonly Write[]) => {
      for (const w of writes) {
        if (w.kind === 'event') write([], [w.event]);
        else write(w.samples, []);
      }
    }),
  );
  const submit = createGroupCommit<Write>((writes) => flush(writes), { maxBatch: 256, delayMs: 0 });

  /** Dropped ranges reported in frames not yet acknowledged, by the frame's lastSeq. */
  const droppedInFlight = new Map<number, number>();
  /** Finished backfill requests reported in frames not yet acknowledged, by the frame's lastSeq. */
  const repairedInFlight = new Map<number, string[]>();

  type BackfillRow = {
    id: string;
    from_ms: number;
    to_ms: number;
    selectors: string;
    cursor_ms: number;
    last_seq: number;
    reported: number;
  };
  const selectBackfill = db.prepare('SELECT * FROM outbox_backfills WHERE id = ?');
  let backfillArrival = (db.prepare('SELECT COALESCE(MAX(arrival), 0) AS n FROM outbox_backfills').get() as { n: number }).n;

  function droppedReports(): DroppedRange[] {
    return (
      db.prepare('SELECT from_ms, to_ms, rows FROM outbox_dropped ORDER BY id').all() as Array<{
        from_ms: number;
        to_ms: number;
        rows: number;
      }>
    ).map((d) => ({ fromMs: d.from_ms, toMs: d.to_ms, rows: d.rows }));
  }

  /**
   * [FM-DURABLE-6] Requests read to their end whose rows the hub has all acknowledged (no row up to the
   * last one queued for them is left), not yet reported in an acknowledged frame.
   */
  function finishedBackfills(): Array<{ id: string; from_ms: number; to_ms: number }> {
    return db
      .prepare(
        `SELECT id, from_ms, to_ms FROM outbox_backfills WHERE reported = 0 AND cursor_ms > to_ms
           AND last_seq < COALESCE((SELECT MIN(seq) FROM outbox_samples), 9007199254740991) ORDER BY arrival LIMIT 1024`,
      )
      .all() as Array<{ id: string; from_ms: number; to_ms: number }>;
  }

  /** Registers the reports a frame ending at `lastSeq` carries, so its ack clears them. */
  function reports(lastSeq: number): { dropped: DroppedRange[]; repaired: RepairedRange[] } {
    const droppedRows = db.prepare('SELECT MAX(id) AS id FROM outbox_dropped').get() as { id: number | null };
    if (droppedRows.id !== null) droppedInFlight.set(lastSeq, droppedRows.id);
    const finished = finishedBackfills();
    if (finished.length > 0)
      repairedInFlight.set(
        lastSeq,
        finished.map((f) => f.id),
      );
    return {
      dropped: droppedRows.id === null ? [] : droppedReports(),
      repaired: finished.map((f) => ({ requestId: f.id, fromMs: f.from_ms, toMs: f.to_ms })),
    };
  }

  const enqueueBackfillTx = settled(
    db.transaction((task: BackfillTask, samples: readonly TypedSample[], nextCursorMs: number): boolean => {
      const { id } = task;
      const now = selectBackfill.get(id) as BackfillRow | undefined;
      if (now === undefined || now.cursor_ms !== task.cursorMs || now.from_ms !== task.fromMs || now.to_ms !== task.toMs) return true;
      if (samples.length > 0 && sampleRows + samples.length > maxRows) return false;
      let lastSeq = 0;
      for (const s of samples) {
        lastSeq = Number(insertSample.run(seriesId(s), s.time, Number.isNaN(s.value) ? null : s.value).lastInsertRowid);
        sampleRows++;
      }
      if (lastSeq > 0) db.prepare('UPDATE outbox_backfills SET cursor_ms = ?, last_seq = ? WHERE id = ?').run(nextCursorMs, lastSeq, id);
      else db.prepare('UPDATE outbox_backfills SET cursor_ms = ? WHERE id = ?').run(nextCursorMs, id);
      return true;
    }),
  );

  return {
    database: db,
    quarantinedTo,
    writeInTransaction(samples, events) {
      if (!db.inTransaction) throw new Error('outbox writeInTransaction: no transaction is open on its database');
      write(samples, events);
    },
    settleWrite: settle,
    appendSamples(samples) {
      const bad = samples.find((x) => !Number.isSafeInteger(x.time) || x.time < 0);
      if (bad !== undefined) {
        // A row the wire cannot carry must never enter the outbox: it would block the lane.
        return Promise.reject(
          new FieldmeshError('FM_STORE_SAMPLE_INVALID', `sample ${bad.name} has time ${bad.time}: expected whole ms since 1970`),
        );
      }
      return samples.length === 0 ? Promise.resolve() : submit({ kind: 'samples', samples });
    },
    appendEvent(event) {
      return submit({ kind: 'event', event });
    },
    pendingEvents(afterSeq, limit) {
      const rows = db
        .prepare('SELECT seq, id, kind, priority, ts, payload FROM outbox_events WHERE seq > ? ORDER BY seq LIMIT ?')
        .all(afterSeq, limit) as Array<{
        seq: number;
        id: string;
        kind: string;
        priority: EventPriority;
        ts: number;
        payload: Buffer;
      }>;
      return rows.map((r) => ({
        seq: r.seq,
        id: r.id,
        kind: r.kind,
        priority: r.priority,
        time: r.ts,
        payload: new Uint8Array(r.payload),
      }));
    },
    historyBatch(afterSeq, limit) {
      const rows = db
        .prepare('SELECT seq, series_id, ts, value FROM outbox_samples WHERE seq > ? ORDER BY seq LIMIT ?')
        .all(afterSeq, limit) as Array<{
        seq: number;
        series_id: number;
        ts: number;
        value: number | null;
      }>;
      if (rows.length === 0) return undefined;
      const bySeries = new Map<number, Map<number, number>>();
      for (const r of rows) {
        let times = bySeries.get(r.series_id);
        if (times === undefined) {
          times = new Map();
          bySeries.set(r.series_id, times);
        }
        times.set(r.ts, r.value ?? Number.NaN); // a later row for the same time wins
      }
      const series: HistorySeries[] = [];
      for (const [id, times] of bySeries) {
        const def = seriesById.get(id);
        if (def === undefined) continue;
        const samples = [...times].sort((a, b) => a[0] - b[0]);
        series.push({ ...def, samples });
      }
      const lastSeq = (rows.at(-1) as { seq: number }).seq;
      return { firstSeq: afterSeq + 1, lastSeq, rows: rows.length, series, ...reports(lastSeq) };
    },
    reportBatch() {
      const owed = db.prepare('SELECT 1 FROM outbox_dropped LIMIT 1').get() !== undefined || finishedBackfills().length > 0;
      if (!owed) return undefined;
      const last = db.prepare("SELECT seq FROM sqlite_sequence WHERE name = 'outbox_samples'").get() as { seq: number } | undefined;
      const lastSeq = last?.seq ?? 0;
      return { firstSeq: lastSeq, lastSeq, rows: 0, series: [], ...reports(lastSeq) };
    },
    ack(lane, firstSeq, lastSeq) {
      if (lane === 'events') return db.prepare('DELETE FROM outbox_events WHERE seq BETWEEN ? AND ?').run(firstSeq, lastSeq).changes;
      const deleted = db.prepare('DELETE FROM outbox_samples WHERE seq BETWEEN ? AND ?').run(firstSeq, lastSeq).changes;
      sampleRows -= deleted;
      const droppedUpTo = droppedInFlight.get(lastSeq);
      if (droppedUpTo !== undefined) {
        db.prepare('DELETE FROM outbox_dropped WHERE id <= ?').run(droppedUpTo);
        droppedInFlight.delete(lastSeq);
      }
      const repaired = repairedInFlight.get(lastSeq);
      if (repaired !== undefined) {
        const mark = db.prepare('UPDATE outbox_backfills SET reported = 1 WHERE id = ? AND cursor_ms > to_ms');
        db.transaction(() => {
          for (const id of repaired) mark.run(id);
          db.prepare(
            'DELETE FROM outbox_backfills WHERE reported = 1 AND id NOT IN (SELECT id FROM outbox_backfills WHERE reported = 1 ORDER BY arrival DESC LIMIT ?)',
          ).run(REPORTED_BACKFILLS_KEPT);
        })();
      }
      // Frames acknowledged out of order leave their entries behind; what they carried is reported again.
      for (const key of repairedInFlight.keys()) if (key <= lastSeq) repairedInFlight.delete(key);
      return deleted;
    },
    backlog() {
      // The oldest queued row's time: rows queue in collection order, and this stays O(1).
      const oldest = (db.prepare('SELECT ts AS t FROM outbox_samples ORDER BY seq LIMIT 1').get() as { t: number } | undefined) ?? {
        t: null,
      };
      const events = db.prepare('SELECT COUNT(*) AS n FROM outbox_events').get() as { n: number };
      return { sampleRows, eventRows: events.n, oldestPendingMs: oldest.t ?? undefined };
    },
    sampleRoom() {
      return Math.max(0, maxRows - sampleRows);
    },
    addBackfill(request, receivedAt) {
      const selectors = JSON.stringify(request.selectors);
      const known = selectBackfill.get(request.id) as BackfillRow | undefined;
      if (known !== undefined && known.from_ms === request.fromMs && known.to_ms === request.toMs && known.selectors === selectors) {
        if (known.cursor_ms <= known.to_ms || known.reported === 0) return 'pending';
        db.prepare('UPDATE outbox_backfills SET reported = 0 WHERE id = ?').run(request.id);
        return 'reported-again';
      }
      db.prepare(
        `INSERT INTO outbox_backfills (id, from_ms, to_ms, selectors, cursor_ms, last_seq, received_at, reported, arrival)
         VALUES (?, ?, ?, ?, ?, 0, ?, 0, ?)
         ON CONFLICT (id) DO UPDATE SET from_ms = excluded.from_ms, to_ms = excluded.to_ms, selectors = excluded.selectors,
           cursor_ms = excluded.cursor_ms, last_seq = 0, received_at = excluded.received_at, reported = 0, arrival = excluded.arrival`,
      ).run(request.id, request.fromMs, request.toMs, selectors, request.fromMs, receivedAt, ++backfillArrival);
      return 'added';
    },
    backfillTasks() {
      return (db.prepare('SELECT * FROM outbox_backfills WHERE cursor_ms <= to_ms ORDER BY arrival').all() as BackfillRow[]).map((r) => ({
        id: r.id,
        fromMs: r.from_ms,
        toMs: r.to_ms,
        selectors: JSON.parse(r.selectors) as string[],
        cursorMs: r.cursor_ms,
      }));
    },
    enqueueBackfill(task, samples, nextCursorMs) {
      return enqueueBackfillTx(task, samples, nextCursorMs);
    },
    close() {
      if (owned) db.close();
    },
  };
}
