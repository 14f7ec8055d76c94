// The NATS names of the queue path: frame subjects in the stream, ack subjects back to the ingest tier, and the message
// id JetStream deduplicates on. [FM-QUEUE-1..3] in docs/protocol.md; why in docs/scale-out.md.

import { FieldmeshError, isValidId } from '../../kit/index.js';
import type { EventFrame, HistoryFrame } from '../../protocol/index.js';

/** The node channels that go through the stream: the durable plane's frames, each acknowledged once stored. */
export type QueueChannel = 'history' | 'event';
export const QUEUE_CHANNELS: readonly QueueChannel[] = ['history', 'event'];
/**
 * [FM-QUEUE-4] What the stream carries: the nodes' durable frames, and pushes taken straight by the ingest tier's HTTP
 * push APIs (`POST /events`, line protocol) as `push` messages (hub/queue/push-message.ts).
 */
export type StreamChannel = QueueChannel | 'push';
export const STREAM_CHANNELS: readonly StreamChannel[] = [...QUEUE_CHANNELS, 'push'];

export const DEFAULT_SUBJECT_PREFIX = 'fieldmesh';

/** The last token of ack subjects, where a frame subject has its channel. */
const ACK_TOKEN = 'ack';

/** A NATS subject token as we write them: stricter than NATS (no `$`, `*`, `>`, `.`, whitespace), so any of ours is one. */
const TOKEN = /^[A-Za-z0-9_-]+$/;

/**
 * [FM-QUEUE-1] A subject prefix is one or more tokens of letters, digits, `-` and `_`, joined by `.`
 * (`fieldmesh`, `acme.fieldmesh`).
 */
export function assertSubjectPrefix(prefix: string): string {
  if (!prefix.split('.').every((token) => TOKEN.test(token))) {
    throw new FieldmeshError('FM_CONFIG_INVALID', `queue subject prefix "${prefix}" must be tokens of A-Z a-z 0-9 - _ joined by "."`);
  }
  return prefix;
}

/** Site and node ids ([FM-TOPIC-2]: a-z, 0-9, - and _) are valid NATS tokens; anything else is refused by name. */
function assertIds(site: string, node: string): void {
  if (!isValidId(site)) throw new FieldmeshError('FM_TOPIC_INVALID', `site id "${site}" is not a valid id (and so no NATS token)`);
  if (!isValidId(node)) throw new FieldmeshError('FM_TOPIC_INVALID', `node id "${node}" is not a valid id (and so no NATS token)`);
}

/** [FM-QUEUE-1] Where the ingest tier appends a node's frame: `<prefix>.<site>.<node>.<channel>`. */
export function frameSubject(prefix: string, site: string, node: string, channel: StreamChannel): string {
  assertIds(site, node);
  return `${prefix}.${site}.${node}.${channel}`;
}

/** The subjects the frame stream holds: every node's history and event frames, and pushes. */
export function streamSubjects(prefix: string): string[] {
  return STREAM_CHANNELS.map((channel) => `${prefix}.*.*.${channel}`);
}

export interface FrameSubject {
  readonly site: string;
  readonly node: string;
  readonly channel: StreamChannel;
}

/** Parses a frame subject under `prefix`; undefined when it is none (wrong prefix, bad id, other channel). */
export function parseFrameSubject(prefix: string, subject: string): FrameSubject | undefined {
  if (!subject.startsWith(`${prefix}.`)) return undefined;
  const tokens = subject.slice(prefix.length + 1).split('.');
  const [site, node, channel] = tokens;
  if (tokens.length !== 3 || site === undefined || node === undefined || !isValidId(site) || !isValidId(node)) return undefined;
  return STREAM_CHANNELS.includes(channel as StreamChannel) ? { site, node, channel: channel as StreamChannel } : undefined;
}

/**
 * [FM-QUEUE-3] Where a worker publishes the ack frame for a node (core NATS, not the stream): `<prefix>.<site>.<node>.ack`,
 * as the MQTT ack topic is the node's own. Not `<prefix>.ack.<site>.<node>`: `ack` is a valid site id and a node may
 * be called `history`, so the stream's `<prefix>.*.*.history` would capture that node's acks.
 */
export function ackSubject(prefix: string, site: string, node: string): string {
  assertIds(site, node);
  return `${prefix}.${site}.${node}.${ACK_TOKEN}`;
}

/** What the ingest tier subscribes to for acks: every node's. */
export function ackSubscription(prefix: string): string {
  return `${prefix}.*.*.${ACK_TOKEN}`;
}

/** Parses an ack subject under `prefix`; undefined when it is none. */
export function parseAckSubject(prefix: string, subject: string): { site: string; node: string } | undefined {
  if (!subject.startsWith(`${prefix}.`)) return undefined;
  const tokens = subject.slice(prefix.length + 1).split('.');
  const [site, node, last] = tokens;
  if (tokens.length !== 3 || last !== ACK_TOKEN || site === undefined || node === undefined) return undefined;
  return isValidId(site) && isValidId(node) ? { site, node } : undefined;
}

/**
 * [FM-QUEUE-2] The JetStream message id of a durable frame: `<site>/<node>/<epoch>/<lane>/<firstSeq>-<lastSeq>`, the
 * node's identity, boot epoch, outbox lane and the outbox range the frame carries (an event frame carries one row:
 * `events/<seq>-<seq>`). A resend of the range within the stream's duplicate window is stored once. A history frame
 * with no series carries no rows, only reports (dropped and repaired ranges), and two of them may share a range with
 * different reports: it has no id and is never deduplicated (its reports are idempotent at the hub).
 */
export function frameMessageId(site: string, node: string, frame: HistoryFrame | EventFrame): string | undefined {
  if (frame.type === 'event') return `${site}/${node}/${frame.epoch}/events/${frame.seq}-${frame.seq}`;
  if (frame.series.length === 0) return undefined;
  return `${site}/${node}/${frame.epoch}/samples/${frame.firstSeq}-${frame.lastSeq}`;
}
