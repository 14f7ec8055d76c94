// Zone frames: detections, votes, epochs, pump states, operator commands and acknowledgements of a
// zone on the wire, in the extended frame types 18 to 23. Decoding never throws. [FM-ZONE-FRAME-1..9] in
// docs/protocol.md.

import { ByteReader, ByteWriter, FrameError } from '../codec.js';
import { PROTOCOL_VERSION, quantize } from '../frames.js';
import type { Detection, Vote } from './types.js';
import { MAX_VOTE_EVIDENCE } from './votes.js';
import {
  isSignedZoneFrame,
  openSignedZoneFrame,
  ZONE_KEY_ID_BYTES,
  ZONE_SIGNATURE_OVERHEAD_BYTES,
  type ZoneFrameSignature,
} from './zone-signature.js';

/**
 * [FM-ZONE-FRAME-1] Frame types of the zone family, sent as nibble 0 and a varint type (frames.ts holds
 * 1 to 11, 16 and 17; awareness.ts 12 to 15).
 */
export const ZoneFrameType = { detection: 18, vote: 19, epoch: 20, pumpState: 21, command: 22, held: 23 } as const;
export type ZoneFrameTypeName = keyof typeof ZoneFrameType;

/** [FM-ZONE-FRAME-1] The largest zone frame a receiver accepts (a vote with 32 long evidence ids fits). */
export const MAX_ZONE_FRAME_BYTES = 8 * 1024;
/** The most detection keys one `held` frame carries. */
export const MAX_HELD_KEYS = 1_024;

const MAX_ID_BYTES = 64;
const MAX_NODE_BYTES = 160;
const MAX_DETECTION_ID_BYTES = 128;
/** Decimal digits a confidence or box coordinate is carried at before it goes as float64. */
const DECIMALS = 4;

export type EpochReason = 'elect' | 'adopted';
export const EPOCH_REASONS: readonly EpochReason[] = ['elect', 'adopted'];
export type ZonePumpState = 'running' | 'stopped' | 'estop' | 'fault';
export const ZONE_PUMP_STATES: readonly ZonePumpState[] = ['running', 'stopped', 'estop', 'fault'];
export type ZonePumpAction = 'start' | 'stop' | 'estop' | 'clear' | 'test';
export const ZONE_PUMP_ACTIONS: readonly ZonePumpAction[] = ['start', 'stop', 'estop', 'clear', 'test'];

/** A detection shared with the zone's members; `epoch` is the sender's epoch of the zone. [FM-ZONE-FRAME-3] */
export interface DetectionFrame {
  readonly type: 'detection';
  readonly zone: string;
  readonly epoch: number;
  readonly detection: Detection;
}

/** A voter's vote; the zone and epoch are the vote's. [FM-ZONE-FRAME-4] */
export interface VoteFrame {
  readonly type: 'vote';
  readonly vote: Vote;
}

/** A zone's epoch: `elect` when an operator's election made it, `adopted` when `by` took it from another. [FM-ZONE-FRAME-5] */
export interface EpochFrame {
  readonly type: 'epoch';
  readonly zone: string;
  readonly epoch: number;
  /** The node (or operator, for `elect`) that says so. */
  readonly by: string;
  readonly reason: EpochReason;
}

/** A pump's state as its owner reports it, on change. [FM-ZONE-FRAME-6] */
export interface PumpStateFrame {
  readonly type: 'pumpState';
  readonly zone: string;
  readonly pump: string;
  readonly state: ZonePumpState;
  /** Why it is in that state: an `ActuationCause` when running, the actuator's stop reason otherwise ("" none). */
  readonly cause: string;
  readonly epoch: number;
  /** When the state began, the owner's clock, ms. */
  readonly since: number;
  /** Runtime of the current (or last) run, ms, carried across restarts. */
  readonly runtimeMs: number;
  /** When the certificate the pump runs on lapses, absent when none. */
  readonly leaseUntil?: number;
}

/** An operator's command to a pump, carried to the pump's owner. [FM-ZONE-FRAME-7] */
export interface CommandFrame {
  readonly type: 'command';
  readonly zone: string;
  readonly pump: string;
  readonly action: ZonePumpAction;
  /** The zone's epoch as the sender knew it; the owner refuses a command of an older epoch than its own. */
  readonly epoch: number;
  /** Unique per command (1 to 64 bytes): the owner executes each id once and audits it. */
  readonly id: string;
  /** The operator (user or API token) who gave it. */
  readonly by: string;
  /** When the operator gave it, the sender's clock, ms. */
  readonly time: number;
}

/** Detections the sender holds, as 32-bit keys, so their producers stop repeating them. [FM-ZONE-FRAME-8] */
export interface HeldFrame {
  readonly type: 'held';
  readonly zone: string;
  readonly epoch: number;
  readonly keys: readonly number[];
}

export type ZoneFrame = DetectionFrame | VoteFrame | EpochFrame | PumpStateFrame | CommandFrame | HeldFrame;

/**
 * A decoded zone frame; `signature` when it came signed ([FM-ZONE-SIGN-1]): whether that signature holds is the
 * receiver's to check (`verifyZoneFrameSignature`), decoding only opens the envelope.
 */
export type ZoneDecodeResult =
  | { readonly ok: true; readonly frame: ZoneFrame; readonly signature?: ZoneFrameSignature }
  | { readonly ok: false; readonly error: FrameError };

// ---------- encoding ----------

const utf8 = new TextEncoder();
const utf8Decoder = new TextDecoder('utf-8', { fatal: true });

function text(w: ByteWriter, value: string, max: number, what: string, min = 0): void {
  const bytes = utf8.encode(value);
  if (bytes.length < min || bytes.length > max) throw new RangeError(`${what} of ${bytes.length} bytes is outside ${min}..${max}`);
  w.bytes(bytes);
}

/** [FM-FRAME-4] Whole milliseconds on the wire. */
function time(w: ByteWriter, ms: number): void {
  w.varint(Math.round(ms));
}

/**
 * [FM-ZONE-FRAME-2] varint u: u >= 1 is (u - 1) / 10^4, 0 is followed by a float64 (negative, -0, NaN,
 * infinite, or more than 4 decimals).
 */
function decimal(w: ByteWriter, value: number): void {
  const q = value >= 0 && !Object.is(value, -0) ? quantize(value, DECIMALS) : undefined;
  if (q === undefined) w.varint(0).f64(value);
  else w.varint(q + 1);
}

const HEX = /^(?:[0-9a-f]{2})+$/;

/**
 * [FM-ZONE-FRAME-4] A configuration hash: varint h; h odd: (h - 1) / 2 raw bytes, the hash being their
 * lowercase hex (what `zoneConfigHash` gives: 8 bytes for 16 digits); h even: h / 2 bytes of UTF-8.
 */
function hash(w: ByteWriter, value: string): void {
  if (value.length > 2 * MAX_ID_BYTES) throw new RangeError(`config hash of ${value.length} characters`);
  if (HEX.test(value)) {
    w.varint(value.length + 1);
    for (let i = 0; i < value.length; i += 2) w.u8(Number.parseInt(value.slice(i, i + 2), 16));
  } else {
    const bytes = utf8.encode(value);
    if (bytes.length > MAX_ID_BYTES) throw new RangeError(`config hash of ${bytes.length} bytes`);
    w.varint(bytes.length * 2);
    for (const b of bytes) w.u8(b);
  }
}

function index<T>(list: readonly T[], value: T, what: string): number {
  const i = list.indexOf(value);
  if (i < 0) throw new RangeError(`unknown ${what} ${String(value)}`);
  return i;
}

function writeBody(w: ByteWriter, f: ZoneFrame): void {
  switch (f.type) {
    case 'detection': {
      const d = f.detection;
      if (!(d.confidence >= 0 && d.confidence <= 1)) throw new RangeError(`confidence ${d.confidence} is not in 0..1`);
      text(w, f.zone, MAX_ID_BYTES, 'zone');
      w.varint(f.epoch);
      text(w, d.id, MAX_DETECTION_ID_BYTES, 'detection id', 1);
      text(w, d.camera, MAX_ID_BYTES, 'camera');
      text(w, d.node, MAX_NODE_BYTES, 'node');
      text(w, d.class, MAX_ID_BYTES, 'class');
      decimal(w, d.confidence);
      time(w, d.time);
      if (d.box === undefined) w.u8(0);
      else {
        w.u8(1);
        for (const v of d.box) decimal(w, v);
      }
      return;
    }
    case 'vote': {
      const v = f.vote;
      if (v.evidence.length > MAX_VOTE_EVIDENCE) throw new RangeError(`${v.evidence.length} evidence ids, more than ${MAX_VOTE_EVIDENCE}`);
      text(w, v.zone, MAX_ID_BYTES, 'zone');
      w.varint(v.epoch);
      text(w, v.voter, MAX_NODE_BYTES, 'voter');
      hash(w, v.configHash);
      w.varint(v.boot).varint(v.seq);
      time(w, v.time);
      w.varint(v.ttlMs).varint(v.evidence.length);
      for (const id of v.evidence) text(w, id, MAX_DETECTION_ID_BYTES, 'evidence id');
      return;
    }
    case 'epoch':
      text(w, f.zone, MAX_ID_BYTES, 'zone');
      w.varint(f.epoch);
      text(w, f.by, MAX_NODE_BYTES, 'by');
      w.u8(index(EPOCH_REASONS, f.reason, 'epoch reason'));
      return;
    case 'pumpState':
      text(w, f.zone, MAX_ID_BYTES, 'zone');
      text(w, f.pump, MAX_ID_BYTES, 'pump');
      w.u8(index(ZONE_PUMP_STATES, f.state, 'pump state'));
      text(w, f.cause, MAX_ID_BYTES, 'cause');
      w.varint(f.epoch);
      time(w, f.since);
      w.varint(Math.round(f.runtimeMs));
      // [FM-ZONE-FRAME-6] 0: no lease; n: the lease ends at n - 1.
      w.varint(f.leaseUntil === undefined ? 0 : Math.round(f.leaseUntil) + 1);
      return;
    case 'command':
      text(w, f.zone, MAX_ID_BYTES, 'zone');
      text(w, f.pump, MAX_ID_BYTES, 'pump');
      w.u8(index(ZONE_PUMP_ACTIONS, f.action, 'pump action'));
      w.varint(f.epoch);
      text(w, f.id, MAX_ID_BYTES, 'command id', 1);
      text(w, f.by, MAX_NODE_BYTES, 'by');
      time(w, f.time);
      return;
    case 'held':
      if (f.keys.length > MAX_HELD_KEYS) throw new RangeError(`${f.keys.length} held keys, more than ${MAX_HELD_KEYS}`);
      text(w, f.zone, MAX_ID_BYTES, 'zone');
      w.varint(f.epoch).varint(f.keys.length);
      for (const k of f.keys) {
        if (!Number.isInteger(k) || k < 0 || k > 0xffffffff) throw new RangeError(`held key ${k} is not a 32-bit unsigned integer`);
        w.u8(k >>> 24)
          .u8(k >>> 16)
          .u8(k >>> 8)
          .u8(k);
      }
      return;
  }
}

/**
 * Encodes a zone frame. Throws RangeError for a value the layout cannot carry (a negative or fractional
 * counter, a string over its limit, a confidence outside 0..1, more than 32 evidence ids), so a frame
 * that leaves always decodes.
 */
export function encodeZoneFrame(f: ZoneFrame): Uint8Array {
  const w = new ByteWriter(64);
  w.u8(PROTOCOL_VERSION << 4).varint(ZoneFrameType[f.type]);
  writeBody(w, f);
  const bytes = w.finish();
  if (bytes.length > MAX_ZONE_FRAME_BYTES) throw new RangeError(`zone frame of ${bytes.length} bytes exceeds ${MAX_ZONE_FRAME_BYTES}`);
  return bytes;
}

// ---------- decoding ----------

function readDecimal(r: ByteReader, what: string): number {
  const u = r.varint(what);
  return u === 0 ? r.f64(what) : (u - 1) / 10 ** DECIMALS;
}

function readHash(r: ByteReader): string {
  const at = r.offset;
  const h = r.varint('config hash length');
  const n = h % 2 === 1 ? (h - 1) / 2 : h / 2;
  if (n > MAX_ID_BYTES) throw new FrameError('malformed', `config hash of ${n} bytes`, at);
  if (n > r.remaining) throw new FrameError('truncated', `config hash announces ${n} bytes, ${r.remaining} left`, at);
  const bytes: number[] = [];
  for (let i = 0; i < n; i++) bytes.push(r.u8('config hash'));
  if (h % 2 === 1) {
    if (n === 0) throw new FrameError('malformed', 'an empty config hash goes as text', at);
    return bytes.map((b) => b.toString(16).padStart(2, '0')).join('');
  }
  let text: string;
  try {
    text = utf8Decoder.decode(Uint8Array.from(bytes));
  } catch {
    throw new FrameError('malformed', 'config hash is not valid UTF-8', at);
  }
  if (HEX.test(text)) throw new FrameError('malformed', 'a hex config hash goes as raw bytes', at);
  return text;
}

function readEnum<T>(r: ByteReader, list: readonly T[], what: string): T {
  const at = r.offset;
  const i = r.u8(what);
  const v = list[i];
  if (v === undefined) throw new FrameError('malformed', `unknown ${what} ${i}`, at);
  return v;
}

function readText(r: ByteReader, what: string, max: number, min = 0): string {
  const at = r.offset;
  const s = r.string(what, max);
  if (utf8.encode(s).length < min) throw new FrameError('malformed', `empty ${what}`, at);
  return s;
}

function readDetection(r: ByteReader): DetectionFrame {
  const zone = readText(r, 'zone', MAX_ID_BYTES);
  const epoch = r.varint('epoch');
  const id = readText(r, 'detection id', MAX_DETECTION_ID_BYTES, 1);
  const camera = readText(r, 'camera', MAX_ID_BYTES);
  const node = readText(r, 'node', MAX_NODE_BYTES);
  const cls = readText(r, 'class', MAX_ID_BYTES);
  const confidenceAt = r.offset;
  const confidence = readDecimal(r, 'confidence');
  if (!(confidence >= 0 && confidence <= 1)) throw new FrameError('malformed', `confidence ${confidence} is not in 0..1`, confidenceAt);
  const at = r.varint('time');
  const boxAt = r.offset;
  const hasBox = r.u8('box flag');
  if (hasBox > 1) throw new FrameError('malformed', `box flag ${hasBox}`, boxAt);
  const detection: Detection =
    hasBox === 1
      ? {
          id,
          camera,
          node,
          class: cls,
          confidence,
          time: at,
          box: [readDecimal(r, 'box x'), readDecimal(r, 'box y'), readDecimal(r, 'box width'), readDecimal(r, 'box height')],
        }
      : { id, camera, node, class: cls, confidence, time: at };
  return { type: 'detection', zone, epoch, detection };
}

function readVote(r: ByteReader): VoteFrame {
  const zone = readText(r, 'zone', MAX_ID_BYTES);
  const epoch = r.varint('epoch');
  const voter = readText(r, 'voter', MAX_NODE_BYTES);
  const configHash = readHash(r);
  const boot = r.varint('boot');
  const seq = r.varint('seq');
  const time = r.varint('time');
  const ttlMs = r.varint('ttl');
  const countAt = r.offset;
  const count = r.varint('evidence count');
  if (count > MAX_VOTE_EVIDENCE) throw new FrameError('malformed', `${count} evidence ids, more than ${MAX_VOTE_EVIDENCE}`, countAt);
  const evidence: string[] = [];
  for (let i = 0; i < count; i++) evidence.push(readText(r, 'evidence id', MAX_DETECTION_ID_BYTES));
  return { type: 'vote', vote: { zone, epoch, voter, configHash, boot, seq, time, ttlMs, evidence } };
}

function readPumpState(r: ByteReader): PumpStateFrame {
  const zone = readText(r, 'zone', MAX_ID_BYTES);
  const pump = readText(r, 'pump', MAX_ID_BYTES);
  const state = readEnum(r, ZONE_PUMP_STATES, 'pump state');
  const cause = readText(r, 'cause', MAX_ID_BYTES);
  const epoch = r.varint('epoch');
  const since = r.varint('since');
  const runtimeMs = r.varint('runtime');
  const lease = r.varint('lease');
  const base = { type: 'pumpState' as const, zone, pump, state, cause, epoch, since, runtimeMs };
  return lease === 0 ? base : { ...base, leaseUntil: lease - 1 };
}

function readCommand(r: ByteReader): CommandFrame {
  const zone = readText(r, 'zone', MAX_ID_BYTES);
  const pump = readText(r, 'pump', MAX_ID_BYTES);
  const action = readEnum(r, ZONE_PUMP_ACTIONS, 'pump action');
  const epoch = r.varint('epoch');
  const id = readText(r, 'command id', MAX_ID_BYTES, 1);
  const by = readText(r, 'by', MAX_NODE_BYTES);
  return { type: 'command', zone, pump, action, epoch, id, by, time: r.varint('time') };
}

function readHeld(r: ByteReader): HeldFrame {
  const zone = readText(r, 'zone', MAX_ID_BYTES);
  const epoch = r.varint('epoch');
  const countAt = r.offset;
  const count = r.varint('key count');
  if (count > MAX_HELD_KEYS) throw new FrameError('malformed', `${count} held keys, more than ${MAX_HELD_KEYS}`, countAt);
  if (count * 4 > r.remaining) throw new FrameError('truncated', `${count} held keys announced, ${r.remaining} bytes left`, countAt);
  const keys: number[] = [];
  for (let i = 0; i < count; i++) keys.push(((r.u8('key') << 24) | (r.u8('key') << 16) | (r.u8('key') << 8) | r.u8('key')) >>> 0);
  return { type: 'held', zone, epoch, keys };
}

/** The zone frame type named by a frame's header, without decoding it; undefined for any other frame. */
export function zoneFrameTypeOf(bytes: Uint8Array): ZoneFrameTypeName | undefined {
  if (bytes.length < 2 || bytes[0] !== PROTOCOL_VERSION << 4) return undefined;
  const type = bytes[1] as number;
  for (const [name, n] of Object.entries(ZoneFrameType)) if (n === type) return name as ZoneFrameTypeName;
  return undefined;
}

/**
 * Decodes one zone frame. Never throws: a bad frame comes back with its reason and byte offset, so a
 * receiver counts it and carries on. [FM-ZONE-FRAME-1] [FM-FRAME-3]
 */
export function decodeZoneFrame(bytes: Uint8Array): ZoneDecodeResult {
  // [FM-ZONE-SIGN-1] A signed frame decodes as the frame it carries, with its signature beside it.
  if (isSignedZoneFrame(bytes)) {
    if (bytes.length > MAX_ZONE_FRAME_BYTES + ZONE_SIGNATURE_OVERHEAD_BYTES)
      return { ok: false, error: new FrameError('oversized', `signed zone frame of ${bytes.length} bytes`, MAX_ZONE_FRAME_BYTES) };
    const opened = openSignedZoneFrame(bytes);
    if (!opened.ok) return opened;
    const at = 2 + ZONE_KEY_ID_BYTES;
    const inner = decodeZoneFrame(opened.opened.frame);
    if (!inner.ok) {
      const e = inner.error;
      return {
        ok: false,
        error: new FrameError(e.reason, `signed zone frame: ${e.message.replace(/ \(at byte \d+\)$/, '')}`, at + e.offset),
      };
    }
    if (inner.signature !== undefined) return { ok: false, error: new FrameError('malformed', 'a signed frame inside a signed frame', at) };
    return { ok: true, frame: inner.frame, signature: opened.opened.signature };
  }
  try {
    if (bytes.length > MAX_ZONE_FRAME_BYTES)
      throw new FrameError('oversized', `zone frame of ${bytes.length} bytes exceeds ${MAX_ZONE_FRAME_BYTES}`, MAX_ZONE_FRAME_BYTES);
    const r = new ByteReader(bytes);
    const first = r.u8('frame header');
    if (first >> 4 !== PROTOCOL_VERSION)
      throw new FrameError('version', `protocol version ${first >> 4}, this build speaks ${PROTOCOL_VERSION}`, 0);
    if ((first & 0x0f) !== 0) throw new FrameError('malformed', `frame type ${first & 0x0f} is not a zone frame`, 0);
    const typeAt = r.offset;
    const type = r.varint('frame type');
    let frame: ZoneFrame;
    switch (type) {
      case ZoneFrameType.detection:
        frame = readDetection(r);
        break;
      case ZoneFrameType.vote:
        frame = readVote(r);
        break;
      case ZoneFrameType.epoch:
        frame = {
          type: 'epoch',
          zone: readText(r, 'zone', MAX_ID_BYTES),
          epoch: r.varint('epoch'),
          by: readText(r, 'by', MAX_NODE_BYTES),
          reason: readEnum(r, EPOCH_REASONS, 'epoch reason'),
        };
        break;
      case ZoneFrameType.pumpState:
        frame = readPumpState(r);
        break;
      case ZoneFrameType.command:
        frame = readCommand(r);
        break;
      case ZoneFrameType.held:
        frame = readHeld(r);
        break;
      default:
        throw new FrameError('malformed', `frame type ${type} is not a zone frame`, typeAt);
    }
    if (r.remaining !== 0) throw new FrameError('malformed', `${r.remaining} trailing bytes`, r.offset);
    return { ok: true, frame };
  } catch (err) {
    if (err instanceof FrameError) return { ok: false, error: err };
    return { ok: false, error: new FrameError('malformed', String(err), 0) };
  }
}
