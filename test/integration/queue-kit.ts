// Helpers for the queue path's tests: durable frames of a fake node, and a NATS connection closed with the test.

import type { NatsConnection } from '@nats-io/transport-node';
import { connectQueue, type FrameMessage, type FrameStream, frameMessageId } from '../../src/hub/queue/index.js';
import { encodeEvent, encodeHistory, type HistoryFrame, nodeTopic } from '../../src/protocol/index.js';

export const SITE = 'ridge';
/** A test stream's byte limit: JetStream reserves it from the server's store, which the kit keeps small. */
export const MAX_BYTES = 16 * 1024 * 1024;

/** A history frame carrying outbox rows [firstSeq, lastSeq] of one series, one sample a second ending now. */
export function historyFrame(firstSeq: number, lastSeq: number, epoch = 1): Omit<HistoryFrame, 'type'> {
  const now = Date.now();
  const rows = lastSeq - firstSeq + 1;
  return {
    epoch,
    zone: 'north',
    firstSeq,
    lastSeq,
    pendingRows: 0,
    oldestPendingMs: null,
    pendingBytes: 0,
    dropped: [],
    repaired: [],
    series: [
      {
        name: 'battery_soc',
        labels: {},
        type: 'gauge',
        unit: 'percent',
        samples: Array.from({ length: rows }, (_, i) => [now - (rows - i) * 1000, 50 + (i % 10)] as const),
      },
    ],
  };
}

/** A node's history frame for rows [firstSeq, lastSeq] as the ingest tier appends it, with its message id. */
export function historyMessage(node: string, firstSeq: number, lastSeq: number): { message: FrameMessage; msgId: string } {
  const frame = historyFrame(firstSeq, lastSeq);
  const message: FrameMessage = {
    site: SITE,
    node,
    channel: 'history',
    topic: nodeTopic('fieldmesh', SITE, node, 'history'),
    payload: encodeHistory(frame),
    receivedAt: Date.now(),
  };
  return { message, msgId: frameMessageId(SITE, node, { type: 'history', ...frame }) as string };
}

/** A node's event frame at outbox seq `seq`. */
export function eventPayload(seq: number, epoch = 1): Uint8Array {
  return encodeEvent({
    epoch,
    seq,
    time: Date.now(),
    id: `ev-${seq}`,
    priority: 'normal',
    kind: 'test',
    payload: new TextEncoder().encode('{}'),
  });
}

/** Appends `count` history frames of one row each (seqs 1..count) for `node`; returns their stream sequences. */
export async function appendRows(stream: FrameStream, node: string, count: number, from = 1): Promise<number[]> {
  const seqs: number[] = [];
  for (let seq = from; seq < from + count; seq++) {
    const { message, msgId } = historyMessage(node, seq, seq);
    const ack = await stream.append(message, msgId);
    seqs.push(ack.seq);
  }
  return seqs;
}

/** Connections opened by a test, closed by `closeAll`. */
export function connections(): { open(servers: readonly string[], name: string): Promise<NatsConnection>; closeAll(): Promise<void> } {
  const opened: NatsConnection[] = [];
  return {
    async open(servers, name) {
      const nc = await connectQueue({ servers, name });
      opened.push(nc);
      return nc;
    },
    async closeAll() {
      await Promise.all(opened.splice(0).map((nc) => nc.close().catch(() => {})));
    },
  };
}
