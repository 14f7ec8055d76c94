// Awareness frames: what nodes broadcast to each other on a shared segment (UDP) and what the MQTT
// aggregator bundles into its fleet digest. Self-contained and loss-tolerant: a pulse carries absolute
// quantised values, so losing one costs nothing but freshness; an announce carries the node's birth.
// [FM-AWARE-1..6] in docs/protocol.md.

import { ByteReader, ByteWriter, FrameError, unzigzag, zigzag } from './codec.js';
import { type BirthFrame, decodeWireFrame, encodeBirth, PROTOCOL_VERSION, quantize, type WireValue } from './frames.js';

/** Frame type nibbles of the awareness family; 1 to 11 are the broker frames of frames.ts and history.ts. */
export const AwarenessType = { pulse: 12, announce: 13, want: 14, leave: 15 } as const;
export type AwarenessTypeName = keyof typeof AwarenessType;

/** Hops a frame may still travel; relays decrement it and drop at zero. [FM-AWARE-4] */
export const MAX_HOPS = 7;
/** Pulse sequence numbers wrap at 2^14 so they take at most two bytes. */
export const SEQ_MODULO = 16_384;
/** Sessions are told apart by the low five bits of the epoch. */
export const SESSION_MODULO = 32;
/** The largest alias a presence bitmap can name; larger ones go as a list. */
const MAX_BITMAP_ALIAS = 48;
const MAX_PULSE_ENTRIES = 4_096;
const MAX_ORIGINS = 1_024;
export const MAX_AWARENESS_FRAME_BYTES = 64 * 1024;

/** Fields every awareness frame starts with (after its type byte). */
export interface AwarenessHeader {
  /** 16-bit id of the sending node, derived from "site/node" (see `originIdOf`) unless configured. */
  readonly origin: number;
  /** Hops left; the sender sets the awareness radius, each relay takes one. */
  readonly hops: number;
  /** The sender's epoch modulo 32: a pulse of another session is not read against a stale announce. */
  readonly session: number;
  /** The sender's frame counter modulo 2^14; with origin and session, the key relays dedup by. */
  readonly seq: number;
}

/** One value of a pulse, raw: `q` is the quantised integer at the series' decimals. */
export type PulseValue =
  | { readonly kind: 'null' }
  | { readonly kind: 'int'; readonly q: number }
  | { readonly kind: 'f64'; readonly v: number };

export interface PulseEntry {
  readonly alias: number;
  readonly value: PulseValue;
}

export interface PulseFrame extends AwarenessHeader {
  readonly type: 'pulse';
  /** Series that moved beyond their deadband or reached their max silence; none is a heartbeat. */
  readonly entries: readonly PulseEntry[];
  /** Origins this node suspects of having failed (its own detector's view), for confirmation. */
  readonly suspects: readonly number[];
}

export interface AnnounceFrame extends AwarenessHeader {
  readonly type: 'announce';
  readonly site: string;
  readonly node: string;
  /** The node's birth: epoch, zone, tick, max silence, alias table with decimals and current values. */
  readonly birth: BirthFrame;
}

export interface WantFrame extends AwarenessHeader {
  readonly type: 'want';
  /** Origins whose announce the sender lacks (it heard pulses of a session it has no announce for). */
  readonly origins: readonly number[];
}

export interface LeaveFrame extends AwarenessHeader {
  readonly type: 'leave';
}

export type AwarenessFrame = PulseFrame | AnnounceFrame | WantFrame | LeaveFrame;

/** FNV-1a over "site/node", folded to 16 bits; `salt` > 0 picks another id after a collision. */
export function originIdOf(site: string, node: string, salt = 0): number {
  let h = 0x811c9dc5;
  const text = salt === 0 ? `${site}/${node}` : `${site}/${node}#${salt}`;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return ((h >>> 16) ^ h) & 0xffff;
}

/** The raw form of a value at `decimals` digits: an integer when exact, float64 otherwise. */
export function pulseValueOf(value: WireValue, decimals: number): PulseValue {
  if (value === null || Number.isNaN(value)) return { kind: 'null' };
  const q = quantize(value, decimals);
  return q === undefined ? { kind: 'f64', v: value } : { kind: 'int', q };
}

export function wireValueOf(value: PulseValue, decimals: number): WireValue {
  if (value.kind === 'null') return null;
  if (value.kind === 'f64') return value.v;
  return value.q / 10 ** decimals;
}

// ---------- encoding ----------

function writeHeader(w: ByteWriter, type: AwarenessTypeName, h: AwarenessHeader): ByteWriter {
  if (!Number.isInteger(h.origin) || h.origin < 0 || h.origin > 0xffff) throw new RangeError(`origin ${h.origin} is not a 16-bit id`);
  if (!Number.isInteger(h.hops) || h.hops < 0 || h.hops > MAX_HOPS) throw new RangeError(`hops ${h.hops} outside 0..${MAX_HOPS}`);
  w.u8((PROTOCOL_VERSION << 4) | AwarenessType[type]);
  w.u8(h.origin >> 8).u8(h.origin & 0xff);
  w.u8((h.hops << 5) | (h.session % SESSION_MODULO));
  return w.varint(h.seq % SEQ_MODULO);
}

// [FM-AWARE-2] A value is one varint u: 0 is null, 1 is followed by a float64, u >= 2 is the quantised
// integer zigzag(q) + 2. Readings of sensors quantised to their resolution take one or two bytes.
function writeValue(w: ByteWriter, value: PulseValue): void {
  if (value.kind === 'null') w.varint(0);
  else if (value.kind === 'f64') w.varint(1).f64(value.v);
  else w.varint(zigzag(value.q) + 2);
}

function readValue(r: ByteReader): PulseValue {
  const u = r.varint('value');
  if (u === 0) return { kind: 'null' };
  if (u === 1) return { kind: 'f64', v: r.f64('value') };
  return { kind: 'int', q: unzigzag(u - 2) };
}

function writeOrigins(w: ByteWriter, origins: readonly number[]): void {
  w.varint(origins.length);
  for (const o of origins) w.u8(o >> 8).u8(o & 0xff);
}

function readOrigins(r: ByteReader, what: string): number[] {
  const at = r.offset;
  const count = r.varint(`${what} count`);
  if (count > MAX_ORIGINS) throw new FrameError('malformed', `${count} ${what}`, at);
  const out: number[] = [];
  for (let i = 0; i < count; i++) out.push((r.u8(what) << 8) | r.u8(what));
  return out;
}

/**
 * [FM-AWARE-2] Pulse body: one varint `head`; bit 0 set means the aliases follow as a count and gaps,
 * clear means `head >> 2` is a presence bitmap (bit i: alias i); bit 1 means a suspects list follows the
 * values. Then one value per present alias, ascending.
 */
export function encodePulse(f: Omit<PulseFrame, 'type'>): Uint8Array {
  const w = writeHeader(new ByteWriter(24), 'pulse', f);
  const entries = [...f.entries].sort((a, b) => a.alias - b.alias);
  for (let i = 1; i < entries.length; i++) {
    if ((entries[i] as PulseEntry).alias === (entries[i - 1] as PulseEntry).alias) throw new RangeError('alias twice in one pulse');
  }
  const suspects = f.suspects.length > 0 ? 2 : 0;
  const maxAlias = entries.length === 0 ? -1 : (entries[entries.length - 1] as PulseEntry).alias;
  if (maxAlias <= MAX_BITMAP_ALIAS) {
    let bitmap = 0;
    for (const e of entries) bitmap += 2 ** e.alias;
    w.varint(bitmap * 4 + suspects);
  } else {
    w.varint(entries.length * 4 + suspects + 1);
    let previous = -1;
    for (const e of entries) {
      w.varint(e.alias - previous - 1);
      previous = e.alias;
    }
  }
  for (const e of entries) writeValue(w, e.value);
  if (suspects) writeOrigins(w, f.suspects);
  return w.finish();
}

export function encodeAnnounce(f: Omit<AnnounceFrame, 'type'>): Uint8Array {
  const w = writeHeader(new ByteWriter(256), 'announce', f);
  const { type: _, ...birth } = f.birth;
  return w.string(f.site).string(f.node).bytes(encodeBirth(birth)).finish();
}

export function encodeWant(f: Omit<WantFrame, 'type'>): Uint8Array {
  const w = writeHeader(new ByteWriter(16), 'want', f);
  writeOrigins(w, f.origins);
  return w.finish();
}

export function encodeLeave(f: Omit<LeaveFrame, 'type'>): Uint8Array {
  return writeHeader(new ByteWriter(8), 'leave', f).finish();
}

/** The frame with its hops-left field replaced: what a relay forwards (a copy, one byte changed). */
export function withHops(bytes: Uint8Array, hops: number): Uint8Array {
  const out = Uint8Array.from(bytes);
  out[3] = (hops << 5) | ((out[3] as number) & 0x1f);
  return out;
}

// ---------- decoding ----------

function decodePulseBody(r: ByteReader, h: AwarenessHeader): PulseFrame {
  const headAt = r.offset;
  const head = r.varint('pulse head');
  const aliases: number[] = [];
  if (head % 2 === 0) {
    let bitmap = Math.floor(head / 4);
    if (bitmap >= 2 ** (MAX_BITMAP_ALIAS + 1)) throw new FrameError('malformed', 'presence bitmap names an alias above 48', headAt);
    for (let a = 0; bitmap > 0; a++, bitmap = Math.floor(bitmap / 2)) if (bitmap % 2 === 1) aliases.push(a);
  } else {
    const count = Math.floor(head / 4);
    if (count > MAX_PULSE_ENTRIES) throw new FrameError('malformed', `pulse announces ${count} entries`, headAt);
    let previous = -1;
    for (let i = 0; i < count; i++) {
      previous += r.varint('alias gap') + 1;
      aliases.push(previous);
    }
  }
  const entries = aliases.map((alias) => ({ alias, value: readValue(r) }));
  const suspects = Math.floor(head / 2) % 2 === 1 ? readOrigins(r, 'suspects') : [];
  return { type: 'pulse', ...h, entries, suspects };
}

function decodeAnnounceBody(r: ByteReader, h: AwarenessHeader): AnnounceFrame {
  const site = r.string('site', 128);
  const node = r.string('node', 128);
  const birthAt = r.offset;
  const bytes = r.bytes('birth', MAX_AWARENESS_FRAME_BYTES);
  const inner = decodeWireFrame(bytes);
  if (!inner.ok) {
    const birthStart = r.offset - bytes.length;
    throw new FrameError(inner.error.reason, `birth inside announce: ${inner.error.message}`, birthStart + inner.error.offset);
  }
  if (inner.frame.type !== 'birth') throw new FrameError('malformed', `announce carries a ${inner.frame.type} frame, not a birth`, birthAt);
  return { type: 'announce', ...h, site, node, birth: inner.frame };
}

/**
 * Decodes one awareness frame. Never throws: a bad frame comes back with its reason and byte offset, so
 * a receiver counts it and carries on. [FM-AWARE-1]
 */
export function decodeAwarenessFrame(bytes: Uint8Array): { ok: true; frame: AwarenessFrame } | { ok: false; error: FrameError } {
  try {
    if (bytes.length > MAX_AWARENESS_FRAME_BYTES) {
      throw new FrameError('oversized', `frame of ${bytes.length} bytes exceeds ${MAX_AWARENESS_FRAME_BYTES}`, MAX_AWARENESS_FRAME_BYTES);
    }
    const r = new ByteReader(bytes);
    const first = r.u8('frame header');
    if (first >> 4 !== PROTOCOL_VERSION)
      throw new FrameError('version', `protocol version ${first >> 4}, this build speaks ${PROTOCOL_VERSION}`, 0);
    const origin = (r.u8('origin') << 8) | r.u8('origin');
    const hopsSession = r.u8('hops');
    const seqAt = r.offset;
    const seq = r.varint('seq');
    if (seq >= SEQ_MODULO) throw new FrameError('malformed', `seq ${seq} is not below ${SEQ_MODULO}`, seqAt);
    const h: AwarenessHeader = { origin, hops: hopsSession >> 5, session: hopsSession & 0x1f, seq };
    let frame: AwarenessFrame;
    switch (first & 0x0f) {
      case AwarenessType.pulse:
        frame = decodePulseBody(r, h);
        break;
      case AwarenessType.announce:
        frame = decodeAnnounceBody(r, h);
        break;
      case AwarenessType.want:
        frame = { type: 'want', ...h, origins: readOrigins(r, 'origins') };
        break;
      case AwarenessType.leave:
        frame = { type: 'leave', ...h };
        break;
      default:
        throw new FrameError('malformed', `frame type ${first & 0x0f} is not an awareness frame`, 0);
    }
    if (r.remaining !== 0) throw new FrameError('malformed', `${r.remaining} trailing bytes`, r.offset);
    return { ok: true, frame };
  } catch (err) {
    if (err instanceof FrameError) return { ok: false, error: err };
    return { ok: false, error: new FrameError('malformed', String(err), 0) };
  }
}

/** The dedup key of a frame: relays forward each (origin, session, type, seq) at most once. [FM-AWARE-4] */
export function awarenessKey(f: AwarenessHeader & { readonly type: AwarenessTypeName }): number {
  return ((f.origin * SESSION_MODULO + f.session) * 4 + (AwarenessType[f.type] - AwarenessType.pulse)) * SEQ_MODULO + f.seq;
}

// ---------- bundles ----------
// [FM-AWARE-5] The MQTT aggregator's digest: the awareness frames it heard in one tick, each prefixed
// by its length as a varint. Receivers unpack it and read each frame as if heard on a shared segment.

const MAX_BUNDLE_FRAMES = 65_535;

export function encodeBundle(frames: readonly Uint8Array[]): Uint8Array {
  const w = new ByteWriter(frames.reduce((n, f) => n + f.length + 2, 1));
  for (const f of frames) w.bytes(f);
  return w.finish();
}

/** The frames of a bundle; a malformed bundle yields the frames before the fault and the error. */
export function decodeBundle(bytes: Uint8Array): { frames: Uint8Array[]; error?: FrameError } {
  const r = new ByteReader(bytes);
  const frames: Uint8Array[] = [];
  try {
    while (r.remaining > 0) {
      if (frames.length >= MAX_BUNDLE_FRAMES)
        throw new FrameError('oversized', `bundle holds more than ${MAX_BUNDLE_FRAMES} frames`, r.offset);
      frames.push(r.bytes('bundled frame', MAX_AWARENESS_FRAME_BYTES));
    }
    return { frames };
  } catch (err) {
    return { frames, error: err instanceof FrameError ? err : new FrameError('malformed', String(err), r.offset) };
  }
}
