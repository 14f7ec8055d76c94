// The agent's HTTP server: /metrics, /healthz, /readyz, and whatever routes push collectors add.

import Fastify, { type FastifyInstance } from 'fastify';
import type { Logger } from '../kit/index.js';
import type { AgentMetrics } from './agent-metrics.js';

export interface AgentHttpStatus {
  started(): boolean;
  /** The MQTT session: none when the node is configured without a broker. */
  broker(): 'connected' | 'disconnected' | 'none';
}

export function createAgentHttp(metrics: AgentMetrics, status: AgentHttpStatus): FastifyInstance {
  const app = Fastify({ logger: false });
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
