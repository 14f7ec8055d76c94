// Free TCP ports on 127.0.0.1 for servers started by tests (never the system's standard ports).

import { type AddressInfo, createServer, type Server } from 'node:net';

/** A port that was free a moment ago: the OS picks it, we release it and hand it out. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => (port > 0 ? resolve(port) : reject(new Error('could not get a free port'))));
    });
  });
}

/** `n` distinct ports that were free a moment ago: all held open together, so none is handed out twice. */
export async function freePorts(n: number, avoid: readonly number[] = []): Promise<number[]> {
  const held = await Promise.all(
    Array.from(
      { length: n + avoid.length },
      () =>
        new Promise<Server>((resolve, reject) => {
          const server = createServer();
          server.unref();
          server.once('error', reject);
          server.listen(0, '127.0.0.1', () => resolve(server));
        }),
    ),
  );
  const ports = held.map((s) => (s.address() as AddressInfo).port).filter((p) => !avoid.includes(p));
  await Promise.all(held.map((s) => new Promise((r) => s.close(r))));
  return ports.slice(0, n);
}
