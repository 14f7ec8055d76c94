// The agent's HTTP server: /metrics, /healthz, /readyz, and whatever routes push collectors add.

import Fastify, { type FastifyInstance } from 'fastify';
import { Counter } from 'prom-client';
import type { Logger } from '../kit/index.js';
import { fastifyHttpsOption, type ServerTlsFiles, secureFastifyApp } from '../platform/index.js';
import type { AgentMetrics } from './agent-metrics.js';

export interface AgentHttpStatus {
  started(): boolean;
  /** The MQTT session: none when the node is configured without a broker. */
  broker(): 'connected' | 'disconnected' | 'none';
}

/**
 * The node's API app; with `https` (fastifyHttpsOption of node.yaml's http.tls) it serves HTTPS, guarded by
 * secureFastifyApp (bad client certificates refused and counted in fieldmesh_agent_tls_refused_total, HSTS).
 */
export function createAgentHttp(
  metrics: AgentMetrics,
  status: AgentHttpStatus,
  tls?: { readonly files: ServerTlsFiles; readonly logger: Logger },
): FastifyInstance {
  // Fastify types an HTTPS app apart; the routes and hooks are the same, so it is used as the plain one.
  const app = Fastify({
    logger: false,
    ...(tls === undefined ? {} : fastifyHttpsOption(tls.files, 'http.tls')),
  } as never) as unknown as FastifyInstance;
  if (tls !== undefined) {
    const refused = new Counter({
      name: 'fieldmesh_agent_tls_refused_total',
      help: 'TLS peers the node API refused, by reason (expired, revoked, wrong-ca, other-node, tls-version, ...)',
      labelNames: ['reason'],
      registers: [metrics.registry],
    });
    secureFastifyApp(app, { files: tls.files, at: 'http.tls', logger: tls.logger, onRefused: (reason) => refused.inc({ reason }) });
  }
  app.get('/metrics', async (_req, reply) => {
    reply.header('content-type', metrics.registry.contentType);
    return metrics.registry.metrics();
  });
  app.get('/healthz', async () => ({ status: 'ok' }));
  // Ready means collecting: a node without its broker (down, or none configured) still accepts pushes and keeps them.
  app.get('/readyz', async (_req, reply) => {
    const broker = status.broker();
    const body = { ready: status.started(), broker, ...(broker === 'none' ? {} : { brokerConnected: broker === 'connected' }) };
    return reply.code(body.ready ? 200 : 503).send(body);
  });
  return app;
}

/**
 * Listens on host:port; when the port is taken and `fallback` is on, listens on a free port and
 * says so. Returns the base URL.
 */
export async function listenWithFallback(
  app: FastifyInstance,
  host: string,
  port: number,
  fallback: boolean,
  logger: Logger,
  what: string,
): Promise<string> {
  try {
    return await app.listen({ host, port });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE' || !fallback) throw err;
    const url = await app.listen({ host, port: 0 });
    logger.warn({ wanted: port, chosen: new URL(url).port }, `${what}: port ${port} is taken; listening on ${url} instead`);
    return url;
  }
}
