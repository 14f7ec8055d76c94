// What the processes of a scale-out hub tell each other over core NATS (not the stream: a lost notice costs a stale
// view, never data): a worker stored an event, so the api processes' live feed, zone monitor and configuration
// repository hear of it as the embedded hub's do.

import { FieldmeshError } from '../../kit/index.js';
import type { EventPriority } from '../../protocol/index.js';
import type { EventInput } from '../storage/storage.js';

/**
 * `<prefix>._hub.notify.event-stored`: three tokens after the prefix like the stream's `<prefix>.*.*.event`, but the
 * last is not `event`, and `_hub` is no valid site id, so the stream never captures it.
 */
export function storedEventSubject(prefix: string): string {
  return `${prefix}._hub.notify.event-stored`;
}

interface StoredEventJson extends Omit<EventInput, 'payload'> {
  readonly payload: string;
}

export function encodeStoredEvent(event: EventInput): Uint8Array {
  const json: StoredEventJson = { ...event, payload: Buffer.from(event.payload).toString('base64') };
  return new TextEncoder().encode(JSON.stringify(json));
}

/** Throws FM_FRAME_MALFORMED when the notice is not one. */
export function decodeStoredEvent(bytes: Uint8Array): EventInput {
  let json: StoredEventJson;
  try {
    json = JSON.parse(new TextDecoder().decode(bytes)) as StoredEventJson;
  } catch (err) {
    throw new FieldmeshError('FM_FRAME_MALFORMED', 'stored-event notice: not JSON', { cause: err });
  }
  if (typeof json.site !== 'string' || typeof json.node !== 'string' || typeof json.id !== 'string' || typeof json.payload !== 'string')
    throw new FieldmeshError('FM_FRAME_MALFORMED', 'stored-event notice: site, node, id or payload missing');
  return {
    site: json.site,
    node: json.node,
    id: json.id,
    seq: Number(json.seq),
    epoch: Number(json.epoch),
    time: Number(json.time),
    priority: json.priority as EventPriority,
    kind: String(json.kind),
    payload: new Uint8Array(Buffer.from(json.payload, 'base64')),
    receivedAt: Number(json.receivedAt),
  };
}
