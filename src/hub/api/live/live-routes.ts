// GET /api/v1/live: Server-Sent Events over the raw response (the console at / listens to it).

import type { FastifyInstance } from 'fastify';
import type { HubApiDeps } from '../api-deps.js';

export function registerLiveRoutes(app: FastifyInstance, deps: HubApiDeps): void {
  app.get('/api/v1/live', (request, reply) => {
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    res.flushHeaders();
    // A Last-Event-ID from a reconnecting browser needs nothing special: `add` starts with a fresh snapshot.
    const remove = deps.live.add({
      write: (chunk) => {
        if (!res.writableEnded) res.write(chunk);
      },
      end: () => {
        if (!res.writableEnded) res.end();
      },
    });
    request.raw.on('close', remove);
    res.on('close', remove);
  });
}
