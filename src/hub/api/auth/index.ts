// The console's auth routes: login, logout, me, password, users, API tokens, audit log.

import type { FastifyInstance } from 'fastify';
import type { HubAuth } from '../../auth/index.js';
import { registerAuditRoutes } from './audit-routes.js';
import { registerAuthRoutes } from './auth-routes.js';
import { registerUsersRoutes } from './users-routes.js';

export type { MeView } from './auth-routes.js';

export function registerAllAuthRoutes(app: FastifyInstance, auth: HubAuth): void {
  registerAuthRoutes(app, auth);
  registerUsersRoutes(app, auth);
  registerAuditRoutes(app, auth);
}
