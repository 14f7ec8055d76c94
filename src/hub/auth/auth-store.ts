// The port where the console's users, sessions, API tokens and audit log are kept: SqliteAuthStore (its
// own tables in the hub's database file) or PostgresAuthStore (a scale-out hub's database); both pass
// auth-store.contract.ts. Tests may pass another through overrides.

import type { Role } from './roles.js';

export interface UserRecord {
  /** Unique, as typed at login (names compare exactly). */
  readonly name: string;
  readonly role: Role;
  /** `scrypt$n=...,r=...,p=...$<salt>$<key>` (password.ts). */
  readonly passwordHash: string;
  /** ms since the Unix epoch, hub clock. */
  readonly createdAt: number;
  readonly updatedAt: number;
  readonly lastLoginAt: number | null;
}

export interface SessionRecord {
  /** SHA-256 (hex) of the session id the cookie carries; the id itself is never stored. */
  readonly digest: string;
  readonly user: string;
  /** The double-submit CSRF token the browser sends back in `x-csrf-token`. */
  readonly csrfToken: string;
  /** Login time, ms: the absolute expiry counts from here. */
  readonly createdAt: number;
  /** Last use, ms, updated at most once a minute: the idle expiry counts from here. */
  readonly lastSeenAt: number;
  readonly ip: string | null;
}

export interface TokenRecord {
  /** Unique label, e.g. "ci". */
  readonly name: string;
  readonly role: Role;
  /** SHA-256 (hex) of the token; the token itself is shown once and never stored. */
  readonly digest: string;
  readonly createdAt: number;
  readonly lastUsedAt: number | null;
  /** Who created it: a user name, or "cli". */
  readonly createdBy: string | null;
}

/** How the actor of an audited request was known. */
export type ActorKind = 'session' | 'token' | 'demo' | 'cli' | 'anonymous';

export interface AuditEntry {
  /** Ascending; assigned by the store. */
  readonly id: number;
  readonly time: number;
  /** User or token name; the name tried for a login; null for an anonymous request. */
  readonly actor: string | null;
  readonly actorKind: ActorKind;
  readonly role: Role | null;
  readonly method: string;
  /** The route pattern, e.g. `/api/v1/nodes/:site/:node/backfill`, or a CLI command. */
  readonly route: string;
  /** What was acted on, e.g. `bess-a/n1` or a user name. */
  readonly target: string | null;
  /** HTTP status of the answer (0 for the CLI). */
  readonly status: number;
  /** `ok` (2xx/3xx), `denied` (401, 403, 429) or `failed` (any other error). */
  readonly result: 'ok' | 'denied' | 'failed';
  readonly ip: string | null;
}

export interface AuditQuery {
  /** At most this many, newest first. */
  readonly limit: number;
  /** Only entries with a smaller id (paging backwards). */
  readonly beforeId?: number;
  readonly actor?: string;
}

export type UserChange = { readonly role?: Role; readonly passwordHash?: string; readonly updatedAt: number };

/** What a removal or a role change did; `last-admin` when it would leave users without an admin. */
export type UserWriteOutcome = 'done' | 'missing' | 'last-admin';

export interface AuthStore {
  /** How many users and API tokens exist (auth.mode auto decides on it). */
  countCredentials(): Promise<{ users: number; tokens: number }>;
  getUser(name: string): Promise<UserRecord | undefined>;
  listUsers(): Promise<UserRecord[]>;
  /** False when the name is taken. */
  insertUser(user: UserRecord): Promise<boolean>;
  /** Never leaves users without an admin: demoting the last admin answers `last-admin`. */
  updateUser(name: string, change: UserChange): Promise<UserWriteOutcome>;
  recordLogin(name: string, at: number): Promise<void>;
  /** Deletes the user and their sessions; never the last admin while other users remain. */
  deleteUser(name: string): Promise<UserWriteOutcome>;

  insertSession(session: SessionRecord): Promise<void>;
  getSession(digest: string): Promise<SessionRecord | undefined>;
  touchSession(digest: string, at: number): Promise<void>;
  deleteSession(digest: string): Promise<void>;
  /** Ends every session of `user` except `keepDigest` (a password change ends the others). */
  deleteSessionsOf(user: string, keepDigest?: string): Promise<void>;
  /** Deletes sessions last seen before `idleBefore` or created before `createdBefore`. */
  deleteExpiredSessions(idleBefore: number, createdBefore: number): Promise<number>;

  /** False when the name is taken. */
  insertToken(token: TokenRecord): Promise<boolean>;
  getTokenByDigest(digest: string): Promise<TokenRecord | undefined>;
  listTokens(): Promise<TokenRecord[]>;
  touchToken(name: string, at: number): Promise<void>;
  deleteToken(name: string): Promise<boolean>;

  appendAudit(entry: Omit<AuditEntry, 'id'>): Promise<void>;
  listAudit(query: AuditQuery): Promise<AuditEntry[]>;
  /** Deletes entries older than `before` (ms); answers how many. */
  pruneAudit(before: number): Promise<number>;

  close(): Promise<void>;
}
