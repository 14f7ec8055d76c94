// The queue side of a scale-out hub process (docs/scale-out.md): its NATS connection, the stream, and the roles of
// hub.yaml `roles` other than api: ingest (MQTT durable frames into the stream, acks back) and worker (the stream
// into storage); for the api role, the notices of what workers stored.

import { jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection, Subscription as NatsSubscription } from '@nats-io/transport-node';
import type { Registry } from 'prom-client';
import { type Clock, describeError, type Logger } from '../../kit/index.js';
import type { Transport } from '../../transport/index.js';
import type { HubConfig } from '../config.js';
import type { HubCounters } from '../hub-metrics.js';
import type { DurableIngestMetrics } from '../ingest/index.js';
import {
  connectQueue,
  createFrameStream,
  createQueueIngest,
  createQueueMetrics,
  DEFAULT_CONSUMER_NAME,
  type FrameStream,
  type QueueIngest,
  type QueueState,
  queueStateReader,
} from '../queue/index.js';
import type { EventInput, HubStorage } from '../storage/storage.js';
import type { HubTracing } from '../tracing/hub-tracing.js';
import { type EventLoopWatch, watchEventLoop } from './event-loop.js';
import { decodeStoredEvent, storedEventSubject } from './notifications.js';
import { createWorkerRole, type WorkerRole } from './worker-role.js';

export interface ScaleOutOptions {
  readonly config: HubConfig;
  readonly queue: NonNullable<HubConfig['queue']>;
  readonly storage: HubStorage;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly registry: Registry;
  readonly metrics: DurableIngestMetrics;
  readonly counters: HubCounters;
  readonly transport: () => Transport | undefined;
  /** An event a worker (of any process) stored for the first time: the api role's live feed and monitors. */
  readonly onEventStored: (event: EventInput) => void;
  /** A connection to use instead of dialling queue.url (tests). */
  readonly connection?: NatsConnection;
  /** The ingest role's own MQTT link (its subscriptions are the durable channels only); made when the role starts. */
  readonly ingestTransport: () => Transport;
  /** Spans of each frame through ingest, stream and worker (docs/tracing.md); undefined while tracing is off. */
  readonly tracing?: HubTracing | undefined;
}

export interface ScaleOut {
  readonly connection: NatsConnection | undefined;
  /** The frame stream once started, in a process of the ingest or worker role (the push APIs append to it). */
  readonly stream: FrameStream | undefined;
  /** The stream's and the workers' consumer's state as last read (api processes read it every 5 s), for the alerts. */
  queueState(): QueueState | undefined;
  start(): Promise<void>;
  stop(): Promise<void>;
}

/** How often an api process reads the queue's state for its alerts. */
const QUEUE_STATE_INTERVAL_MS = 5_000;

export function createScaleOut(o: ScaleOutOptions): ScaleOut {
  const roles = new Set(o.config.roles);
  const logger = o.logger.child({ component: 'scale-out' });
  const queueMetrics = createQueueMetrics(o.registry);
  let nc: NatsConnection | undefined = o.connection;
  let worker: WorkerRole | undefined;
  let ingest: QueueIngest | undefined;
  let ingestTransport: Transport | undefined;
  let notices: NatsSubscription | undefined;
  let lastState: QueueState | undefined;
  let statePoll: NodeJS.Timeout | undefined;
  let frameStream: FrameStream | undefined;
  let loop: EventLoopWatch | undefined;

  return {
    get connection() {
      return nc;
    },
    get stream() {
      return frameStream;
    },
    async start() {
      loop ??= watchEventLoop(o.registry);
      nc ??= await connectQueue({ servers: o.queue.url.split(','), name: `fieldmesh-hub ${o.config.roles.join('+')}`, logger });
      const connection = nc;
      // The stream's and consumer's state: gauges at scrape in every process, and the leader's queue alerts.
      const readState = queueStateReader(await jetstreamManager(connection), o.queue.stream, DEFAULT_CONSUMER_NAME);
      queueMetrics.watch(readState);
      if (roles.has('api')) {
        const poll = () =>
          void readState().then(
            (state) => {
              lastState = state;
            },
            // No stream or consumer yet (no ingest or worker started), or NATS away: the last state stands.
            () => {},
          );
        poll();
        statePoll = setInterval(poll, QUEUE_STATE_INTERVAL_MS);
        statePoll.unref();
      }
      if (roles.has('ingest') || roles.has('worker')) {
        const stream = createFrameStream({
          connection,
          name: o.queue.stream,
          subjectPrefix: o.queue.subjectPrefix,
          replicas: o.queue.replicas,
          duplicateWindowMs: o.queue.duplicateWindow,
          metrics: queueMetrics,
          logger,
          tracing: o.tracing,
        });
        await stream.ensure();
        frameStream = stream;
        if (roles.has('ingest')) {
          ingestTransport = o.ingestTransport();
          ingest = createQueueIngest({
            transport: ingestTransport,
            connection,
            stream,
            topicPrefix: o.config.topicPrefix,
            shareGroup: o.queue.ingestGroup,
            clock: o.clock,
            metrics: queueMetrics,
            logger,
            tracing: o.tracing,
          });
          ingest.start();
          ingestTransport.start();
          await ingest.ready;
        }
      }
      if (roles.has('worker')) {
        worker = createWorkerRole({
          config: o.config,
          queue: o.queue,
          connection,
          storage: o.storage,
          clock: o.clock,
          logger,
          metrics: o.metrics,
          queueMetrics,
          counters: o.counters,
          tracing: o.tracing,
          onUndecodable: (message, reason) =>
            logger.error({ site: message.site, node: message.node, seq: message.seq, reason }, 'stream message does not decode: dropped'),
        });
        await worker.start();
      }
      if (roles.has('api')) {
        notices = connection.subscribe(storedEventSubject(o.queue.subjectPrefix), {
          callback: (err, msg) => {
            if (err !== null) return;
            try {
              o.onEventStored(decodeStoredEvent(msg.data));
            } catch (e) {
              logger.warn({ err: describeError(e) }, 'stored-event notice refused');
            }
          },
        });
      }
    },
    queueState: () => lastState,
    async stop() {
      loop?.stop();
      if (statePoll !== undefined) clearInterval(statePoll);
      notices?.unsubscribe();
      await ingest?.stop();
      await ingestTransport?.close();
      await worker?.stop();
      // A drain needs the server; without it (NATS down) the connection is closed outright, so it stops reconnecting.
      if (o.connection === undefined && nc !== undefined && !nc.isClosed()) {
        const connection = nc;
        await connection.drain().catch(() => connection.close());
      }
    },
  };
}
