// HTTPS for a Fastify app (the hub's API and console, a node's API): the TLS options for Fastify's `https`, the
// guard that refuses, logs and counts bad client certificates, and HSTS on every answer. docs/security.md.

import type { TLSSocket, Server as TlsServer } from 'node:tls';
import type { FastifyInstance } from 'fastify';
import { guardTlsServer, readServerTlsOptions, type ServerTlsFiles, type TlsGuard, type TlsGuardOptions } from './tls-listener.js';

/** One year, as HSTS preload lists ask. */
export const HSTS_HEADER_VALUE = 'max-age=31536000';

/** Fastify's `https` option for these files (read now; errors name `at.cert`, `at.key`, ...). */
export function fastifyHttpsOption(files: ServerTlsFiles, at: string): { https: ReturnType<typeof readServerTlsOptions> } {
  return { https: readServerTlsOptions(files, at) };
}

/**
 * Guards a Fastify app created with fastifyHttpsOption: refuses bad client certificates at the handshake (before any
 * request is read), adds Strict-Transport-Security to every answer, stops watching the CRL when the app closes.
 */
export function secureFastifyApp(app: FastifyInstance, options: TlsGuardOptions): TlsGuard {
  const server = app.server as unknown as TlsServer;
  const guard = guardTlsServer(server, options);
  server.on('secureConnection', (socket: TLSSocket) => {
    guard.admit(socket);
  });
  app.addHook('onSend', async (_request, reply, payload) => {
    reply.header('strict-transport-security', HSTS_HEADER_VALUE);
    return payload;
  });
  app.addHook('onClose', async () => guard.close());
  return guard;
}
