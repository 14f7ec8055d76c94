// The console's auth over HTTP (inject, no socket) on a whole hub: demo mode, login cookies, logout,
// expiry with a manual clock, 401 versus 403, CSRF, the login throttle, API tokens and the audit log.
// calendar: the hub runs on the kit's manual clock; the backfill range is request input.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { waitFor } from '../../../test/kit/wait.js';
import { nodeTopic, SessionEncoder } from '../../protocol/index.js';
import { createMemoryTransport } from '../../transport/index.js';
import { hubTestKit } from '../hub-test-kit.js';

const kit = hubTestKit();

async function startHub(auth: Record<string, unknown> = {}, host = '127.0.0.1') {
  const { hub, clock, broker } = await kit.startHub({ prefix: 'fieldmesh-auth-', config: { http: { host }, auth } });
  return { hub, clock, broker, app: hub.app };
}

type App = Awaited<ReturnType<typeof startHub>>['app'];

interface Session {
  readonly cookie: string;
  readonly csrf: string;
}

async function login(app: App, username: string, password: string): Promise<Session> {
  const res = await app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { username, password } });
  assert.equal(res.statusCode, 200, res.body);
  const setCookie = String(res.headers['set-cookie']);
  return { cookie: setCookie.split(';')[0] as string, csrf: res.json().csrfToken };
}

const BACKFILL = { from: '2026-01-01T00:00:00Z', to: '2026-01-01T01:00:00Z' };

test('auth http: in demo mode (no user, loopback) everything is open, /me says demo, other sites cannot POST', async () => {
  const { app } = await startHub();
  const me = await app.inject({ method: 'GET', url: '/api/v1/auth/me' });
  assert.equal(me.statusCode, 200);
  assert.deepEqual(me.json(), {
    user: 'demo',
    role: 'admin',
    kind: 'demo',
    demo: true,
    reason: 'demo mode: no user or API token exists and the hub listens on loopback only',
  });
  assert.equal((await app.inject({ method: 'GET', url: '/' })).statusCode, 200);
  assert.equal((await app.inject({ method: 'GET', url: '/api/v1/nodes' })).statusCode, 200);
  const post = await app.inject({ method: 'POST', url: '/api/v1/nodes/s/n/backfill', payload: BACKFILL });
  assert.equal(post.statusCode, 404, 'reaches the route: the node is unknown');
  const evil = await app.inject({
    method: 'POST',
    url: '/api/v1/nodes/s/n/backfill',
    payload: BACKFILL,
    headers: { origin: 'http://evil.example', host: '127.0.0.1:18800' },
  });
  assert.equal(evil.statusCode, 403);
  assert.equal(evil.json().code, 'FM_AUTH_CSRF');
  const fetchMeta = await app.inject({
    method: 'POST',
    url: '/api/v1/nodes/s/n/backfill',
    payload: BACKFILL,
    headers: { 'sec-fetch-site': 'cross-site' },
  });
  assert.equal(fetchMeta.statusCode, 403);
  const sameOrigin = await app.inject({
    method: 'POST',
    url: '/api/v1/nodes/s/n/backfill',
    payload: BACKFILL,
    headers: { origin: 'http://127.0.0.1:18800', host: '127.0.0.1:18800', 'sec-fetch-site': 'same-origin' },
  });
  assert.equal(sameOrigin.statusCode, 404);
});

test('auth http: with a user, anonymous requests are 401 in the error envelope and / redirects to the login page', async () => {
  const { hub, app } = await startHub();
  await hub.auth.addUser('alice', 'viewer', 'correct horse');
  const res = await app.inject({ method: 'GET', url: '/api/v1/nodes' });
  assert.equal(res.statusCode, 401);
  assert.equal(res.headers['www-authenticate'], 'Bearer realm="fieldmesh"');
  const body = res.json();
  assert.deepEqual([body.status, body.errorType, body.code], ['error', 'bad_data', 'FM_AUTH_REQUIRED']);
  assert.equal(body.error, body.message);
  const page = await app.inject({ method: 'GET', url: '/' });
  assert.equal(page.statusCode, 302);
  assert.equal(page.headers.location, '/login?next=%2F');
  const loginPage = await app.inject({ method: 'GET', url: '/login' });
  assert.equal(loginPage.statusCode, 200);
  assert.match(loginPage.body, /<form id="login">/);
  for (const url of ['/healthz', '/readyz', '/metrics']) assert.notEqual((await app.inject({ method: 'GET', url })).statusCode, 401, url);
  assert.equal((await app.inject({ method: 'GET', url: '/nowhere' })).statusCode, 404);
});

test('auth http: login sets an HttpOnly SameSite=Strict cookie, /me returns the CSRF token, logout ends the session', async () => {
  const { hub, app } = await startHub();
  await hub.auth.addUser('alice', 'operator', 'correct horse');
  const res = await app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { username: 'alice', password: 'correct horse' } });
  assert.equal(res.statusCode, 200);
  const cookie = String(res.headers['set-cookie']);
  assert.match(cookie, /^fieldmesh_session=[A-Za-z0-9_-]{43}; Path=\/; HttpOnly; SameSite=Strict; Max-Age=604800$/);
  assert.equal(res.headers['cache-control'], 'no-store');
  const login = res.json();
  assert.deepEqual(Object.keys(login).sort(), ['csrfToken', 'demo', 'expiresAt', 'kind', 'role', 'user']);
  assert.deepEqual([login.user, login.role, login.kind, login.demo], ['alice', 'operator', 'session', false]);
  const session = { cookie: cookie.split(';')[0] as string };
  const me = await app.inject({ method: 'GET', url: '/api/v1/auth/me', headers: session });
  assert.equal(me.json().csrfToken, login.csrfToken);
  assert.equal((await app.inject({ method: 'GET', url: '/api/v1/nodes', headers: session })).statusCode, 200);

  const noCsrf = await app.inject({ method: 'POST', url: '/api/v1/auth/logout', headers: session });
  assert.equal(noCsrf.statusCode, 403);
  const out = await app.inject({ method: 'POST', url: '/api/v1/auth/logout', headers: { ...session, 'x-csrf-token': login.csrfToken } });
  assert.equal(out.statusCode, 204);
  assert.match(String(out.headers['set-cookie']), /^fieldmesh_session=; .*Max-Age=0/);
  assert.equal((await app.inject({ method: 'GET', url: '/api/v1/auth/me', headers: session })).statusCode, 401);
});

test('auth http: the cookie is Secure over TLS or when cookieSecure is always', async () => {
  const { hub, app } = await startHub({ cookieSecure: 'always' });
  await hub.auth.addUser('alice', 'viewer', 'correct horse');
  const res = await app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { username: 'alice', password: 'correct horse' } });
  assert.match(String(res.headers['set-cookie']), /; Secure$/);
});

test('auth http: a login that is not JSON, or lacks a field, is 400; a wrong password is 401 FM_AUTH_FAILED', async () => {
  const { hub, app } = await startHub();
  await hub.auth.addUser('alice', 'viewer', 'correct horse');
  const form = await app.inject({
    method: 'POST',
    url: '/api/v1/auth/login',
    payload: 'username=alice&password=correct+horse',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
  });
  assert.equal(form.statusCode, 400);
  assert.equal((await app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { username: 'alice' } })).statusCode, 400);
  const wrong = await app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { username: 'alice', password: 'wrong horse' } });
  assert.equal(wrong.statusCode, 401);
  assert.deepEqual([wrong.json().code, wrong.json().message], ['FM_AUTH_FAILED', 'wrong user name or password']);
  assert.equal(wrong.headers['set-cookie'], undefined);
});

test('auth http: a session unused for 12 h is refused with 401 (manual clock)', async () => {
  const { hub, app, clock } = await startHub();
  await hub.auth.addUser('alice', 'viewer', 'correct horse');
  const s = await login(app, 'alice', 'correct horse');
  clock.advance(11 * 3_600_000);
  assert.equal((await app.inject({ method: 'GET', url: '/api/v1/nodes', headers: { cookie: s.cookie } })).statusCode, 200);
  clock.advance(12 * 3_600_000 + 1);
  const late = await app.inject({ method: 'GET', url: '/api/v1/nodes', headers: { cookie: s.cookie } });
  assert.equal(late.statusCode, 401);
  assert.match(late.json().message, /session has ended/);
});

test('auth http: 403 when the role is too low; CSRF missing or wrong is 403 FM_AUTH_CSRF; bearer tokens need none', async () => {
  const { hub, app } = await startHub();
  await hub.auth.addUser('vic', 'viewer', 'correct horse');
  await hub.auth.addUser('otto', 'operator', 'correct horse');
  const viewer = await login(app, 'vic', 'correct horse');
  const operator = await login(app, 'otto', 'correct horse');
  const url = '/api/v1/nodes/s/n/backfill';

  const low = await app.inject({ method: 'POST', url, payload: BACKFILL, headers: { cookie: viewer.cookie, 'x-csrf-token': viewer.csrf } });
  assert.equal(low.statusCode, 403);
  assert.deepEqual(
    [low.json().code, low.json().message],
    ['FM_AUTH_FORBIDDEN', `POST ${'/api/v1/nodes/:site/:node/backfill'} needs the operator role; vic is viewer`],
  );

  const missing = await app.inject({ method: 'POST', url, payload: BACKFILL, headers: { cookie: operator.cookie } });
  assert.deepEqual([missing.statusCode, missing.json().code], [403, 'FM_AUTH_CSRF']);
  const other = await app.inject({
    method: 'POST',
    url,
    payload: BACKFILL,
    headers: { cookie: operator.cookie, 'x-csrf-token': viewer.csrf },
  });
  assert.deepEqual([other.statusCode, other.json().code], [403, 'FM_AUTH_CSRF']);
  const ok = await app.inject({
    method: 'POST',
    url,
    payload: BACKFILL,
    headers: { cookie: operator.cookie, 'x-csrf-token': operator.csrf },
  });
  assert.equal(ok.statusCode, 404, 'past auth: the node is unknown');
  // A read needs no CSRF token, not even a Prometheus query sent as a POST form.
  const query = await app.inject({
    method: 'POST',
    url: '/api/v1/query',
    payload: 'query=up',
    headers: { cookie: viewer.cookie, 'content-type': 'application/x-www-form-urlencoded' },
  });
  assert.equal(query.statusCode, 200);

  const { token } = await hub.auth.createToken('ci', 'operator', null);
  const bearer = await app.inject({ method: 'POST', url, payload: BACKFILL, headers: { authorization: `Bearer ${token}` } });
  assert.equal(bearer.statusCode, 404);
  // Grafana's basic auth: any user name, the token as password.
  const basic = await app.inject({
    method: 'GET',
    url: '/api/v1/labels',
    headers: { authorization: `Basic ${Buffer.from(`grafana:${token}`).toString('base64')}` },
  });
  assert.equal(basic.statusCode, 200);
  const bad = await app.inject({ method: 'GET', url: '/api/v1/nodes', headers: { authorization: 'Bearer fmt_nope' } });
  assert.equal(bad.statusCode, 401);
  // A bad token is not rescued by a good cookie: the request said who it was.
  const both = await app.inject({
    method: 'GET',
    url: '/api/v1/nodes',
    headers: { authorization: 'Bearer fmt_nope', cookie: viewer.cookie },
  });
  assert.equal(both.statusCode, 401);
});

test('auth http: failed logins per name are throttled with 429 and Retry-After, also for the right password', async () => {
  const { hub, app, clock } = await startHub({ loginMaxFailures: 2 });
  await hub.auth.addUser('alice', 'viewer', 'correct horse');
  for (let i = 0; i < 2; i++) {
    const r = await app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { username: 'alice', password: 'guess' } });
    assert.equal(r.statusCode, 401);
  }
  const locked = await app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { username: 'alice', password: 'correct horse' } });
  assert.equal(locked.statusCode, 429);
  assert.equal(locked.json().code, 'FM_AUTH_RATE_LIMITED');
  assert.equal(locked.headers['retry-after'], '900');
  clock.advance(15 * 60_000);
  await login(app, 'alice', 'correct horse');
  const metrics = (await app.inject({ method: 'GET', url: '/metrics' })).body;
  assert.match(metrics, /fieldmesh_hub_auth_logins_total\{result="failed"\} 2/);
  assert.match(metrics, /fieldmesh_hub_auth_logins_total\{result="rate_limited"\} 1/);
  assert.match(metrics, /fieldmesh_hub_auth_logins_total\{result="ok"\} 1/);
});

test('auth http: /metrics is open from loopback and needs a viewer from elsewhere by default; configurable', async () => {
  const { hub, app } = await startHub({}, '0.0.0.0');
  const { token } = await hub.auth.createToken('prometheus', 'viewer', null);
  assert.equal((await app.inject({ method: 'GET', url: '/metrics', remoteAddress: '127.0.0.1' })).statusCode, 200);
  assert.equal((await app.inject({ method: 'GET', url: '/metrics', remoteAddress: '192.168.1.20' })).statusCode, 401);
  const withToken = await app.inject({
    method: 'GET',
    url: '/metrics',
    remoteAddress: '192.168.1.20',
    headers: { authorization: `Bearer ${token}` },
  });
  assert.equal(withToken.statusCode, 200);
  const strict = await startHub({ metrics: 'viewer' }, '0.0.0.0');
  assert.equal((await strict.app.inject({ method: 'GET', url: '/metrics', remoteAddress: '127.0.0.1' })).statusCode, 401);
  const open = await startHub({ metrics: 'public', mode: 'on' });
  assert.equal((await open.app.inject({ method: 'GET', url: '/metrics', remoteAddress: '192.168.1.20' })).statusCode, 200);
});

test('auth http: auth.mode off on a LAN address opens everything, on with no user refuses everyone', async () => {
  const off = await startHub({ mode: 'off' }, '0.0.0.0');
  assert.equal((await off.app.inject({ method: 'GET', url: '/api/v1/auth/me' })).json().reason, 'auth.mode is off');
  assert.equal((await off.app.inject({ method: 'GET', url: '/api/v1/audit' })).statusCode, 200);
  const on = await startHub({ mode: 'on' });
  assert.equal((await on.app.inject({ method: 'GET', url: '/api/v1/nodes' })).statusCode, 401);
});

test('auth http: admins manage users and tokens over the API; every mutating request is audited with who, role, route, target, result, IP', async () => {
  const { hub, app, broker } = await startHub();
  await hub.auth.addUser('root', 'admin', 'correct horse');
  const admin = await login(app, 'root', 'correct horse');
  const h = { cookie: admin.cookie, 'x-csrf-token': admin.csrf };

  const created = await app.inject({
    method: 'POST',
    url: '/api/v1/auth/users',
    headers: h,
    payload: { name: 'otto', role: 'operator', password: 'operator pw' },
  });
  assert.equal(created.statusCode, 201);
  assert.deepEqual([created.json().user.name, created.json().user.role], ['otto', 'operator']);
  assert.equal(
    (
      await app.inject({
        method: 'POST',
        url: '/api/v1/auth/users',
        headers: h,
        payload: { name: 'otto', role: 'viewer', password: 'operator pw' },
      })
    ).statusCode,
    409,
  );
  const users = await app.inject({ method: 'GET', url: '/api/v1/auth/users', headers: h });
  assert.deepEqual(
    users.json().users.map((u: { name: string }) => u.name),
    ['otto', 'root'],
  );
  assert.ok(!users.body.includes('scrypt'), 'no password hash leaves the hub');
  const token = await app.inject({ method: 'POST', url: '/api/v1/auth/tokens', headers: h, payload: { name: 'ci', role: 'operator' } });
  assert.equal(token.statusCode, 201);
  assert.match(token.json().token, /^fmt_/);
  const listed = await app.inject({ method: 'GET', url: '/api/v1/auth/tokens', headers: h });
  assert.ok(!listed.body.includes(token.json().token), 'the token is shown once');
  assert.equal(
    (await app.inject({ method: 'PATCH', url: '/api/v1/auth/users/root', headers: h, payload: { role: 'viewer' } })).statusCode,
    409,
  );

  // An operator backfills a node that exists; a viewer tries to.
  const node = createMemoryTransport(broker, { clientId: 'n1' });
  node.start();
  await waitFor(() => node.connected);
  const birth = new SessionEncoder(1).birth({
    time: Date.UTC(2026, 0, 1),
    zone: 'z',
    agentVersion: '0.1.0',
    tickMs: 1_000,
    heartbeatMs: 10_000,
    series: [],
  });
  await node.publish(nodeTopic('fieldmesh', 'bess-a', 'n1', 'birth'), birth, { qos: 1 });
  await waitFor(() => hub.fleet.get('bess-a', 'n1') !== undefined);
  await node.close();
  const bearer = { authorization: `Bearer ${token.json().token}` };
  const done = await app.inject({
    method: 'POST',
    url: '/api/v1/nodes/bess-a/n1/backfill',
    headers: bearer,
    payload: BACKFILL,
    remoteAddress: '10.1.2.3',
  });
  assert.equal(done.statusCode, 202);
  await app.inject({
    method: 'POST',
    url: '/api/v1/auth/login',
    payload: { username: 'otto', password: 'nope nope' },
    remoteAddress: '10.9.9.9',
  });
  await app.inject({ method: 'DELETE', url: '/api/v1/auth/tokens/ci', headers: h });
  const refused = await app.inject({ method: 'POST', url: '/api/v1/nodes/bess-a/n1/backfill', headers: bearer, payload: BACKFILL });
  assert.equal(refused.statusCode, 401, 'a revoked token is refused at once');

  const audit = await app.inject({ method: 'GET', url: '/api/v1/audit?limit=20', headers: h });
  assert.equal(audit.statusCode, 200);
  const rows = audit
    .json()
    .entries.map((e: Record<string, unknown>) => [e.actor, e.actorKind, e.role, e.method, e.route, e.target, e.status, e.result, e.ip]);
  assert.deepEqual(rows, [
    [null, 'anonymous', null, 'POST', '/api/v1/nodes/:site/:node/backfill', 'bess-a/n1', 401, 'denied', '127.0.0.1'],
    ['root', 'session', 'admin', 'DELETE', '/api/v1/auth/tokens/:name', 'ci', 204, 'ok', '127.0.0.1'],
    ['otto', 'anonymous', null, 'POST', '/api/v1/auth/login', 'otto', 401, 'denied', '10.9.9.9'],
    ['ci', 'token', 'operator', 'POST', '/api/v1/nodes/:site/:node/backfill', 'bess-a/n1', 202, 'ok', '10.1.2.3'],
    ['root', 'session', 'admin', 'PATCH', '/api/v1/auth/users/:name', 'root', 409, 'failed', '127.0.0.1'],
    ['root', 'session', 'admin', 'POST', '/api/v1/auth/tokens', 'ci', 201, 'ok', '127.0.0.1'],
    ['root', 'session', 'admin', 'POST', '/api/v1/auth/users', 'otto', 409, 'failed', '127.0.0.1'],
    ['root', 'session', 'admin', 'POST', '/api/v1/auth/users', 'otto', 201, 'ok', '127.0.0.1'],
    ['root', 'session', 'admin', 'POST', '/api/v1/auth/login', 'root', 200, 'ok', '127.0.0.1'],
  ]);
  const first = audit.json().entries[0];
  assert.match(first.time, /^\d{4}-\d\d-\d\dT/);
  const viewerTry = await app.inject({
    method: 'GET',
    url: '/api/v1/audit',
    headers: { cookie: (await login(app, 'otto', 'operator pw')).cookie },
  });
  assert.equal(viewerTry.statusCode, 403);
  assert.equal((await app.inject({ method: 'GET', url: '/api/v1/audit?limit=0', headers: h })).statusCode, 400);
});
