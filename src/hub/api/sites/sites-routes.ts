// GET /api/v1/sites: nodes grouped by site, counts by state and the worst state of each site.

import type { FastifyInstance } from 'fastify';
import type { NodeStateName } from '../../../protocol/index.js';
import type { HubApiDeps } from '../api-deps.js';

/** Worse states sort later: a site is as bad as its worst node. */
const SEVERITY: Record<NodeStateName, number> = { online: 0, unknown: 1, stale: 2, offline: 3 };

export type { SiteView } from '../../../protocol/index.js';

/** A site being counted up; the API answers it as a SiteView. */
interface SiteTally {
  readonly site: string;
  worst: NodeStateName;
  readonly counts: Record<NodeStateName, number>;
  readonly nodes: string[];
}

export function registerSitesRoutes(app: FastifyInstance, deps: HubApiDeps): void {
  app.get('/api/v1/sites', async () => {
    const sites = new Map<string, SiteTally>();
    for (const r of deps.fleet.nodes()) {
      let s = sites.get(r.site);
      if (s === undefined) {
        s = { site: r.site, worst: 'online', counts: { unknown: 0, online: 0, stale: 0, offline: 0 }, nodes: [] };
        sites.set(r.site, s);
      }
      s.counts[r.state]++;
      s.nodes.push(r.node);
      if (SEVERITY[r.state] > SEVERITY[s.worst]) s.worst = r.state;
    }
    return { sites: [...sites.values()] };
  });
}
