// AuthStore in SQLite: tables of its own (auth_users, auth_sessions, auth_tokens, audit_log) in the hub's
// database file, through a connection of its own, so `fieldmesh hub user add` works beside a running hub.

import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { type AuditRow, type SessionRow, type TokenRow, toAudit, toSession, toToken, toUser, type UserRow } from './auth-rows.js';
import type { AuditQuery, AuthStore, UserChange, UserWriteOutcome } from './auth-store.js';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS auth_users (
  name TEXT PRIMARY KEY,
  role TEXT NOT NULL,
  password_hash TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  last_login_at INTEGER
);
CREATE TABLE IF NOT EXISTS auth_sessions (
  digest TEXT PRIMARY KEY,
  user TEXT NOT NULL REFERENCES auth_users (name) ON DELETE CASCADE,
  csrf_token TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  last_seen_at INTEGER NOT NULL,
  ip TEXT
);
CREATE INDEX IF NOT EXISTS auth_sessions_user ON auth_sessions (user);
CREATE TABLE IF NOT EXISTS auth_tokens (
  name TEXT PRIMARY KEY,
  role TEXT NOT NULL,
  digest TEXT NOT NULL UNIQUE,
  created_at INTEGER NOT NULL,
  last_used_at INTEGER,
  created_by TEXT
);
CREATE TABLE IF NOT EXISTS audit_log (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  time INTEGER NOT NULL,
  actor TEXT,
  actor_kind TEXT NOT NULL,
  role TEXT,
  method TEXT NOT NULL,
  route TEXT NOT NULL,
  target TEXT,
  status INTEGER NOT NULL,
  result TEXT NOT NULL,
  ip TEXT
);
CREATE INDEX IF NOT EXISTS audit_log_time ON audit_log (time);
`;

export interface SqliteAuthStoreOptions {
  /** The hub's database file (storage.path); ":memory:" keeps nothing. */
  readonly path: string;
}

export function createSqliteAuthStore(options: SqliteAuthStoreOptions): AuthStore {
  if (options.path !== ':memory:') mkdirSync(dirname(options.path), { recursive: true });
  // better-sqlite3 waits up to 5 s for the hub's own connection to finish a write.
  const db = new Database(options.path);
  db.pragma('journal_mode = WAL');
  // FULL: a created user, a revoked token or an audit entry must survive a power cut.
  db.pragma('synchronous = FULL');
  db.pragma('foreign_keys = ON');
  db.exec(SCHEMA);

  const q = {
    counts: db.prepare<[], { users: number; tokens: number }>(
      'SELECT (SELECT COUNT(*) FROM auth_users) AS users, (SELECT COUNT(*) FROM auth_tokens) AS tokens',
    ),
    user: db.prepare<[string], UserRow>('SELECT * FROM auth_users WHERE name = ?'),
    users: db.prepare<[], UserRow>('SELECT * FROM auth_users ORDER BY name'),
    insertUser: db.prepare<[string, string, string, number, number]>(
      'INSERT OR IGNORE INTO auth_users (name, role, password_hash, created_at, updated_at) VALUES (?, ?, ?, ?, ?)',
    ),
    admins: db.prepare<[], { n: number }>("SELECT COUNT(*) AS n FROM auth_users WHERE role = 'admin'"),
    userCount: db.prepare<[], { n: number }>('SELECT COUNT(*) AS n FROM auth_users'),
    setRole: db.prepare<[string, number, string]>('UPDATE auth_users SET role = ?, updated_at = ? WHERE name = ?'),
    setHash: db.prepare<[string, number, string]>('UPDATE auth_users SET password_hash = ?, updated_at = ? WHERE name = ?'),
    setLogin: db.prepare<[number, string]>('UPDATE auth_users SET last_login_at = ? WHERE name = ?'),
    deleteUser: db.prepare<[string]>('DELETE FROM auth_users WHERE name = ?'),
    insertSession: db.prepare<[string, string, string, number, number, string | null]>(
      'INSERT INTO auth_sessions (digest, user, csrf_token, created_at, last_seen_at, ip) VALUES (?, ?, ?, ?, ?, ?)',
    ),
    session: db.prepare<[string], SessionRow>('SELECT * FROM auth_sessions WHERE digest = ?'),
    touchSession: db.prepare<[number, string]>('UPDATE auth_sessions SET last_seen_at = ? WHERE digest = ?'),
    deleteSession: db.prepare<[string]>('DELETE FROM auth_sessions WHERE digest = ?'),
    deleteSessionsOf: db.prepare<[string, string]>('DELETE FROM auth_sessions WHERE user = ? AND digest != ?'),
    deleteExpired: db.prepare<[number, number]>('DELETE FROM auth_sessions WHERE last_seen_at < ? OR created_at < ?'),
    insertToken: db.prepare<[string, string, string, number, string | null]>(
      'INSERT OR IGNORE INTO auth_tokens (name, role, digest, created_at, created_by) VALUES (?, ?, ?, ?, ?)',
    ),
    tokenByDigest: db.prepare<[string], TokenRow>('SELECT * FROM auth_tokens WHERE digest = ?'),
    tokens: db.prepare<[], TokenRow>('SELECT * FROM auth_tokens ORDER BY name'),
    touchToken: db.prepare<[number, string]>('UPDATE auth_tokens SET last_used_at = ? WHERE name = ?'),
    deleteToken: db.prepare<[string]>('DELETE FROM auth_tokens WHERE name = ?'),
    appendAudit: db.prepare<[number, string | null, string, string | null, string, string, string | null, number, string, string | null]>(
      'INSERT INTO audit_log (time, actor, actor_kind, role, method, route, target, status, result, ip) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
    ),
    listAudit: db.prepare<[number, string | null, string | null, number], AuditRow>(
      'SELECT * FROM audit_log WHERE id < ? AND (? IS NULL OR actor = ?) ORDER BY id DESC LIMIT ?',
    ),
    pruneAudit: db.prepare<[number]>('DELETE FROM audit_log WHERE time < ?'),
  };

  /** Would this change leave users behind without any admin? */
  const strandsAdmins = (target: UserRow, remainingUsers: number): boolean =>
    target.role === 'admin' && (q.admins.get()?.n ?? 0) <= 1 && remainingUsers > 0;

  const updateUser = db.transaction((name: string, change: UserChange): UserWriteOutcome => {
    const row = q.user.get(name);
    if (row === undefined) return 'missing';
    if (change.role !== undefined && change.role !== 'admin' && strandsAdmins(row, q.userCount.get()?.n ?? 0)) return 'last-admin';
    if (change.role !== undefined) q.setRole.run(change.role, change.updatedAt, name);
    if (change.passwordHash !== undefined) q.setHash.run(change.passwordHash, change.updatedAt, name);
    return 'done';
  });

  const deleteUser = db.transaction((name: string): UserWriteOutcome => {
    const row = q.user.get(name);
    if (row === undefined) return 'missing';
    if (strandsAdmins(row, (q.userCount.get()?.n ?? 0) - 1)) return 'last-admin';
    q.deleteUser.run(name);
    return 'done';
  });

  return {
    async countCredentials() {
      const r = q.counts.get();
      return { users: r?.users ?? 0, tokens: r?.tokens ?? 0 };
    },
    async getUser(name) {
      const r = q.user.get(name);
      return r === undefined ? undefined : toUser(r);
    },
    async listUsers() {
      return q.users.all().map(toUser);
    },
    async insertUser(u) {
      return q.insertUser.run(u.name, u.role, u.passwordHash, u.createdAt, u.updatedAt).changes === 1;
    },
    async updateUser(name, change) {
      return updateUser(name, change);
    },
    async recordLogin(name, at) {
      q.setLogin.run(at, name);
    },
    async deleteUser(name) {
      return deleteUser(name);
    },
    async insertSession(s) {
      q.insertSession.run(s.digest, s.user, s.csrfToken, s.createdAt, s.lastSeenAt, s.ip);
    },
    async getSession(digest) {
      const r = q.session.get(digest);
      return r === undefined ? undefined : toSession(r);
    },
    async touchSession(digest, at) {
      q.touchSession.run(at, digest);
    },
    async deleteSession(digest) {
      q.deleteSession.run(digest);
    },
    async deleteSessionsOf(user, keepDigest) {
      q.deleteSessionsOf.run(user, keepDigest ?? '');
    },
    async deleteExpiredSessions(idleBefore, createdBefore) {
      return q.deleteExpired.run(idleBefore, createdBefore).changes;
    },
    async insertToken(t) {
      return q.insertToken.run(t.name, t.role, t.digest, t.createdAt, t.createdBy).changes === 1;
    },
    async getTokenByDigest(digest) {
      const r = q.tokenByDigest.get(digest);
      return r === undefined ? undefined : toToken(r);
    },
    async listTokens() {
      return q.tokens.all().map(toToken);
    },
    async touchToken(name, at) {
      q.touchToken.run(at, name);
    },
    async deleteToken(name) {
      return q.deleteToken.run(name).changes === 1;
    },
    async appendAudit(e) {
      q.appendAudit.run(e.time, e.actor, e.actorKind, e.role, e.method, e.route, e.target, e.status, e.result, e.ip);
    },
    async listAudit(query: AuditQuery) {
      const actor = query.actor ?? null;
      return q.listAudit.all(query.beforeId ?? Number.MAX_SAFE_INTEGER, actor, actor, query.limit).map(toAudit);
    },
    async pruneAudit(before) {
      return q.pruneAudit.run(before).changes;
    },
    async close() {
      if (db.open) db.close();
    },
  };
}
