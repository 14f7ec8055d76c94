// The byte coding of one head_log row: every sample of one group commit, cheap to write on the ingest
// path and checksummed so a damaged row is recognised at replay. The layout is in docs/storage.md.

import { crc32 } from 'node:zlib';
import { FieldmeshError } from '../../kit/index.js';
import { MAX_CHUNK_TS } from './chunk-codec.js';

/** First byte of a row; bump it when the layout changes. */
const HEAD_LOG_VERSION = 1;
// The smallest sample is a 1-byte id, a 1-byte delta and 8 value bytes.
const MIN_SAMPLE_BYTES = 10;
const CRC_BYTES = 4;
const HEADER_BYTES = 5;
// An uvarint of up to 2^53 takes at most 8 bytes (7 bits each: 56 bits).
const MAX_VARINT_BYTES = 8;

/** Samples of one head_log row, in the order they were appended (a later one wins on an equal timestamp). */
export interface DecodedHeadLog {
  readonly length: number;
  readonly ids: Float64Array;
  readonly ts: Float64Array;
  readonly values: Float64Array;
}

function corrupt(what: string, details: Record<string, unknown> = {}): never {
  throw new FieldmeshError('FM_STORE_CHUNK_CORRUPT', `head log row is corrupt: ${what}`, { details });
}

/** Collects samples into one row; reused across commits, so `bytes()` is valid until the next `reset()`. */
export class HeadLogWriter {
  private buf = new Uint8Array(64 * 1024);
  private view = new DataView(this.buf.buffer);
  private len = 0;
  private prevTs = 0;
  /** Samples written since `reset()`. */
  count = 0;
  minTs = Number.POSITIVE_INFINITY;
  maxTs = Number.NEGATIVE_INFINITY;

  constructor() {
    this.reset();
  }

  reset(): void {
    // Version byte, then the count as a uint32 (fixed width, so it can be written last).
    this.len = HEADER_BYTES;
    this.buf[0] = HEAD_LOG_VERSION;
    this.prevTs = 0;
    this.count = 0;
    this.minTs = Number.POSITIVE_INFINITY;
    this.maxTs = Number.NEGATIVE_INFINITY;
  }

  private ensure(extra: number): void {
    if (this.len + extra <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.len + extra) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.len));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }

  private uvarint(v: number): void {
    const buf = this.buf;
    let p = this.len;
    // Bitwise below 2^31 (the common case: ids and small deltas); plain arithmetic above.
    while (v >= 0x80000000) {
      buf[p++] = (v % 128) + 128;
      v = Math.floor(v / 128);
    }
    while (v >= 128) {
      buf[p++] = (v & 127) | 128;
      v >>>= 7;
    }
    buf[p++] = v;
    this.len = p;
  }

  /** Adds one sample: series id (positive integer), ts (integer ms in [0, 2^52]), any float64 value. */
  add(seriesId: number, ts: number, value: number): void {
    this.ensure(2 * MAX_VARINT_BYTES + 8 + CRC_BYTES);
    this.uvarint(seriesId);
    const delta = ts - this.prevTs;
    this.uvarint(delta >= 0 ? delta * 2 : -delta * 2 - 1);
    this.prevTs = ts;
    this.view.setFloat64(this.len, value, true);
    this.len += 8;
    this.count++;
    if (ts < this.minTs) this.minTs = ts;
    if (ts > this.maxTs) this.maxTs = ts;
  }

  /** The finished row (a view of the writer's buffer): count patched in, CRC-32 of everything before it appended. */
  bytes(): Buffer {
    this.view.setUint32(1, this.count, true);
    this.ensure(CRC_BYTES);
    this.view.setUint32(this.len, crc32(this.buf.subarray(0, this.len)), true);
    return Buffer.from(this.buf.buffer, 0, this.len + CRC_BYTES);
  }
}

/** Decodes one row, checking its checksum and every bound; throws `FM_STORE_CHUNK_CORRUPT` on anything else. */
export function decodeHeadLog(data: Uint8Array): DecodedHeadLog {
  if (data.length < HEADER_BYTES + CRC_BYTES) corrupt('shorter than its header', { bytes: data.length });
  const end = data.length - CRC_BYTES;
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  if (view.getUint32(end, true) !== crc32(data.subarray(0, end))) corrupt('checksum mismatch', { bytes: data.length });
  if (data[0] !== HEAD_LOG_VERSION) corrupt(`unknown version ${data[0]}`);
  const n = view.getUint32(1, true);
  let pos = HEADER_BYTES;
  const uvarint = (): number => {
    let v = 0;
    let mult = 1;
    for (let i = 0; i < MAX_VARINT_BYTES; i++) {
      if (pos >= end) corrupt('ends early', { at: pos });
      const b = data[pos++] as number;
      v += (b & 127) * mult;
      if (b < 128) return v;
      mult *= 128;
    }
    return corrupt('varint longer than 8 bytes', { at: pos });
  };
  if (n * MIN_SAMPLE_BYTES > end - pos) corrupt(`count ${n} exceeds the ${end - pos} bytes left`);
  const ids = new Float64Array(n);
  const ts = new Float64Array(n);
  const values = new Float64Array(n);
  let prev = 0;
  for (let i = 0; i < n; i++) {
    const id = uvarint();
    if (id === 0) corrupt('series id 0', { sample: i });
    const z = uvarint();
    const t = prev + (z % 2 === 0 ? z / 2 : -(z + 1) / 2);
    if (t < 0 || t > MAX_CHUNK_TS) corrupt(`timestamp ${t} out of range`, { sample: i });
    if (pos + 8 > end) corrupt('ends early', { at: pos });
    ids[i] = id;
    ts[i] = t;
    values[i] = view.getFloat64(pos, true);
    pos += 8;
    prev = t;
  }
  if (pos !== end) corrupt(`${end - pos} trailing bytes`);
  return { length: n, ids, ts, values };
}
