// The queue path's Prometheus metrics, in the registry the process passes in: appends and their latency, what workers
// did with each message, redeliveries, dead letters, acks forwarded, and the stream's and consumer's state at scrape.

import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { QUEUE_CHANNELS } from './subjects.js';

/** The stream's and its consumer's state, as JetStream reports it. */
export interface QueueState {
  readonly streamMessages: number;
  readonly streamBytes: number;
  /** Messages the consumer has not delivered yet: the workers' lag. */
  readonly consumerPending: number;
  /** Messages delivered and not acknowledged yet (in a worker's hands, or waiting for their ack wait to run out). */
  readonly consumerAckPending: number;
  /** Messages delivered more than once and not acknowledged yet. */
  readonly consumerRedelivered: number;
  /** Copies of the stream (besides its leader's) that are offline or not current: a replicated stream running short. */
  readonly replicasBehind: number;
}

export type AppendOutcome = 'stored' | 'duplicate' | 'failed';
export type HandleOutcome = 'acked' | 'nak' | 'ack-failed' | 'returned';
export type DeadLetterReason = 'handler-failed' | 'max-deliveries' | 'invalid-subject';
/** Why the ingest tier refused a frame from MQTT or an ack from NATS. */
export type RefuseReason = 'undecodable' | 'wrong-type' | 'bad-topic' | 'overload';
export type ForwardOutcome = 'forwarded' | 'replayed' | 'failed';

export interface QueueMetrics {
  readonly appends: Counter<'channel' | 'outcome'>;
  readonly appendSeconds: Histogram;
  readonly handled: Counter<'channel' | 'outcome'>;
  readonly redeliveries: Counter<'channel'>;
  readonly deadLetters: Counter<'reason'>;
  readonly refused: Counter<'what' | 'reason'>;
  readonly acksForwarded: Counter<'outcome'>;
  /** Ack frames the ingest tier heard from the workers on NATS (each is then forwarded, refused or failed). */
  readonly acksReceived: Counter;
  /** Acks being sent to the broker now (published at QoS 1, its PUBACK not yet back). */
  readonly acksWaiting: Gauge;
  /** Reads the stream's and consumer's state at every scrape from `source` (one read per scrape, whatever the gauges). */
  watch(source: () => Promise<QueueState>): void;
}

/** Appends are a round trip to the stream leader and, at R3, to a second server's disk: milliseconds, seconds when failing over. */
const APPEND_BUCKETS_S = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

export function createQueueMetrics(registry: Registry): QueueMetrics {
  const registers = [registry];
  const appends = new Counter({
    name: 'fieldmesh_queue_appends_total',
    help: 'Frames appended to the stream by the ingest tier, by channel and outcome (stored, duplicate: known id, failed: no PubAck).',
    labelNames: ['channel', 'outcome'] as const,
    registers,
  });
  for (const channel of QUEUE_CHANNELS)
    for (const outcome of ['stored', 'duplicate', 'failed'] as const) appends.inc({ channel, outcome }, 0);
  const appendSeconds = new Histogram({
    name: 'fieldmesh_queue_append_seconds',
    help: 'Time from an append to its PubAck, seconds.',
    buckets: APPEND_BUCKETS_S,
    registers,
  });
  const handled = new Counter({
    name: 'fieldmesh_queue_messages_handled_total',
    help: 'Stream messages a worker finished, by channel and outcome (acked, nak: handler failed, ack-failed, returned at stop).',
    labelNames: ['channel', 'outcome'] as const,
    registers,
  });
  const redeliveries = new Counter({
    name: 'fieldmesh_queue_redeliveries_total',
    help: 'Stream messages a worker received that had been delivered before (a worker failed, stopped or timed out).',
    labelNames: ['channel'] as const,
    registers,
  });
  const deadLetters = new Counter({
    name: 'fieldmesh_queue_dead_letters_total',
    help: 'Stream messages given up on: the handler failed on the last delivery, the last delivery timed out (max-deliveries), or the subject is none of ours.',
    labelNames: ['reason'] as const,
    registers,
  });
  const refused = new Counter({
    name: 'fieldmesh_queue_refused_total',
    help: 'Frames (from MQTT) and acks (from NATS) the ingest tier refused, by reason; each is logged with its topic or subject.',
    labelNames: ['what', 'reason'] as const,
    registers,
  });
  const acksForwarded = new Counter({
    name: 'fieldmesh_queue_acks_forwarded_total',
    help: 'Ack frames the ingest tier sent a node over MQTT: forwarded from a worker, replayed for a resend of a frame stored already, failed (the MQTT link was down; the node resends).',
    labelNames: ['outcome'] as const,
    registers,
  });

  const acksReceived = new Counter({
    name: 'fieldmesh_queue_acks_received_total',
    help: 'Ack frames the ingest tier heard from the workers on NATS: each is then forwarded, refused or failed (fieldmesh_queue_acks_forwarded_total, fieldmesh_queue_refused_total{what="ack"}).',
    registers,
  });
  const acksWaiting = new Gauge({
    name: 'fieldmesh_queue_acks_waiting',
    help: "Acks the ingest tier is sending to the nodes now: published at QoS 1 to the broker, its PUBACK not yet back (held back by the broker's Receive Maximum, or a slow broker).",
    registers,
  });

  let source: (() => Promise<QueueState>) | undefined;
  /** One read serves every gauge of one scrape. */
  let reading: { at: number; state: Promise<QueueState | undefined> } | undefined;
  const read = (): Promise<QueueState | undefined> => {
    const now = Date.now();
    if (reading === undefined || now - reading.at > 500) {
      reading = { at: now, state: source === undefined ? Promise.resolve(undefined) : source().catch(() => undefined) };
    }
    return reading.state;
  };
  const gauge = (name: string, help: string, pick: (s: QueueState) => number) =>
    new Gauge({
      name,
      help,
      registers,
      async collect() {
        const state = await read();
        if (state !== undefined) this.set(pick(state));
      },
    });
  gauge(
    'fieldmesh_queue_stream_messages',
    'Messages in the frame stream (a work queue: not yet acknowledged by a worker).',
    (s) => s.streamMessages,
  );
  gauge('fieldmesh_queue_stream_bytes', 'Bytes in the frame stream.', (s) => s.streamBytes);
  gauge('fieldmesh_queue_consumer_pending', "Messages the workers' consumer has not delivered yet (lag).", (s) => s.consumerPending);
  gauge('fieldmesh_queue_consumer_ack_pending', 'Messages delivered to a worker and not acknowledged yet.', (s) => s.consumerAckPending);
  gauge(
    'fieldmesh_queue_consumer_redelivered',
    'Messages delivered more than once and not acknowledged yet.',
    (s) => s.consumerRedelivered,
  );
  gauge(
    'fieldmesh_queue_stream_replicas_behind',
    'Copies of the frame stream that are offline or not current (0 for a stream of one copy).',
    (s) => s.replicasBehind,
  );

  return {
    appends,
    appendSeconds,
    handled,
    redeliveries,
    deadLetters,
    refused,
    acksForwarded,
    acksReceived,
    acksWaiting,
    watch(next) {
      source = next;
      reading = undefined;
    },
  };
}
