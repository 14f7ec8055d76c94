// Backfill request frames of the durable plane: the hub asks a node to send a time range again from its
// local store. [FM-DURABLE-6] in docs/protocol.md.

import { type ByteReader, type ByteWriter, FrameError } from './codec.js';

/** Longest request id, bytes of UTF-8. */
export const MAX_BACKFILL_ID_BYTES = 64;
/** Most selectors one request may carry. */
export const MAX_BACKFILL_SELECTORS = 64;
const MAX_SELECTOR_BYTES = 1024;

export interface BackfillFrame {
  readonly type: 'backfill';
  /**
   * Chosen by the hub, unique per request (1 to 64 bytes). A request sent again carries the same id;
   * the node reports it done under that id in a history frame's `repaired` list.
   */
  readonly requestId: string;
  /** The range to send again, ms since the Unix epoch, both ends inclusive; `toMs >= fromMs`. */
  readonly fromMs: number;
  readonly toMs: number;
  /**
   * Series selectors in Prometheus syntax naming what to send; empty means the node's critical series
   * (what its outbox replicates).
   */
  readonly selectors: readonly string[];
}

/** Writes a backfill request's body (after the header byte). [FM-DURABLE-6] */
export function writeBackfill(w: ByteWriter, f: Omit<BackfillFrame, 'type'>): void {
  if (f.requestId === '') throw new RangeError('backfill request id is empty');
  if (f.toMs < f.fromMs) throw new RangeError(`backfill range ${f.fromMs}..${f.toMs} runs backwards`);
  if (f.selectors.length > MAX_BACKFILL_SELECTORS) throw new RangeError(`${f.selectors.length} backfill selectors`);
  w.string(f.requestId).varint(f.fromMs).varint(f.toMs).varint(f.selectors.length);
  for (const s of f.selectors) w.string(s);
}

export function readBackfill(r: ByteReader): BackfillFrame {
  const idAt = r.offset;
  const requestId = r.string('request id', MAX_BACKFILL_ID_BYTES);
  if (requestId === '') throw new FrameError('malformed', 'backfill request id is empty', idAt);
  const fromAt = r.offset;
  const fromMs = r.varint('from');
  const toMs = r.varint('to');
  if (toMs < fromMs) throw new FrameError('malformed', `backfill range ${fromMs}..${toMs} runs backwards`, fromAt);
  const countAt = r.offset;
  const count = r.varint('selector count');
  if (count > MAX_BACKFILL_SELECTORS) throw new FrameError('malformed', `backfill names ${count} selectors`, countAt);
  const selectors: string[] = [];
  for (let i = 0; i < count; i++) selectors.push(r.string('selector', MAX_SELECTOR_BYTES));
  return { type: 'backfill', requestId, fromMs, toMs, selectors };
}
