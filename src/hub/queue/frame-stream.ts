// The JetStream stream of durable frames: created or brought up to date at start, and appended to by the ingest tier;
// an append resolves only once JetStream stored the message (its PubAck). [FM-QUEUE-1..2]; docs/scale-out.md.

import {
  DiscardPolicy,
  type JetStreamClient,
  type JetStreamManager,
  jetstream,
  jetstreamManager,
  RetentionPolicy,
  StorageType,
  type StreamConfig,
  type StreamInfo,
} from '@nats-io/jetstream';
import { headers, type MsgHdrs, type NatsConnection, nanos } from '@nats-io/transport-node';
import { FieldmeshError, type Logger, silentLogger } from '../../kit/index.js';
import { MAX_FRAME_BYTES } from '../../protocol/index.js';
import {
  ATTR,
  endWhenSettled,
  type HubTracing,
  injectIntoHeaders,
  SpanKind,
  startSpan,
  type TraceContext,
} from '../tracing/hub-tracing.js';
import type { QueueMetrics } from './queue-metrics.js';
import { assertSubjectPrefix, frameSubject, type StreamChannel, streamSubjects } from './subjects.js';

/** Headers the ingest tier sets on every stream message, beside JetStream's own `Nats-Msg-Id`. */
export const TOPIC_HEADER = 'Fieldmesh-Topic';
export const RECEIVED_AT_HEADER = 'Fieldmesh-Received-At';

/** A node's frame as the queue carries it, from the ingest tier to a worker. */
export interface FrameMessage {
  readonly site: string;
  readonly node: string;
  readonly channel: StreamChannel;
  /** The MQTT topic it arrived on (a push: its HTTP method and path). */
  readonly topic: string;
  /** The frame's bytes, as the node sent them. */
  readonly payload: Uint8Array;
  /** When the ingest tier received it, ms since the Unix epoch. */
  readonly receivedAt: number;
}

export interface AppendResult {
  /** The stream sequence JetStream stored it at (the earlier one's, for a duplicate). */
  readonly seq: number;
  /** True when a message of the same id was stored within the duplicate window: this one was not stored again. */
  readonly duplicate: boolean;
}

export interface FrameStreamOptions {
  readonly connection: NatsConnection;
  /** The stream's name (default `FIELDMESH_FRAMES`). */
  readonly name?: string;
  /** [FM-QUEUE-1] The subject prefix (default `fieldmesh`). */
  readonly subjectPrefix?: string;
  /** Copies of every message: 1 (one server) or 3 (a cluster that tolerates the loss of one server). Default 1. */
  readonly replicas?: 1 | 3;
  /** How long a message id is remembered for deduplication (default 2 min, JetStream's own default). */
  readonly duplicateWindowMs?: number;
  /** Messages older than this are dropped unconsumed; the nodes still hold them and resend (default 24 h). */
  readonly maxAgeMs?: number;
  /** The most the stream holds (default 1 GiB); when full, appends are refused and nodes resend later. */
  readonly maxBytes?: number;
  /** How long an append waits for JetStream's PubAck (default 5000 ms). */
  readonly appendTimeoutMs?: number;
  readonly metrics?: QueueMetrics;
  readonly logger?: Logger;
  /** The `send` span of an append, its context written into the message's headers (docs/tracing.md). */
  readonly tracing?: HubTracing;
}

export const DEFAULT_STREAM_NAME = 'FIELDMESH_FRAMES';
const DEFAULT_DUPLICATE_WINDOW_MS = 120_000;
const DEFAULT_MAX_AGE_MS = 24 * 3_600_000;
const DEFAULT_MAX_BYTES = 1024 ** 3;
/** A frame at the protocol's maximum plus its subject and headers fits. */
const MAX_MESSAGE_BYTES = MAX_FRAME_BYTES + 4096;

export interface FrameStream {
  readonly name: string;
  readonly subjectPrefix: string;
  /** Creates the stream, or updates it to these options (replicas, window, limits) when it exists. */
  ensure(): Promise<StreamInfo>;
  /**
   * Appends a frame; resolves once JetStream stored it (or knew it already: `duplicate`). Rejects with
   * FM_QUEUE_UNAVAILABLE when it did not confirm within the timeout (NATS down, the stream full or without a leader):
   * nothing is acknowledged to the node, which resends. With `trace` (the frame's `receive` span, a push's request
   * span), the append is a `send` span of that trace, whose context the message carries in its headers.
   */
  append(message: FrameMessage, msgId: string | undefined, trace?: TraceContext): Promise<AppendResult>;
  info(): Promise<StreamInfo>;
  /**
   * Whether the stream still holds the message at `seq`. In a work queue a message leaves when a worker acknowledged
   * it (after storing it), or past max age, which is never inside the duplicate window. Rejects when it cannot tell.
   */
  holds(seq: number): Promise<boolean>;
}

/** The stream's configuration: a work queue on file storage; why each setting is in docs/scale-out.md. */
export function frameStreamConfig(name: string, subjectPrefix: string, o: FrameStreamOptions): Partial<StreamConfig> & { name: string } {
  return {
    name,
    subjects: streamSubjects(subjectPrefix),
    retention: RetentionPolicy.Workqueue,
    storage: StorageType.File,
    num_replicas: o.replicas ?? 1,
    duplicate_window: nanos(o.duplicateWindowMs ?? DEFAULT_DUPLICATE_WINDOW_MS),
    max_age: nanos(o.maxAgeMs ?? DEFAULT_MAX_AGE_MS),
    max_bytes: o.maxBytes ?? DEFAULT_MAX_BYTES,
    max_msg_size: MAX_MESSAGE_BYTES,
    discard: DiscardPolicy.New,
  };
}

function isNotFound(err: unknown): boolean {
  return (err as { code?: number; api_error?: { err_code?: number } }).api_error?.err_code === 10059 || /not found/i.test(String(err));
}

export function createFrameStream(options: FrameStreamOptions): FrameStream {
  const name = options.name ?? DEFAULT_STREAM_NAME;
  const subjectPrefix = assertSubjectPrefix(options.subjectPrefix ?? 'fieldmesh');
  const replicas = options.replicas ?? 1;
  if (replicas !== 1 && replicas !== 3) throw new FieldmeshError('FM_CONFIG_INVALID', `stream replicas ${replicas}: 1 or 3`);
  const logger = (options.logger ?? silentLogger).child({ component: 'frame-stream', stream: name });
  const timeout = options.appendTimeoutMs ?? 5000;
  const js: JetStreamClient = jetstream(options.connection, { timeout });
  let manager: Promise<JetStreamManager> | undefined;
  const jsm = () => {
    manager ??= jetstreamManager(options.connection, { timeout });
    return manager;
  };

  return {
    name,
    subjectPrefix,

    async ensure() {
      const m = await jsm();
      const config = frameStreamConfig(name, subjectPrefix, options);
      try {
        await m.streams.info(name);
      } catch (err) {
        if (!isNotFound(err)) throw new FieldmeshError('FM_QUEUE_UNAVAILABLE', `cannot read stream ${name}`, { cause: err });
        const info = await m.streams.add(config);
        logger.info({ replicas, subjects: config.subjects }, 'stream created');
        return info;
      }
      const info = await m.streams.update(name, config);
      logger.info({ replicas, subjects: config.subjects }, 'stream brought up to date');
      return info;
    },

    async append(message, msgId, trace) {
      const subject = frameSubject(subjectPrefix, message.site, message.node, message.channel);
      const h = headers();
      h.set(TOPIC_HEADER, message.topic);
      h.set(RECEIVED_AT_HEADER, String(message.receivedAt));
      const tracing = options.tracing;
      if (trace !== undefined && tracing !== undefined) {
        const send = startSpan(
          tracing,
          `send ${name}`,
          SpanKind.PRODUCER,
          {
            [ATTR.messagingSystem]: 'nats',
            [ATTR.operationType]: 'send',
            [ATTR.operationName]: 'publish',
            [ATTR.destination]: subject,
            ...(msgId === undefined ? {} : { [ATTR.messageId]: msgId }),
          },
          trace,
        );
        injectIntoHeaders(tracing, send.context, h);
        const appended = publish(subject, message, msgId, h).then((result) => {
          send.span.setAttributes({ [ATTR.streamSeq]: result.seq, [ATTR.duplicate]: result.duplicate });
          return result;
        });
        return endWhenSettled(send.span, appended);
      }
      return publish(subject, message, msgId, h);
    },

    async info() {
      return (await jsm()).streams.info(name);
    },

    async holds(seq) {
      return (await (await jsm()).streams.getMessage(name, { seq })) !== null;
    },
  };

  async function publish(subject: string, message: FrameMessage, msgId: string | undefined, h: MsgHdrs): Promise<AppendResult> {
    const started = performance.now();
    try {
      const ack = await js.publish(subject, message.payload, { headers: h, timeout, ...(msgId === undefined ? {} : { msgID: msgId }) });
      options.metrics?.appendSeconds.observe((performance.now() - started) / 1000);
      options.metrics?.appends.inc({ channel: message.channel, outcome: ack.duplicate ? 'duplicate' : 'stored' });
      return { seq: ack.seq, duplicate: ack.duplicate };
    } catch (err) {
      options.metrics?.appends.inc({ channel: message.channel, outcome: 'failed' });
      throw new FieldmeshError('FM_QUEUE_UNAVAILABLE', `JetStream did not store ${subject} (${msgId ?? 'no id'})`, { cause: err });
    }
  }
}
