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

test("postgres alert store: watch hears the other processes' silences, acknowledgements and evaluations, not its own", async () => {
  const server = await startPostgres();
  const url = await server.createDatabase();
  const [a, b] = [await createPostgresAlertStore({ url }), await createPostgresAlertStore({ url })];
  try {
    const heard: string[] = [];
    const waiters: Array<() => void> = [];
    const unwatch = await b.watch?.((change) => {
      heard.push(change);
      for (const w of waiters.splice(0)) w();
    });
    assert.ok(unwatch !== undefined, 'a PostgreSQL alert store can be watched');
    const next = () => new Promise<void>((resolve) => waiters.push(resolve));
    const silence = {
      id: 's1',
      matchers: [{ name: 'site', value: 'lab', isRegex: false, isEqual: true }],
      startsAt: 100,
      endsAt: 200,
      createdBy: 'ops',
      comment: 'c',
      updatedAt: 100,
    };
    // b's own writes tell b nothing; a's come to b once committed.
    await b.saveSilence({ ...silence, id: 'own' });
    let heardNow = next();
    await a.saveSilence(silence);
    await heardNow;
    assert.deepEqual(heard, ['silences'], "b heard a's silence and not its own");
    const record = {
      fingerprint: 'f',
      ruleId: 'r',
      labels: { alertname: 'r' },
      annotations: {},
      state: 'firing' as const,
      value: 1,
      activeAt: 10,
      firedAt: 10,
      resolvedAt: null,
      lastSeenAt: 10,
      ack: null,
      notified: 'none' as const,
      notifiedAt: null,
      generatorUrl: '',
    };
    heardNow = next();
    await a.commit({ save: [record], remove: [], notifications: [] });
    await heardNow;
    heardNow = next();
    await a.setAck('r', 'f', 10, { by: 'ops', at: 11, comment: '' });
    await heardNow;
    heardNow = next();
    await a.deleteSilences(['s1']);
    await heardNow;
    assert.deepEqual(heard, ['silences', 'alerts', 'alerts', 'silences']);
    await unwatch?.();
  } finally {
    await Promise.all([a.close(), b.close()]);
    await server.stop();
  }
});
