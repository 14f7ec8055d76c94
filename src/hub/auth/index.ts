// Users, roles, sessions, API tokens, CSRF and the audit log of the hub's console.
export { type AuthConfig, authConfigSchema } from './auth-config.js';
export {
  CSRF_HEADER,
  installAuth,
  type RegisteredRoute,
  registeredRoutes,
  SESSION_COOKIE,
  sessionCookie,
  sessionIdFromCookie,
  wantsSecureCookie,
} from './auth-hooks.js';
export type { ActorKind, AuditEntry, AuditQuery, AuthStore, SessionRecord, TokenRecord, UserRecord } from './auth-store.js';
export {
  type AuditView,
  checkName,
  checkRole,
  createHubAuth,
  DEMO_USER,
  type HubAuth,
  type HubAuthOptions,
  isLoopbackHost,
  type LoginResult,
  type Principal,
  type TokenView,
  type UserView,
} from './hub-auth.js';
export { checkPasswordRules, hashPassword, PASSWORD_MIN_LENGTH, verifyPassword } from './password.js';
export { createPostgresAuthStore } from './postgres-auth-store.js';
export { isRole, ROLES, type Role, roleAtLeast } from './roles.js';
export { type Access, decideRoute, findRouteRule, ROUTE_RULES, type RouteRule } from './route-access.js';
export { createSqliteAuthStore, type SqliteAuthStoreOptions } from './sqlite-auth-store.js';
