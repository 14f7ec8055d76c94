// The role matrix: every route the hub registers, times every kind of caller (anonymous, viewer,
// operator, admin, an operator's API token), answers allow or deny exactly as the route table says. A
// route added without an entry in src/hub/auth/route-access.ts fails here.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { ManualClock } from '../../kit/index.js';
import { createMemoryTransport, MemoryBroker } from '../../transport/index.js';
import { hubConfigSchema } from '../config.js';
import { createHub, type Hub } from '../hub.js';
import { registeredRoutes } from './auth-hooks.js';
import { type Role, roleAtLeast } from './roles.js';
import { decideRoute, findRouteRule, ROUTE_RULES } from './route-access.js';

interface Caller {
  readonly name: string;
  readonly role: Role | null;
  readonly headers: Record<string, string>;
  /** Sent with state-changing requests only (a session's double-submit token). */
  readonly csrf?: string;
}

let hub: Hub;
let dataDir: string;
const callers: Caller[] = [];

before(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'fieldmesh-matrix-'));
  mkdirSync(join(dataDir, 'repo'));
  const config = hubConfigSchema.parse({
    dataDir,
    storage: { path: join(dataDir, 'hub.db') },
    auth: { mode: 'on' },
    configRepo: { dir: join(dataDir, 'repo') },
  });
  hub = createHub(config, {
    transport: createMemoryTransport(new MemoryBroker(), { clientId: 'hub' }),
    clock: new ManualClock(),
    // The configuration repository's routes (the renderer proper is src/fleet-config, wired by the CLI).
    configRepoRenderer: () => ({ ok: true, nodes: [] }),
  });
  await hub.start({ listen: false });
  callers.push({ name: 'anonymous', role: null, headers: {} });
  for (const role of ['viewer', 'operator', 'admin'] as const) {
    await hub.auth.addUser(`${role}-user`, role, 'matrix password');
    const res = await hub.app.inject({
      method: 'POST',
      url: '/api/v1/auth/login',
      payload: { username: `${role}-user`, password: 'matrix password' },
    });
    assert.equal(res.statusCode, 200);
    const cookie = String(res.headers['set-cookie']).split(';')[0] as string;
    callers.push({ name: role, role, headers: { cookie }, csrf: res.json().csrfToken });
  }
  const { token } = await hub.auth.createToken('ci', 'operator', null);
  callers.push({ name: 'bearer (operator)', role: 'operator', headers: { authorization: `Bearer ${token}` } });
});

after(async () => {
  await hub.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

/** Every route but the HEAD twins of GET routes, once; logout last (it ends the caller's session). */
function routes() {
  const seen = new Set<string>();
  return registeredRoutes(hub.app)
    .filter((r) => r.method !== 'HEAD')
    .filter((r) => !seen.has(`${r.method} ${r.url}`) && seen.add(`${r.method} ${r.url}`))
    .sort((a, b) => Number(a.url === '/api/v1/auth/logout') - Number(b.url === '/api/v1/auth/logout'));
}

function concrete(url: string): string {
  return url.replace(/:(\w+)/g, (_m, name: string) => `matrix-${name}`).replace(/\*$/, 'matrix');
}

test('role matrix: the hub registers the routes this issue needs, and the matrix sees them', () => {
  const all = routes().map((r) => `${r.method} ${r.url}`);
  for (const r of [
    'GET /api/v1/nodes',
    'POST /api/v1/nodes/:site/:node/backfill',
    'POST /api/v1/auth/login',
    'GET /api/v1/audit',
    'GET /metrics',
    'GET /api/v1/config',
    'POST /api/v1/config/apply',
  ]) {
    assert.ok(all.includes(r), r);
  }
});

test('role matrix: every registered route has an entry in the route table', () => {
  const missing = routes()
    .filter((r) => findRouteRule(r.method, r.url) === undefined)
    .map((r) => `${r.method} ${r.url}`);
  assert.deepEqual(missing, [], 'add these to ROUTE_RULES in src/hub/auth/route-access.ts');
});

test('role matrix: the table gives the roles the console promises', () => {
  const expect: Array<[string, string, string]> = [
    ['GET', '/healthz', 'public'],
    ['GET', '/readyz', 'public'],
    ['POST', '/api/v1/auth/login', 'public'],
    ['GET', '/metrics', 'metrics'],
    ['GET', '/', 'viewer'],
    ['GET', '/api/v1/nodes', 'viewer'],
    ['GET', '/api/v1/live', 'viewer'],
    ['POST', '/api/v1/query_range', 'viewer'],
    ['GET', '/api/v1/alerts', 'viewer'],
    ['POST', '/api/v1/nodes/:site/:node/backfill', 'operator'],
    ['POST', '/api/v1/alerts/:fingerprint/ack', 'operator'],
    ['POST', '/api/v1/silences', 'operator'],
    ['DELETE', '/api/v1/silences/:id', 'operator'],
    ['POST', '/api/v1/auth/users', 'admin'],
    ['POST', '/api/v1/auth/tokens', 'admin'],
    ['GET', '/api/v1/audit', 'admin'],
    ['GET', '/api/v1/config/nodes/:site/:node', 'viewer'],
    ['POST', '/api/v1/config/sync', 'operator'],
    ['POST', '/api/v1/config/apply', 'operator'],
    ['GET', '/api/v1/not-in-the-table', 'admin'],
  ];
  for (const [method, url, access] of expect) assert.equal(decideRoute(method, url).access, access, `${method} ${url}`);
  assert.equal(decideRoute('POST', '/api/v1/query').mutating, false);
  assert.equal(decideRoute('POST', '/api/v1/nodes/:site/:node/backfill').mutating, true);
});

test('role matrix: every route x every caller is allowed or denied as the table says', async (t) => {
  const failures: string[] = [];
  const lines: string[] = [];
  for (const route of routes()) {
    const decision = decideRoute(route.method, route.url);
    // The matrix runs from loopback, where auth.metrics "loopback" lets anyone read /metrics.
    const need = decision.access === 'metrics' ? 'public' : decision.access;
    const cells: string[] = [];
    for (const caller of callers) {
      const headers: Record<string, string> = { ...caller.headers };
      if (decision.mutating && caller.csrf !== undefined) headers['x-csrf-token'] = caller.csrf;
      const res = await hub.app.inject({
        method: route.method as 'GET',
        url: concrete(route.url),
        headers,
        ...(route.method === 'GET' ? {} : { payload: {} }),
        // The live stream never ends: read the status, then let go.
        payloadAsStream: true,
      });
      res.stream().destroy();
      const denied =
        res.statusCode === 401 || res.statusCode === 403 || (res.statusCode === 302 && /^\/login/.test(String(res.headers.location)));
      const expectAllowed = need === 'public' || (caller.role !== null && roleAtLeast(caller.role, need));
      cells.push(`${caller.name}=${res.statusCode}`);
      if (denied === expectAllowed)
        failures.push(
          `${route.method} ${route.url} as ${caller.name}: ${res.statusCode}, expected ${expectAllowed ? 'allow' : 'deny'} (${need})`,
        );
      if (denied && caller.role === null && need !== 'public')
        assert.ok([401, 302].includes(res.statusCode), `${route.url}: anonymous is 401`);
      if (denied && caller.role !== null)
        assert.equal(res.statusCode, 403, `${route.method} ${route.url} as ${caller.name}: a known caller is 403`);
    }
    lines.push(`${route.method} ${route.url} [${need}]: ${cells.join(' ')}`);
  }
  for (const l of lines) t.diagnostic(l);
  assert.deepEqual(failures, []);
  assert.ok(lines.length >= 30, `${lines.length} routes`);
});

test('role matrix: docs/console-auth.md names every path of the route table', () => {
  const doc = readFileSync(new URL('../../../docs/console-auth.md', import.meta.url), 'utf8');
  const missing = ROUTE_RULES.map((r) => r.route.slice(r.route.indexOf(' ') + 1)).filter(
    (path) => !doc.includes(`${path}\``) && !doc.includes(`${path},`),
  );
  assert.deepEqual(missing, []);
});
