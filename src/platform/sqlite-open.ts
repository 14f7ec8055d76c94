// Opens a SQLite database for durable use, moving a damaged file aside instead of refusing to start.

import { existsSync, renameSync } from 'node:fs';
import Database from 'better-sqlite3';
import type { Logger } from '../kit/index.js';

export interface OpenedDatabase {
  readonly db: Database.Database;
  /** Where a damaged file was moved, when it was. */
  readonly quarantinedTo: string | undefined;
}

function openChecked(path: string): Database.Database {
  const db = new Database(path);
  try {
    db.pragma('journal_mode = WAL');
    // FULL: a commit returns only after the WAL is fsynced; acknowledgements depend on it.
    db.pragma('synchronous = FULL');
    const check = db.pragma('quick_check', { simple: true });
    if (check !== 'ok') throw new Error(`quick_check: ${String(check)}`);
    return db;
  } catch (err) {
    db.close();
    throw err;
  }
}

/** Renames a database file with its -wal and -shm to `<path>.corrupt-<nowMs>`; returns the new path. */
export function moveDatabaseAside(path: string, nowMs: number): string {
  const aside = `${path}.corrupt-${nowMs}`;
  for (const suffix of ['', '-wal', '-shm']) {
    if (existsSync(path + suffix)) renameSync(path + suffix, aside + suffix);
  }
  return aside;
}

/**
 * Opens `path` with WAL and synchronous=FULL. A file that is not a database, or fails quick_check, is
 * renamed to `<path>.corrupt-<time>` (with its -wal and -shm), one line is logged naming both paths,
 * and a fresh database is opened in its place: the process keeps collecting.
 */
export function openDurableDatabase(path: string, logger: Logger, what: string, nowMs = Date.now()): OpenedDatabase {
  try {
    return { db: openChecked(path), quarantinedTo: undefined };
  } catch (err) {
    if (!existsSync(path)) throw err;
    const aside = moveDatabaseAside(path, nowMs);
    logger.error(
      { path, quarantinedTo: aside, err: (err as Error).message },
      `${what} at ${path} is damaged; moved it to ${aside} and started a new one`,
    );
    return { db: openChecked(path), quarantinedTo: aside };
  }
}
