// The leader lease on a private PostgreSQL: one of two contenders leads; the other takes over when the
// leader stops renewing, lets go, or dies, with a greater epoch; the deposed leader's writes are refused,
// and a takeover waits for the write the old leader had checked.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Pool } from 'pg';
import { type PostgresInstance, startPostgres } from '../../../../test/kit/postgres.js';
import { waitFor } from '../../../../test/kit/wait.js';
import { isFieldmeshError } from '../../../kit/index.js';
import { createLeaderLease, type LeaderLease, type LeaseTerm, migrateLeases } from './leader-lease.js';
import { openPool } from './pool.js';

describe('leader lease', () => {
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

  /** A database with the leases table and a table the duty writes, and a way to open contenders on it. */
  async function setup() {
    const url = await server.createDatabase();
    const admin = await openPool({ url, poolSize: 2 });
    pools.push(admin);
    await migrateLeases(admin);
    await admin.query('CREATE TABLE duty_log (epoch bigint NOT NULL, holder text NOT NULL)');
    const contender = async (holder: string, ttlMs: number, extra: { onChange?: (t: LeaseTerm | undefined) => void } = {}) => {
      const pool = await openPool({ url, poolSize: 2 });
      pools.push(pool);
      const lease = createLeaderLease({ pool, name: 'alerts', holder, ttlMs, renewEveryMs: 50, ...extra });
      leases.push(lease);
      return { pool, lease };
    };
    const log = async () =>
      (await admin.query<{ epoch: number; holder: string }>('SELECT epoch, holder FROM duty_log ORDER BY epoch, holder')).rows.map(
        (r) => `${r.holder}@${r.epoch}`,
      );
    /** The duty's write: one row naming who wrote it in which epoch. */
    const write = (lease: LeaderLease) =>
      lease.fenced(async (client) => {
        await client.query('INSERT INTO duty_log (epoch, holder) VALUES ($1, $2)', [lease.term?.epoch, lease.holder]);
      });
    return { admin, contender, log, write };
  }

  async function refused(p: Promise<unknown>): Promise<void> {
    await assert.rejects(p, (err) => isFieldmeshError(err, 'FM_LEADER_DEPOSED'));
  }

  test('the other contender takes over with a greater epoch once the leader stops renewing; the deposed leader may not write', async () => {
    const { contender, log, write } = await setup();
    const a = (await contender('a', 1_000)).lease;
    const b = (await contender('b', 1_000)).lease;
    assert.equal((await a.tryAcquire())?.epoch, 1);
    assert.equal(await b.tryAcquire(), undefined, 'a holds it');
    assert.equal((await a.tryAcquire())?.epoch, 1, 'a renewal keeps the epoch');
    await write(a);
    // a stops renewing (stalled, partitioned): its lease lapses and b takes it.
    const taken = await waitFor(() => b.tryAcquire(), { timeoutMs: 5_000, what: 'b to take the lapsed lease' });
    assert.equal(taken.epoch, 2);
    await refused(write(a));
    await write(b);
    assert.deepEqual(await log(), ['a@1', 'b@2']);
    assert.equal(await a.tryAcquire(), undefined, 'a finds it taken');
    await refused(write(a));
  });

  test('a leader that lets go hands over at once; renewing keeps a leader in place past its ttl', async () => {
    const { contender } = await setup();
    const changes: Array<number | undefined> = [];
    const a = (await contender('a', 600, { onChange: (t) => changes.push(t?.epoch) })).lease;
    const b = (await contender('b', 600)).lease;
    a.start();
    await waitFor(() => a.term, { what: 'a to lead' });
    b.start();
    // Renewed every 50 ms, a keeps the lease through two of its 600 ms terms while b keeps asking.
    const since = Date.now();
    await waitFor(() => Date.now() - since > 1_200 && (a.term?.expiresAt ?? 0) > since + 1_200, {
      timeoutMs: 5_000,
      what: 'a renewed past two ttls',
    });
    assert.equal(b.term, undefined);
    const wouldLapse = a.term?.expiresAt ?? 0;
    await a.stop();
    assert.deepEqual(changes, [1, undefined]);
    const taken = await waitFor(() => (b.term?.epoch === 2 ? b.term : undefined), { what: 'b to take over after a let go' });
    assert.ok(taken.expiresAt - 600 < wouldLapse, "b took over before a's last term would have lapsed");
  });

  test('a leader whose connections die is replaced after its ttl and stops taking itself for leader', async () => {
    const { contender, write } = await setup();
    const a = await contender('a', 300);
    const b = (await contender('b', 300)).lease;
    a.lease.start();
    await waitFor(() => a.lease.term, { what: 'a to lead' });
    // Its connections go (a crashed driver, a partition from the database): every renewal fails from now on.
    await a.pool.end();
    b.start();
    await waitFor(() => b.term?.epoch === 2, { timeoutMs: 5_000, what: 'b to lead after a lost the database' });
    await waitFor(() => a.lease.term === undefined, { what: 'a to know it may not lead' });
    await refused(write(a.lease));
    await write(b);
  });

  test('a takeover waits for the write the old leader checked its epoch for, and that write is the last of its epoch', async () => {
    const { admin, contender, log, write } = await setup();
    const a = (await contender('a', 1_000)).lease;
    const b = (await contender('b', 1_000)).lease;
    await a.tryAcquire();
    let release!: () => void;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    const slow = a.fenced(async (client) => {
      await client.query(`INSERT INTO duty_log (epoch, holder) VALUES (1, 'a')`);
      await gate;
    });
    await waitFor(
      async () => (await admin.query<{ lapsed: boolean }>(`SELECT expires_at <= now() AS lapsed FROM leases`)).rows[0]?.lapsed,
      { timeoutMs: 5_000, what: "a's lease to lapse while its write is open" },
    );
    const takeover = b.tryAcquire();
    await waitFor(
      async () =>
        (
          await admin.query(
            `SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE '%INSERT INTO leases%'`,
          )
        ).rowCount === 1,
      { what: "b's takeover to wait on the lease row" },
    );
    release();
    await slow;
    assert.equal((await takeover)?.epoch, 2);
    await refused(write(a));
    await write(b);
    assert.deepEqual(await log(), ['a@1', 'b@2']);
  });
  test("the leader's renewal is not held back by its own fenced write, which a takeover still waits for", async () => {
    const { admin, contender, log, write } = await setup();
    const a = (await contender('a', 2_000)).lease;
    const b = (await contender('b', 2_000)).lease;
    assert.equal((await a.tryAcquire())?.epoch, 1);
    let release!: () => void;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    let renewedInside: number | undefined;
    const open = a.fenced(async (client) => {
      await client.query(`INSERT INTO duty_log (epoch, holder) VALUES (1, 'a')`);
      // A busy leader: its write stays open while the renewal is due. The renewal goes through at once.
      renewedInside = (await a.tryAcquire())?.epoch;
      await gate;
    });
    try {
      await waitFor(() => renewedInside !== undefined, { what: 'the renewal inside the open write', timeoutMs: 1_500 });
    } catch (err) {
      // The renewal waits for the open write, which waits for the renewal: end the write's connection to get out.
      await admin.query(
        `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND state = 'idle in transaction'`,
      );
      await open.catch(() => {});
      throw err;
    }
    assert.equal(renewedInside, 1);
    // b's attempt waits for the open write (it would change holder and epoch), then finds the lease held.
    const attempt = b.tryAcquire();
    release();
    await open;
    assert.equal(await attempt, undefined);
    assert.deepEqual(await log(), ['a@1']);
    await write(a);
    assert.equal((await admin.query('SELECT epoch FROM leases')).rows[0]?.epoch, 1);
  });

  test('a leader whose event loop was blocked past its deadline keeps its term when the renewal it sent before was answered in time', async () => {
    const url = await server.createDatabase();
    const pool = await openPool({ url, poolSize: 2 });
    pools.push(pool);
    await migrateLeases(pool);
    const changes: (number | undefined)[] = [];
    // No renewals of its own: the test sends the one renewal, then blocks the loop.
    const lease = createLeaderLease({
      pool,
      name: 'alerts',
      holder: 'busy',
      ttlMs: 1_000,
      renewEveryMs: 600_000,
      onChange: (t) => changes.push(t?.epoch),
    });
    leases.push(lease);
    const acquiredAt = performance.now();
    assert.equal((await lease.tryAcquire())?.epoch, 1);
    await new Promise((r) => setTimeout(r, 600));
    const renewal = lease.tryAcquire();
    // The renewal is on the wire once the microtasks and ticks that send it ran; then the loop is blocked until the
    // first term's deadline is 300 ms past: the database answered meanwhile, but the answer waits unread behind the
    // lapse timer, as on a saturated hub process.
    await new Promise<void>((resolve) =>
      setImmediate(() => {
        while (performance.now() < acquiredAt + 1_300) {}
        resolve();
      }),
    );
    assert.equal((await renewal)?.epoch, 1);
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(changes, [1], 'the term was never reported lost');
    assert.equal(lease.term?.epoch, 1);
    // Unrenewed, it does lapse: a second after the renewal was sent.
    await waitFor(() => changes.length === 2, { what: 'the lapse of the unrenewed term', timeoutMs: 3_000 });
    assert.deepEqual(changes, [1, undefined]);
  });
});
