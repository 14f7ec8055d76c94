// The bulk action API: POST /api/v1/actions/preview (what would happen, node by node), POST
// /api/v1/actions (run exactly a preview's targets; 202), GET /api/v1/actions[/:id] (progress and
// results). Roles come from the route table; the run is audited there, with the action as its target.

import type { FastifyInstance, FastifyRequest } from 'fastify';
import { FieldmeshError } from '../../../kit/index.js';
import type { ActionEngine } from '../../actions/action-engine.js';

function principalName(request: FastifyRequest): string | null {
  const principal = (request as { principal?: { readonly name?: string } | null }).principal;
  return typeof principal?.name === 'string' ? principal.name : null;
}

export function registerActionsRoutes(app: FastifyInstance, engine: ActionEngine): void {
  app.post<{ Body: unknown }>('/api/v1/actions/preview', async (request) => engine.preview(request.body));

  app.post<{ Body: unknown }>('/api/v1/actions', async (request, reply) => {
    const body = request.body;
    if (typeof body !== 'object' || body === null || Array.isArray(body))
      throw new FieldmeshError(
        'FM_REQUEST_INVALID',
        'the body must be a JSON object: {"previewId": "..."} from POST /api/v1/actions/preview',
      );
    const b = body as Record<string, unknown>;
    for (const k of Object.keys(b))
      if (k !== 'previewId') throw new FieldmeshError('FM_REQUEST_INVALID', `field "${k}" is unknown; a run has previewId only`);
    if (typeof b.previewId !== 'string' || b.previewId === '')
      throw new FieldmeshError('FM_REQUEST_INVALID', 'field "previewId": expected the id POST /api/v1/actions/preview answered');
    request.auditTarget = `preview ${b.previewId}`;
    const view = engine.run(b.previewId, principalName(request));
    // The audit log's one line names what ran: "rebirth 3kq1..: 2 targets, 1 skipped".
    request.auditTarget = `${view.action} ${view.id}: ${view.counts.pending} targets, ${view.counts.skipped} skipped (preview ${view.previewId})`;
    return reply.code(202).send(view);
  });

  app.get('/api/v1/actions', async () => ({ actions: engine.list() }));

  app.get<{ Params: { id: string } }>('/api/v1/actions/:id', async (request) => {
    const view = engine.get(request.params.id);
    if (view === undefined)
      throw new FieldmeshError('FM_NOT_FOUND', `no action ${request.params.id} (the hub keeps the last 100, until it restarts)`);
    return view;
  });
}
