// The leader lease of singleton duties (alert evaluation, digest aggregation, backfill scheduling) among
// hub processes sharing one PostgreSQL: a row per duty naming its holder, an expiry by the database's clock
// and a fencing epoch that grows at every change of holder. A write of the duty checks the epoch in its
// own transaction, with the lease row share-locked, so a deposed leader's write is refused, never interleaved.

import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { Pool, PoolClient } from 'pg';
import { FieldmeshError } from '../../../kit/index.js';
import { type MigrationStep, migrate } from './migrate.js';
import { inTransaction } from './pool.js';

export const LEASE_MIGRATIONS: readonly MigrationStep[] = [
  {
    version: 1,
    name: 'leases',
    up: `CREATE TABLE leases (
      name text PRIMARY KEY,
      holder text NOT NULL,
      epoch bigint NOT NULL,
      expires_at timestamptz NOT NULL,
      changed_at timestamptz NOT NULL DEFAULT now()
    )`,
  },
  {
    // Holder and epoch become key columns (in a unique index): a fenced write locks the row FOR KEY SHARE, which a
    // takeover (it changes them) waits for, and the holder's own renewal (it changes expires_at alone) does not.
    version: 2,
    name: 'leases term key',
    up: 'CREATE UNIQUE INDEX leases_term ON leases (name, epoch, holder)',
  },
];

/** A lease held, as of the last successful acquire or renew. */
export interface LeaseTerm {
  /** The fencing epoch: 1 for the first holder, +1 at every change of holder. */
  readonly epoch: number;
  /** When it lapses unless renewed, by the database's clock (ms since the epoch). */
  readonly expiresAt: number;
}

export interface LeaderLeaseOptions {
  readonly pool: Pool;
  /** The duty: one lease, one leader, per name ("alerts", "digest", "backfills"). */
  readonly name: string;
  /** Who asks; unique per process start (default host, PID and a random id), so a restart is a new holder. */
  readonly holder?: string;
  /** How long a taken or renewed lease lasts without renewal, ms (default 15000). */
  readonly ttlMs?: number;
  /** How often `start` tries to take or renew, ms (default a third of ttlMs). */
  readonly renewEveryMs?: number;
  /** Told when this process becomes leader (with the new term) or stops being it (undefined). */
  readonly onChange?: (term: LeaseTerm | undefined) => void;
  /**
   * Told of a failed attempt (database unreachable). The leader keeps its term and tries again: it is lost only once
   * the term lapsed unrenewed (see `start`).
   */
  readonly onError?: (err: unknown) => void;
}

export interface LeaderLease {
  readonly name: string;
  readonly holder: string;
  /** The term this process holds, as far as it knows (its lease may have lapsed since its last renewal). */
  readonly term: LeaseTerm | undefined;
  /** Takes the lease when free or lapsed, renews it when held: the term when leader, else undefined. */
  tryAcquire(): Promise<LeaseTerm | undefined>;
  /**
   * Tries at once, then every renewEveryMs, until `stop`. A renewal that fails (a database restarting) keeps the term:
   * leadership is lost (onChange(undefined)) only when the term lapses unrenewed, ttlMs after the last successful
   * renewal was sent (by this process's monotonic clock, never later than the database's expiry), or when a renewal
   * finds another holder.
   */
  start(): void;
  /**
   * Runs `write` in one transaction after checking, with the lease row share-locked until commit, that
   * this holder still holds an unexpired lease of the epoch it knows. Throws FM_LEADER_DEPOSED (nothing
   * written) when it does not.
   */
  fenced<T>(write: (client: PoolClient) => Promise<T>): Promise<T>;
  /**
   * The check `fenced` makes, for a write in a transaction of its own (another store's, on the same
   * database): throws FM_LEADER_DEPOSED unless this holder leads at the epoch it knows.
   */
  check(client: PoolClient): Promise<void>;
  /** Stops renewing and, when leader, lets the lease lapse at once so another takes over without waiting. */
  stop(): Promise<void>;
}

/** Creates the leases table when missing (migrations of component "leases"). */
export async function migrateLeases(pool: Pool): Promise<void> {
  await migrate(pool, 'leases', LEASE_MIGRATIONS);
}

/**
 * Checks in the caller's transaction that `holder` holds lease `name` at `epoch`, unexpired, and key-share-locks the
 * row so no takeover (a change of holder and epoch, the row's key columns) commits before this transaction does. The
 * holder's own renewal changes expires_at alone and is not held back: a busy leader's fenced writes never make it
 * miss its renewal. Throws FM_LEADER_DEPOSED.
 */
export async function checkLeaseEpoch(client: PoolClient, name: string, holder: string, epoch: number): Promise<void> {
  const r = await client.query<{ epoch: number; holder: string; live: boolean }>(
    'SELECT epoch, holder, expires_at > now() AS live FROM leases WHERE name = $1 FOR KEY SHARE',
    [name],
  );
  const row = r.rows[0];
  if (row !== undefined && row.holder === holder && row.epoch === epoch && row.live) return;
  const now =
    row === undefined ? 'nobody holds it' : row.holder === holder ? 'its lease lapsed' : `epoch ${row.epoch} is held by ${row.holder}`;
  throw new FieldmeshError('FM_LEADER_DEPOSED', `lease "${name}": ${holder} is no longer leader of epoch ${epoch} (${now})`, {
    details: { lease: name, holder, epoch },
  });
}

export function createLeaderLease(options: LeaderLeaseOptions): LeaderLease {
  const { pool, name } = options;
  const holder = options.holder ?? `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
  const ttlMs = options.ttlMs ?? 15_000;
  const renewEveryMs = options.renewEveryMs ?? Math.max(1, Math.floor(ttlMs / 3));
  let term: LeaseTerm | undefined;
  let timer: NodeJS.Timeout | undefined;
  /** Fires when the term held lapses unrenewed (set again at every successful renewal). */
  let lapse: NodeJS.Timeout | undefined;
  /** performance.now() past which the term held is no longer safe to hold: the last successful renewal's send + ttlMs. */
  let holdDeadline = 0;
  let running: Promise<unknown> = Promise.resolve();

  function become(next: LeaseTerm | undefined): void {
    const changed = next?.epoch !== term?.epoch;
    term = next;
    if (next === undefined && lapse !== undefined) {
      clearTimeout(lapse);
      lapse = undefined;
    }
    if (changed) options.onChange?.(next);
  }

  /**
   * The term taken or renewed by a statement sent at `sentAt` (performance.now()) lapses by the database's clock at
   * its now() + ttlMs, and that now() is no earlier than the sending: so sentAt + ttlMs is never after the lapse.
   */
  function holdUntil(sentAt: number): void {
    holdDeadline = Math.max(holdDeadline, sentAt + ttlMs);
    armLapse();
  }

  function armLapse(): void {
    if (lapse !== undefined) clearTimeout(lapse);
    lapse = setTimeout(onLapse, Math.max(0, holdDeadline - performance.now()));
    lapse.unref();
  }

  /**
   * The lapse timer fired. A busy event loop runs due timers before it reads its sockets, so a renewal the database
   * answered in time may still wait, unread, in the lease's connection: the verdict waits for the loop's I/O (one turn,
   * setImmediate), and the term is lost only if no renewal moved the deadline meanwhile. Holding it that turn longer is
   * safe: a renewal read then was sent no earlier than the one before, and the database's expiry is its own now() +
   * ttlMs, no earlier than the sending.
   */
  function onLapse(): void {
    lapse = undefined;
    setImmediate(() => {
      if (term === undefined || lapse !== undefined) return;
      if (performance.now() >= holdDeadline) become(undefined);
      else armLapse();
    });
  }

  async function tryAcquire(): Promise<LeaseTerm | undefined> {
    const sentAt = performance.now();
    const held = term;
    if (held !== undefined) {
      // Renewing the term held: expires_at alone, so the leader's own fenced writes (FOR KEY SHARE) do not hold it back.
      const renewed = await pool.query<{ epoch: number; expires_ms: number }>(
        `UPDATE leases SET expires_at = now() + $4 * interval '1 millisecond'
         WHERE name = $1 AND holder = $2 AND epoch = $3 AND expires_at > now()
         RETURNING epoch, (extract(epoch FROM expires_at) * 1000)::float8 AS expires_ms`,
        [name, holder, held.epoch, ttlMs],
      );
      const row = renewed.rows[0];
      if (row !== undefined) {
        holdUntil(sentAt);
        become({ epoch: row.epoch, expiresAt: row.expires_ms });
        return term;
      }
      // Lapsed or taken: as any contender below.
    }
    // One statement: take a free or lapsed lease (epoch + 1 when the holder changes), or renew our own.
    const r = await pool.query<{ epoch: number; expires_ms: number }>(
      `INSERT INTO leases AS l (name, holder, epoch, expires_at) VALUES ($1, $2, 1, now() + $3 * interval '1 millisecond')
       ON CONFLICT (name) DO UPDATE SET
         holder = excluded.holder,
         -- A lapsed term is never renewed: taken again, even by its old holder, it is a new term.
         epoch = CASE WHEN l.holder = excluded.holder AND l.expires_at > now() THEN l.epoch ELSE l.epoch + 1 END,
         expires_at = excluded.expires_at,
         changed_at = CASE WHEN l.holder = excluded.holder THEN l.changed_at ELSE now() END
       WHERE l.holder = excluded.holder OR l.expires_at <= now()
       RETURNING epoch, (extract(epoch FROM expires_at) * 1000)::float8 AS expires_ms`,
      [name, holder, ttlMs],
    );
    const row = r.rows[0];
    if (row !== undefined) holdUntil(sentAt);
    become(row === undefined ? undefined : { epoch: row.epoch, expiresAt: row.expires_ms });
    return term;
  }

  const notLeader = () =>
    new FieldmeshError('FM_LEADER_DEPOSED', `lease "${name}": ${holder} is not leader`, { details: { lease: name, holder } });

  async function check(client: PoolClient): Promise<void> {
    const held = term;
    if (held === undefined) throw notLeader();
    await checkLeaseEpoch(client, name, holder, held.epoch);
  }

  function tick(): void {
    running = tryAcquire().catch((err: unknown) => {
      // Unreachable (a restart, a failover): the term still holds until it lapses, and the next tick tries again.
      options.onError?.(err);
    });
  }

  return {
    name,
    holder,
    get term() {
      return term;
    },
    tryAcquire,
    start() {
      if (timer !== undefined) return;
      tick();
      timer = setInterval(tick, renewEveryMs);
      timer.unref();
    },
    async fenced(write) {
      // Known deposed: refused without asking the database (which may be what is out of reach).
      if (term === undefined) throw notLeader();
      return inTransaction(pool, async (client) => {
        await check(client);
        return write(client);
      });
    },
    check,
    async stop() {
      if (timer !== undefined) clearInterval(timer);
      timer = undefined;
      await running;
      if (term === undefined) return;
      if (lapse !== undefined) clearTimeout(lapse);
      await pool
        .query('UPDATE leases SET expires_at = now() WHERE name = $1 AND holder = $2', [name, holder])
        .catch((err: unknown) => options.onError?.(err));
      become(undefined);
    },
  };
}
