// Workers of the frame stream: every worker of every hub process pulls from one durable consumer (a work queue), hands
// each message to the injected handler, and acknowledges it only once the handler resolved; a failed handler's message
// comes back after a delay, a message no worker finishes in time goes to another. Settings and why: docs/scale-out.md.

import {
  AckPolicy,
  type Consumer,
  type ConsumerMessages,
  DeliverPolicy,
  type JetStreamManager,
  type JsMsg,
  jetstream,
  jetstreamManager,
} from '@nats-io/jetstream';
import { type NatsConnection, nanos, type Subscription } from '@nats-io/transport-node';
import { describeError, type Logger, silentLogger } from '../../kit/index.js';
import {
  ATTR,
  endWhenSettled,
  extractFromHeaders,
  type HubTracing,
  recordError,
  SpanKind,
  startSpan,
  type TraceContext,
} from '../tracing/hub-tracing.js';
import { DEFAULT_STREAM_NAME, type FrameMessage, RECEIVED_AT_HEADER, TOPIC_HEADER } from './frame-stream.js';
import type { QueueMetrics, QueueState } from './queue-metrics.js';
import { assertSubjectPrefix, DEFAULT_SUBJECT_PREFIX, parseFrameSubject } from './subjects.js';

/** A stream message as a worker's handler gets it. */
export interface WorkerMessage extends FrameMessage {
  /** Its stream sequence. */
  readonly seq: number;
  /** 1 on the first delivery; more after a worker failed, stopped or timed out on it. */
  readonly deliveries: number;
  /** The message's `process` span, parent of the handler's spans (docs/tracing.md); undefined while tracing is off. */
  readonly trace?: TraceContext;
}

/** Stores the frame (and sends its ack); rejects when it could not, and the message comes back later. */
export type FrameHandler = (message: WorkerMessage) => Promise<void>;

export interface FrameConsumerSettings {
  /** The durable consumer every worker shares (default `fieldmesh-workers`). */
  readonly consumer?: string;
  /** A message not acknowledged this long after delivery goes to a worker again (default 30 s). */
  readonly ackWaitMs?: number;
  /** Messages delivered and not yet acknowledged, across all workers (default 1000). */
  readonly maxAckPending?: number;
  /** Deliveries of one message before it is given up as a dead letter (default 10). */
  readonly maxDeliver?: number;
}

export interface FrameWorkerOptions extends FrameConsumerSettings {
  readonly connection: NatsConnection;
  readonly handler: FrameHandler;
  /** The stream's name (default `FIELDMESH_FRAMES`). */
  readonly stream?: string;
  readonly subjectPrefix?: string;
  /** Handlers this worker runs at once (default 16). */
  readonly concurrency?: number;
  /** Delay before a message whose handler failed comes back, times its deliveries so far (default 1000 ms, at most 60 s). */
  readonly nakDelayMs?: number;
  /** How long one pull waits for messages before it asks again (default 2000 ms). */
  readonly pullExpiresMs?: number;
  readonly metrics?: QueueMetrics;
  readonly logger?: Logger;
  /** A `process` span per message, its parent the `send` span the message's headers carry (docs/tracing.md). */
  readonly tracing?: HubTracing;
}

export interface FrameWorker {
  /** Ensures the shared consumer and starts pulling. */
  start(): Promise<void>;
  /**
   * Stops pulling, returns the messages received and not begun at once (they go to another worker), waits for the
   * handlers running and their acks, at most `timeoutMs` (default the ack wait: after it, their messages go to another
   * worker anyway). Leaves the connection open: the caller owns it.
   */
  stop(options?: { timeoutMs?: number }): Promise<void>;
  /** Handlers running now. */
  readonly inFlight: number;
}

export const DEFAULT_CONSUMER_NAME = 'fieldmesh-workers';
const DEFAULT_ACK_WAIT_MS = 30_000;
const DEFAULT_MAX_ACK_PENDING = 1000;
// With the nak delay growing by nakDelayMs per delivery (capped at a minute), 30 deliveries span about 7 minutes: a
// PostgreSQL restart or failover of that length dead-letters nothing.
const DEFAULT_MAX_DELIVER = 30;
const MAX_NAK_DELAY_MS = 60_000;

/** Creates the shared durable pull consumer, or brings an existing one to these settings. */
export async function ensureFrameConsumer(jsm: JetStreamManager, stream: string, settings: FrameConsumerSettings): Promise<string> {
  const name = settings.consumer ?? DEFAULT_CONSUMER_NAME;
  const tunable = {
    ack_wait: nanos(settings.ackWaitMs ?? DEFAULT_ACK_WAIT_MS),
    max_ack_pending: settings.maxAckPending ?? DEFAULT_MAX_ACK_PENDING,
    max_deliver: settings.maxDeliver ?? DEFAULT_MAX_DELIVER,
  };
  try {
    await jsm.consumers.info(stream, name);
  } catch {
    await jsm.consumers.add(stream, { durable_name: name, ack_policy: AckPolicy.Explicit, deliver_policy: DeliverPolicy.All, ...tunable });
    return name;
  }
  await jsm.consumers.update(stream, name, tunable);
  return name;
}

/** Reads the stream's and the consumer's state for the queue gauges. */
export function queueStateReader(jsm: JetStreamManager, stream: string, consumer: string): () => Promise<QueueState> {
  return async () => {
    const [s, c] = await Promise.all([jsm.streams.info(stream), jsm.consumers.info(stream, consumer)]);
    return {
      streamMessages: s.state.messages,
      streamBytes: s.state.bytes,
      consumerPending: c.num_pending,
      consumerAckPending: c.num_ack_pending,
      consumerRedelivered: c.num_redelivered,
      // A replica is behind when offline or not caught up with the leader (an R1 stream has none).
      replicasBehind: (s.cluster?.replicas ?? []).filter((r) => r.offline === true || !r.current).length,
    };
  };
}

/** The server's advisory when a message reached max deliveries without an ack. */
function maxDeliveriesSubject(stream: string, consumer: string): string {
  return `$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.${stream}.${consumer}`;
}

export function createFrameWorker(options: FrameWorkerOptions): FrameWorker {
  const stream = options.stream ?? DEFAULT_STREAM_NAME;
  const prefix = assertSubjectPrefix(options.subjectPrefix ?? DEFAULT_SUBJECT_PREFIX);
  const concurrency = Math.max(1, options.concurrency ?? 16);
  const nakDelayMs = options.nakDelayMs ?? 1000;
  const pullExpiresMs = options.pullExpiresMs ?? 2000;
  const logger = (options.logger ?? silentLogger).child({ component: 'frame-worker', stream });
  const metrics = options.metrics;
  let consumerName = options.consumer ?? DEFAULT_CONSUMER_NAME;
  let inFlight = 0;
  let stopping = false;
  let loop: Promise<void> | undefined;
  let batch: ConsumerMessages | undefined;
  let advisories: Subscription | undefined;
  const running = new Set<Promise<void>>();
  /** Woken when a handler finishes (a slot is free) or the worker stops. */
  let wake: (() => void) | undefined;

  function toMessage(m: JsMsg, trace: TraceContext | undefined): WorkerMessage | undefined {
    const at = parseFrameSubject(prefix, m.subject);
    if (at === undefined) return undefined;
    const receivedAt = Number(m.headers?.get(RECEIVED_AT_HEADER));
    return {
      ...at,
      topic: m.headers?.get(TOPIC_HEADER) || m.subject,
      payload: m.data,
      receivedAt: Number.isFinite(receivedAt) && receivedAt > 0 ? receivedAt : Math.floor(m.info.timestampNanos / 1e6),
      seq: m.seq,
      deliveries: m.info.deliveryCount,
      ...(trace === undefined ? {} : { trace }),
    };
  }

  /** Handles a message in its `process` span when tracing is on. */
  function handleTraced(m: JsMsg): Promise<void> {
    const tracing = options.tracing;
    if (tracing === undefined) return handle(m, undefined);
    const processing = startSpan(
      tracing,
      `process ${stream}`,
      SpanKind.CONSUMER,
      {
        [ATTR.messagingSystem]: 'nats',
        [ATTR.operationType]: 'process',
        [ATTR.operationName]: 'process',
        [ATTR.destination]: m.subject,
        [ATTR.consumerGroup]: consumerName,
        [ATTR.deliveryCount]: m.info.deliveryCount,
        [ATTR.streamSeq]: m.seq,
      },
      extractFromHeaders(tracing, m.headers),
    );
    return endWhenSettled(
      processing.span,
      handle(m, processing.context, (err) => recordError(processing.span, err)),
    );
  }

  async function handle(m: JsMsg, trace: TraceContext | undefined, failed?: (err: unknown) => void): Promise<void> {
    const message = toMessage(m, trace);
    if (message === undefined) {
      // Nothing of ours can handle it however often it comes back: given up at once, and said where it is.
      metrics?.deadLetters.inc({ reason: 'invalid-subject' });
      logger.error({ subject: m.subject, seq: m.seq }, 'stream message on a subject that is no frame subject; terminated');
      m.term('not a fieldmesh frame subject');
      return;
    }
    const { channel, deliveries } = message;
    if (deliveries > 1) metrics?.redeliveries.inc({ channel });
    try {
      await options.handler(message);
    } catch (err) {
      failed?.(err);
      // The last delivery's nak lets the server give it up (MAX_DELIVERIES advisory, counted below); the message
      // stays in the stream, readable by its sequence, until max age.
      const last = deliveries >= (options.maxDeliver ?? DEFAULT_MAX_DELIVER);
      const fields = { site: message.site, node: message.node, channel, seq: m.seq, deliveries, err: describeError(err) };
      if (last) logger.error(fields, 'handler failed on the last delivery; the message is a dead letter');
      else logger.warn(fields, 'handler failed; the message comes back after a delay');
      m.nak(Math.min(nakDelayMs * deliveries, MAX_NAK_DELAY_MS));
      metrics?.handled.inc({ channel, outcome: 'nak' });
      return;
    }
    try {
      // Acknowledged only now, and confirmed by the server: a lost ack means a redelivery, which storage absorbs.
      await m.ackAck();
      metrics?.handled.inc({ channel, outcome: 'acked' });
    } catch (err) {
      metrics?.handled.inc({ channel, outcome: 'ack-failed' });
      logger.warn({ channel, seq: m.seq, err: describeError(err) }, 'ack not confirmed; the message will be delivered again');
    }
  }

  function dispatch(m: JsMsg): void {
    inFlight++;
    const done = handleTraced(m)
      .catch((err: unknown) => logger.error({ seq: m.seq, err: describeError(err) }, 'worker failed on a message'))
      .finally(() => {
        inFlight--;
        running.delete(done);
        wake?.();
      });
    running.add(done);
  }

  function slotFree(): Promise<void> {
    if (inFlight < concurrency || stopping) return Promise.resolve();
    return new Promise((resolve) => {
      wake = () => {
        wake = undefined;
        resolve();
      };
    });
  }

  async function pull(consumer: Consumer): Promise<void> {
    while (!stopping) {
      await slotFree();
      if (stopping) break;
      try {
        // Only as many as there are free slots: a stuck worker takes nothing more from the others.
        batch = await consumer.fetch({ max_messages: concurrency - inFlight, expires: pullExpiresMs });
        for await (const m of batch) {
          if (stopping) {
            m.nak();
            metrics?.handled.inc({ channel: parseFrameSubject(prefix, m.subject)?.channel ?? 'unknown', outcome: 'returned' });
            continue;
          }
          dispatch(m);
        }
      } catch (err) {
        if (stopping) break;
        logger.warn({ err: describeError(err) }, 'pull failed; pulling again');
        await new Promise((r) => setTimeout(r, Math.min(pullExpiresMs, 1000)));
      } finally {
        batch = undefined;
      }
    }
  }

  return {
    get inFlight() {
      return inFlight;
    },

    async start() {
      const jsm = await jetstreamManager(options.connection);
      consumerName = await ensureFrameConsumer(jsm, stream, options);
      // One subscriber per queue group hears each advisory: dead letters are counted once across every worker.
      advisories = options.connection.subscribe(maxDeliveriesSubject(stream, consumerName), {
        queue: `${consumerName}-dead-letters`,
        callback: (err, msg) => {
          if (err) return;
          metrics?.deadLetters.inc({ reason: 'max-deliveries' });
          const advisory = (() => {
            try {
              return msg.json<{ stream_seq?: number; deliveries?: number }>();
            } catch {
              return {};
            }
          })();
          logger.error(
            { seq: advisory.stream_seq, deliveries: advisory.deliveries },
            'message given up after max deliveries (a dead letter)',
          );
        },
      });
      const consumer = await jetstream(options.connection).consumers.get(stream, consumerName);
      logger.info({ consumer: consumerName, concurrency }, 'worker pulling');
      loop = pull(consumer);
    },

    async stop(stopOptions = {}) {
      if (stopping) return;
      stopping = true;
      wake?.();
      batch?.stop();
      await loop;
      const timeoutMs = stopOptions.timeoutMs ?? options.ackWaitMs ?? DEFAULT_ACK_WAIT_MS;
      let timer: NodeJS.Timeout | undefined;
      const drained = await Promise.race([
        Promise.all([...running]).then(() => true),
        new Promise<false>((resolve) => {
          timer = setTimeout(() => resolve(false), timeoutMs);
        }),
      ]);
      clearTimeout(timer);
      advisories?.unsubscribe();
      if (drained) logger.info({ consumer: consumerName }, 'worker stopped');
      else
        logger.warn(
          { consumer: consumerName, inFlight },
          'worker stopped with handlers still running; their messages go to another worker',
        );
    },
  };
}
