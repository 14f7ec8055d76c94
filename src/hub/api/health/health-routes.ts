// /healthz (the process runs), /readyz (MQTT connected and storage open) and /metrics.

import type { FastifyInstance } from 'fastify';
import type { HubApiDeps } from '../api-deps.js';

export function registerHealthRoutes(app: FastifyInstance, deps: HubApiDeps): void {
  app.get('/healthz', async () => ({ status: 'ok' }));

  app.get('/readyz', async (_request, reply) => {
    const r = deps.readiness();
    return reply.status(r.ready ? 200 : 503).send({ status: r.ready ? 'ready' : 'not ready', reasons: r.reasons });
  });

  app.get('/metrics', async (_request, reply) => {
    const text = await deps.metrics.registry.metrics();
    return reply.type(deps.metrics.registry.contentType).send(text);
  });
}
