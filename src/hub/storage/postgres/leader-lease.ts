// The leader lease of singleton duties (alert evaluation, digest aggregation, backfill scheduling) among
// hub processes sharing one PostgreSQL: a row per duty naming its holder, an expiry by the database's clock
// and a fencing epoch that grows at every change of holder. A write of the duty checks the epoch in its
// own transaction, with the lease row share-locked, so a deposed leader's write is refused, never interleaved.

import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { Pool, PoolClient } from 'pg';
import { FieldmeshError } from '../../../kit/index.js';
import type { FromRenewer, RenewerData, ToRenewer } from './lease-renewer.js';
import { acquireOrRenew, type LeaseQuery, type LeaseTerm, monotonicMs } from './lease-statements.js';
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

export type { LeaseTerm };

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
  /**
   * Renew from a thread of its own (lease-renewer.ts) on a connection to `url`, so that a saturated event loop does not
   * lose the lease, for as long as the main thread shows it is alive: a main thread silent for `stallToleranceMs`
   * (default 4 ttls) stops the renewals and the lease lapses ttlMs later. Absent: renewals run on the event loop.
   */
  readonly renewThread?: { readonly url: string; readonly stallToleranceMs?: number };
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
  /** monotonicMs() past which the term held is no longer safe to hold: the last successful renewal's send + ttlMs. */
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
   * The term taken or renewed by a statement sent at `sentAt` (monotonicMs(), the same clock in every thread) lapses by the database's clock at
   * its now() + ttlMs, and that now() is no earlier than the sending: so sentAt + ttlMs is never after the lapse.
   */
  function holdUntil(sentAt: number): void {
    holdDeadline = Math.max(holdDeadline, sentAt + ttlMs);
    armLapse();
  }

  function armLapse(): void {
    if (lapse !== undefined) clearTimeout(lapse);
    lapse = setTimeout(onLapse, Math.max(0, holdDeadline - monotonicMs()));
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
      if (monotonicMs() >= holdDeadline) become(undefined);
      else armLapse();
    });
  }

  const query: LeaseQuery = (sql, params) => pool.query(sql, params);

  /** What a renewal or take sent at `sentAt` found: the term held until sentAt + ttlMs, or none. */
  function settle(found: LeaseTerm | undefined, sentAt: number): LeaseTerm | undefined {
    if (found !== undefined) holdUntil(sentAt);
    become(found);
    return term;
  }

  async function tryAcquire(): Promise<LeaseTerm | undefined> {
    const sentAt = monotonicMs();
    return settle(await acquireOrRenew(query, name, holder, term, ttlMs), sentAt);
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

  function startTicks(): void {
    if (timer !== undefined) return;
    tick();
    timer = setInterval(tick, renewEveryMs);
    timer.unref();
  }

  /** The renewal thread, when renewThread is set and start ran; its heartbeat; how stop waits for it. */
  let renewer: Worker | undefined;
  let heartbeat: NodeJS.Timeout | undefined;
  let renewerStopped: Promise<void> = Promise.resolve();

  function startRenewer(thread: NonNullable<LeaderLeaseOptions['renewThread']>): void {
    const data: RenewerData = {
      url: thread.url,
      name,
      holder,
      ttlMs,
      renewEveryMs,
      stallToleranceMs: thread.stallToleranceMs ?? 4 * ttlMs,
      term,
    };
    const worker = spawnRenewer(data);
    renewer = worker;
    let stopped = false;
    renewerStopped = new Promise<void>((resolve) => {
      worker.once('exit', () => {
        stopped = true;
        resolve();
      });
    });
    worker.on('message', (m: FromRenewer) => {
      if (m.type === 'result') settle(m.term, m.sentAt);
      else if (m.type === 'error') options.onError?.(new Error(m.message));
      else if (m.type === 'stalled')
        options.onError?.(new Error(`lease "${name}": not renewed: the event loop was silent for ${Math.round(m.sinceMs)} ms`));
    });
    worker.on('error', (err) => options.onError?.(err));
    worker.once('exit', () => {
      if (heartbeat !== undefined) clearInterval(heartbeat);
      heartbeat = undefined;
      // A thread that died while the lease runs: renew from the event loop instead, as without a thread.
      if (renewer === worker) {
        renewer = undefined;
        options.onError?.(new Error(`lease "${name}": the renewal thread stopped; renewing from the event loop`));
        startTicks();
      }
    });
    const beat = () => {
      if (!stopped) worker.postMessage({ type: 'beat' } satisfies ToRenewer);
    };
    heartbeat = setInterval(beat, Math.max(10, Math.min(1_000, Math.floor(data.stallToleranceMs / 4))));
    heartbeat.unref();
    worker.unref();
  }

  async function stopRenewer(): Promise<void> {
    const worker = renewer;
    if (worker === undefined) return;
    renewer = undefined;
    if (heartbeat !== undefined) clearInterval(heartbeat);
    heartbeat = undefined;
    worker.postMessage({ type: 'stop' } satisfies ToRenewer);
    const gone = await Promise.race([
      renewerStopped.then(() => true),
      new Promise<boolean>((r) => setTimeout(() => r(false), 2_000).unref()),
    ]);
    if (!gone) await worker.terminate();
  }

  return {
    name,
    holder,
    get term() {
      return term;
    },
    tryAcquire,
    start() {
      if (timer !== undefined || renewer !== undefined) return;
      if (options.renewThread !== undefined) startRenewer(options.renewThread);
      else startTicks();
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
      await stopRenewer();
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

/**
 * Starts the renewal thread: the built lease-renewer.js beside this file, or under tsx (tests, `.ts` sources) the
 * TypeScript entry through tsx's loader, which a worker does not inherit.
 */
function spawnRenewer(data: RenewerData): Worker {
  const ts = import.meta.url.endsWith('.ts');
  const entry = new URL(ts ? './lease-renewer.ts' : './lease-renewer.js', import.meta.url);
  if (!ts) return new Worker(entry, { workerData: data });
  const boot = `import('tsx/esm/api').then((m) => { m.register(); return import(${JSON.stringify(entry.href)}); })`;
  return new Worker(boot, { eval: true, workerData: data });
}
