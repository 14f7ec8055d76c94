// The leader lease through a PostgreSQL crash (kill -9) and restart, on a private server of its own: a restart
// within the term leaves the leader in place with the same epoch (its failed renewals are retried, not taken for a
// loss); a database down longer than the term costs the leader its lease once the term lapsed, not before, and another
// process takes over with a greater epoch when the database is back.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Pool } from 'pg';
import { type PostgresInstance, startPostgres } from '../../../../test/kit/postgres.js';
import { waitFor } from '../../../../test/kit/wait.js';
import { isFieldmeshError } from '../../../kit/index.js';
import { createLeaderLease, type LeaderLease, migrateLeases } from './leader-lease.js';
import { openPool } from './pool.js';

let server: PostgresInstance;
const pools: Pool[] = [];
const leases: LeaderLease[] = [];
before(async () => {
  server = await startPostgres();
});
after(async () => {
  await Promise.all(leases.map((l) => l.stop().catch(() => {})));
  await Promise.all(pools.map((p) => p.end().catch(() => {})));
  await server?.stop();
});

/** A contender on a pool of its own, recording its changes of term and its failed attempts. */
async function contender(url: string, holder: string, ttlMs: number) {
  const pool = await openPool({ url, poolSize: 2 });
  pools.push(pool);
  const changes: Array<{ epoch: number | undefined; at: number }> = [];
  let errors = 0;
  const lease = createLeaderLease({
    pool,
    name: 'hub-leader',
    holder,
    ttlMs,
    renewEveryMs: 100,
    onChange: (t) => changes.push({ epoch: t?.epoch, at: performance.now() }),
    onError: () => {
      errors++;
    },
  });
  leases.push(lease);
  return { lease, changes, errors: () => errors };
}

const write = (lease: LeaderLease) => lease.fenced((client) => client.query('SELECT 1'));

test('a PostgreSQL killed and restarted within the term leaves the leader in place with the same epoch', async () => {
  const url = await server.createDatabase();
  const setup = await openPool({ url, poolSize: 1 });
  pools.push(setup);
  await migrateLeases(setup);
  // A term long enough for a restart with crash recovery on a loaded machine.
  const a = await contender(url, 'a', 30_000);
  const b = await contender(url, 'b', 30_000);
  a.lease.start();
  await waitFor(() => a.lease.term, { what: 'a to lead' });
  b.lease.start();
  const before = a.lease.term?.expiresAt ?? 0;

  await server.kill();
  await waitFor(() => a.errors() >= 2 && b.errors() >= 2, { what: 'renewals failing while the database is down', timeoutMs: 10_000 });
  assert.equal(a.lease.term?.epoch, 1, 'a keeps its term through failed renewals');
  await server.start();

  await waitFor(() => (a.lease.term?.expiresAt ?? 0) > before, { what: 'a renewed after the restart', timeoutMs: 20_000 });
  assert.deepEqual(
    a.changes.map((c) => c.epoch),
    [1],
    'a never lost the lease',
  );
  assert.equal(a.lease.term?.epoch, 1);
  assert.equal(b.lease.term, undefined, 'b did not take it');
  await write(a.lease);
});

test('a PostgreSQL down longer than the term: the leader loses the lease once its term lapsed, and another takes over', async () => {
  const url = await server.createDatabase();
  const setup = await openPool({ url, poolSize: 1 });
  pools.push(setup);
  await migrateLeases(setup);
  const TTL_MS = 2_000;
  const a = await contender(url, 'a', TTL_MS);
  const b = await contender(url, 'b', TTL_MS);
  a.lease.start();
  await waitFor(() => a.lease.term, { what: 'a to lead' });
  b.lease.start();

  await server.kill();
  const killedAt = performance.now();
  await waitFor(() => a.changes.some((c) => c.epoch === undefined), { what: 'a to lose the lease', timeoutMs: 10_000 });
  const lostAt = a.changes.find((c) => c.epoch === undefined)?.at ?? 0;
  assert.ok(a.errors() >= 2, 'renewals failed, and were tried again, before the loss');
  // Its last renewal was sent at most one renewal interval (100 ms) before the kill.
  assert.ok(lostAt - killedAt >= TTL_MS - 200, `lost ${Math.round(lostAt - killedAt)} ms after the kill, not before the term lapsed`);
  await assert.rejects(write(a.lease), (err) => isFieldmeshError(err, 'FM_LEADER_DEPOSED'));
  // As the hub does (its process exits and starts again as a follower): a stops contending under this holder.
  await a.lease.stop();

  await server.start();
  await waitFor(() => b.lease.term?.epoch === 2, { what: 'b to take over with epoch 2', timeoutMs: 20_000 });
  await write(b.lease);
});
