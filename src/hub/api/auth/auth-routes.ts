// POST /api/v1/auth/login, POST /api/v1/auth/logout, GET /api/v1/auth/me, POST /api/v1/auth/password and
// the login page at GET /login.

import type { FastifyInstance, FastifyRequest } from 'fastify';
import { FieldmeshError, isFieldmeshError } from '../../../kit/index.js';
import { type HubAuth, type Principal, sessionCookie, wantsSecureCookie } from '../../auth/index.js';
import { LOGIN_PAGE_HTML } from './login-page.js';

function invalid(message: string): FieldmeshError {
  return new FieldmeshError('FM_REQUEST_INVALID', message);
}

/** The body as a JSON object; a login must be JSON, which a form on another site cannot send. */
export function jsonObject(request: FastifyRequest, shape: string): Record<string, unknown> {
  const type = request.headers['content-type'] ?? '';
  const body = request.body;
  if (!/^application\/json\b/i.test(type) || typeof body !== 'object' || body === null || Array.isArray(body))
    throw invalid(`the body must be a JSON object (content-type: application/json): ${shape}`);
  return body as Record<string, unknown>;
}

export interface MeView {
  readonly user: string;
  readonly role: string;
  /** `session` (logged in), `token` (API token) or `demo` (authentication is off). */
  readonly kind: Principal['kind'];
  /** True when authentication is off: the console says so on screen. */
  readonly demo: boolean;
  /** Why authentication is off (demo only). */
  readonly reason?: string;
  /** Send it back in x-csrf-token with every state-changing request (session only). */
  readonly csrfToken?: string;
  /** When the session ends unless used earlier (idle) or at the latest (absolute), RFC 3339 (session only). */
  readonly expiresAt?: string;
}

async function meView(auth: HubAuth, p: Principal): Promise<MeView> {
  if (p.kind === 'session')
    return {
      user: p.name,
      role: p.role,
      kind: p.kind,
      demo: false,
      csrfToken: p.session.csrfToken,
      expiresAt: new Date(p.expiresAt).toISOString(),
    };
  if (p.kind === 'token') return { user: p.name, role: p.role, kind: p.kind, demo: false };
  return { user: p.name, role: p.role, kind: p.kind, demo: true, reason: (await auth.openReason()) ?? 'auth is off' };
}

function principalOf(request: FastifyRequest): Principal {
  // The auth hook admits no one to these routes without a principal.
  if (request.principal === null) throw new FieldmeshError('FM_AUTH_REQUIRED', 'log in first');
  return request.principal;
}

export function registerAuthRoutes(app: FastifyInstance, auth: HubAuth): void {
  app.get('/login', async (_request, reply) =>
    reply.type('text/html; charset=utf-8').header('cache-control', 'no-store').send(LOGIN_PAGE_HTML),
  );

  app.post('/api/v1/auth/login', async (request, reply) => {
    const body = jsonObject(request, '{"username": "...", "password": "..."}');
    const { username, password } = body;
    if (typeof username !== 'string' || username === '' || typeof password !== 'string' || password === '')
      throw invalid('fields "username" and "password" must be non-empty strings');
    request.auditActor = username.slice(0, 64);
    request.auditTarget = request.auditActor;
    try {
      const { sessionId, principal } = await auth.login(username, password, request.ip);
      request.principal = principal;
      // The browser forgets the cookie at the absolute expiry; the hub enforces the idle one.
      const maxAgeS = auth.config.sessionMax / 1_000;
      return reply
        .header('set-cookie', sessionCookie(sessionId, maxAgeS, wantsSecureCookie(auth, request)))
        .header('cache-control', 'no-store')
        .send(await meView(auth, principal));
    } catch (err) {
      if (isFieldmeshError(err, 'FM_AUTH_RATE_LIMITED'))
        reply.header('retry-after', String(Math.ceil(Number(err.details.retryAfterMs ?? 0) / 1_000)));
      throw err;
    }
  });

  app.post('/api/v1/auth/logout', async (request, reply) => {
    await auth.logout(principalOf(request));
    return reply
      .header('set-cookie', sessionCookie('', 0, wantsSecureCookie(auth, request)))
      .code(204)
      .send();
  });

  app.get('/api/v1/auth/me', async (request, reply) =>
    reply.header('cache-control', 'no-store').send(await meView(auth, principalOf(request))),
  );

  app.post('/api/v1/auth/password', async (request, reply) => {
    const principal = principalOf(request);
    const body = jsonObject(request, '{"current": "...", "password": "..."}');
    request.auditTarget = principal.name;
    await auth.changeOwnPassword(principal, body.current as string, body.password as string);
    return reply.code(204).send();
  });
}
