// GET /api/v1/overview: "is everything OK?" in one answer: sites by health, nodes by state, alerts, the
// worst sites.

import type { FastifyInstance } from 'fastify';
import type { HubApiDeps } from '../api-deps.js';
import { siteMonitorOf } from '../sites/sites-routes.js';

export type { OverviewView } from '../../../protocol/index.js';

export function registerOverviewRoutes(app: FastifyInstance, deps: HubApiDeps): void {
  const monitor = siteMonitorOf(deps);
  app.get('/api/v1/overview', async () => monitor.overview());
}
