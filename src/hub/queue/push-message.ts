// A push taken straight by the ingest tier (`POST /events`, InfluxDB line protocol) as the stream carries it to a
// worker: one `push` message per request, its samples and events already checked and timed, and its message id.
// [FM-QUEUE-4] in docs/protocol.md; why in docs/scale-out.md "Pushes straight to the ingest tier".

import { EVENT_PRIORITIES, type EventPriority, sha256Hex, withTargetLabels } from '../../protocol/index.js';
import type { PushedEvent, PushedSample } from '../../protocol/push/index.js';
import type { EventInput, SampleInput } from '../storage/storage.js';

/** The body of a `push` stream message (JSON): what a worker stores. */
export interface PushMessage {
  readonly v: 1;
  /** The zone label the samples get (the token's `zone`, else ""). */
  readonly zone: string;
  readonly samples: readonly PushedSample[];
  /** Events with their id: the client's, or one made from the push's content (so a resend is stored once). */
  readonly events: readonly (PushedEvent & { readonly id: string })[];
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * The message of a push by `site`/`node`: events without an id get `push-<hash>-<i>`, the hash of the push's content,
 * so a resend (after a 503 or a lost answer) of the same content is one event however often it arrives.
 */
export function pushMessage(
  site: string,
  node: string,
  zone: string,
  samples: readonly PushedSample[],
  events: readonly PushedEvent[],
): PushMessage {
  const digest = sha256Hex(JSON.stringify([site, node, zone, samples, events])).slice(0, 32);
  return { v: 1, zone, samples, events: events.map((e, i) => ({ ...e, id: e.id ?? `push-${digest}-${i}` })) };
}

export function encodePushMessage(message: PushMessage): Uint8Array {
  return encoder.encode(JSON.stringify(message));
}

/**
 * [FM-QUEUE-4] The JetStream message id of a push: `push/<site>/<node>/key/<Idempotency-Key>` when the client named
 * one, else `push/<site>/<node>/<sha-256 of the message>`. Samples carry their resolved times, so a resend of the same
 * content within the duplicate window is stored once, and two pushes of equal values at different times are two.
 */
export function pushMessageId(site: string, node: string, message: PushMessage, idempotencyKey?: string): string {
  if (idempotencyKey !== undefined) return `push/${site}/${node}/key/${idempotencyKey}`;
  return `push/${site}/${node}/${sha256Hex(JSON.stringify(message))}`;
}

class PushMessageError extends Error {}

function fail(what: string): never {
  throw new PushMessageError(what);
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Reads a push message back, or names the field at fault (only a corrupt stream has one). */
export function decodePushMessage(bytes: Uint8Array): { ok: true; message: PushMessage } | { ok: false; reason: string } {
  try {
    return { ok: true, message: readPushMessage(bytes) };
  } catch (err) {
    if (err instanceof PushMessageError) return { ok: false, reason: `push message: ${err.message}` };
    throw err;
  }
}

function readPushMessage(bytes: Uint8Array): PushMessage {
  let m: unknown;
  try {
    m = JSON.parse(decoder.decode(bytes));
  } catch (err) {
    fail(`not JSON (${(err as Error).message})`);
  }
  if (!isRecord(m) || m.v !== 1) fail('expected {"v": 1, ...}');
  if (typeof m.zone !== 'string') fail('zone: expected a string');
  if (!Array.isArray(m.samples)) fail('samples: expected an array');
  if (!Array.isArray(m.events)) fail('events: expected an array');
  m.samples.forEach((s: unknown, i) => {
    if (!isRecord(s) || typeof s.name !== 'string' || !isRecord(s.labels) || typeof s.value !== 'number' || typeof s.time !== 'number')
      fail(`samples[${i}]: expected {name, labels, value, time}`);
  });
  m.events.forEach((e: unknown, i) => {
    if (!isRecord(e) || typeof e.id !== 'string' || typeof e.kind !== 'string' || typeof e.time !== 'number')
      fail(`events[${i}]: expected {id, kind, priority, time, payload}`);
    if (!EVENT_PRIORITIES.includes(e.priority as EventPriority))
      fail(`events[${i}].priority: expected one of ${EVENT_PRIORITIES.join(', ')}`);
  });
  return m as unknown as PushMessage;
}

/** The samples of a push as storage takes them: labelled with site, node and zone, gauges unless the push said. */
export function pushSamples(site: string, node: string, message: PushMessage): SampleInput[] {
  return message.samples.map((s) => ({
    series: {
      name: s.name,
      labels: withTargetLabels(s.labels, { site, node, zone: message.zone }),
      unit: s.unit ?? '',
      type: s.type ?? 'gauge',
    },
    ts: s.time,
    value: s.value,
  }));
}

/** The events of a push as storage takes them (seq and epoch 0: a push has no outbox). */
export function pushEvents(site: string, node: string, message: PushMessage, receivedAt: number): EventInput[] {
  return message.events.map((e) => ({
    site,
    node,
    id: e.id,
    seq: 0,
    epoch: 0,
    time: e.time,
    priority: e.priority,
    kind: e.kind,
    payload: encoder.encode(JSON.stringify(e.payload)),
    receivedAt,
  }));
}
