// How a worker acknowledges a node: the ack frame on core NATS [FM-QUEUE-3], which an ingest process forwards to the
// node's MQTT ack topic. Its signature is the durable ingest's ack sender's.

import type { NatsConnection } from '@nats-io/transport-node';
import { type AckLane, encodeAck } from '../../protocol/index.js';
import { ackSubject } from './subjects.js';

/** Publishes the ack frame of an outbox range; rejects when the connection is closed (the node resends). */
export type QueueAckSender = (site: string, node: string, lane: AckLane, firstSeq: number, lastSeq: number) => Promise<void>;

/**
 * A fire-and-forget publish: it does not wait for the server (no flush per ack). While the connection is away the
 * client buffers it; a lost ack costs a resend, which storage absorbs.
 */
export function createQueueAckSender(connection: NatsConnection, subjectPrefix: string): QueueAckSender {
  return async (site, node, lane, firstSeq, lastSeq) => {
    connection.publish(ackSubject(subjectPrefix, site, node), encodeAck({ lane, firstSeq, lastSeq }));
  };
}
