// The hub's HTTP app: every route under /api/v1, health and metrics, the console; no socket needed
// (tests use inject()).

import Fastify, { type FastifyInstance } from 'fastify';
import { parseFormBody } from '../../protocol/prometheus/index.js';
import { installAuth } from '../auth/index.js';
import { registerActionsRoutes } from './actions/actions-routes.js';
import { registerAlertsRoutes } from './alerts/alerts-routes.js';
import type { HubApiDeps } from './api-deps.js';
import { registerAllAuthRoutes } from './auth/index.js';
import { registerBackfillRoutes } from './backfill/backfill-routes.js';
import { registerCompletenessRoutes } from './completeness/completeness-routes.js';
import { registerConsoleRoutes } from './console/console-routes.js';
import { registerConsoleStaticRoutes } from './console/static-routes.js';
import { installErrorHandler } from './error-handler.js';
import { registerEventsRoutes } from './events/events-routes.js';
import { registerHealthRoutes } from './health/health-routes.js';
import { registerLiveRoutes } from './live/live-routes.js';
import { registerNodeQueryRoutes } from './nodes/node-query-routes.js';
import { registerNodesRoutes } from './nodes/nodes-routes.js';
import { registerOverviewRoutes } from './overview/overview-routes.js';
import { registerQueryRoutes } from './query/query-routes.js';
import { registerSeriesRoutes } from './series/series-routes.js';
import { registerSitesRoutes } from './sites/sites-routes.js';
import { registerStatusRoutes } from './status/status-routes.js';

/** 1 MiB: query bodies are small; anything larger is a mistake or an attack. */
const BODY_LIMIT_BYTES = 1024 * 1024;

export function createHubApp(deps: HubApiDeps): FastifyInstance {
  const app = Fastify({ logger: false, bodyLimit: BODY_LIMIT_BYTES, routerOptions: { ignoreTrailingSlash: true } });
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_request, body, done) => {
    done(null, parseFormBody(body as string));
  });
  installErrorHandler(app, deps.logger);
  // Before any route: the hooks see every route registered after them, and enforce the role table.
  if (deps.auth !== undefined) installAuth(app, deps.auth, deps.logger);
  // Open event streams would keep the server from closing.
  app.addHook('preClose', async () => deps.live.close());
  registerNodesRoutes(app, deps);
  registerNodeQueryRoutes(app, deps);
  registerCompletenessRoutes(app, deps);
  registerBackfillRoutes(app, deps);
  registerEventsRoutes(app, deps);
  registerSitesRoutes(app, deps);
  registerOverviewRoutes(app, deps);
  registerConsoleRoutes(app, deps);
  registerSeriesRoutes(app, deps);
  registerQueryRoutes(app, deps);
  if (deps.alerts !== undefined) registerAlertsRoutes(app, deps, deps.alerts);
  if (deps.actions !== undefined) registerActionsRoutes(app, deps.actions);
  registerStatusRoutes(app, { alerts: deps.alerts !== undefined });
  registerHealthRoutes(app, deps);
  registerLiveRoutes(app, deps);
  registerConsoleStaticRoutes(app);
  if (deps.auth !== undefined) registerAllAuthRoutes(app, deps.auth);
  return app;
}
