// A TCP load balancer for tests in front of several hub processes: each new connection goes to the first of its
// targets, in their order, that accepts it (an active/backup pair, as HAProxy's `backup` servers or a floating
// address do); a target that refuses is skipped. Connections to a target that dies end with it, and the client's
// next connection goes to the next target that accepts.

import { createServer, connect as netConnect, type Server, type Socket } from 'node:net';

export interface FailoverProxy {
  readonly port: number;
  /** `http://127.0.0.1:<port>`. */
  readonly url: string;
  /** Connections handed to each target so far, in the targets' order. */
  connectionsTo(): number[];
  close(): Promise<void>;
}

/** A proxy on a free loopback port to `127.0.0.1:<target>` for each of `targets`, the first preferred. */
export async function startFailoverProxy(targets: readonly number[]): Promise<FailoverProxy> {
  const handed = targets.map(() => 0);
  const sockets = new Set<Socket>();
  const track = (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  };
  const server: Server = createServer((client) => {
    track(client);
    client.pause();
    client.on('error', () => client.destroy());
    const attempt = (i: number): void => {
      const port = targets[i];
      if (port === undefined) {
        client.destroy();
        return;
      }
      const upstream = netConnect(port, '127.0.0.1');
      track(upstream);
      let connected = false;
      upstream.on('error', () => {
        upstream.destroy();
        // Refused (the target is down): the next one. Once connected, an error ends both sides.
        if (connected) client.destroy();
        else attempt(i + 1);
      });
      upstream.once('connect', () => {
        connected = true;
        handed[i] = (handed[i] ?? 0) + 1;
        upstream.on('close', () => client.destroy());
        client.on('close', () => upstream.destroy());
        client.pipe(upstream);
        upstream.pipe(client);
        client.resume();
      });
    };
    attempt(0);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    connectionsTo: () => [...handed],
    close: () =>
      new Promise((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
