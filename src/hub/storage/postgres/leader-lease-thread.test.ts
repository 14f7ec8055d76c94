// The leader lease renewed from its own thread (renewThread), on a private PostgreSQL: a leader whose event loop is
// blocked past its ttl keeps its term (the loop-renewed lease loses it, as the control shows), and a leader whose loop
// stays silent past the stall tolerance is replaced, so a hung process does not hold the lease for ever.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Pool } from 'pg';
import { type PostgresInstance, startPostgres } from '../../../../test/kit/postgres.js';
import { waitFor } from '../../../../test/kit/wait.js';
import { createLeaderLease, type LeaderLease, type LeaseTerm, migrateLeases } from './leader-lease.js';
import { openPool } from './pool.js';

/** Blocks this thread's event loop for `ms`, as a saturated hub process's loop is (timers, sockets and messages wait). */
function blockLoop(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

describe('leader lease renewed from a thread', () => {
  let server: PostgresInstance;
  const pools: Pool[] = [];
  const leases: LeaderLease[] = [];
  before(async () => {
    server = await startPostgres();
  });
  after(async () => {
    await Promise.all(leases.map((l) => l.stop()));
    await Promise.all(pools.map((p) => p.end().catch(() => {})));
    await server?.stop();
  });

  async function setup(thread: { stallToleranceMs: number } | undefined) {
    const url = await server.createDatabase();
    const pool = await openPool({ url, poolSize: 2 });
    pools.push(pool);
    await migrateLeases(pool);
    const changes: (number | undefined)[] = [];
    const lease = createLeaderLease({
      pool,
      name: 'hub-leader',
      holder: 'busy',
      ttlMs: 1_000,
      renewEveryMs: 200,
      onChange: (t: LeaseTerm | undefined) => changes.push(t?.epoch),
      ...(thread === undefined ? {} : { renewThread: { url, ...thread } }),
    });
    leases.push(lease);
    const other = createLeaderLease({ pool, name: 'hub-leader', holder: 'other', ttlMs: 1_000, renewEveryMs: 600_000 });
    leases.push(other);
    /** The holder and epoch the database shows, and whether that term is unexpired. */
    const row = async () =>
      (
        await pool.query<{ holder: string; epoch: number; live: boolean }>(
          'SELECT holder, epoch, expires_at > now() AS live FROM leases WHERE name = $1',
          ['hub-leader'],
        )
      ).rows[0];
    return { lease, other, changes, row };
  }

  /** Takes the lease, starts renewing, and waits until a renewal after the take was reported. */
  async function lead(lease: LeaderLease): Promise<void> {
    assert.equal((await lease.tryAcquire())?.epoch, 1);
    const first = lease.term?.expiresAt ?? 0;
    lease.start();
    await waitFor(() => (lease.term?.expiresAt ?? 0) > first, { what: 'a renewal of the term', timeoutMs: 5_000 });
  }

  test('a leader whose event loop is blocked for 2.5 ttls keeps its term: the thread renewed it meanwhile', async () => {
    const { lease, other, changes, row } = await setup({ stallToleranceMs: 10_000 });
    await lead(lease);
    blockLoop(2_500);
    assert.deepEqual(await row(), { holder: 'busy', epoch: 1, live: true }, 'the term is unexpired in the database');
    assert.equal(await other.tryAcquire(), undefined, 'no other process can take it');
    // The messages the thread sent meanwhile are read before the lapse timer's verdict.
    await new Promise((r) => setTimeout(r, 0));
    await new Promise((r) => setImmediate(r));
    assert.equal(lease.term?.epoch, 1);
    assert.deepEqual(changes, [1], 'the term was never reported lost');
  });

  test('control: renewed from the event loop, the same block loses the term to another process', async () => {
    const { lease, other, changes, row } = await setup(undefined);
    await lead(lease);
    blockLoop(2_500);
    assert.equal((await row())?.live, false, 'the term lapsed in the database');
    assert.equal((await other.tryAcquire())?.epoch, 2, 'the other process took it');
    await waitFor(() => changes.includes(undefined), { what: 'the lease reporting its term lost', timeoutMs: 3_000 });
    assert.equal(lease.term, undefined);
  });

  test('a leader whose event loop stays silent past the stall tolerance stops renewing, and another takes over', async () => {
    const { lease, other, changes } = await setup({ stallToleranceMs: 800 });
    await lead(lease);
    // Silent for the tolerance and a ttl more: the thread stopped renewing, and the term lapsed.
    blockLoop(2_500);
    assert.equal((await other.tryAcquire())?.epoch, 2, 'the hung leader was replaced');
    await waitFor(() => changes.includes(undefined) || (lease.term?.epoch ?? 0) > 1, {
      what: 'the hung leader learning it lost its term',
      timeoutMs: 3_000,
    });
    assert.notEqual(lease.term?.epoch, 1, 'it no longer takes itself for leader of epoch 1');
  });
});
