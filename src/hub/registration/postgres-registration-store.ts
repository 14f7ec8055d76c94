// Node registrations on PostgreSQL (component "registration" in schema_migrations) for a scale-out hub.
// The RegistrationStore port is synchronous (the gate reads it once at start and writes through it), so
// this store holds the rows in memory, loaded at open, and writes each put behind, in order; `flush`
// waits for the writes, `refresh` reads what other hub processes wrote, `close` flushes before it ends.

import type { Pool } from 'pg';
import { type MigrationStep, openMigratedPool } from '../storage/postgres/migrate.js';
import type { PostgresPoolOptions } from '../storage/postgres/pool.js';
import {
  type RegistrationRecord,
  type RegistrationRow,
  type RegistrationStore,
  registrationRow,
  toRegistration,
} from './registration-store.js';

export const REGISTRATION_MIGRATIONS: readonly MigrationStep[] = [
  {
    version: 1,
    name: 'node registrations',
    up: `
      CREATE TABLE node_registrations (
        site text NOT NULL,
        node text NOT NULL,
        status text NOT NULL,
        zone text,
        agent_version text,
        boot_time bigint,
        config_version text,
        first_seen bigint,
        last_seen bigint,
        births bigint NOT NULL,
        frames_ignored bigint NOT NULL,
        decided_by text,
        decided_at bigint,
        origin text,
        assigned_site text,
        assigned_zone text,
        assignment_state text,
        PRIMARY KEY (site, node)
      );
      CREATE TABLE registration_meta (
        key text PRIMARY KEY,
        value text NOT NULL
      );
    `,
  },
];

/** node_registrations' columns, site and node (the key) first: the keys of registrationRow's rows, in order. */
const COLUMNS = Object.keys(registrationRow({} as RegistrationRecord)) as ReadonlyArray<keyof RegistrationRow>;

const UPSERT = `INSERT INTO node_registrations (${COLUMNS.join(', ')}) VALUES (${COLUMNS.map((_, i) => `$${i + 1}`).join(', ')})
  ON CONFLICT (site, node) DO UPDATE SET ${COLUMNS.slice(2)
    .map((c) => `${c} = excluded.${c}`)
    .join(', ')}`;

export interface PostgresRegistrationStoreOptions extends PostgresPoolOptions {
  /** Told of a write that failed (the row stays in memory; the next put of that node writes it again). */
  readonly onError?: (err: unknown) => void;
}

export interface PostgresRegistrationStore extends RegistrationStore {
  /** Resolves once every put and setLastMode made so far is written. */
  flush(): Promise<void>;
  /** Reads the rows and the last mode again (what other hub processes wrote). */
  refresh(): Promise<void>;
  /** Flushes, then closes the connections. */
  close(): Promise<void>;
}

function byKey(a: RegistrationRecord, b: RegistrationRecord): number {
  const x = `${a.site}\u0000${a.node}`;
  const y = `${b.site}\u0000${b.node}`;
  return x < y ? -1 : x > y ? 1 : 0;
}

/** Connects, migrates and loads the registrations. */
export async function createPostgresRegistrationStore(options: PostgresRegistrationStoreOptions): Promise<PostgresRegistrationStore> {
  const pool = await openMigratedPool(options, 'registration', REGISTRATION_MIGRATIONS);
  const store = postgresRegistrationStore(pool, options);
  try {
    await store.refresh();
  } catch (err) {
    await pool.end();
    throw err;
  }
  return store;
}

function postgresRegistrationStore(pool: Pool, options: PostgresRegistrationStoreOptions): PostgresRegistrationStore {
  const rows = new Map<string, RegistrationRecord>();
  let mode: string | undefined;
  let writes: Promise<void> = Promise.resolve();
  let open = true;

  /** Queues a write after the earlier ones, so the database sees puts in the order they were made. */
  function behind(write: () => Promise<unknown>): void {
    writes = writes.then(write).then(
      () => {},
      (err: unknown) => options.onError?.(err),
    );
  }

  return {
    list: () => [...rows.values()].map((r) => ({ ...r })).sort(byKey),
    put(record) {
      if (!open) return;
      rows.set(`${record.site}\u0000${record.node}`, { ...record });
      const row = registrationRow(record);
      behind(() =>
        pool.query(
          UPSERT,
          COLUMNS.map((c) => row[c]),
        ),
      );
    },
    lastMode: () => mode,
    setLastMode(m) {
      mode = m;
      behind(() =>
        pool.query(
          `INSERT INTO registration_meta (key, value) VALUES ('mode', $1) ON CONFLICT (key) DO UPDATE SET value = excluded.value`,
          [m],
        ),
      );
    },
    flush: () => writes,
    async refresh() {
      const [r, m] = await Promise.all([
        pool.query<RegistrationRow>('SELECT * FROM node_registrations'),
        pool.query<{ value: string }>(`SELECT value FROM registration_meta WHERE key = 'mode'`),
      ]);
      rows.clear();
      for (const row of r.rows) rows.set(`${row.site}\u0000${row.node}`, toRegistration(row));
      mode = m.rows[0]?.value;
    },
    async close() {
      if (!open) return;
      open = false;
      await writes;
      await pool.end();
    },
  };
}
