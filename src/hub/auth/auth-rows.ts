// Rows of the auth store's tables (auth_users, auth_sessions, auth_tokens, audit_log), the same in SQLite
// and PostgreSQL, and their mapping to the port's records.

import type { ActorKind, AuditEntry, SessionRecord, TokenRecord, UserRecord } from './auth-store.js';
import type { Role } from './roles.js';

export interface UserRow {
  name: string;
  role: string;
  password_hash: string;
  created_at: number;
  updated_at: number;
  last_login_at: number | null;
}
export interface SessionRow {
  digest: string;
  user: string;
  csrf_token: string;
  created_at: number;
  last_seen_at: number;
  ip: string | null;
}
export interface TokenRow {
  name: string;
  role: string;
  digest: string;
  created_at: number;
  last_used_at: number | null;
  created_by: string | null;
}
export interface AuditRow {
  id: number;
  time: number;
  actor: string | null;
  actor_kind: string;
  role: string | null;
  method: string;
  route: string;
  target: string | null;
  status: number;
  result: string;
  ip: string | null;
}

export const toUser = (r: UserRow): UserRecord => ({
  name: r.name,
  role: r.role as Role,
  passwordHash: r.password_hash,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
  lastLoginAt: r.last_login_at,
});
export const toSession = (r: SessionRow): SessionRecord => ({
  digest: r.digest,
  user: r.user,
  csrfToken: r.csrf_token,
  createdAt: r.created_at,
  lastSeenAt: r.last_seen_at,
  ip: r.ip,
});
export const toToken = (r: TokenRow): TokenRecord => ({
  name: r.name,
  role: r.role as Role,
  digest: r.digest,
  createdAt: r.created_at,
  lastUsedAt: r.last_used_at,
  createdBy: r.created_by,
});
export const toAudit = (r: AuditRow): AuditEntry => ({
  id: r.id,
  time: r.time,
  actor: r.actor,
  actorKind: r.actor_kind as ActorKind,
  role: r.role as Role | null,
  method: r.method,
  route: r.route,
  target: r.target,
  status: r.status,
  result: r.result as AuditEntry['result'],
  ip: r.ip,
});
