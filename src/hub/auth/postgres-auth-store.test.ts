// The auth store on a private PostgreSQL: the auth store contract, and the last-admin rule under two hub
// processes changing users at once.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { type PostgresInstance, postgresTarget, startPostgres } from '../../../test/kit/postgres.js';
import { runAuthStoreContract } from './auth-store.contract.js';
import { createPostgresAuthStore } from './postgres-auth-store.js';

runAuthStoreContract('postgres', () => postgresTarget((url) => createPostgresAuthStore({ url })));

let server: PostgresInstance;
before(async () => {
  server = await startPostgres();
});
after(async () => {
  await server?.stop();
});

test('postgres auth store: two hubs demoting or deleting the only two admins at once leave one admin', async () => {
  const url = await server.createDatabase();
  const a = await createPostgresAuthStore({ url });
  const b = await createPostgresAuthStore({ url });
  try {
    const admin = (name: string) => ({ name, role: 'admin' as const, passwordHash: 'h', createdAt: 1, updatedAt: 1, lastLoginAt: null });
    for (let round = 0; round < 10; round++) {
      for (const n of ['ann', 'bob', 'eve']) await a.deleteUser(n).catch(() => {});
      await a.insertUser(admin('ann'));
      await a.insertUser(admin('bob'));
      await a.insertUser({ ...admin('eve'), role: 'viewer' });
      const outcomes = await Promise.all([
        a.updateUser('ann', { role: 'viewer', updatedAt: 2 }),
        round % 2 === 0 ? b.updateUser('bob', { role: 'viewer', updatedAt: 2 }) : b.deleteUser('bob'),
      ]);
      assert.deepEqual([...outcomes].sort(), ['done', 'last-admin'], `round ${round}`);
      assert.equal((await a.listUsers()).filter((u) => u.role === 'admin').length, 1);
      await a.updateUser('eve', { role: 'admin', updatedAt: 3 });
    }
  } finally {
    await Promise.all([a.close(), b.close()]);
  }
});
