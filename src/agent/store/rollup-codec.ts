// Compact coding of one rollup row: the buckets of one series, one resolution and one chunk window,
// each column coded as the chunk codec codes values, all deflated. The byte layout is in docs/storage.md.

import { ByteReader, ByteWriter, MAX_CHUNK_TS, packBody, readValueColumn, unpackBody, writeValueColumn } from './chunk-codec.js';
import type { RollupBuckets } from './rollup-buckets.js';

/** Format version in the high nibble of the first byte; bump it when the layout changes. */
const ROLLUP_FORMAT_VERSION = 1;

/**
 * Encodes buckets of `resolutionMs` (a positive integer). Bucket starts must be ascending multiples of
 * it, counts at least 1, and first ≤ last sample time within each bucket.
 */
export function encodeRollup(b: RollupBuckets, resolutionMs: number): Uint8Array {
  const n = b.starts.length;
  const w = new ByteWriter();
  w.uvarint(n);
  w.uvarint(resolutionMs);
  let prev = -1;
  for (let i = 0; i < n; i++) {
    // Bucket indexes rather than ms: 4 bytes instead of 6 for the first, gaps of 0 for the rest.
    const index = (b.starts[i] as number) / resolutionMs;
    w.uvarint(i === 0 ? index : index - prev - 1);
    prev = index;
  }
  for (let i = 0; i < n; i++) w.uvarint(b.counts[i] as number);
  for (let i = 0; i < n; i++) w.uvarint((b.firstTs[i] as number) - (b.starts[i] as number));
  for (let i = 0; i < n; i++) w.uvarint((b.lastTs[i] as number) - (b.firstTs[i] as number));
  for (const column of [b.min, b.max, b.sum, b.last]) writeValueColumn(w, column);
  return packBody(w.done(), ROLLUP_FORMAT_VERSION);
}

/**
 * Decodes a blob written by `encodeRollup`, checking it was written for `resolutionMs`; anything else
 * throws FieldmeshError FM_STORE_CHUNK_CORRUPT ("rollup is corrupt: ...").
 */
export function decodeRollup(data: Uint8Array, resolutionMs: number): RollupBuckets {
  const r = new ByteReader(unpackBody(data, ROLLUP_FORMAT_VERSION, 'rollup'), 'rollup');
  const n = r.uvarint();
  // Every bucket costs at least 4 bytes (index, count, two offsets) before its values.
  if (n * 4 > r.remaining) r.corrupt(`count ${n} exceeds the ${r.remaining} bytes that follow`);
  const resolution = r.uvarint();
  if (resolution !== resolutionMs) r.corrupt(`written for a ${resolution} ms resolution, read as ${resolutionMs} ms`);
  const starts = new Array<number>(n);
  let index = -1;
  for (let i = 0; i < n; i++) {
    index = i === 0 ? r.uvarint() : index + 1 + r.uvarint();
    const start = index * resolution;
    if (start > MAX_CHUNK_TS) r.corrupt(`bucket ${i} starts after 2^52 ms`);
    starts[i] = start;
  }
  const counts = new Array<number>(n);
  for (let i = 0; i < n; i++) {
    const c = r.uvarint();
    if (c < 1) r.corrupt(`bucket ${i} holds no samples`);
    counts[i] = c;
  }
  const firstTs = new Array<number>(n);
  for (let i = 0; i < n; i++) {
    const offset = r.uvarint();
    if (offset >= resolution) r.corrupt(`bucket ${i}'s first sample lies outside it`);
    firstTs[i] = (starts[i] as number) + offset;
  }
  const lastTs = new Array<number>(n);
  for (let i = 0; i < n; i++) {
    const span = r.uvarint();
    const first = firstTs[i] as number;
    if (first + span >= (starts[i] as number) + resolution) r.corrupt(`bucket ${i}'s last sample lies outside it`);
    if (counts[i] === 1 && span !== 0) r.corrupt(`bucket ${i}: one sample, yet its first and last are ${span} ms apart`);
    lastTs[i] = first + span;
  }
  const min = readValueColumn(r, n);
  const max = readValueColumn(r, n);
  const sum = readValueColumn(r, n);
  const last = readValueColumn(r, n);
  if (r.remaining !== 0) r.corrupt(`${r.remaining} trailing bytes`);
  return { starts, counts, firstTs, lastTs, min, max, sum, last };
}
