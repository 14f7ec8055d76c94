// The AuthStore contract: one suite every implementation (SQLite, PostgreSQL) must pass: users with the
// last-admin rule, sessions, API tokens and the audit log, all surviving a reopen.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { type ContractTarget, useContractTarget } from '../storage/contract-test-kit.js';
import type { AuditEntry, AuthStore, SessionRecord, TokenRecord, UserRecord } from './auth-store.js';
import type { Role } from './roles.js';

export type AuthStoreTarget = ContractTarget<AuthStore, void>;

const user = (name: string, role: Role, at = 1_000): UserRecord => ({
  name,
  role,
  passwordHash: `scrypt$n=16384,r=8,p=1$salt-${name}$key`,
  createdAt: at,
  updatedAt: at,
  lastLoginAt: null,
});

const session = (digest: string, owner: string, at: number): SessionRecord => ({
  digest,
  user: owner,
  csrfToken: `csrf-${digest}`,
  createdAt: at,
  lastSeenAt: at,
  ip: '127.0.0.1',
});

const token = (name: string, role: Role, digest: string): TokenRecord => ({
  name,
  role,
  digest,
  createdAt: 5,
  lastUsedAt: null,
  createdBy: 'cli',
});

const audit = (time: number, actor: string | null, over: Partial<AuditEntry> = {}): Omit<AuditEntry, 'id'> => ({
  time,
  actor,
  actorKind: actor === null ? 'anonymous' : 'session',
  role: actor === null ? null : 'admin',
  method: 'POST',
  route: '/api/v1/users',
  target: 'x',
  status: 200,
  result: 'ok',
  ip: null,
  ...over,
});

export function runAuthStoreContract(name: string, setup: () => Promise<AuthStoreTarget>): void {
  describe(`auth store contract: ${name}`, () => {
    const open = useContractTarget(setup);
    const fresh = () => open();

    test('users: insert once per name, update, record a login, list by name; they survive a reopen', async () => {
      const { store, reopen } = await fresh();
      assert.deepEqual(await store.countCredentials(), { users: 0, tokens: 0 });
      assert.equal(await store.insertUser(user('zoe', 'viewer')), true);
      assert.equal(await store.insertUser(user('ann', 'admin')), true);
      assert.equal(await store.insertUser(user('ann', 'viewer', 9)), false, 'the name is taken');
      assert.equal(await store.updateUser('zoe', { role: 'operator', passwordHash: 'new', updatedAt: 2_000 }), 'done');
      assert.equal(await store.updateUser('nobody', { role: 'operator', updatedAt: 2_000 }), 'missing');
      await store.recordLogin('zoe', 3_000);
      await store.close();
      const again = await reopen();
      assert.deepEqual(await again.listUsers(), [
        user('ann', 'admin'),
        { ...user('zoe', 'operator'), passwordHash: 'new', updatedAt: 2_000, lastLoginAt: 3_000 },
      ]);
      assert.deepEqual(await again.getUser('ann'), user('ann', 'admin'));
      assert.equal(await again.getUser('Ann'), undefined, 'names compare exactly');
      assert.deepEqual(await again.countCredentials(), { users: 2, tokens: 0 });
    });

    test('the last admin can be neither demoted nor deleted while other users remain', async () => {
      const { store } = await fresh();
      await store.insertUser(user('ann', 'admin'));
      await store.insertUser(user('bob', 'viewer'));
      assert.equal(await store.updateUser('ann', { role: 'operator', updatedAt: 2 }), 'last-admin');
      assert.equal(await store.deleteUser('ann'), 'last-admin');
      assert.equal(await store.updateUser('bob', { role: 'admin', updatedAt: 2 }), 'done');
      assert.equal(await store.updateUser('ann', { role: 'viewer', updatedAt: 3 }), 'done', 'bob is an admin now');
      assert.equal(await store.deleteUser('ann'), 'done');
      assert.equal(await store.deleteUser('ann'), 'missing');
      assert.equal(await store.deleteUser('bob'), 'done', 'the last user may go');
      assert.deepEqual(await store.listUsers(), []);
    });

    test("sessions: get, touch, end one, end a user's others, expire by idle or age; a deleted user's sessions go", async () => {
      const { store, reopen } = await fresh();
      await store.insertUser(user('ann', 'admin'));
      await store.insertUser(user('bob', 'viewer'));
      for (const [digest, owner, at] of [
        ['s1', 'ann', 100],
        ['s2', 'ann', 200],
        ['s3', 'ann', 300],
        ['s4', 'bob', 400],
      ] as const) {
        await store.insertSession(session(digest, owner, at));
      }
      await store.touchSession('s1', 1_000);
      await store.close();
      const s = await reopen();
      assert.deepEqual(await s.getSession('s1'), { ...session('s1', 'ann', 100), lastSeenAt: 1_000 });
      await s.deleteSession('s2');
      assert.equal(await s.getSession('s2'), undefined);
      await s.deleteSessionsOf('ann', 's3');
      assert.equal(await s.getSession('s1'), undefined, "a password change ends the user's other sessions");
      assert.ok(await s.getSession('s3'), 'but not the one that made it');
      await s.insertSession(session('s5', 'bob', 50));
      // Idle since before 350, or created before 60: s3 (seen 300) and s5 (created 50) go.
      assert.equal(await s.deleteExpiredSessions(350, 60), 2);
      assert.ok(await s.getSession('s4'));
      assert.equal(await s.deleteUser('bob'), 'done');
      assert.equal(await s.getSession('s4'), undefined, "the user's sessions went with the user");
    });

    test('tokens: one per name and per digest, found by digest, listed by name, touched, deleted', async () => {
      const { store, reopen } = await fresh();
      assert.equal(await store.insertToken(token('ci', 'operator', 'd1')), true);
      assert.equal(await store.insertToken(token('ci', 'viewer', 'd2')), false, 'the name is taken');
      assert.equal(await store.insertToken(token('backup', 'viewer', 'd3')), true);
      await store.touchToken('ci', 77);
      await store.close();
      const s = await reopen();
      assert.deepEqual(await s.getTokenByDigest('d1'), { ...token('ci', 'operator', 'd1'), lastUsedAt: 77 });
      assert.equal(await s.getTokenByDigest('d2'), undefined);
      assert.deepEqual(
        (await s.listTokens()).map((t) => t.name),
        ['backup', 'ci'],
      );
      assert.deepEqual(await s.countCredentials(), { users: 0, tokens: 2 });
      assert.equal(await s.deleteToken('ci'), true);
      assert.equal(await s.deleteToken('ci'), false);
      assert.equal(await s.getTokenByDigest('d1'), undefined);
    });

    test('audit: ascending ids, newest first, paged backwards, filtered by actor, pruned by time', async () => {
      const { store, reopen } = await fresh();
      await store.appendAudit(audit(10, 'ann'));
      await store.appendAudit(audit(20, null, { status: 401, result: 'denied', route: '/login', target: null, ip: '10.0.0.9' }));
      await store.appendAudit(audit(30, 'bob', { actorKind: 'token', role: 'operator', method: 'DELETE', result: 'failed', status: 500 }));
      await store.appendAudit(audit(40, 'ann'));
      await store.close();
      const s = await reopen();
      const all = await s.listAudit({ limit: 10 });
      assert.deepEqual(
        all.map((e) => e.time),
        [40, 30, 20, 10],
      );
      const ids = all.map((e) => e.id);
      assert.deepEqual(
        ids,
        [...ids].sort((a, b) => b - a),
        'ids ascend with time of writing',
      );
      const { id: _, ...second } = all[2] as AuditEntry;
      assert.deepEqual(second, audit(20, null, { status: 401, result: 'denied', route: '/login', target: null, ip: '10.0.0.9' }));
      assert.deepEqual(
        (await s.listAudit({ limit: 2, beforeId: ids[1] as number })).map((e) => e.time),
        [20, 10],
      );
      assert.deepEqual(
        (await s.listAudit({ limit: 10, actor: 'ann' })).map((e) => e.time),
        [40, 10],
      );
      assert.equal(await s.pruneAudit(25), 2);
      assert.deepEqual(
        (await s.listAudit({ limit: 10 })).map((e) => e.time),
        [40, 30],
      );
    });
  });
}
