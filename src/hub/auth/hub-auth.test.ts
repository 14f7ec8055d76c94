// The auth service with a manual clock: when a login is needed (auth.mode), session expiry, the
// failed-login throttle, API tokens, the last admin, password changes and the startup warnings.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isFieldmeshError, type Logger, loadConfig, ManualClock } from '../../kit/index.js';
import { authConfigSchema } from './auth-config.js';
import { createHubAuth } from './hub-auth.js';
import { digestSecret } from './secrets.js';
import { createSqliteAuthStore } from './sqlite-auth-store.js';

const HOUR_MS = 3_600_000;

function setup(auth: Record<string, unknown> = {}, host = '127.0.0.1') {
  const clock = new ManualClock();
  const store = createSqliteAuthStore({ path: ':memory:' });
  const lines: Array<{ level: string; msg: string }> = [];
  const logger: Logger = {
    debug: (_o, msg) => lines.push({ level: 'debug', msg: msg ?? '' }),
    info: (_o, msg) => lines.push({ level: 'info', msg: msg ?? '' }),
    warn: (_o, msg) => lines.push({ level: 'warn', msg: msg ?? '' }),
    error: (_o, msg) => lines.push({ level: 'error', msg: msg ?? '' }),
    child: () => logger,
  };
  const config = loadConfig(authConfigSchema, { text: JSON.stringify(auth) });
  const hubAuth = createHubAuth({ config, host, store, clock, logger });
  return { clock, store, auth: hubAuth, lines };
}

async function rejects(p: Promise<unknown>, code: Parameters<typeof isFieldmeshError>[1]): Promise<void> {
  await assert.rejects(p, (e) => isFieldmeshError(e, code));
}

test('auth mode: auto is off on loopback until a user or a token exists, and on beyond loopback', async () => {
  const local = setup();
  assert.equal(await local.auth.enforced(), false);
  assert.match((await local.auth.openReason()) ?? '', /demo mode/);
  await local.auth.createToken('ci', 'operator', null);
  assert.equal(await local.auth.enforced(), true);
  await local.auth.revokeToken('ci');
  assert.equal(await local.auth.enforced(), false);
  await local.auth.addUser('alice', 'admin', 'correct horse');
  assert.equal(await local.auth.enforced(), true);

  for (const host of ['0.0.0.0', '192.168.1.10', '::']) assert.equal(await setup({}, host).auth.enforced(), true, host);
  for (const host of ['localhost', '127.0.0.2', '::1', '[::1]']) assert.equal(await setup({}, host).auth.enforced(), false, host);
  assert.equal(await setup({ mode: 'on' }).auth.enforced(), true);
  assert.equal(await setup({ mode: 'off' }, '0.0.0.0').auth.enforced(), false);
});

test('auth mode: off beyond loopback logs a loud warning; on without users says how to add one', async () => {
  const open = setup({ mode: 'off' }, '0.0.0.0');
  await open.auth.announce();
  assert.ok(open.lines.some((l) => l.level === 'warn' && /AUTHENTICATION IS OFF.*0\.0\.0\.0/.test(l.msg)));
  const locked = setup({}, '0.0.0.0');
  await locked.auth.announce();
  assert.ok(locked.lines.some((l) => l.level === 'warn' && /no user exists.*fieldmesh hub user add/.test(l.msg)));
  const demo = setup();
  await demo.auth.announce();
  assert.ok(demo.lines.some((l) => l.level === 'info' && /demo mode/.test(l.msg)));
  assert.ok(!demo.lines.some((l) => l.level === 'warn'));
});

test('auth sessions: a session ends after 12 h unused and 7 d after login however busy', async () => {
  const { clock, store, auth } = setup();
  await auth.addUser('alice', 'operator', 'correct horse');
  const { sessionId, principal } = await auth.login('alice', 'correct horse', '10.0.0.5');
  assert.equal(principal.expiresAt, clock.now() + 12 * HOUR_MS);
  // Only a digest is stored.
  assert.equal((await store.getSession(sessionId)) === undefined, true);
  assert.equal((await store.getSession(digestSecret(sessionId)))?.user, 'alice');

  clock.advance(12 * HOUR_MS - 60_000);
  const used = await auth.sessionPrincipal(sessionId);
  assert.equal(used?.kind === 'session' && used.role, 'operator');
  // Use moves the idle expiry; the absolute one stays.
  clock.advance(12 * HOUR_MS - 60_000);
  assert.ok(await auth.sessionPrincipal(sessionId));
  clock.advance(12 * HOUR_MS + 1);
  assert.equal(await auth.sessionPrincipal(sessionId), undefined, 'idle for more than 12 h');
  assert.equal(await store.getSession(digestSecret(sessionId)), undefined, 'an expired session is deleted');

  const busy = await auth.login('alice', 'correct horse', '10.0.0.5');
  for (let h = 0; h < 7 * 24 - 1; h++) {
    clock.advance(HOUR_MS);
    assert.ok(await auth.sessionPrincipal(busy.sessionId), `hour ${h}`);
  }
  clock.advance(HOUR_MS);
  assert.equal(await auth.sessionPrincipal(busy.sessionId), undefined, '7 d after login');
});

test('auth sessions: expiry is configurable, logout ends the session, a removed user loses theirs', async () => {
  const { clock, auth } = setup({ sessionIdle: '5m', sessionMax: '1h' });
  await auth.addUser('admin', 'admin', 'correct horse');
  await auth.addUser('bob', 'viewer', 'correct horse');
  const a = await auth.login('bob', 'correct horse', '10.0.0.5');
  clock.advance(5 * 60_000);
  assert.equal(await auth.sessionPrincipal(a.sessionId), undefined);
  const b = await auth.login('bob', 'correct horse', '10.0.0.5');
  await auth.logout(b.principal);
  assert.equal(await auth.sessionPrincipal(b.sessionId), undefined);
  const c = await auth.login('bob', 'correct horse', '10.0.0.5');
  await auth.removeUser('bob');
  assert.equal(await auth.sessionPrincipal(c.sessionId), undefined);
});

test('auth login: a wrong password and an unknown name fail alike; loginMaxFailures failures lock the name for the window', async () => {
  const { clock, auth } = setup({ loginMaxFailures: 3, loginMaxFailuresPerIp: 100 });
  await auth.addUser('alice', 'admin', 'correct horse');
  const wrong = await auth.login('alice', 'wrong horse', '10.0.0.5').catch((e: Error) => e);
  const unknown = await auth.login('mallory', 'wrong horse', '10.0.0.5').catch((e: Error) => e);
  assert.ok(isFieldmeshError(wrong, 'FM_AUTH_FAILED') && isFieldmeshError(unknown, 'FM_AUTH_FAILED'));
  assert.equal(wrong.message, unknown.message);
  let message = '';
  for (let i = 0; i < 2; i++) await rejects(auth.login('alice', 'wrong horse', `10.0.0.${i}`), 'FM_AUTH_FAILED');
  await assert.rejects(auth.login('alice', 'correct horse', '10.0.0.9'), (e) => {
    message = (e as Error).message;
    return isFieldmeshError(e, 'FM_AUTH_RATE_LIMITED') && (e.details.retryAfterMs as number) === 15 * 60_000;
  });
  assert.match(message, /try again in 900 s/);
  clock.advance(15 * 60_000);
  assert.ok(await auth.login('alice', 'correct horse', '10.0.0.9'));
});

test('auth login: failures from one address lock that address for every name until the window ends', async () => {
  const { clock, auth } = setup({ loginMaxFailures: 100, loginMaxFailuresPerIp: 3 });
  await auth.addUser('alice', 'admin', 'correct horse');
  for (const name of ['a', 'b', 'c']) await rejects(auth.login(name, 'guess', '203.0.113.7'), 'FM_AUTH_FAILED');
  await rejects(auth.login('alice', 'correct horse', '203.0.113.7'), 'FM_AUTH_RATE_LIMITED');
  assert.ok(await auth.login('alice', 'correct horse', '203.0.113.8'), 'another address is not locked');
  clock.advance(15 * 60_000);
  assert.ok(await auth.login('alice', 'correct horse', '203.0.113.7'));
});

test('auth tokens: shown once, stored as a digest, name them for the principal; revoked ones fail', async () => {
  const { clock, store, auth } = setup();
  const { token, view } = await auth.createToken('ci', 'operator', 'cli');
  assert.match(token, /^fmt_[A-Za-z0-9_-]{43}$/);
  assert.deepEqual(view, {
    name: 'ci',
    role: 'operator',
    createdAt: new Date(clock.now()).toISOString(),
    lastUsedAt: null,
    createdBy: 'cli',
  });
  const stored = await store.listTokens();
  assert.equal(stored[0]?.digest, digestSecret(token));
  assert.ok(!JSON.stringify(stored).includes(token));
  assert.deepEqual(await auth.tokenPrincipal(token), { kind: 'token', name: 'ci', role: 'operator' });
  assert.equal((await auth.listTokens())[0]?.lastUsedAt, new Date(clock.now()).toISOString());
  assert.equal(await auth.tokenPrincipal(`${token}x`), undefined);
  assert.equal(await auth.tokenPrincipal('not-a-token'), undefined);
  await rejects(auth.createToken('ci', 'viewer', null), 'FM_AUTH_CONFLICT');
  await auth.revokeToken('ci');
  assert.equal(await auth.tokenPrincipal(token), undefined);
  await rejects(auth.revokeToken('ci'), 'FM_NOT_FOUND');
});

test('auth users: names, roles and passwords are checked; the last admin can be neither removed nor demoted', async () => {
  const { auth } = setup();
  await rejects(auth.addUser('bad name', 'viewer', 'correct horse'), 'FM_REQUEST_INVALID');
  await rejects(auth.addUser('bob', 'root' as never, 'correct horse'), 'FM_REQUEST_INVALID');
  await rejects(auth.addUser('bob', 'viewer', 'short'), 'FM_REQUEST_INVALID');
  await auth.addUser('alice', 'admin', 'correct horse');
  await rejects(auth.addUser('alice', 'viewer', 'correct horse'), 'FM_AUTH_CONFLICT');
  await auth.addUser('bob', 'viewer', 'correct horse');
  await rejects(auth.removeUser('alice'), 'FM_AUTH_CONFLICT');
  await rejects(auth.updateUser('alice', { role: 'operator' }), 'FM_AUTH_CONFLICT');
  await rejects(auth.updateUser('nobody', { role: 'operator' }), 'FM_NOT_FOUND');
  assert.equal((await auth.updateUser('bob', { role: 'admin' })).role, 'admin');
  assert.equal((await auth.updateUser('alice', { role: 'operator' })).role, 'operator');
  await auth.removeUser('alice');
  // The very last user may go: the hub is back to having no users.
  await auth.removeUser('bob');
  assert.deepEqual(await auth.listUsers(), []);
});

test('auth users: a new password ends the user\u2019s sessions; changing one\u2019s own keeps the current session', async () => {
  const { auth } = setup();
  await auth.addUser('alice', 'admin', 'correct horse');
  const first = await auth.login('alice', 'correct horse', '10.0.0.5');
  const second = await auth.login('alice', 'correct horse', '10.0.0.6');
  await rejects(auth.changeOwnPassword(second.principal, 'wrong horse', 'new password'), 'FM_AUTH_FAILED');
  await auth.changeOwnPassword(second.principal, 'correct horse', 'new password');
  assert.equal(await auth.sessionPrincipal(first.sessionId), undefined);
  assert.ok(await auth.sessionPrincipal(second.sessionId));
  await rejects(auth.login('alice', 'correct horse', '10.0.0.5'), 'FM_AUTH_FAILED');
  await auth.updateUser('alice', { password: 'another password' });
  assert.equal(await auth.sessionPrincipal(second.sessionId), undefined);
  assert.ok(await auth.login('alice', 'another password', '10.0.0.5'));
});

test('auth audit: entries newest first, paged by id, filtered by actor, pruned past retention', async () => {
  const { clock, auth } = setup({ auditRetention: '1d' });
  const base = {
    actorKind: 'session' as const,
    role: 'operator' as const,
    method: 'POST',
    status: 202,
    result: 'ok' as const,
    ip: '10.0.0.5',
  };
  await auth.audit({ ...base, actor: 'alice', route: '/api/v1/nodes/:site/:node/backfill', target: 'bess-a/n1' });
  clock.advance(2 * 86_400_000);
  await auth.audit({ ...base, actor: 'bob', route: '/api/v1/silences', target: null });
  clock.advance(HOUR_MS);
  await auth.audit({ ...base, actor: 'alice', route: '/api/v1/alerts/:id/ack', target: 'a1' });
  const all = await auth.listAudit({ limit: 10 });
  assert.deepEqual(
    all.map((e) => [e.actor, e.route]),
    [
      ['alice', '/api/v1/alerts/:id/ack'],
      ['bob', '/api/v1/silences'],
    ],
    'the 2-day-old entry was pruned',
  );
  assert.equal(all[0]?.time, new Date(clock.now()).toISOString());
  assert.deepEqual(
    (await auth.listAudit({ limit: 10, beforeId: all[0]?.id as number })).map((e) => e.actor),
    ['bob'],
  );
  assert.deepEqual(
    (await auth.listAudit({ limit: 10, actor: 'alice' })).map((e) => e.target),
    ['a1'],
  );
});
