// One NATS connection per process for the queue path: it retries for ever, and says in the log when it comes and goes.

import { connect, type NatsConnection } from '@nats-io/transport-node';
import { describeError, FieldmeshError, type Logger, silentLogger } from '../../kit/index.js';

export interface QueueConnectionOptions {
  /** `nats://host:port` URLs; a cluster's servers, so the client fails over between them. */
  readonly servers: readonly string[];
  /** The connection's name on the server (`/connz`): the process and its role. */
  readonly name: string;
  /** Wait between reconnect attempts to one server (default 250 ms; the client adds jitter). */
  readonly reconnectWaitMs?: number;
  readonly logger?: Logger;
}

/** Connects (retrying until a server answers: a hub may start before NATS) and keeps reconnecting after any loss. */
export async function connectQueue(options: QueueConnectionOptions): Promise<NatsConnection> {
  const logger = (options.logger ?? silentLogger).child({ component: 'queue-connection', name: options.name });
  let nc: NatsConnection;
  try {
    nc = await connect({
      servers: [...options.servers],
      name: options.name,
      maxReconnectAttempts: -1,
      reconnectTimeWait: options.reconnectWaitMs ?? 250,
      waitOnFirstConnect: true,
    });
  } catch (err) {
    throw new FieldmeshError('FM_QUEUE_UNAVAILABLE', `cannot connect to NATS at ${options.servers.join(', ')}`, { cause: err });
  }
  logger.info({ server: nc.getServer() }, 'connected to NATS');
  void (async () => {
    for await (const s of nc.status()) {
      if (s.type === 'disconnect') logger.warn({ server: s.server }, 'lost the NATS server');
      else if (s.type === 'reconnect') logger.info({ server: s.server }, 'reconnected to NATS');
      else if (s.type === 'error') logger.warn({ err: describeError(s.error) }, 'NATS connection error');
    }
  })().catch(() => {});
  return nc;
}
