// GET /api/v1/live: Server-Sent Events over the raw response (the console at / listens to it).

import type { ServerResponse } from 'node:http';
import { constants, createGzip } from 'node:zlib';
import type { FastifyInstance } from 'fastify';
import type { HubApiDeps } from '../api-deps.js';
import type { LiveClient } from './live-feed.js';

export function registerLiveRoutes(app: FastifyInstance, deps: HubApiDeps): void {
  app.get('/api/v1/live', (request, reply) => {
    reply.hijack();
    const res = reply.raw;
    const gzip = acceptsGzip(request.headers['accept-encoding']);
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
      vary: 'accept-encoding',
      ...(gzip ? { 'content-encoding': 'gzip' } : {}),
    });
    res.flushHeaders();
    // A Last-Event-ID from a reconnecting browser needs nothing special: `add` starts with a fresh snapshot.
    const remove = deps.live.add(gzip ? gzipClient(res) : plainClient(res));
    request.raw.on('close', remove);
    res.on('close', remove);
  });
}

function acceptsGzip(header: string | string[] | undefined): boolean {
  const value = Array.isArray(header) ? header.join(',') : (header ?? '');
  return value.split(',').some((part) => {
    const [coding, ...params] = part.trim().toLowerCase().split(';');
    return coding === 'gzip' && !params.some((p) => /^\s*q\s*=\s*0(\.0*)?\s*$/.test(p));
  });
}

function plainClient(res: ServerResponse): LiveClient {
  return {
    write: (chunk) => {
      if (!res.writableEnded) res.write(chunk);
    },
    end: () => {
      if (!res.writableEnded) res.end();
    },
  };
}

/**
 * One gzip stream for the connection's life: every message after the first compresses against the
 * ones before it (node views repeat their shape), which makes the feed 10 to 15 times smaller. A sync
 * flush once per turn of the event loop sends what was written at once, so nothing waits in the
 * compressor, and several messages of one turn share a flush.
 */
function gzipClient(res: ServerResponse): LiveClient {
  const zip = createGzip({ level: 6 });
  zip.pipe(res);
  zip.on('error', () => res.destroy());
  let flushQueued = false;
  return {
    write: (chunk) => {
      if (zip.writableEnded) return;
      zip.write(chunk);
      if (flushQueued) return;
      flushQueued = true;
      setImmediate(() => {
        flushQueued = false;
        if (!zip.writableEnded) zip.flush(constants.Z_SYNC_FLUSH);
      });
    },
    end: () => {
      if (!zip.writableEnded) zip.end();
    },
  };
}
