// GET /api/v1/nodes and /api/v1/nodes/:site/:node: the fleet as the hub sees it.

import type { FastifyInstance } from 'fastify';
import { FieldmeshError } from '../../../kit/index.js';
import type { HubApiDeps } from '../api-deps.js';
import { toNodeView } from './node-view.js';

function truthy(v: unknown): boolean {
  return v === '1' || v === 'true' || v === '';
}

export function registerNodesRoutes(app: FastifyInstance, deps: HubApiDeps): void {
  app.get<{ Querystring: { values?: string } }>('/api/v1/nodes', async (request) => {
    const now = deps.clock.now();
    const withValues = truthy(request.query.values);
    return {
      nodes: deps.fleet
        .nodes()
        .map((r) => toNodeView(r, now, withValues, deps.backlog?.(r.site, r.node), deps.certificate?.(r.site, r.node))),
    };
  });

  app.get<{ Params: { site: string; node: string } }>('/api/v1/nodes/:site/:node', async (request) => {
    const { site, node } = request.params;
    const record = deps.fleet.get(site, node);
    if (record === undefined) throw new FieldmeshError('FM_NOT_FOUND', `node ${site}/${node} is not known to this hub`);
    return toNodeView(record, deps.clock.now(), true, deps.backlog?.(site, node), deps.certificate?.(site, node));
  });
}
