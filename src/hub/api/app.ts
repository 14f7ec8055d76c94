// The hub's HTTP app: every route under /api/v1, health and metrics, the console; no socket needed
// (tests use inject()).

import { constants as zlib } from 'node:zlib';
import compress from '@fastify/compress';
import Fastify, { type FastifyInstance } from 'fastify';
import { parseFormBody } from '../../protocol/prometheus/index.js';
import { installAuth } from '../auth/index.js';
import { registerActionsRoutes } from './actions/actions-routes.js';
import { registerAlertsRoutes } from './alerts/alerts-routes.js';
import type { HubApiDeps } from './api-deps.js';
import { registerAllAuthRoutes } from './auth/index.js';
import { registerBackfillRoutes } from './backfill/backfill-routes.js';
import { registerCommandsRoutes } from './commands/commands-routes.js';
import { registerCompletenessRoutes } from './completeness/completeness-routes.js';
import { registerConfigRoutes } from './config/config-routes.js';
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
import { registerRegistrationsRoutes } from './registrations/registrations-routes.js';
import { registerSeriesRoutes } from './series/series-routes.js';
import { registerSitesRoutes } from './sites/sites-routes.js';
import { registerStatusRoutes } from './status/status-routes.js';
import { registerZonesRoutes } from './zones/zones-routes.js';

/** 1 MiB: query bodies are small; anything larger is a mistake or an attack. */
const BODY_LIMIT_BYTES = 1024 * 1024;

/** How the app is served: plain HTTP, or HTTPS with Fastify's `https` options (fastifyHttpsOption). */
export interface HubAppServer {
  readonly https?: object;
}

export function createHubApp(deps: HubApiDeps, server: HubAppServer = {}): FastifyInstance {
  // Fastify types an HTTPS app apart; the routes and hooks are the same, so it is used as the plain one.
  const app = Fastify({
    logger: false,
    bodyLimit: BODY_LIMIT_BYTES,
    routerOptions: { ignoreTrailingSlash: true },
    ...(server.https === undefined ? {} : { https: server.https }),
  } as never) as unknown as FastifyInstance;
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_request, body, done) => {
    done(null, parseFormBody(body as string));
  });
  installErrorHandler(app, deps.logger);
  // JSON answers of 1 KB or more go out compressed when the client asks (the console, curl
  // --compressed, Grafana): a fleet's snapshot or a query over a slow link shrinks several times.
  // Brotli at quality 4, not the default 11: the same ratio as gzip -9 for a fraction of the CPU.
  // The console's files are compressed at build time and the live feed writes to the raw socket.
  void app.register(compress, {
    global: true,
    threshold: 1024,
    encodings: ['br', 'gzip'],
    brotliOptions: { params: { [zlib.BROTLI_PARAM_QUALITY]: 4 } },
  });
  // Before any route: the hooks see every route registered after them, and enforce the role table.
  if (deps.auth !== undefined) installAuth(app, deps.auth, deps.logger);
  // Open event streams would keep the server from closing.
  app.addHook('preClose', async () => deps.live.close());
  // The routes live in a child scope so that the compression plugin's hooks, registered above, see them.
  void app.register((api, _options, done) => {
    registerNodesRoutes(api, deps);
    registerNodeQueryRoutes(api, deps);
    registerCompletenessRoutes(api, deps);
    registerBackfillRoutes(api, deps);
    registerEventsRoutes(api, deps);
    registerSitesRoutes(api, deps);
    registerOverviewRoutes(api, deps);
    registerConsoleRoutes(api, deps);
    registerSeriesRoutes(api, deps);
    registerQueryRoutes(api, deps);
    if (deps.alerts !== undefined) registerAlertsRoutes(api, deps, deps.alerts);
    if (deps.actions !== undefined) registerActionsRoutes(api, deps.actions);
    if (deps.commands !== undefined) registerCommandsRoutes(api, deps.commands, deps.fleet, () => deps.clock.now());
    if (deps.zones !== undefined) registerZonesRoutes(api, deps.zones);
    if (deps.configRepo !== undefined) registerConfigRoutes(api, deps.configRepo);
    if (deps.registrations !== undefined) registerRegistrationsRoutes(api, deps.registrations);
    registerStatusRoutes(api, { alerts: deps.alerts !== undefined });
    registerHealthRoutes(api, deps);
    registerLiveRoutes(api, deps);
    registerConsoleStaticRoutes(api);
    if (deps.auth !== undefined) registerAllAuthRoutes(api, deps.auth);
    done();
  });
  return app;
}
