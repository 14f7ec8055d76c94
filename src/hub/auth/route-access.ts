// Who may call what: the one table of every HTTP route's required role. A route without an entry
// needs an admin (fail closed) and fails the role matrix test, so a new route cannot slip through.

import type { Role } from './roles.js';

/**
 * `public`: anyone, no login. `metrics`: decided by `auth.metrics`. A role: at least that role.
 */
export type Access = 'public' | 'metrics' | Role;

export interface RouteRule {
  /**
   * `METHOD path`. METHOD is GET, POST, PUT, PATCH, DELETE, or WRITE (POST, PUT, PATCH and DELETE).
   * The path is Fastify's route pattern (`/api/v1/nodes/:site/:node`); a trailing `*` matches every
   * pattern that starts with what precedes it.
   */
  readonly route: string;
  readonly access: Access;
  /**
   * True for a route that changes state: it needs a CSRF token when authenticated by cookie, and its
   * every call is audited. Default: true for POST, PUT, PATCH and DELETE, false for GET.
   */
  readonly mutating?: boolean;
  /** For an anonymous browser: redirect to the login page instead of answering 401. */
  readonly loginRedirect?: boolean;
}

export const ROUTE_RULES: readonly RouteRule[] = [
  // Public: probes, the login page and the login itself, static assets of the console.
  { route: 'GET /healthz', access: 'public' },
  { route: 'GET /readyz', access: 'public' },
  // The ingest tier's push APIs check their own tokens (hub.yaml ingest.tokens; hub/queue/push-ingest.ts); not audited per push.
  { route: 'POST /events', access: 'public', mutating: false },
  { route: 'POST /api/v2/write', access: 'public', mutating: false },
  { route: 'POST /write', access: 'public', mutating: false },
  { route: 'POST /api/v1/write', access: 'public', mutating: false },
  { route: 'GET /metrics', access: 'metrics' },
  { route: 'GET /login', access: 'public' },
  { route: 'POST /api/v1/auth/login', access: 'public' },
  { route: 'GET /assets/*', access: 'public' },
  { route: 'GET /favicon.ico', access: 'public' },

  // Viewers read everything about the fleet.
  { route: 'GET /', access: 'viewer', loginRedirect: true },
  { route: 'GET /api/v1/auth/me', access: 'viewer' },
  { route: 'POST /api/v1/auth/logout', access: 'viewer' },
  { route: 'POST /api/v1/auth/password', access: 'viewer' },
  { route: 'GET /api/v1/live', access: 'viewer' },
  { route: 'GET /api/v1/nodes', access: 'viewer' },
  { route: 'GET /api/v1/nodes/:site/:node', access: 'viewer' },
  { route: 'GET /api/v1/nodes/:site/:node/completeness', access: 'viewer' },
  // A node's own store, read through the hub over MQTT: reads, so a POSTed query needs no CSRF token.
  { route: 'GET /api/v1/nodes/:site/:node/query_range', access: 'viewer' },
  { route: 'POST /api/v1/nodes/:site/:node/query_range', access: 'viewer', mutating: false },
  { route: 'GET /api/v1/nodes/:site/:node/series', access: 'viewer' },
  { route: 'GET /api/v1/sites', access: 'viewer' },
  { route: 'GET /api/v1/sites/:site', access: 'viewer' },
  { route: 'GET /api/v1/overview', access: 'viewer' },
  { route: 'GET /api/v1/console', access: 'viewer' },
  { route: 'GET /api/v1/console/map-image', access: 'viewer' },
  { route: 'GET /api/v1/events', access: 'viewer' },
  { route: 'GET /api/v1/fleet', access: 'viewer' },
  // The Prometheus API: Grafana POSTs its queries as forms; they read, so no CSRF token, no audit.
  { route: 'GET /api/v1/series', access: 'viewer' },
  { route: 'POST /api/v1/series', access: 'viewer', mutating: false },
  { route: 'GET /api/v1/labels', access: 'viewer' },
  { route: 'POST /api/v1/labels', access: 'viewer', mutating: false },
  { route: 'GET /api/v1/label/:name/values', access: 'viewer' },
  { route: 'GET /api/v1/query', access: 'viewer' },
  { route: 'POST /api/v1/query', access: 'viewer', mutating: false },
  { route: 'GET /api/v1/query_range', access: 'viewer' },
  { route: 'POST /api/v1/query_range', access: 'viewer', mutating: false },
  { route: 'GET /api/v1/status/buildinfo', access: 'viewer' },
  { route: 'GET /api/v1/metadata', access: 'viewer' },
  { route: 'GET /api/v1/query_exemplars', access: 'viewer' },
  { route: 'POST /api/v1/query_exemplars', access: 'viewer', mutating: false },
  { route: 'GET /api/v1/format_query', access: 'viewer' },
  { route: 'POST /api/v1/format_query', access: 'viewer', mutating: false },
  { route: 'GET /api/v1/rules', access: 'viewer' },
  { route: 'GET /api/v1/rules/*', access: 'viewer' },
  { route: 'GET /api/v1/alerts', access: 'viewer' },
  { route: 'GET /api/v1/alerts/*', access: 'viewer' },
  { route: 'GET /api/v1/silences', access: 'viewer' },
  { route: 'GET /api/v1/silences/*', access: 'viewer' },
  { route: 'GET /api/v1/actions', access: 'viewer' },
  { route: 'GET /api/v1/actions/:id', access: 'viewer' },
  { route: 'GET /api/v1/commands', access: 'viewer' },
  { route: 'GET /api/v1/commands/:id', access: 'viewer' },
  { route: 'GET /api/v1/get', access: 'viewer' },
  { route: 'GET /api/v1/zones', access: 'viewer' },
  { route: 'GET /api/v1/zones/:zone', access: 'viewer' },
  { route: 'GET /api/v1/zones/:zone/history', access: 'viewer' },
  { route: 'GET /api/v1/config', access: 'viewer' },
  { route: 'GET /api/v1/config/nodes', access: 'viewer' },
  { route: 'GET /api/v1/config/nodes/:site/:node', access: 'viewer' },

  // Operators act on the fleet: backfills, acknowledging and silencing alerts, bulk actions.
  { route: 'POST /api/v1/nodes/:site/:node/backfill', access: 'operator' },
  { route: 'POST /api/v1/nodes/:site/:node/ping', access: 'operator' },
  { route: 'WRITE /api/v1/alerts', access: 'operator' },
  { route: 'WRITE /api/v1/alerts/*', access: 'operator' },
  { route: 'WRITE /api/v1/silences', access: 'operator' },
  { route: 'WRITE /api/v1/silences/*', access: 'operator' },
  // A preview reads: no CSRF token, no audit entry. The run is audited.
  { route: 'POST /api/v1/actions/preview', access: 'operator', mutating: false },
  { route: 'POST /api/v1/actions', access: 'operator' },
  // Commands to any set of nodes (docs/commands.md): operators only, read-only ones (ping, get, query)
  // included: a fan-out to the whole fleet is load on every site link. Viewers read the runs and keys.
  { route: 'POST /api/v1/commands', access: 'operator' },
  // Pump actions and elections, handed to a node of the zone; audited.
  { route: 'POST /api/v1/zones/:zone/pumps/:pump/:action', access: 'operator' },
  { route: 'POST /api/v1/zones/:zone/elect', access: 'operator' },
  // The configuration repository: read it now, roll its last good revision out (audited).
  { route: 'POST /api/v1/config/sync', access: 'operator' },
  { route: 'POST /api/v1/config/apply', access: 'operator' },

  // Admins manage who gets in and read what everyone did.
  { route: 'GET /api/v1/auth/users', access: 'admin' },
  { route: 'POST /api/v1/auth/users', access: 'admin' },
  { route: 'PATCH /api/v1/auth/users/:name', access: 'admin' },
  { route: 'DELETE /api/v1/auth/users/:name', access: 'admin' },
  { route: 'GET /api/v1/auth/tokens', access: 'admin' },
  { route: 'POST /api/v1/auth/tokens', access: 'admin' },
  { route: 'DELETE /api/v1/auth/tokens/:name', access: 'admin' },
  { route: 'GET /api/v1/audit', access: 'admin' },
  // Node registrations (docs/registration.md): admins decide which nodes the hub admits; audited.
  { route: 'GET /api/v1/registrations', access: 'admin' },
  { route: 'POST /api/v1/registrations/:site/:node/approve', access: 'admin' },
  { route: 'POST /api/v1/registrations/:site/:node/reject', access: 'admin' },
];

const WRITE_METHODS: ReadonlySet<string> = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

export function isWriteMethod(method: string): boolean {
  return WRITE_METHODS.has(method.toUpperCase());
}

export interface RouteDecision {
  readonly access: Access;
  readonly mutating: boolean;
  readonly loginRedirect: boolean;
}

function methodMatches(ruleMethod: string, method: string): boolean {
  return ruleMethod === method || (ruleMethod === 'WRITE' && WRITE_METHODS.has(method));
}

function pathMatches(rulePath: string, url: string): boolean {
  return rulePath.endsWith('*') ? url.startsWith(rulePath.slice(0, -1)) : rulePath === url;
}

/** The first rule for `method` (HEAD as GET) and Fastify's route pattern `url`; undefined when none. */
export function findRouteRule(method: string, url: string, rules: readonly RouteRule[] = ROUTE_RULES): RouteRule | undefined {
  const m = method.toUpperCase() === 'HEAD' ? 'GET' : method.toUpperCase();
  const path = url.length > 1 && url.endsWith('/') ? url.slice(0, -1) : url;
  return rules.find((r) => {
    const space = r.route.indexOf(' ');
    return methodMatches(r.route.slice(0, space), m) && pathMatches(r.route.slice(space + 1), path);
  });
}

/** What a request to a route needs: its rule, or an admin for a route the table misses. */
export function decideRoute(method: string, url: string, rules: readonly RouteRule[] = ROUTE_RULES): RouteDecision & { known: boolean } {
  const rule = findRouteRule(method, url, rules);
  return {
    known: rule !== undefined,
    access: rule?.access ?? 'admin',
    mutating: rule?.mutating ?? isWriteMethod(method),
    loginRedirect: rule?.loginRedirect ?? false,
  };
}
