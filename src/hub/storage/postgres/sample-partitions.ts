// The samples table's time partitions: one per UTC day (declarative RANGE partitions on ts, ms since the
// epoch), created ahead of need and on demand, dropped whole by retention. With TimescaleDB the table is a
// hypertable of one-day chunks instead, and TimescaleDB makes them.

import type { PoolClient } from 'pg';

export const DAY_MS = 86_400_000;

/** The advisory lock key of partition changes ("fmpt"), taken in the transaction that creates or drops. */
export const PARTITION_LOCK = 0x666d7074;

/** How the samples table is split in time. */
export type SamplesLayout = 'partitions' | 'hypertable';

export interface SamplePartition {
  readonly name: string;
  /** Bounds of its ts range: fromMs inclusive, toMs exclusive. */
  readonly fromMs: number;
  readonly toMs: number;
}

/** Start of the UTC day holding `ts`. */
export function dayStart(ts: number): number {
  return Math.floor(ts / DAY_MS) * DAY_MS;
}

/** `samples_20261207` for the day starting at `day` (UTC). */
export function partitionName(day: number): string {
  return `samples_${new Date(day).toISOString().slice(0, 10).replaceAll('-', '')}`;
}

export async function samplesLayout(client: PoolClient): Promise<SamplesLayout> {
  const r = await client.query<{ relkind: string }>(`SELECT relkind FROM pg_class WHERE oid = 'samples'::regclass`);
  return r.rows[0]?.relkind === 'p' ? 'partitions' : 'hypertable';
}

/** The partitions of samples, oldest first. */
export async function listPartitions(client: PoolClient): Promise<SamplePartition[]> {
  const r = await client.query<{ name: string; bound: string }>(
    `SELECT c.relname AS name, pg_get_expr(c.relpartbound, c.oid) AS bound
       FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
      WHERE i.inhparent = 'samples'::regclass`,
  );
  const out: SamplePartition[] = [];
  for (const row of r.rows) {
    // FOR VALUES FROM ('1765065600000') TO ('1765152000000')
    const m = /FROM \('?(-?\d+)'?\) TO \('?(-?\d+)'?\)/.exec(row.bound);
    if (m) out.push({ name: row.name, fromMs: Number(m[1]), toMs: Number(m[2]) });
  }
  return out.sort((a, b) => a.fromMs - b.fromMs);
}

/** Creates the day partitions of `days` (day starts) that are missing. Takes the partition lock. */
export async function createPartitions(client: PoolClient, days: Iterable<number>): Promise<void> {
  await client.query('SELECT pg_advisory_xact_lock($1)', [PARTITION_LOCK]);
  const existing = new Set((await listPartitions(client)).map((p) => p.fromMs));
  for (const day of [...new Set(days)].sort((a, b) => a - b)) {
    if (existing.has(day)) continue;
    await client.query(
      `CREATE TABLE IF NOT EXISTS ${client.escapeIdentifier(partitionName(day))} PARTITION OF samples
         FOR VALUES FROM (${day}) TO (${day + DAY_MS})`,
    );
  }
}

/**
 * Drops every partition wholly older than `cutoffMs` and deletes the older rows of the one it cuts;
 * returns the number of samples that went. Takes the partition lock.
 */
export async function dropPartitionsBefore(client: PoolClient, cutoffMs: number): Promise<number> {
  await client.query('SELECT pg_advisory_xact_lock($1)', [PARTITION_LOCK]);
  let deleted = 0;
  for (const p of await listPartitions(client)) {
    if (p.toMs > cutoffMs) break;
    const name = client.escapeIdentifier(p.name);
    const count = await client.query<{ n: number }>(`SELECT count(*) AS n FROM ${name}`);
    deleted += count.rows[0]?.n ?? 0;
    await client.query(`DROP TABLE ${name}`);
  }
  const partly = await client.query('DELETE FROM samples WHERE ts < $1', [cutoffMs]);
  return deleted + (partly.rowCount ?? 0);
}

/** The hypertable's way: whole chunks dropped, the rest of the cut one deleted. */
export async function dropChunksBefore(client: PoolClient, cutoffMs: number): Promise<number> {
  const count = await client.query<{ n: number }>('SELECT count(*) AS n FROM samples WHERE ts < $1', [cutoffMs]);
  await client.query(`SELECT drop_chunks('samples', older_than => $1::bigint)`, [cutoffMs]);
  await client.query('DELETE FROM samples WHERE ts < $1', [cutoffMs]);
  return count.rows[0]?.n ?? 0;
}
