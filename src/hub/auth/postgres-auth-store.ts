// AuthStore on PostgreSQL, for a hub of several processes sharing one database: the same tables as in
// SQLite (component "auth" in schema_migrations); the last-admin rule holds under concurrent changes.

import type { Pool, PoolClient } from 'pg';
import { type MigrationStep, openMigratedPool } from '../storage/postgres/migrate.js';
import { inTransaction, type PostgresPoolOptions } from '../storage/postgres/pool.js';
import { type AuditRow, type SessionRow, type TokenRow, toAudit, toSession, toToken, toUser, type UserRow } from './auth-rows.js';
import type { AuthStore, UserWriteOutcome } from './auth-store.js';

export const AUTH_MIGRATIONS: readonly MigrationStep[] = [
  {
    version: 1,
    name: 'users, sessions, tokens, audit',
    up: `
      CREATE TABLE auth_users (
        name text PRIMARY KEY,
        role text NOT NULL,
        password_hash text NOT NULL,
        created_at bigint NOT NULL,
        updated_at bigint NOT NULL,
        last_login_at bigint
      );
      CREATE TABLE auth_sessions (
        digest text PRIMARY KEY,
        "user" text NOT NULL REFERENCES auth_users (name) ON DELETE CASCADE,
        csrf_token text NOT NULL,
        created_at bigint NOT NULL,
        last_seen_at bigint NOT NULL,
        ip text
      );
      CREATE INDEX auth_sessions_user ON auth_sessions ("user");
      CREATE TABLE auth_tokens (
        name text PRIMARY KEY,
        role text NOT NULL,
        digest text NOT NULL UNIQUE,
        created_at bigint NOT NULL,
        last_used_at bigint,
        created_by text
      );
      CREATE TABLE audit_log (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        time bigint NOT NULL,
        actor text,
        actor_kind text NOT NULL,
        role text,
        method text NOT NULL,
        route text NOT NULL,
        target text,
        status integer NOT NULL,
        result text NOT NULL,
        ip text
      );
      CREATE INDEX audit_log_time ON audit_log (time);
    `,
  },
];

/** The advisory lock ("fmau") that serialises changes of users' roles and removals: the last-admin rule. */
const USERS_LOCK = 0x666d6175;

/** Would this change leave users behind without any admin? Read under USERS_LOCK. */
async function strandsAdmins(client: PoolClient, target: UserRow, remainingUsers: number): Promise<boolean> {
  if (target.role !== 'admin' || remainingUsers <= 0) return false;
  const r = await client.query<{ n: number }>(`SELECT count(*)::int AS n FROM auth_users WHERE role = 'admin'`);
  return (r.rows[0]?.n ?? 0) <= 1;
}

/** Locks the users for a role change or removal, and reads the one named. */
async function lockUsers(client: PoolClient, name: string): Promise<{ row: UserRow | undefined; users: number }> {
  await client.query('SELECT pg_advisory_xact_lock($1)', [USERS_LOCK]);
  const row = (await client.query<UserRow>('SELECT * FROM auth_users WHERE name = $1', [name])).rows[0];
  const users = (await client.query<{ n: number }>('SELECT count(*)::int AS n FROM auth_users')).rows[0]?.n ?? 0;
  return { row, users };
}

/** Connects and migrates; the console's users, sessions, tokens and audit log on PostgreSQL. */
export async function createPostgresAuthStore(options: PostgresPoolOptions): Promise<AuthStore> {
  return postgresAuthStore(await openMigratedPool(options, 'auth', AUTH_MIGRATIONS));
}

function postgresAuthStore(pool: Pool): AuthStore {
  /** The first row of a query, mapped; undefined when none. */
  const first = async <R, T>(sql: string, params: unknown[], map: (r: R) => T): Promise<T | undefined> => {
    const row = (await pool.query(sql, params)).rows[0] as R | undefined;
    return row === undefined ? undefined : map(row);
  };
  let open = true;

  return {
    async countCredentials() {
      const r = await pool.query<{ users: number; tokens: number }>(
        'SELECT (SELECT count(*)::int FROM auth_users) AS users, (SELECT count(*)::int FROM auth_tokens) AS tokens',
      );
      return { users: r.rows[0]?.users ?? 0, tokens: r.rows[0]?.tokens ?? 0 };
    },
    getUser: (name) => first('SELECT * FROM auth_users WHERE name = $1', [name], (r: UserRow) => toUser(r)),
    async listUsers() {
      return (await pool.query<UserRow>('SELECT * FROM auth_users ORDER BY name COLLATE "C"')).rows.map(toUser);
    },
    async insertUser(u) {
      const r = await pool.query(
        `INSERT INTO auth_users (name, role, password_hash, created_at, updated_at) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (name) DO NOTHING`,
        [u.name, u.role, u.passwordHash, u.createdAt, u.updatedAt],
      );
      return r.rowCount === 1;
    },
    updateUser(name, change) {
      return inTransaction(pool, async (client): Promise<UserWriteOutcome> => {
        const { row, users } = await lockUsers(client, name);
        if (row === undefined) return 'missing';
        if (change.role !== undefined && change.role !== 'admin' && (await strandsAdmins(client, row, users))) return 'last-admin';
        await client.query(
          `UPDATE auth_users SET role = COALESCE($1, role), password_hash = COALESCE($2, password_hash), updated_at = $3
           WHERE name = $4`,
          [change.role ?? null, change.passwordHash ?? null, change.updatedAt, name],
        );
        return 'done';
      });
    },
    async recordLogin(name, at) {
      await pool.query('UPDATE auth_users SET last_login_at = $1 WHERE name = $2', [at, name]);
    },
    deleteUser(name) {
      return inTransaction(pool, async (client): Promise<UserWriteOutcome> => {
        const { row, users } = await lockUsers(client, name);
        if (row === undefined) return 'missing';
        if (await strandsAdmins(client, row, users - 1)) return 'last-admin';
        await client.query('DELETE FROM auth_users WHERE name = $1', [name]);
        return 'done';
      });
    },
    async insertSession(s) {
      await pool.query(
        'INSERT INTO auth_sessions (digest, "user", csrf_token, created_at, last_seen_at, ip) VALUES ($1, $2, $3, $4, $5, $6)',
        [s.digest, s.user, s.csrfToken, s.createdAt, s.lastSeenAt, s.ip],
      );
    },
    getSession: (digest) => first('SELECT * FROM auth_sessions WHERE digest = $1', [digest], (r: SessionRow) => toSession(r)),
    async touchSession(digest, at) {
      await pool.query('UPDATE auth_sessions SET last_seen_at = $1 WHERE digest = $2', [at, digest]);
    },
    async deleteSession(digest) {
      await pool.query('DELETE FROM auth_sessions WHERE digest = $1', [digest]);
    },
    async deleteSessionsOf(owner, keepDigest) {
      await pool.query('DELETE FROM auth_sessions WHERE "user" = $1 AND digest <> $2', [owner, keepDigest ?? '']);
    },
    async deleteExpiredSessions(idleBefore, createdBefore) {
      const r = await pool.query('DELETE FROM auth_sessions WHERE last_seen_at < $1 OR created_at < $2', [idleBefore, createdBefore]);
      return r.rowCount ?? 0;
    },
    async insertToken(t) {
      const r = await pool.query(
        `INSERT INTO auth_tokens (name, role, digest, created_at, created_by) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING`,
        [t.name, t.role, t.digest, t.createdAt, t.createdBy],
      );
      return r.rowCount === 1;
    },
    getTokenByDigest: (digest) => first('SELECT * FROM auth_tokens WHERE digest = $1', [digest], (r: TokenRow) => toToken(r)),
    async listTokens() {
      return (await pool.query<TokenRow>('SELECT * FROM auth_tokens ORDER BY name COLLATE "C"')).rows.map(toToken);
    },
    async touchToken(name, at) {
      await pool.query('UPDATE auth_tokens SET last_used_at = $1 WHERE name = $2', [at, name]);
    },
    async deleteToken(name) {
      return (await pool.query('DELETE FROM auth_tokens WHERE name = $1', [name])).rowCount === 1;
    },
    async appendAudit(e) {
      await pool.query(
        `INSERT INTO audit_log (time, actor, actor_kind, role, method, route, target, status, result, ip)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
        [e.time, e.actor, e.actorKind, e.role, e.method, e.route, e.target, e.status, e.result, e.ip],
      );
    },
    async listAudit(query) {
      const r = await pool.query<AuditRow>(
        `SELECT * FROM audit_log WHERE id < $1 AND ($2::text IS NULL OR actor = $2) ORDER BY id DESC LIMIT $3`,
        [query.beforeId ?? Number.MAX_SAFE_INTEGER, query.actor ?? null, query.limit],
      );
      return r.rows.map(toAudit);
    },
    async pruneAudit(before) {
      return (await pool.query('DELETE FROM audit_log WHERE time < $1', [before])).rowCount ?? 0;
    },
    async close() {
      if (!open) return;
      open = false;
      await pool.end();
    },
  };
}
