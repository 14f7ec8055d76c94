// The alert store on a private PostgreSQL: the alert store contract, and a commit fenced by the leader
// lease: a deposed leader's evaluation writes nothing.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { postgresTarget, startPostgres } from '../../../../test/kit/postgres.js';
import { waitFor } from '../../../../test/kit/wait.js';
import { isFieldmeshError } from '../../../kit/index.js';
import { createLeaderLease, migrateLeases } from '../../storage/postgres/leader-lease.js';
import { openPool } from '../../storage/postgres/pool.js';
import { runAlertStoreContract } from '../alert-store.contract.js';
import { createPostgresAlertStore } from './postgres-alert-store.js';

runAlertStoreContract('postgres', () => postgresTarget((url) => createPostgresAlertStore({ url })));

test('postgres alert store: a commit fenced by the leader lease is refused once another leads, and writes nothing', async () => {
  const server = await startPostgres();
  const url = await server.createDatabase();
  const pool = await openPool({ url });
  try {
    await migrateLeases(pool);
    const a = createLeaderLease({ pool, name: 'alerts', holder: 'a', ttlMs: 1_000 });
    const b = createLeaderLease({ pool, name: 'alerts', holder: 'b', ttlMs: 1_000 });
    const storeOf = (lease: typeof a) => createPostgresAlertStore({ url, fence: (client) => lease.check(client) });
    const [storeA, storeB] = await Promise.all([storeOf(a), storeOf(b)]);
    try {
      const note = (payload: string) => ({ save: [], remove: [], notifications: [{ notifier: 'mqtt', payload, createdAt: 1 }] });
      await a.tryAcquire();
      await storeA.commit(note('from a, leader'));
      await assert.rejects(storeB.commit(note('from b, not leader')), (err) => isFieldmeshError(err, 'FM_LEADER_DEPOSED'));
      await waitFor(() => b.tryAcquire(), { timeoutMs: 5_000, what: "b to take a's lapsed lease" });
      await assert.rejects(storeA.commit(note('from a, deposed')), (err) => isFieldmeshError(err, 'FM_LEADER_DEPOSED'));
      await storeB.commit(note('from b, leader'));
      assert.deepEqual(
        (await storeA.listNotifications()).map((n) => n.payload),
        ['from a, leader', 'from b, leader'],
      );
    } finally {
      await Promise.all([storeA.close(), storeB.close()]);
    }
  } finally {
    await pool.end();
    await server.stop();
  }
});
