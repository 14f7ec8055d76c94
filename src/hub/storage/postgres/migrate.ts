// Schema migrations of the hub's PostgreSQL stores: numbered steps per component, each applied once in a
// transaction of its own and recorded in schema_migrations, under an advisory lock so that hub processes
// starting together apply each step once.

import type { Pool, PoolClient } from 'pg';
import { borrowPool, openPool, type PostgresPoolOptions } from './pool.js';

/** One step of a component's schema; `version` numbers are 1, 2, 3... and never change once shipped. */
export interface MigrationStep {
  readonly version: number;
  readonly name: string;
  /** SQL text (several statements allowed), or a function run in the step's transaction. */
  readonly up: string | ((client: PoolClient) => Promise<void>);
}

/** The advisory lock key every hub process takes to migrate ("fmmg"). */
const MIGRATION_LOCK = 0x666d6d67;

/**
 * Brings `component` up to its last step. Returns the versions applied now (none when another
 * process, or an earlier start, applied them).
 */
export async function migrate(pool: Pool, component: string, steps: readonly MigrationStep[]): Promise<number[]> {
  steps.forEach((s, i) => {
    if (s.version !== i + 1) throw new Error(`migrations of ${component}: step ${i} has version ${s.version}, expected ${i + 1}`);
  });
  const client = await pool.connect();
  try {
    // A session lock, held across the steps' transactions; a second process waits here, then finds them applied.
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK]);
    try {
      await client.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
        component text NOT NULL,
        version integer NOT NULL,
        name text NOT NULL,
        applied_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (component, version)
      )`);
      const done = await client.query<{ version: number }>('SELECT version FROM schema_migrations WHERE component = $1', [component]);
      const applied = new Set(done.rows.map((r) => r.version));
      const newest = Math.max(0, ...applied);
      if (newest > steps.length) {
        throw new Error(
          `the database's ${component} schema is at version ${newest}, newer than this hub knows (${steps.length}): upgrade the hub`,
        );
      }
      const now: number[] = [];
      for (const step of steps) {
        if (applied.has(step.version)) continue;
        await client.query('BEGIN');
        try {
          if (typeof step.up === 'string') await client.query(step.up);
          else await step.up(client);
          await client.query('INSERT INTO schema_migrations (component, version, name) VALUES ($1, $2, $3)', [
            component,
            step.version,
            step.name,
          ]);
          await client.query('COMMIT');
        } catch (err) {
          await client.query('ROLLBACK');
          throw new Error(`migration ${component} ${step.version} (${step.name}) failed: ${(err as Error).message}`, { cause: err });
        }
        now.push(step.version);
      }
      return now;
    } finally {
      await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK]);
    }
  } finally {
    client.release();
  }
}

/** A pool on which `component` is migrated (closed again when migrating fails): options.pool borrowed, or a new one. */
export async function openMigratedPool(options: PostgresPoolOptions, component: string, steps: readonly MigrationStep[]): Promise<Pool> {
  const pool = options.pool === undefined ? await openPool(options) : borrowPool(options.pool);
  try {
    await migrate(pool, component, steps);
    return pool;
  } catch (err) {
    await pool.end();
    throw err;
  }
}
