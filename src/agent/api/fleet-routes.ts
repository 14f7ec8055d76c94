// GET /api/v1/fleet: what this node knows of the fleet through its awareness plane: every node's
// latest critical values with their age, and membership states. [FM-AWARE-3]

import type { FastifyInstance } from 'fastify';
import type { AwarenessPlane } from '../../awareness/index.js';

export function registerFleetRoutes(app: FastifyInstance, plane: () => AwarenessPlane | undefined): void {
  app.get('/api/v1/fleet', async (_request, reply) => {
    const p = plane();
    if (p === undefined) {
      return reply.status(404).send({
        status: 'error',
        errorType: 'not_found',
        error: 'the awareness plane is off on this node (awareness.transport: none in node.yaml)',
      });
    }
    return { status: 'success', data: { ...p.snapshot(), stats: p.stats() } };
  });
}
