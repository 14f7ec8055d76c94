// The Fastify hooks that enforce the route table: who is asking (API token, session cookie, or nobody),
// whether their role suffices (401 or 403 in the hub's error envelope), CSRF on state-changing cookie
// requests, and one audit entry for every state-changing request, allowed or not.

import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { describeError, type ErrorCode, type Logger } from '../../kit/index.js';
import { errorBody } from '../../protocol/index.js';
import type { AuditEntry } from './auth-store.js';
import { type HubAuth, isLoopbackHost, type Principal } from './hub-auth.js';
import { type Role, roleAtLeast } from './roles.js';
import { type Access, decideRoute, type RouteDecision } from './route-access.js';
import { secretsEqual } from './secrets.js';

export const SESSION_COOKIE = 'fieldmesh_session';
export const CSRF_HEADER = 'x-csrf-token';

declare module 'fastify' {
  interface FastifyRequest {
    /** Who is asking; null before the auth hook ran, or when nobody is and the route is public. */
    principal: Principal | null;
    /** What the request acts on, for the audit log; default: the route's parameters joined by "/". */
    auditTarget: string | null;
    /** The actor to audit when there is no principal (a login names the user it tried). */
    auditActor: string | null;
  }
}

export interface RegisteredRoute {
  readonly method: string;
  readonly url: string;
}

const routesByApp = new WeakMap<FastifyInstance, RegisteredRoute[]>();

/** Every route registered after installAuth, HEAD routes included (the role matrix test walks them). */
export function registeredRoutes(app: FastifyInstance): readonly RegisteredRoute[] {
  return routesByApp.get(app) ?? [];
}

/** The session id in a Cookie header, if any. */
export function sessionIdFromCookie(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === SESSION_COOKIE) return decodeURIComponent(part.slice(eq + 1).trim());
  }
  return undefined;
}

export function sessionCookie(value: string, maxAgeS: number, secure: boolean): string {
  return `${SESSION_COOKIE}=${value}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${Math.max(0, Math.floor(maxAgeS))}${secure ? '; Secure' : ''}`;
}

export function wantsSecureCookie(auth: HubAuth, request: FastifyRequest): boolean {
  return auth.config.cookieSecure === 'always' || (auth.config.cookieSecure === 'auto' && request.protocol === 'https');
}

function deny(reply: FastifyReply, status: number, code: ErrorCode, message: string): FastifyReply {
  if (status === 401) reply.header('www-authenticate', 'Bearer realm="fieldmesh"');
  return reply
    .code(status)
    .header('cache-control', 'no-store')
    .send(errorBody(status, code, message));
}

/** The API token of `Authorization: Bearer <t>`, or the password of `Basic` (what Grafana and Prometheus send). */
function tokenFromAuthorization(header: string): string | undefined {
  const bearer = /^Bearer\s+(\S+)\s*$/i.exec(header);
  if (bearer !== null) return bearer[1];
  const basic = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header);
  if (basic === null) return undefined;
  const text = Buffer.from(basic[1] as string, 'base64').toString('utf8');
  const colon = text.indexOf(':');
  return colon < 0 ? undefined : text.slice(colon + 1);
}

/** Who the credentials name: a principal, `invalid` (credentials given but wrong), or undefined (none given). */
async function identify(auth: HubAuth, request: FastifyRequest): Promise<Principal | 'invalid' | undefined> {
  const authorization = request.headers.authorization;
  if (authorization !== undefined && authorization !== '') {
    const token = tokenFromAuthorization(authorization);
    return (token === undefined ? undefined : await auth.tokenPrincipal(token)) ?? 'invalid';
  }
  const sessionId = sessionIdFromCookie(request.headers.cookie);
  if (sessionId === undefined) return undefined;
  return (await auth.sessionPrincipal(sessionId)) ?? 'invalid';
}

/**
 * A browser tells where a request came from: `Sec-Fetch-Site`, or at least `Origin`. A state-changing
 * request sent by another site is refused even in demo mode, where no CSRF token exists.
 */
function crossSite(request: FastifyRequest): boolean {
  const site = request.headers['sec-fetch-site'];
  if (typeof site === 'string') return site !== 'same-origin' && site !== 'none';
  const origin = request.headers.origin;
  if (typeof origin !== 'string' || origin === '' || origin === 'null') return origin === 'null';
  try {
    return new URL(origin).host !== request.headers.host;
  } catch {
    return true;
  }
}

function required(auth: HubAuth, access: Access, request: FastifyRequest): 'public' | Role {
  if (access !== 'metrics') return access;
  if (auth.config.metrics === 'public') return 'public';
  if (auth.config.metrics === 'viewer') return 'viewer';
  return isLoopbackHost(request.ip) ? 'public' : 'viewer';
}

function auditResult(status: number): AuditEntry['result'] {
  if (status === 401 || status === 403 || status === 429) return 'denied';
  return status >= 400 ? 'failed' : 'ok';
}

function defaultTarget(request: FastifyRequest): string | null {
  const params = request.params;
  if (typeof params !== 'object' || params === null) return null;
  const values = Object.values(params as Record<string, unknown>).filter((v) => typeof v === 'string' && v !== '');
  return values.length === 0 ? null : values.join('/');
}

export function installAuth(app: FastifyInstance, auth: HubAuth, logger: Logger): void {
  const routes: RegisteredRoute[] = [];
  routesByApp.set(app, routes);
  app.decorateRequest('principal', null);
  app.decorateRequest('auditTarget', null);
  app.decorateRequest('auditActor', null);

  app.addHook('onRoute', (route) => {
    for (const method of [route.method].flat()) routes.push({ method, url: route.url ?? route.path });
  });

  app.addHook('onReady', async () => {
    const uncovered = routes.filter((r) => r.method !== 'HEAD' && !decideRoute(r.method, r.url).known);
    if (uncovered.length > 0)
      logger.warn(
        { routes: uncovered.map((r) => `${r.method} ${r.url}`) },
        'routes missing from the role table (src/hub/auth/route-access.ts) need an admin',
      );
  });

  app.addHook('onRequest', async (request, reply) => {
    const url = request.routeOptions.url;
    // No route: the not-found handler answers, and says nothing a login would protect.
    if (url === undefined) return;
    const decision: RouteDecision = decideRoute(request.method, url);
    const enforced = await auth.enforced();
    const who = await identify(auth, request);
    const need = required(auth, decision.access, request);
    if (who === 'invalid') {
      if (enforced && need !== 'public') {
        auth.countDenied('unauthenticated');
        return deny(reply, 401, 'FM_AUTH_REQUIRED', 'the session has ended or the API token is not valid; log in again');
      }
    } else if (who !== undefined) {
      request.principal = who;
    }
    if (request.principal === null && !enforced) request.principal = auth.demoPrincipal();
    const principal = request.principal;
    if (decision.mutating && principal?.kind !== 'token' && crossSite(request)) {
      auth.countDenied('csrf');
      return deny(reply, 403, 'FM_AUTH_CSRF', 'a state-changing request from another site is refused');
    }
    if (need === 'public') return;
    if (principal === null) {
      auth.countDenied('unauthenticated');
      if (decision.loginRedirect && (request.method === 'GET' || request.method === 'HEAD'))
        return reply.redirect(`/login?next=${encodeURIComponent(request.url)}`, 302);
      return deny(reply, 401, 'FM_AUTH_REQUIRED', 'log in (POST /api/v1/auth/login) or send an API token (Authorization: Bearer ...)');
    }
    if (!roleAtLeast(principal.role, need)) {
      auth.countDenied('forbidden');
      return deny(
        reply,
        403,
        'FM_AUTH_FORBIDDEN',
        `${request.method} ${url} needs the ${need} role; ${principal.name} is ${principal.role}`,
      );
    }
    // [OWASP CSRF cheat sheet, double-submit] The token came with the login and from /me; a page of
    // another site can neither read it nor set this header.
    if (decision.mutating && principal.kind === 'session') {
      const given = request.headers[CSRF_HEADER];
      if (typeof given !== 'string' || !secretsEqual(given, principal.session.csrfToken)) {
        auth.countDenied('csrf');
        return deny(
          reply,
          403,
          'FM_AUTH_CSRF',
          `a state-changing request with a session cookie needs the ${CSRF_HEADER} header from the login or GET /api/v1/auth/me`,
        );
      }
    }
  });

  app.addHook('onResponse', async (request, reply) => {
    const url = request.routeOptions.url;
    if (url === undefined || !decideRoute(request.method, url).mutating) return;
    const p = request.principal;
    try {
      await auth.audit({
        actor: p?.name ?? request.auditActor,
        actorKind: p?.kind ?? 'anonymous',
        role: p?.role ?? null,
        method: request.method,
        route: url,
        target: request.auditTarget ?? defaultTarget(request),
        status: reply.statusCode,
        result: auditResult(reply.statusCode),
        ip: request.ip ?? null,
      });
    } catch (err) {
      logger.error({ err: describeError(err), route: url }, 'audit entry not written');
    }
  });
}
