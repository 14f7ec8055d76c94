// Lossless compact coding of one series' chunk of samples: delta-of-delta timestamps, decimal-scaled
// integer values (or XOR'd floats), all deflated. The byte layout is documented in docs/storage.md.

import { deflateRawSync, inflateRawSync } from 'node:zlib';
import { FieldmeshError } from '../../kit/index.js';
import { MAX_SAMPLE_TIME_MS } from '../../protocol/push/index.js';

/** Format version in the high nibble of the first byte; bump it when the layout changes. */
const FORMAT_VERSION = 1;
const COMPRESSION_NONE = 0;
const COMPRESSION_DEFLATE = 1;

/** How the values of a chunk are coded (low nibble of the value header byte). */
export const VALUE_MODE = { decimalDelta: 0, decimalDeltaOfDelta: 1, xor: 2, float64: 3 } as const;
export type ValueMode = (typeof VALUE_MODE)[keyof typeof VALUE_MODE];

export interface DecodedChunk {
  /** ms since the epoch, strictly ascending. */
  readonly ts: number[];
  readonly values: number[];
}

// Scaled integers stay within ±2^50 so that delta-of-delta and its zigzag stay below 2^53 (exact).
const MAX_SCALED = 2 ** 50;
/** Timestamps stay below 2^52 ms (year 144,000) for the same reason: zigzag(delta-of-delta) < 2^53. */
export const MAX_CHUNK_TS = MAX_SAMPLE_TIME_MS;
const MAX_SCALE = 9;
const POW10 = [1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9];
// A decompressed chunk larger than this is not one we wrote (2 h at 1 kHz is ~7 MB of varints).
const MAX_RAW_BYTES = 64 * 1024 * 1024;

/** A growing byte buffer with LEB128 varints; shared with the rollup codec. */
export class ByteWriter {
  buf = new Uint8Array(256);
  len = 0;

  private ensure(extra: number): void {
    if (this.len + extra <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.len + extra) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.len));
    this.buf = next;
  }

  byte(b: number): void {
    this.ensure(1);
    this.buf[this.len++] = b;
  }

  bytes(src: Uint8Array): void {
    this.ensure(src.length);
    this.buf.set(src, this.len);
    this.len += src.length;
  }

  /** Unsigned varint of a non-negative integer up to 2^54; plain arithmetic, as bitwise ops stop at 2^31. */
  uvarint(v: number): void {
    this.ensure(8);
    while (v >= 128) {
      this.buf[this.len++] = (v % 128) + 128;
      v = Math.floor(v / 128);
    }
    this.buf[this.len++] = v;
  }

  done(): Uint8Array {
    return this.buf.subarray(0, this.len);
  }
}

function corrupt(what: string, details: Record<string, unknown> = {}, kind = 'chunk'): never {
  throw new FieldmeshError('FM_STORE_CHUNK_CORRUPT', `${kind} is corrupt: ${what}`, { details });
}

/** Bounds-checked reads; anything out of bounds throws FM_STORE_CHUNK_CORRUPT naming `kind`. */
export class ByteReader {
  pos = 0;
  constructor(
    private readonly buf: Uint8Array,
    /** What is being read, for error messages ("chunk", "rollup"). */
    readonly kind = 'chunk',
  ) {}

  /** Throws FM_STORE_CHUNK_CORRUPT: "<kind> is corrupt: <what>". */
  corrupt(what: string, details: Record<string, unknown> = {}): never {
    return corrupt(what, details, this.kind);
  }

  get remaining(): number {
    return this.buf.length - this.pos;
  }

  byte(): number {
    if (this.pos >= this.buf.length) this.corrupt('ends early', { at: this.pos });
    return this.buf[this.pos++] as number;
  }

  take(n: number): Uint8Array {
    if (this.pos + n > this.buf.length) this.corrupt('ends early', { at: this.pos });
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  uvarint(): number {
    // One byte is the common case (regular timestamps, small value deltas): no loop.
    const b0 = this.buf[this.pos];
    if (b0 !== undefined && b0 < 128) {
      this.pos++;
      return b0;
    }
    let v = 0;
    let mult = 1;
    for (let i = 0; i < 8; i++) {
      const b = this.byte();
      v += (b & 127) * mult;
      if (b < 128) return v;
      mult *= 128;
    }
    return this.corrupt('varint longer than 8 bytes', { at: this.pos });
  }
}

export const zigzag = (v: number): number => (v >= 0 ? v * 2 : -v * 2 - 1);
// Bitwise below 2^31 (almost every delta), arithmetic above, where bitwise operators would wrap.
export const unzigzag = (z: number): number => (z < 0x80000000 ? (z >>> 1) ^ -(z & 1) : z % 2 === 0 ? z / 2 : -(z + 1) / 2);

function uvarintLength(v: number): number {
  let n = 1;
  while (v >= 128) {
    v = Math.floor(v / 128);
    n++;
  }
  return n;
}

/** The smallest d in 0..9 with v === round(v·10^d)/10^d, or -1 when none (NaN, ±Inf, -0, 1/3, too large). */
export function decimalScale(v: number): number {
  if (!Number.isFinite(v) || Object.is(v, -0)) return -1;
  for (let d = 0; d <= MAX_SCALE; d++) {
    const p = POW10[d] as number;
    const m = Math.round(v * p);
    if (Math.abs(m) > MAX_SCALED) return -1;
    if (m / p === v) return d;
  }
  return -1;
}

/** Scaled integers for the whole chunk at the chunk's scale, or undefined when some value does not fit. */
function scaledIntegers(values: readonly number[]): { scale: number; ints: number[] } | undefined {
  let scale = 0;
  for (const v of values) {
    const d = decimalScale(v);
    if (d < 0) return undefined;
    if (d > scale) scale = d;
  }
  const p = POW10[scale] as number;
  const ints = new Array<number>(values.length);
  for (let i = 0; i < values.length; i++) {
    const v = values[i] as number;
    const m = Math.round(v * p);
    // A value exact at its own scale is exact at any larger one in practice; checked, never assumed.
    if (m / p !== v || Math.abs(m) > MAX_SCALED) return undefined;
    ints[i] = m;
  }
  return { scale, ints };
}

function writeDecimal(w: ByteWriter, scale: number, ints: readonly number[]): void {
  let deltaBytes = 0;
  let dodBytes = 0;
  for (let i = 1; i < ints.length; i++) {
    const d = (ints[i] as number) - (ints[i - 1] as number);
    deltaBytes += uvarintLength(zigzag(d));
    dodBytes += uvarintLength(zigzag(i === 1 ? d : d - ((ints[i - 1] as number) - (ints[i - 2] as number))));
  }
  const mode = dodBytes < deltaBytes ? VALUE_MODE.decimalDeltaOfDelta : VALUE_MODE.decimalDelta;
  w.byte((scale << 4) | mode);
  if (ints.length === 0) return;
  w.uvarint(zigzag(ints[0] as number));
  let prevDelta = 0;
  for (let i = 1; i < ints.length; i++) {
    const d = (ints[i] as number) - (ints[i - 1] as number);
    w.uvarint(zigzag(mode === VALUE_MODE.decimalDelta || i === 1 ? d : d - prevDelta));
    prevDelta = d;
  }
}

const f64 = new Float64Array(1);
const f64Bytes = new Uint8Array(f64.buffer);

function floatBytes(values: readonly number[]): Uint8Array {
  const out = new Uint8Array(values.length * 8);
  const view = new Float64Array(out.buffer);
  for (let i = 0; i < values.length; i++) view[i] = values[i] as number;
  return out;
}

/**
 * Gorilla-style XOR at byte granularity: per value one header byte (leading zero bytes << 4 | trailing
 * zero bytes of value XOR previous) and the bytes between. Bytes, not bits, because deflate runs after.
 */
function xorBytes(raw: Uint8Array): Uint8Array {
  const w = new ByteWriter();
  const prev = new Uint8Array(8);
  const x = new Uint8Array(8);
  for (let off = 0; off < raw.length; off += 8) {
    for (let j = 0; j < 8; j++) x[j] = (raw[off + j] as number) ^ (prev[j] as number);
    let lead = 0;
    while (lead < 8 && x[7 - lead] === 0) lead++;
    let trail = 0;
    if (lead < 8) while (x[trail] === 0) trail++;
    else lead = 8;
    w.byte((lead << 4) | (lead === 8 ? 0 : trail));
    if (lead < 8) w.bytes(x.subarray(trail, 8 - lead));
    prev.set(raw.subarray(off, off + 8));
  }
  return w.done();
}

/**
 * Encodes one series' samples. `ts` must be integers (ms) in [0, MAX_CHUNK_TS], strictly ascending;
 * values any float64 (NaN payloads are normalised to the canonical NaN, as JS does anyway).
 */
export function encodeChunk(ts: readonly number[], values: readonly number[]): Uint8Array {
  if (ts.length !== values.length) {
    throw new FieldmeshError('FM_STORE_SAMPLE_INVALID', `chunk has ${ts.length} timestamps but ${values.length} values`);
  }
  const w = new ByteWriter();
  w.uvarint(ts.length);
  let prev = 0;
  let prevDelta = 0;
  for (let i = 0; i < ts.length; i++) {
    const t = ts[i] as number;
    if (!Number.isSafeInteger(t) || t < 0 || t > MAX_CHUNK_TS || (i > 0 && t <= prev)) {
      throw new FieldmeshError('FM_STORE_SAMPLE_INVALID', `chunk timestamps must be ascending integer ms in [0, 2^52] (got ${t})`, {
        details: { index: i, ts: t },
      });
    }
    if (i === 0) w.uvarint(t);
    else if (i === 1) w.uvarint(t - prev);
    else w.uvarint(zigzag(t - prev - prevDelta));
    if (i > 0) prevDelta = t - prev;
    prev = t;
  }
  writeValueColumn(w, values);
  return packBody(w.done());
}

/** The value coding of a chunk (header byte, then per mode), without a count: shared with rollups. */
export function writeValueColumn(w: ByteWriter, values: readonly number[]): void {
  const scaled = scaledIntegers(values);
  if (scaled !== undefined) {
    writeDecimal(w, scaled.scale, scaled.ints);
  } else {
    const raw = floatBytes(values);
    const xored = xorBytes(raw);
    if (xored.length < raw.length) {
      w.byte(VALUE_MODE.xor);
      w.bytes(xored);
    } else {
      w.byte(VALUE_MODE.float64);
      w.bytes(raw);
    }
  }
}

/** Version and compression byte, then the body deflated when that is smaller. */
export function packBody(body: Uint8Array, version = FORMAT_VERSION): Uint8Array {
  const packed = deflateRawSync(body, { level: 9, memLevel: 9 });
  const compressed = packed.length < body.length;
  const out = new Uint8Array(1 + (compressed ? packed.length : body.length));
  out[0] = (version << 4) | (compressed ? COMPRESSION_DEFLATE : COMPRESSION_NONE);
  out.set(compressed ? packed : body, 1);
  return out;
}

/** The body of a blob written by `packBody`, inflated; throws FM_STORE_CHUNK_CORRUPT naming `kind`. */
export function unpackBody(data: Uint8Array, version = FORMAT_VERSION, kind = 'chunk'): Uint8Array {
  if (data.length < 1) corrupt('empty', {}, kind);
  const head = data[0] as number;
  if (head >> 4 !== version) corrupt(`unknown format version ${head >> 4}`, {}, kind);
  const compression = head & 15;
  if (compression === COMPRESSION_NONE) return data.subarray(1);
  if (compression === COMPRESSION_DEFLATE) {
    try {
      return inflateRawSync(data.subarray(1), { maxOutputLength: MAX_RAW_BYTES });
    } catch (err) {
      return corrupt(`deflate stream: ${(err as Error).message}`, {}, kind);
    }
  }
  return corrupt(`unknown compression ${compression}`, {}, kind);
}

/** Decodes a chunk written by `encodeChunk`; anything else throws FieldmeshError FM_STORE_CHUNK_CORRUPT. */
export function decodeChunk(data: Uint8Array): DecodedChunk {
  const r = new ByteReader(unpackBody(data));
  const n = r.uvarint();
  // Every sample costs at least one byte of timestamp, so a larger count is a lie.
  if (n > r.remaining) corrupt(`count ${n} exceeds the ${r.remaining} bytes that follow`);
  const ts = new Array<number>(n);
  let prev = 0;
  let prevDelta = 0;
  for (let i = 0; i < n; i++) {
    let t: number;
    if (i === 0) t = r.uvarint();
    else if (i === 1) t = prev + r.uvarint();
    else t = prev + prevDelta + unzigzag(r.uvarint());
    if (!Number.isSafeInteger(t) || t < 0 || t > MAX_CHUNK_TS || (i > 0 && t <= prev)) corrupt(`timestamp ${i} out of order`);
    if (i > 0) prevDelta = t - prev;
    ts[i] = t;
    prev = t;
  }
  const values = readValueColumn(r, n);
  if (r.remaining !== 0) corrupt(`${r.remaining} trailing bytes`);
  return { ts, values };
}

/** Reads `n` values written by `writeValueColumn`. */
export function readValueColumn(r: ByteReader, n: number): number[] {
  const values = new Array<number>(n);
  const vh = r.byte();
  const mode = vh & 15;
  const scale = vh >> 4;
  if (mode === VALUE_MODE.decimalDelta || mode === VALUE_MODE.decimalDeltaOfDelta) {
    if (scale > MAX_SCALE) r.corrupt(`decimal scale ${scale}`);
    const p = POW10[scale] as number;
    let m = 0;
    let d = 0;
    for (let i = 0; i < n; i++) {
      const z = unzigzag(r.uvarint());
      if (i === 0) m = z;
      else {
        d = mode === VALUE_MODE.decimalDelta || i === 1 ? z : d + z;
        m += d;
      }
      if (Math.abs(m) > MAX_SCALED) r.corrupt('scaled value out of range');
      values[i] = m / p;
    }
  } else if (mode === VALUE_MODE.xor) {
    const prevBytes = new Uint8Array(8);
    for (let i = 0; i < n; i++) {
      const h = r.byte();
      const lead = h >> 4;
      const trail = h & 15;
      if (lead > 8 || (lead < 8 && lead + trail >= 8) || (lead === 8 && trail !== 0)) r.corrupt(`xor header ${h}`);
      if (lead < 8) {
        const mid = r.take(8 - lead - trail);
        for (let j = 0; j < mid.length; j++) prevBytes[trail + j] = (prevBytes[trail + j] as number) ^ (mid[j] as number);
      }
      f64Bytes.set(prevBytes);
      values[i] = f64[0] as number;
    }
  } else if (mode === VALUE_MODE.float64) {
    for (let i = 0; i < n; i++) {
      f64Bytes.set(r.take(8));
      values[i] = f64[0] as number;
    }
  } else r.corrupt(`unknown value mode ${mode}`);
  return values;
}
