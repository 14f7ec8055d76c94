// The console's authentication and user management: whether a login is needed now (auth.mode), logins
// with throttling, sessions with idle and absolute expiry, API tokens, users, and the audit log. The
// HTTP hooks (auth-hooks.ts), the auth routes and `fieldmesh hub user|token` all go through it.

import { Counter, type Registry } from 'prom-client';
import { type Clock, FieldmeshError, type Logger, silentLogger } from '../../kit/index.js';
import type { AuthConfig } from './auth-config.js';
import type { AuditEntry, AuditQuery, AuthStore, SessionRecord, TokenRecord, UserRecord } from './auth-store.js';
import { LoginLimiter } from './login-limiter.js';
import { checkPasswordRules, hashPassword, verifyAgainstNothing, verifyPassword } from './password.js';
import { isRole, type Role } from './roles.js';
import { digestSecret, newSecret, TOKEN_PREFIX } from './secrets.js';

/** A session's last use is written at most this often (idle expiry is exact to this). */
export const SESSION_TOUCH_INTERVAL_MS = 60_000;
/** An API token's last use is written at most this often. */
const TOKEN_TOUCH_INTERVAL_MS = 60_000;
/** Audit entries past retention are deleted at most this often. */
const AUDIT_PRUNE_INTERVAL_MS = 3_600_000;
/** User and token names: what a person types, and nothing a URL or a log line must escape. */
const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/;
/** The name the demo mode acts under. */
export const DEMO_USER = 'demo';

/** Who is asking. `demo`: authentication is off (demo mode or auth.mode off) and nobody logged in. */
export type Principal =
  | { readonly kind: 'session'; readonly name: string; readonly role: Role; readonly session: SessionRecord; readonly expiresAt: number }
  | { readonly kind: 'token'; readonly name: string; readonly role: Role }
  | { readonly kind: 'demo'; readonly name: string; readonly role: Role };

export interface UserView {
  readonly name: string;
  readonly role: Role;
  readonly createdAt: string;
  readonly updatedAt: string;
  readonly lastLoginAt: string | null;
}

export interface TokenView {
  readonly name: string;
  readonly role: Role;
  readonly createdAt: string;
  readonly lastUsedAt: string | null;
  readonly createdBy: string | null;
}

export interface AuditView extends Omit<AuditEntry, 'time'> {
  readonly time: string;
}

export interface LoginResult {
  /** The session id for the cookie: shown once, stored only as a digest. */
  readonly sessionId: string;
  readonly principal: Extract<Principal, { kind: 'session' }>;
}

export interface HubAuthOptions {
  readonly config: AuthConfig;
  /** http.host: in auth.mode auto, a hub listening beyond loopback always asks for a login. */
  readonly host: string;
  readonly store: AuthStore;
  readonly clock: Clock;
  readonly logger?: Logger;
  /** Where the login and denial counters go (the hub's /metrics); none for the CLI. */
  readonly registry?: Registry;
}

export interface HubAuth {
  readonly config: AuthConfig;
  readonly store: AuthStore;
  /** True when requests must carry a session or a token now; false in demo mode and with auth.mode off. */
  enforced(): Promise<boolean>;
  /** Why authentication is off, for /me and the log; undefined when it is on. */
  openReason(): Promise<string | undefined>;
  /** Logs what an operator must know at start: auth off beyond loopback, auth on without any user. */
  announce(): Promise<void>;
  /** The session a cookie's id opens, touching it; undefined when unknown or expired (then deleted). */
  sessionPrincipal(sessionId: string): Promise<Principal | undefined>;
  /** The API token's principal; undefined when unknown. */
  tokenPrincipal(token: string): Promise<Principal | undefined>;
  demoPrincipal(): Principal;
  /** Throws FM_AUTH_RATE_LIMITED (details.retryAfterMs) or FM_AUTH_FAILED; the same message for an unknown name. */
  login(name: string, password: string, ip: string): Promise<LoginResult>;
  logout(principal: Principal): Promise<void>;
  /** A logged-in user changes their own password; their other sessions end. */
  changeOwnPassword(principal: Principal, current: string, next: string): Promise<void>;

  listUsers(): Promise<UserView[]>;
  /** Throws FM_REQUEST_INVALID (name, role, password rules) or FM_AUTH_CONFLICT (name taken). */
  addUser(name: string, role: Role, password: string): Promise<UserView>;
  /** Changes role and/or password; a new password ends the user's sessions. FM_NOT_FOUND, FM_AUTH_CONFLICT (last admin). */
  updateUser(name: string, change: { readonly role?: Role; readonly password?: string }): Promise<UserView>;
  /** FM_NOT_FOUND, or FM_AUTH_CONFLICT when it would leave users without an admin. */
  removeUser(name: string): Promise<void>;

  listTokens(): Promise<TokenView[]>;
  /** The token is in the answer once; only its digest is kept. FM_AUTH_CONFLICT when the name is taken. */
  createToken(name: string, role: Role, createdBy: string | null): Promise<{ readonly token: string; readonly view: TokenView }>;
  /** FM_NOT_FOUND when no token has that name. */
  revokeToken(name: string): Promise<void>;

  audit(entry: Omit<AuditEntry, 'id' | 'time'>): Promise<void>;
  listAudit(query: AuditQuery): Promise<AuditView[]>;
  /** Counts a refused request for /metrics. */
  countDenied(reason: 'unauthenticated' | 'forbidden' | 'csrf'): void;
}

/** True for addresses only this machine can reach. */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '');
  return h === 'localhost' || h === '::1' || h === '::ffff:127.0.0.1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);
}

const iso = (ms: number) => new Date(ms).toISOString();

function userView(u: UserRecord): UserView {
  return {
    name: u.name,
    role: u.role,
    createdAt: iso(u.createdAt),
    updatedAt: iso(u.updatedAt),
    lastLoginAt: u.lastLoginAt === null ? null : iso(u.lastLoginAt),
  };
}

function tokenView(t: TokenRecord): TokenView {
  return {
    name: t.name,
    role: t.role,
    createdAt: iso(t.createdAt),
    lastUsedAt: t.lastUsedAt === null ? null : iso(t.lastUsedAt),
    createdBy: t.createdBy,
  };
}

function invalid(message: string): FieldmeshError {
  return new FieldmeshError('FM_REQUEST_INVALID', message);
}

export function checkName(name: unknown, what: 'user' | 'token'): string {
  if (typeof name !== 'string' || !NAME_PATTERN.test(name))
    throw invalid(`the ${what} name must be 1 to 64 letters, digits, ".", "_", "@" or "-", starting with a letter or digit`);
  return name;
}

export function checkRole(role: unknown): Role {
  if (!isRole(role)) throw invalid(`the role must be viewer, operator or admin, got ${JSON.stringify(role)}`);
  return role;
}

export function createHubAuth(options: HubAuthOptions): HubAuth {
  const { config, store, clock } = options;
  const logger = options.logger ?? silentLogger;
  const limiter = new LoginLimiter({
    maxFailuresPerUser: config.loginMaxFailures,
    maxFailuresPerIp: config.loginMaxFailuresPerIp,
    windowMs: config.loginWindow,
  });
  const registers = options.registry === undefined ? [] : [options.registry];
  const logins = new Counter({
    name: 'fieldmesh_hub_auth_logins_total',
    help: 'Console logins by result: ok, failed (wrong name or password), rate_limited (refused by the failed-login throttle).',
    labelNames: ['result'] as const,
    registers,
  });
  const denied = new Counter({
    name: 'fieldmesh_hub_auth_denied_total',
    help: 'HTTP requests refused by authentication or authorization: unauthenticated (401), forbidden (403, role too low), csrf (403).',
    labelNames: ['reason'] as const,
    registers,
  });
  for (const result of ['ok', 'failed', 'rate_limited']) logins.inc({ result }, 0);
  for (const reason of ['unauthenticated', 'forbidden', 'csrf']) denied.inc({ reason }, 0);
  let lastAuditPrune = Number.NEGATIVE_INFINITY;
  const loopback = isLoopbackHost(options.host);

  async function openReason(): Promise<string | undefined> {
    if (config.mode === 'on') return undefined;
    if (config.mode === 'off') return 'auth.mode is off';
    if (!loopback) return undefined;
    const { users, tokens } = await store.countCredentials();
    return users + tokens === 0 ? 'demo mode: no user or API token exists and the hub listens on loopback only' : undefined;
  }

  function expiresAt(s: SessionRecord): number {
    return Math.min(s.createdAt + config.sessionMax, s.lastSeenAt + config.sessionIdle);
  }

  async function userOrThrow(name: string): Promise<UserRecord> {
    const u = await store.getUser(name);
    if (u === undefined) throw new FieldmeshError('FM_NOT_FOUND', `no user "${name}"`);
    return u;
  }

  function lastAdmin(what: string): FieldmeshError {
    return new FieldmeshError('FM_AUTH_CONFLICT', `${what} would leave the hub without an admin; make another user admin first`);
  }

  return {
    config,
    store,

    async enforced() {
      return (await openReason()) === undefined;
    },

    openReason,

    async announce() {
      const reason = await openReason();
      const { users, tokens } = await store.countCredentials();
      if (config.mode === 'off' && !loopback) {
        logger.warn(
          { host: options.host, mode: config.mode },
          `!!! AUTHENTICATION IS OFF and the hub listens on ${options.host}: anyone who can reach it has admin rights. Set auth.mode to auto or on.`,
        );
      } else if (reason !== undefined) {
        logger.info({ mode: config.mode }, `console authentication off (${reason})`);
      } else if (users === 0) {
        logger.warn(
          { host: options.host, mode: config.mode, tokens },
          'console authentication is on and no user exists: create one with `fieldmesh hub user add --config <hub.yaml> --name <name> --role admin`',
        );
      } else {
        logger.info({ mode: config.mode, users, tokens }, 'console authentication on');
      }
    },

    async sessionPrincipal(sessionId) {
      const digest = digestSecret(sessionId);
      const session = await store.getSession(digest);
      if (session === undefined) return undefined;
      const now = clock.now();
      if (now >= expiresAt(session)) {
        await store.deleteSession(digest);
        return undefined;
      }
      const user = await store.getUser(session.user);
      if (user === undefined) return undefined;
      let current = session;
      if (now - session.lastSeenAt >= SESSION_TOUCH_INTERVAL_MS) {
        await store.touchSession(digest, now);
        current = { ...session, lastSeenAt: now };
      }
      return { kind: 'session', name: user.name, role: user.role, session: current, expiresAt: expiresAt(current) };
    },

    async tokenPrincipal(token) {
      if (!token.startsWith(TOKEN_PREFIX)) return undefined;
      const record = await store.getTokenByDigest(digestSecret(token));
      if (record === undefined) return undefined;
      const now = clock.now();
      if (record.lastUsedAt === null || now - record.lastUsedAt >= TOKEN_TOUCH_INTERVAL_MS) await store.touchToken(record.name, now);
      return { kind: 'token', name: record.name, role: record.role };
    },

    demoPrincipal() {
      return { kind: 'demo', name: DEMO_USER, role: 'admin' };
    },

    async login(name, password, ip) {
      const now = clock.now();
      const wait = limiter.retryAfterMs(name, ip, now);
      if (wait > 0) {
        logins.inc({ result: 'rate_limited' });
        logger.warn({ user: name, ip }, 'login refused: too many failed attempts');
        throw new FieldmeshError('FM_AUTH_RATE_LIMITED', `too many failed logins; try again in ${Math.ceil(wait / 1_000)} s`, {
          details: { retryAfterMs: wait },
        });
      }
      const user = await store.getUser(name);
      const ok = user === undefined ? await verifyAgainstNothing(password) : await verifyPassword(password, user.passwordHash);
      if (user === undefined || !ok) {
        limiter.recordFailure(name, ip, now);
        logins.inc({ result: 'failed' });
        logger.info({ user: name, ip }, 'login failed');
        throw new FieldmeshError('FM_AUTH_FAILED', 'wrong user name or password');
      }
      limiter.recordSuccess(name);
      logins.inc({ result: 'ok' });
      await store.deleteExpiredSessions(now - config.sessionIdle, now - config.sessionMax);
      const sessionId = newSecret();
      const session: SessionRecord = {
        digest: digestSecret(sessionId),
        user: user.name,
        csrfToken: newSecret(),
        createdAt: now,
        lastSeenAt: now,
        ip,
      };
      await store.insertSession(session);
      await store.recordLogin(user.name, now);
      logger.info({ user: user.name, role: user.role, ip }, 'login');
      return { sessionId, principal: { kind: 'session', name: user.name, role: user.role, session, expiresAt: expiresAt(session) } };
    },

    async logout(principal) {
      if (principal.kind === 'session') await store.deleteSession(principal.session.digest);
    },

    async changeOwnPassword(principal, current, next) {
      if (principal.kind !== 'session') throw invalid('only a logged-in user has a password to change; use PATCH /api/v1/auth/users/:name');
      if (typeof current !== 'string' || typeof next !== 'string') throw invalid('the body must be {"current": "...", "password": "..."}');
      const user = await userOrThrow(principal.name);
      if (!(await verifyPassword(current, user.passwordHash))) throw new FieldmeshError('FM_AUTH_FAILED', 'the current password is wrong');
      checkPasswordRules(next);
      await store.updateUser(user.name, { passwordHash: await hashPassword(next), updatedAt: clock.now() });
      await store.deleteSessionsOf(user.name, principal.session.digest);
    },

    async listUsers() {
      return (await store.listUsers()).map(userView);
    },

    async addUser(name, role, password) {
      checkName(name, 'user');
      checkRole(role);
      if (typeof password !== 'string') throw invalid('the password must be a string');
      checkPasswordRules(password);
      const now = clock.now();
      const record: UserRecord = {
        name,
        role,
        passwordHash: await hashPassword(password),
        createdAt: now,
        updatedAt: now,
        lastLoginAt: null,
      };
      if (!(await store.insertUser(record))) throw new FieldmeshError('FM_AUTH_CONFLICT', `user "${name}" exists already`);
      return userView(record);
    },

    async updateUser(name, change) {
      await userOrThrow(name);
      if (change.role !== undefined) checkRole(change.role);
      if (change.password !== undefined) {
        if (typeof change.password !== 'string') throw invalid('the password must be a string');
        checkPasswordRules(change.password);
      }
      const passwordHash = change.password === undefined ? undefined : await hashPassword(change.password);
      const outcome = await store.updateUser(name, {
        ...(change.role !== undefined ? { role: change.role } : {}),
        ...(passwordHash !== undefined ? { passwordHash } : {}),
        updatedAt: clock.now(),
      });
      if (outcome === 'missing') throw new FieldmeshError('FM_NOT_FOUND', `no user "${name}"`);
      if (outcome === 'last-admin') throw lastAdmin(`making "${name}" ${change.role}`);
      // A new password locks out whoever knew the old one.
      if (passwordHash !== undefined) await store.deleteSessionsOf(name);
      return userView(await userOrThrow(name));
    },

    async removeUser(name) {
      const outcome = await store.deleteUser(name);
      if (outcome === 'missing') throw new FieldmeshError('FM_NOT_FOUND', `no user "${name}"`);
      if (outcome === 'last-admin') throw lastAdmin(`removing "${name}"`);
    },

    async listTokens() {
      return (await store.listTokens()).map(tokenView);
    },

    async createToken(name, role, createdBy) {
      checkName(name, 'token');
      checkRole(role);
      const token = newSecret(TOKEN_PREFIX);
      const record: TokenRecord = { name, role, digest: digestSecret(token), createdAt: clock.now(), lastUsedAt: null, createdBy };
      if (!(await store.insertToken(record))) throw new FieldmeshError('FM_AUTH_CONFLICT', `API token "${name}" exists already`);
      return { token, view: tokenView(record) };
    },

    async revokeToken(name) {
      if (!(await store.deleteToken(name))) throw new FieldmeshError('FM_NOT_FOUND', `no API token "${name}"`);
    },

    async audit(entry) {
      const now = clock.now();
      await store.appendAudit({ ...entry, time: now });
      if (now - lastAuditPrune >= AUDIT_PRUNE_INTERVAL_MS) {
        lastAuditPrune = now;
        const deleted = await store.pruneAudit(now - config.auditRetention);
        if (deleted > 0) logger.info({ deleted }, 'audit entries past auth.auditRetention deleted');
      }
    },

    async listAudit(query) {
      return (await store.listAudit(query)).map((e) => ({ ...e, time: iso(e.time) }));
    },

    countDenied(reason) {
      denied.inc({ reason });
    },
  };
}
