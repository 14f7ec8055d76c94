// Byte-level reading and writing for frames: LEB128 varints, zigzag, strings, float64.
// The reader never throws anything but FrameError, and never reads past its buffer.

import { FieldmeshError } from '../kit/index.js';

/** Why a frame was rejected; the hub and agent count rejections by this reason. */
export type FrameRejectReason = 'truncated' | 'malformed' | 'oversized' | 'version';

const CODE_BY_REASON = {
  truncated: 'FM_FRAME_TRUNCATED',
  malformed: 'FM_FRAME_MALFORMED',
  oversized: 'FM_FRAME_OVERSIZED',
  version: 'FM_FRAME_VERSION',
} as const;

/** A frame that could not be decoded; `offset` is the byte where decoding stopped. */
export class FrameError extends FieldmeshError {
  readonly reason: FrameRejectReason;
  readonly offset: number;

  constructor(reason: FrameRejectReason, message: string, offset: number) {
    super(CODE_BY_REASON[reason], `${message} (at byte ${offset})`, { details: { reason, offset } });
    this.name = 'FrameError';
    this.reason = reason;
    this.offset = offset;
  }
}

const MAX_SAFE = Number.MAX_SAFE_INTEGER;
const utf8Decoder = new TextDecoder('utf-8', { fatal: true });
const utf8Encoder = new TextEncoder();

export function zigzag(n: number): number {
  return n >= 0 ? n * 2 : -n * 2 - 1;
}

export function unzigzag(z: number): number {
  return z % 2 === 0 ? z / 2 : -(z + 1) / 2;
}

/** Bytes a varint of `n` takes. */
export function varintSize(n: number): number {
  let size = 1;
  let v = n;
  while (v >= 128) {
    v = Math.floor(v / 128);
    size++;
  }
  return size;
}

export class ByteWriter {
  private buf: Uint8Array;
  private view: DataView;
  private len = 0;

  constructor(initialSize = 64) {
    this.buf = new Uint8Array(initialSize);
    this.view = new DataView(this.buf.buffer);
  }

  private reserve(extra: number): void {
    if (this.len + extra <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.len + extra) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.len));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }

  u8(v: number): this {
    this.reserve(1);
    this.buf[this.len++] = v & 0xff;
    return this;
  }

  /** Unsigned LEB128 of a non-negative safe integer. */
  varint(n: number): this {
    if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`varint out of range: ${n}`);
    let v = n;
    this.reserve(8);
    while (v >= 128) {
      this.buf[this.len++] = (v % 128) | 0x80;
      v = Math.floor(v / 128);
    }
    this.buf[this.len++] = v;
    return this;
  }

  svarint(n: number): this {
    return this.varint(zigzag(n));
  }

  f64(v: number): this {
    this.reserve(8);
    this.view.setFloat64(this.len, v, true);
    this.len += 8;
    return this;
  }

  bytes(b: Uint8Array): this {
    this.varint(b.length);
    this.reserve(b.length);
    this.buf.set(b, this.len);
    this.len += b.length;
    return this;
  }

  string(s: string): this {
    return this.bytes(utf8Encoder.encode(s));
  }

  finish(): Uint8Array {
    return this.buf.slice(0, this.len);
  }
}

export class ByteReader {
  private pos = 0;
  private readonly view: DataView;

  constructor(private readonly buf: Uint8Array) {
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }

  get offset(): number {
    return this.pos;
  }

  get remaining(): number {
    return this.buf.length - this.pos;
  }

  u8(what: string): number {
    if (this.pos >= this.buf.length) throw new FrameError('truncated', `missing ${what}`, this.pos);
    return this.buf[this.pos++] as number;
  }

  varint(what: string): number {
    const start = this.pos;
    let result = 0;
    let mul = 1;
    for (let i = 0; i < 8; i++) {
      if (this.pos >= this.buf.length) throw new FrameError('truncated', `${what} varint cut short`, start);
      const b = this.buf[this.pos++] as number;
      result += (b & 0x7f) * mul;
      if ((b & 0x80) === 0) {
        if (result > MAX_SAFE) throw new FrameError('malformed', `${what} exceeds 2^53`, start);
        if (i > 0 && b === 0) throw new FrameError('malformed', `${what} varint is not minimal`, start);
        return result;
      }
      mul *= 128;
    }
    throw new FrameError('malformed', `${what} varint longer than 8 bytes`, start);
  }

  svarint(what: string): number {
    return unzigzag(this.varint(what));
  }

  f64(what: string): number {
    if (this.remaining < 8) throw new FrameError('truncated', `${what} float64 cut short`, this.pos);
    const v = this.view.getFloat64(this.pos, true);
    this.pos += 8;
    return v;
  }

  bytes(what: string, max: number): Uint8Array {
    const start = this.pos;
    const len = this.varint(`${what} length`);
    if (len > max) throw new FrameError('malformed', `${what} is ${len} bytes, more than ${max}`, start);
    if (len > this.remaining) throw new FrameError('truncated', `${what} announces ${len} bytes, ${this.remaining} left`, start);
    const out = this.buf.subarray(this.pos, this.pos + len);
    this.pos += len;
    return out;
  }

  string(what: string, max = 1024): string {
    const start = this.pos;
    const raw = this.bytes(what, max);
    try {
      return utf8Decoder.decode(raw);
    } catch {
      throw new FrameError('malformed', `${what} is not valid UTF-8`, start);
    }
  }
}
