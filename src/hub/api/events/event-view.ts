// Builds the JSON shape of a stored event (protocol/api.ts EventView): the payload as JSON when it
// parses, else base64.

import type { EventView } from '../../../protocol/index.js';
import type { EventInput } from '../../storage/storage.js';

const utf8 = new TextDecoder('utf-8', { fatal: true });

export function renderPayload(payload: Uint8Array): { payload: unknown; payloadEncoding: 'json' | 'base64' } {
  if (payload.length > 0) {
    try {
      return { payload: JSON.parse(utf8.decode(payload)) as unknown, payloadEncoding: 'json' };
    } catch {
      // Not UTF-8 JSON: fall through to base64.
    }
  }
  return { payload: Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength).toString('base64'), payloadEncoding: 'base64' };
}

function iso(ms: number): string {
  const d = new Date(ms);
  return Number.isNaN(d.getTime()) ? String(ms) : d.toISOString();
}

export function toEventView(e: EventInput): EventView {
  return {
    site: e.site,
    node: e.node,
    id: e.id,
    seq: e.seq,
    epoch: e.epoch,
    time: iso(e.time),
    priority: e.priority,
    kind: e.kind,
    ...renderPayload(e.payload),
    receivedAt: iso(e.receivedAt),
  };
}
