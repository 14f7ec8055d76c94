// The MQTT-facing ingest tier of a scaled-out hub: takes the nodes' history and event frames (an MQTT shared
// subscription, so several ingest processes split them), appends each to the frame stream with its message id, and
// forwards the workers' ack frames from NATS to the nodes' MQTT ack topics. docs/scale-out.md.

import type { NatsConnection, Subscription as NatsSubscription } from '@nats-io/transport-node';
import { type Clock, describeError, type Logger, silentLogger, systemClock } from '../../kit/index.js';
import {
  commandTopic,
  DEFAULT_TOPIC_PREFIX,
  decodeWireFrame,
  type EventFrame,
  encodeAck,
  type HistoryFrame,
  nodeTopic,
  parseTopic,
} from '../../protocol/index.js';
import type { Subscription, Transport, TransportMessage } from '../../transport/index.js';
import { endWhenSettled, type HubTracing, startReceiveSpan } from '../tracing/hub-tracing.js';
import type { FrameStream } from './frame-stream.js';
import type { QueueMetrics, RefuseReason } from './queue-metrics.js';
import { ackSubscription, frameMessageId, parseAckSubject, QUEUE_CHANNELS } from './subjects.js';

export interface QueueIngestOptions {
  /** This ingest process's own MQTT link (its own client: its subscriptions are the durable channels only). */
  readonly transport: Transport;
  readonly connection: NatsConnection;
  readonly stream: FrameStream;
  /** The MQTT topic prefix [FM-TOPIC-1] (default `fieldmesh`). */
  readonly topicPrefix?: string;
  /**
   * The MQTT shared-subscription group, which is also the NATS queue group of the ack forwarders (default
   * `fieldmesh-ingest`). `null`: plain subscriptions, for a single ingest process or a broker without shared
   * subscriptions (the embedded Aedes broker).
   */
  readonly shareGroup?: string | null;
  /** Appends waiting for their PubAck at most; beyond, a frame is refused (`overload`) and its node resends (default 1000). */
  readonly maxPendingAppends?: number;
  readonly clock?: Clock;
  readonly metrics?: QueueMetrics;
  readonly logger?: Logger;
  /** A `receive` span per frame, parent of its append's `send` span (docs/tracing.md). */
  readonly tracing?: HubTracing;
}

export interface QueueIngest {
  /** Subscribes to the durable channels on MQTT and to the acks on NATS. */
  start(): void;
  /** Settles once the broker granted the MQTT subscriptions (after the link's first connection). */
  readonly ready: Promise<void>;
  /** Unsubscribes both ways and waits for the appends under way. */
  stop(): Promise<void>;
  /** Appends waiting for their PubAck now. */
  readonly pendingAppends: number;
}

export const DEFAULT_SHARE_GROUP = 'fieldmesh-ingest';

export function createQueueIngest(options: QueueIngestOptions): QueueIngest {
  const { transport, connection, stream, metrics } = options;
  const topicPrefix = options.topicPrefix ?? DEFAULT_TOPIC_PREFIX;
  const group = options.shareGroup === undefined ? DEFAULT_SHARE_GROUP : options.shareGroup;
  const maxPending = options.maxPendingAppends ?? 1000;
  const clock = options.clock ?? systemClock;
  const logger = (options.logger ?? silentLogger).child({ component: 'queue-ingest' });
  const subscriptions: Subscription[] = [];
  const appends = new Set<Promise<unknown>>();
  let acks: NatsSubscription | undefined;
  let markReady: (() => void) | undefined;
  const ready = new Promise<void>((resolve) => {
    markReady = resolve;
  });

  function refuse(what: 'frame' | 'ack', reason: RefuseReason, where: string, detail: string): void {
    metrics?.refused.inc({ what, reason });
    logger.warn({ [what === 'frame' ? 'topic' : 'subject']: where, reason }, `${what} refused: ${detail}`);
  }

  function onFrame(message: TransportMessage): void {
    const receivedAt = clock.now();
    const topic = parseTopic(topicPrefix, message.topic);
    if (topic?.kind !== 'node' || (topic.channel !== 'history' && topic.channel !== 'event')) {
      refuse('frame', 'bad-topic', message.topic, 'not a durable channel of a node');
      return;
    }
    const decoded = decodeWireFrame(message.payload);
    if (!decoded.ok) {
      refuse('frame', 'undecodable', message.topic, decoded.error.message);
      return;
    }
    const frame = decoded.frame;
    if (frame.type !== topic.channel) {
      refuse('frame', 'wrong-type', message.topic, `a ${frame.type} frame on the ${topic.channel} channel`);
      return;
    }
    if (appends.size >= maxPending) {
      // Not logged one by one: under overload that would be the next problem. The node resends.
      metrics?.refused.inc({ what: 'frame', reason: 'overload' });
      return;
    }
    const { site, node, channel } = topic;
    const rx = options.tracing && startReceiveSpan(options.tracing, message.topic, site, node, frame);
    const appending = stream
      .append(
        { site, node, channel, topic: message.topic, payload: message.payload, receivedAt },
        frameMessageId(site, node, frame),
        rx?.context,
      )
      .then(async ({ seq, duplicate }) => {
        if (duplicate && !(await stream.holds(seq))) await ackAgain(site, node, frame);
      });
    const appended = (rx === undefined ? appending : endWhenSettled(rx.span, appending))
      .catch((err: unknown) => logger.debug({ topic: message.topic, err: describeError(err) }, 'frame not appended; the node resends'))
      .finally(() => appends.delete(appended));
    appends.add(appended);
  }

  /**
   * [FM-QUEUE-3] A resend of a frame the stream knows and no longer holds: a worker stored it and acknowledged it, and
   * the node missed the ack. The ack again, at once, rather than a resend refused as a duplicate until the window ends.
   */
  async function ackAgain(site: string, node: string, frame: HistoryFrame | EventFrame): Promise<void> {
    const range =
      frame.type === 'event'
        ? { lane: 'events' as const, firstSeq: frame.seq, lastSeq: frame.seq }
        : { lane: 'samples' as const, firstSeq: frame.firstSeq, lastSeq: frame.lastSeq };
    const ack = encodeAck(range);
    await publishAck(site, node, ack, 'replayed');
  }

  async function publishAck(site: string, node: string, ack: Uint8Array, outcome: 'forwarded' | 'replayed'): Promise<void> {
    metrics?.acksWaiting.inc();
    try {
      await transport.publish(commandTopic(topicPrefix, site, node, 'ack'), ack, { qos: 1 });
      metrics?.acksForwarded.inc({ outcome });
    } catch (err) {
      // A lost ack costs a resend, which storage absorbs.
      metrics?.acksForwarded.inc({ outcome: 'failed' });
      logger.debug({ site, node, err: describeError(err) }, 'ack not forwarded; the node resends');
    } finally {
      metrics?.acksWaiting.dec();
    }
  }

  async function forwardAck(subject: string, data: Uint8Array): Promise<void> {
    metrics?.acksReceived.inc();
    const ids = parseAckSubject(stream.subjectPrefix, subject);
    if (ids === undefined) return refuse('ack', 'bad-topic', subject, 'not an ack subject');
    const decoded = decodeWireFrame(data);
    if (!decoded.ok) return refuse('ack', 'undecodable', subject, decoded.error.message);
    if (decoded.frame.type !== 'ack') return refuse('ack', 'wrong-type', subject, `a ${decoded.frame.type} frame`);
    await publishAck(ids.site, ids.node, data, 'forwarded');
  }

  return {
    ready,
    get pendingAppends() {
      return appends.size;
    },

    start() {
      for (const channel of QUEUE_CHANNELS) {
        const filter = nodeTopic(topicPrefix, '+', '+', channel);
        subscriptions.push(transport.subscribe(group === null ? filter : `$share/${group}/${filter}`, onFrame, { qos: 1 }));
      }
      Promise.all(subscriptions.map((s) => s.ready)).then(
        () => markReady?.(),
        (err: unknown) => logger.error({ err: describeError(err) }, 'the broker refused the ingest subscriptions'),
      );
      acks = connection.subscribe(ackSubscription(stream.subjectPrefix), {
        ...(group === null ? {} : { queue: group }),
        callback: (err, msg) => {
          if (err) return logger.warn({ err: describeError(err) }, 'ack subscription failed');
          void forwardAck(msg.subject, msg.data);
        },
      });
      logger.info({ topicPrefix, group, stream: stream.name }, 'ingest tier started');
    },

    async stop() {
      for (const s of subscriptions.splice(0)) s.unsubscribe();
      await acks?.drain().catch(() => {});
      await Promise.all([...appends]);
      logger.info({}, 'ingest tier stopped');
    },
  };
}
