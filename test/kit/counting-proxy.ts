// A TCP proxy in front of a broker that counts the bytes of every connection both ways (what crosses the wire,
// TLS records and handshakes included) and can cut its connections as a lost link would. For the TLS cost
// benches and the transport's wire-counter test.

import { createServer, connect as netConnect, type Server, type Socket } from 'node:net';

export interface CountingProxy {
  readonly port: number;
  /** Bytes client to broker and broker to client, summed over every connection so far. */
  bytes(): { up: number; down: number };
  /** Connections accepted so far. */
  connections(): number;
  /** Cuts every open connection, as a lost link would. */
  cut(): void;
  close(): Promise<void>;
}

/** A counting proxy on a free loopback port to `127.0.0.1:targetPort`. */
export async function startCountingProxy(targetPort: number): Promise<CountingProxy> {
  let up = 0;
  let down = 0;
  let accepted = 0;
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    accepted++;
    const broker = netConnect(targetPort, '127.0.0.1');
    for (const s of [client, broker]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => {
        client.destroy();
        broker.destroy();
      });
    }
    client.on('data', (d: Buffer) => {
      up += d.length;
      broker.write(d);
    });
    broker.on('data', (d: Buffer) => {
      down += d.length;
      client.write(d);
    });
    client.on('end', () => broker.end());
    broker.on('end', () => client.end());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const cut = () => {
    for (const s of sockets) s.destroy();
  };
  return {
    port: typeof address === 'object' && address !== null ? address.port : 0,
    bytes: () => ({ up, down }),
    connections: () => accepted,
    cut,
    close: () =>
      new Promise((resolve) => {
        cut();
        server.close(() => resolve());
      }),
  };
}
