// The connection pool of the hub's PostgreSQL stores, and transactions on it. The `pg` driver is loaded
// here, by dynamic import, so that the agent and a hub on SQLite never load it.

import type { Pool, PoolClient } from 'pg';

export interface PostgresPoolOptions {
  /** postgres://user:password@host:port/database (libpq's URL form). */
  readonly url: string;
  /** Connections kept at most (default 4). */
  readonly poolSize?: number;
  /** The pool's `application_name`, seen in pg_stat_activity (default "fieldmesh-hub"). */
  readonly applicationName?: string;
  /**
   * A pool the process's stores share (openHub opens one): used instead of opening one of this URL, and
   * not ended by the store's close (its opener ends it).
   */
  readonly pool?: Pool;
}

const INT8_OID = 20;

export async function openPool(options: PostgresPoolOptions): Promise<Pool> {
  const { default: pg } = await import('pg');
  const pool = new pg.Pool({
    connectionString: options.url,
    max: options.poolSize ?? 4,
    application_name: options.applicationName ?? 'fieldmesh-hub',
    // bigint columns hold ms since the epoch and counts: exact as JS numbers up to 2^53.
    types: {
      getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
        oid === INT8_OID ? Number : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
    },
  });
  // An idle connection the server closed (restart, failover) must not crash the hub: the pool drops it.
  pool.on('error', () => {});
  return pool;
}

/** `pool` as a store borrows it: everything as the pool, but `end` leaves it open for the other stores. */
export function borrowPool(pool: Pool): Pool {
  return new Proxy(pool, {
    get(target, prop) {
      if (prop === 'end') return async () => {};
      const value: unknown = Reflect.get(target, prop, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

/** Runs `fn` in a transaction on one connection: COMMIT when it returns, ROLLBACK when it throws. */
export async function inTransaction<T>(pool: Pool, fn: (client: PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  let broken: Error | undefined;
  try {
    await client.query('BEGIN');
    try {
      const result = await fn(client);
      await client.query('COMMIT');
      return result;
    } catch (err) {
      await client.query('ROLLBACK').catch((e: Error) => {
        broken = e;
      });
      throw err;
    }
  } finally {
    // A connection that cannot even roll back is closed, not handed to the next caller.
    client.release(broken);
  }
}
