// Upgrading a node in place: the rows of an outbox.db of its own (the agent before decision 0001's
// amendment was retired) are carried into the outbox tables of the store's file, once, then the old file goes.

import { existsSync, rmSync } from 'node:fs';
import Database from 'better-sqlite3';
import { createId, type Logger } from '../../kit/index.js';
import { moveDatabaseAside } from '../../platform/index.js';
import { createOutboxTables } from './sqlite-outbox.js';

/** What became of an outbox file found beside the store. */
export interface OutboxCarryOver {
  /** Rows carried into the shared file, by table. */
  readonly carried?: { readonly samples: number; readonly events: number; readonly dropped: number; readonly backfills: number };
  /** Where the file was moved because it could not be read or carried (counted like a damaged outbox). */
  readonly quarantinedTo?: string;
}

/** The tables of the old file, named as it named them. */
const OLD_TABLES = ['series', 'samples', 'events', 'dropped', 'backfills'] as const;

/**
 * Carries the rows of the outbox file at `oldPath`, when there is one, into the `outbox_*` tables of `db`,
 * in one transaction of `db`, then deletes the file. Call before the outbox opens on `db`.
 *
 * Sequence numbers are kept (acks, resends and backfill cursors refer to them) unless `db` already holds
 * rows at or above the file's first (a node downgraded after an upgrade, then upgraded again): then the
 * file's rows are numbered after them, in their order. Each lane's sequence carries on above the file's
 * own high-water mark, so no seq is ever handed out twice. A crash between the commit and the deletion
 * must not carry the rows twice: the file is stamped with a token before the copy, and the copy records the
 * token in `outbox_meta` in its transaction; a file whose token is recorded is only deleted.
 * A file that does not open, fails quick_check, or whose rows cannot be carried is moved aside instead.
 */
export function carryOverOutboxFile(db: Database.Database, oldPath: string, logger: Logger, nowMs = Date.now()): OutboxCarryOver {
  if (!existsSync(oldPath)) return {};
  createOutboxTables(db);
  db.exec('CREATE TABLE IF NOT EXISTS outbox_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)');
  let token: string;
  try {
    token = stampedToken(oldPath);
  } catch (err) {
    return quarantine(oldPath, err, logger, nowMs);
  }
  const key = `carried-over ${token}`;
  let carried: OutboxCarryOver['carried'];
  if (db.prepare('SELECT 1 FROM outbox_meta WHERE key = ?').get(key) === undefined) {
    db.prepare('ATTACH DATABASE ? AS carried').run(oldPath);
    try {
      carried = db.transaction(() => {
        const counts = copyRows(db);
        db.prepare('INSERT INTO outbox_meta (key, value) VALUES (?, ?)').run(key, String(nowMs));
        return counts;
      })();
    } catch (err) {
      db.exec('DETACH DATABASE carried');
      return quarantine(oldPath, err, logger, nowMs);
    }
    db.exec('DETACH DATABASE carried');
  }
  for (const suffix of ['', '-wal', '-shm']) rmSync(oldPath + suffix, { force: true });
  if (carried === undefined) {
    logger.info({ path: oldPath }, `outbox ${oldPath} was carried into the store's file before; deleted it`);
    return {};
  }
  logger.info(
    { path: oldPath, ...carried },
    `outbox ${oldPath} carried into the store's file (${carried.samples} sample rows, ${carried.events} events, ` +
      `${carried.dropped} dropped ranges, ${carried.backfills} backfill requests); deleted it`,
  );
  return { carried };
}

/** Opens the old file on its own (its WAL is replayed), proves it readable, and returns its carry-over token. */
function stampedToken(path: string): string {
  const old = new Database(path, { fileMustExist: true });
  try {
    const check = old.pragma('quick_check', { simple: true });
    if (check !== 'ok') throw new Error(`quick_check: ${String(check)}`);
    old.exec('CREATE TABLE IF NOT EXISTS carry_over (token TEXT NOT NULL)');
    let token = old.prepare('SELECT token FROM carry_over').pluck().get() as string | undefined;
    if (token === undefined) {
      token = createId();
      old.prepare('INSERT INTO carry_over (token) VALUES (?)').run(token);
    }
    old.pragma('wal_checkpoint(TRUNCATE)');
    return token;
  } finally {
    old.close();
  }
}

/** Inside the transaction: every row of the attached `carried` file into the outbox tables. */
function copyRows(db: Database.Database): NonNullable<OutboxCarryOver['carried']> {
  const present = new Set(
    db
      .prepare(`SELECT name FROM carried.sqlite_master WHERE type = 'table' AND name IN (${OLD_TABLES.map(() => '?').join(', ')})`)
      .pluck()
      .all(...OLD_TABLES) as string[],
  );
  const scalar = (sql: string, ...params: unknown[]) =>
    Number(
      db
        .prepare(sql)
        .pluck()
        .get(...params) ?? 0,
    );
  const oldSequence = (table: string) => scalar('SELECT seq FROM carried.sqlite_sequence WHERE name = ?', table);
  const hasSequence = scalar("SELECT COUNT(*) FROM carried.sqlite_master WHERE name = 'sqlite_sequence'") > 0;
  /** How far the file's seqs move: 0 unless `db` already holds a seq at or above the file's first. */
  const shift = (table: string, oldTable: string) => {
    const top = Math.max(scalar(`SELECT MAX(seq) FROM ${table}`), scalar('SELECT seq FROM sqlite_sequence WHERE name = ?', table));
    const first = scalar(`SELECT MIN(seq) FROM carried.${oldTable}`);
    return first > 0 && top >= first ? top - first + 1 : 0;
  };
  /** The lane's sequence carries on above the file's high-water mark (rows acknowledged and deleted included). */
  const raiseSequence = (table: string, oldTable: string, delta: number) => {
    const high = (hasSequence ? oldSequence(oldTable) : 0) + delta;
    db.prepare('UPDATE sqlite_sequence SET seq = MAX(seq, ?) WHERE name = ?').run(high, table);
    if (high > 0 && scalar('SELECT COUNT(*) FROM sqlite_sequence WHERE name = ?', table) === 0) {
      db.prepare('INSERT INTO sqlite_sequence (name, seq) VALUES (?, ?)').run(table, high);
    }
  };

  let samples = 0;
  let samplesDelta = 0;
  if (present.has('series') && present.has('samples')) {
    db.exec(
      'INSERT OR IGNORE INTO outbox_series (name, labels, type, unit) SELECT name, labels, type, unit FROM carried.series ORDER BY id',
    );
    samplesDelta = shift('outbox_samples', 'samples');
    samples = db
      .prepare(
        `INSERT INTO outbox_samples (seq, series_id, ts, value)
         SELECT s.seq + ?, m.id, s.ts, s.value FROM carried.samples s
           JOIN carried.series o ON o.id = s.series_id
           JOIN outbox_series m ON m.name = o.name AND m.labels = o.labels
         ORDER BY s.seq`,
      )
      .run(samplesDelta).changes;
    raiseSequence('outbox_samples', 'samples', samplesDelta);
  }
  let events = 0;
  if (present.has('events')) {
    const delta = shift('outbox_events', 'events');
    events = db
      .prepare(
        `INSERT OR IGNORE INTO outbox_events (seq, id, kind, priority, ts, payload)
         SELECT seq + ?, id, kind, priority, ts, payload FROM carried.events ORDER BY seq`,
      )
      .run(delta).changes;
    raiseSequence('outbox_events', 'events', delta);
  }
  const dropped = present.has('dropped')
    ? db.prepare('INSERT INTO outbox_dropped (from_ms, to_ms, rows) SELECT from_ms, to_ms, rows FROM carried.dropped ORDER BY id').run()
        .changes
    : 0;
  const backfills = present.has('backfills')
    ? db
        .prepare(
          `INSERT OR IGNORE INTO outbox_backfills (id, from_ms, to_ms, selectors, cursor_ms, last_seq, received_at, reported, arrival)
           SELECT id, from_ms, to_ms, selectors, cursor_ms, CASE WHEN last_seq > 0 THEN last_seq + ? ELSE 0 END, received_at, reported,
             arrival + ? FROM carried.backfills ORDER BY arrival`,
        )
        .run(samplesDelta, scalar('SELECT MAX(arrival) FROM outbox_backfills')).changes
    : 0;
  return { samples, events, dropped, backfills };
}

function quarantine(path: string, err: unknown, logger: Logger, nowMs: number): OutboxCarryOver {
  const quarantinedTo = moveDatabaseAside(path, nowMs);
  logger.error(
    { path, quarantinedTo, err: (err as Error).message },
    `outbox ${path} could not be carried into the store's file (${(err as Error).message}); moved it to ${quarantinedTo}`,
  );
  return { quarantinedTo };
}
