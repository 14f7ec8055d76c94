// The worker role of a scale-out hub (docs/scale-out.md): durable frames from the JetStream stream into storage with the
// same durable ingest the embedded hub runs, each acknowledged to its node (through the ingest tier) only once stored,
// and the stream message acknowledged only after that. Workers hold no state: any number share the stream's consumer.

import type { NatsConnection } from '@nats-io/transport-node';
import { type Clock, describeError, type Logger } from '../../kit/index.js';
import { decodeWireFrame } from '../../protocol/index.js';
import type { HubConfig } from '../config.js';
import type { HubCounters } from '../hub-metrics.js';
import { createGroupCommit, DurableIngest, type DurableIngestMetrics } from '../ingest/index.js';
import { newBackfillRecord } from '../ledger/backfill-scheduler.js';
import {
  ackSubject,
  createFrameWorker,
  createQueueAckSender,
  decodePushMessage,
  type FrameWorker,
  pushEvents,
  pushSamples,
  type QueueMetrics,
  type WorkerMessage,
} from '../queue/index.js';
import type { EventInput, HubStorage } from '../storage/storage.js';
import { type HubTracing, tracedInsert } from '../tracing/hub-tracing.js';
import { encodeStoredEvent, storedEventSubject } from './notifications.js';

export interface WorkerRoleOptions {
  readonly config: HubConfig;
  readonly queue: NonNullable<HubConfig['queue']>;
  readonly connection: NatsConnection;
  readonly storage: HubStorage;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly metrics: DurableIngestMetrics;
  readonly queueMetrics: QueueMetrics;
  readonly counters: HubCounters;
  /** Refusals of frames that do not decode (the ingest tier checked them: only a corrupt stream gets here). */
  readonly onUndecodable: (message: WorkerMessage, reason: string) => void;
  /** Spans of each message's store writes and ack, in the trace its headers carry (docs/tracing.md). */
  readonly tracing?: HubTracing;
}

export interface WorkerRole {
  start(): Promise<void>;
  stop(): Promise<void>;
}

export function createWorkerRole(o: WorkerRoleOptions): WorkerRole {
  const { connection: nc, queue, storage, clock } = o;
  const logger = o.logger.child({ component: 'worker' });
  // The samples of the frames this worker's handlers hold at once go to PostgreSQL in one transaction (the embedded
  // hub's group commit): one commit for up to `concurrency` frames instead of one each. Each frame's ack still waits for
  // the commit that holds its samples.
  const groupCommit = createGroupCommit(storage, { logger });
  const durable = new DurableIngest({
    storage: groupCommit.storage,
    clock,
    logger,
    metrics: o.metrics,
    counters: o.counters,
    // [FM-QUEUE-3] The ack goes to the ingest tier, which holds the MQTT link, over core NATS: a lost one costs a resend.
    sendAck: createQueueAckSender(nc, queue.subjectPrefix),
    // Workers only remember the request; the leader's backfill scheduler reads it from storage and sends it.
    onDropped: (site, node, fresh) => {
      if (!o.config.backfill.requestDropped) return;
      for (const d of fresh) {
        storage
          .createBackfill(newBackfillRecord(site, node, d.fromMs, d.toMs, [], 'dropped', clock.now()))
          .catch((err: unknown) =>
            logger.error({ site, node, err: describeError(err) }, 'storage: backfill request for a dropped range failed'),
          );
      }
    },
    // The api processes' live feed, zone monitor and configuration repository hear of stored events.
    onEventStored: (event: EventInput) => nc.publish(storedEventSubject(queue.subjectPrefix), encodeStoredEvent(event)),
    tracing: o.tracing && {
      tracing: o.tracing,
      dbSystem: 'postgresql',
      ackSystem: 'nats',
      ackDestination: (site, node) => ackSubject(queue.subjectPrefix, site, node),
    },
  });

  /** [FM-QUEUE-4] A push the ingest tier took over HTTP: its samples and events stored; no node to acknowledge. */
  async function storePush(message: WorkerMessage): Promise<void> {
    const decoded = decodePushMessage(message.payload);
    if (!decoded.ok) return o.onUndecodable(message, decoded.reason);
    const samples = pushSamples(message.site, message.node, decoded.message);
    const n =
      samples.length > 0
        ? await tracedInsert(o.tracing, message.trace, 'postgresql', 'samples', samples.length, () => storage.appendSamples(samples))
        : 0;
    o.metrics.samplesStored.inc(n);
    for (const event of pushEvents(message.site, message.node, decoded.message, message.receivedAt)) {
      // One at a time: each event stored for the first time (a resend is absorbed by its id) goes to the live feed.
      if ((await tracedInsert(o.tracing, message.trace, 'postgresql', 'events', 1, () => storage.appendEvents([event]))) === 0) continue;
      o.counters.eventsStored++;
      o.metrics.eventsStored.inc({ priority: event.priority });
      nc.publish(storedEventSubject(queue.subjectPrefix), encodeStoredEvent(event));
    }
  }

  async function handle(message: WorkerMessage): Promise<void> {
    if (message.channel === 'push') return storePush(message);
    const decoded = decodeWireFrame(message.payload);
    if (!decoded.ok) {
      o.onUndecodable(message, decoded.error.reason);
      return;
    }
    const frame = decoded.frame;
    if (frame.type === 'history' && message.channel === 'history')
      await durable.history(message.site, message.node, frame, message.receivedAt, message.trace);
    else if (frame.type === 'event' && message.channel === 'event')
      await durable.event(message.site, message.node, frame, message.receivedAt, message.trace);
    else o.onUndecodable(message, `a ${frame.type} frame on the ${message.channel} channel`);
  }

  const workers: FrameWorker[] = [];
  for (let i = 0; i < queue.workers; i++) {
    workers.push(
      createFrameWorker({
        connection: nc,
        handler: handle,
        stream: queue.stream,
        subjectPrefix: queue.subjectPrefix,
        metrics: o.queueMetrics,
        logger,
        ...(o.tracing === undefined ? {} : { tracing: o.tracing }),
      }),
    );
  }
  return {
    async start() {
      for (const w of workers) await w.start();
      logger.info({ workers: workers.length, stream: queue.stream }, 'workers started');
    },
    async stop() {
      await Promise.all(
        workers.map((w) => w.stop().catch((err: unknown) => logger.warn({ err: describeError(err) }, 'worker did not stop cleanly'))),
      );
      await groupCommit.drain();
    },
  };
}
