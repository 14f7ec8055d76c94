// Free TCP ports on 127.0.0.1 for servers started by tests (never the system's standard ports).

import { createServer } from 'node:net';

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
