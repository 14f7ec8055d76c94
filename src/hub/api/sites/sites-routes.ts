// GET /api/v1/sites (every site with its health, counts by state, coordinates, zones) and
// GET /api/v1/sites/:site (one site with its nodes and active alerts).

import type { FastifyInstance } from 'fastify';
import { FieldmeshError } from '../../../kit/index.js';
import type { SiteDetailView } from '../../../protocol/index.js';
import { SiteMonitor } from '../../health/site-monitor.js';
import { toAlertView } from '../alerts/alert-view.js';
import type { HubApiDeps } from '../api-deps.js';
import { toNodeView } from '../nodes/node-view.js';

export type { SiteDetailView, SiteView } from '../../../protocol/index.js';

const fallbackMonitors = new WeakMap<HubApiDeps, SiteMonitor>();

/** The hub's site monitor, or (tests, apps built without one) one over the fleet, shared by every route of `deps`. */
export function siteMonitorOf(deps: HubApiDeps): SiteMonitor {
  if (deps.sites !== undefined) return deps.sites;
  let monitor = fallbackMonitors.get(deps);
  if (monitor === undefined) {
    const engine = deps.alerts;
    monitor = new SiteMonitor({
      clock: deps.clock,
      fleet: deps.fleet,
      ...(deps.backlog === undefined ? {} : { backlog: deps.backlog }),
      ...(engine === undefined ? {} : { alerts: () => engine.list() }),
    });
    fallbackMonitors.set(deps, monitor);
  }
  return monitor;
}

export function registerSitesRoutes(app: FastifyInstance, deps: HubApiDeps): void {
  const monitor = siteMonitorOf(deps);

  app.get('/api/v1/sites', async () => ({ sites: monitor.sites() }));

  app.get<{ Params: { site: string } }>('/api/v1/sites/:site', async (request): Promise<SiteDetailView> => {
    const { site } = request.params;
    const view = monitor.site(site);
    if (view === undefined) throw new FieldmeshError('FM_NOT_FOUND', `site ${site} is not known to this hub`);
    const now = deps.clock.now();
    const nodeViews = deps.fleet
      .nodes()
      .filter((r) => r.site === site)
      .map((r) => toNodeView(r, now, true, deps.backlog?.(r.site, r.node), deps.certificate?.(r.site, r.node)));
    const alerts = (deps.alerts?.list() ?? []).filter((a) => a.alert.labels.site === site).map(toAlertView);
    return { ...view, nodeViews, alerts };
  });
}
