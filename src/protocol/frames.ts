// Protocol v1 frames: types, encoding and decoding. Clauses cited as [FM-FRAME-n] are in docs/protocol.md.

import { type BackfillFrame, readBackfill, writeBackfill } from './backfill.js';
import { ByteReader, ByteWriter, FrameError } from './codec.js';
import { type AckFrame, type HistoryFrame, readAck, readHistory, writeAck, writeHistory } from './history.js';
import { type QueryFrame, type ReplyFrame, readQuery, readReply, writeQuery, writeReply } from './node-query.js';

export const PROTOCOL_VERSION = 1;
/** [FM-FRAME-2] Largest frame a receiver accepts; a birth of about 2,000 series fits. */
export const MAX_FRAME_BYTES = 256 * 1024;
const MAX_SERIES = 65_535;
const MAX_LABELS = 64;
const MAX_EVENT_PAYLOAD_BYTES = 64 * 1024;
const MAX_DECIMALS = 9;

export const FrameType = {
  birth: 1,
  death: 2,
  data: 3,
  event: 4,
  rebirth: 5,
  hubState: 6,
  digest: 7,
  ack: 9,
  backfill: 10,
  history: 11,
  // [FM-FRAME-1] Types from 16 on go out as nibble 0 followed by the type as a varint (12 to 15 are the
  // awareness frames', so the nibble is full).
  query: 16,
  reply: 17,
} as const;
/** [FM-FRAME-1] The header nibble saying "the type follows as a varint". */
const EXTENDED_TYPE = 0;
/**
 * [FM-FRAME-1] Type 8 was the history layout before FM-DURABLE-6 (no pending bytes, no repaired
 * ranges). It is refused as `malformed`, never read as today's layout, so builds that disagree cannot
 * misread each other.
 */
const RETIRED_HISTORY_TYPE = 8;
export type FrameTypeName = keyof typeof FrameType;

export type SeriesType = 'gauge' | 'counter' | 'state';
const SERIES_TYPES: readonly SeriesType[] = ['gauge', 'counter', 'state'];

export type Deadband = { readonly kind: 'none' } | { readonly kind: 'absolute' | 'relative'; readonly value: number };
const DEADBAND_KINDS = ['none', 'absolute', 'relative'] as const;

/** A value on the wire: a finite or non-finite number, or null for "no value" (a target went away). */
export type WireValue = number | null;

/** One entry of a birth's alias table. [FM-FRAME-5] */
export interface SeriesDef {
  readonly alias: number;
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly type: SeriesType;
  /** Base unit as in Prometheus names: volts, amperes, watts, ratio, percent, celsius, "" when none. */
  readonly unit: string;
  /** Decimal digits the value is quantised to on the wire (0 to 9); values needing more go as float64. */
  readonly decimals: number;
  readonly deadband: Deadband;
  /** The longest the node stays silent about this series; a receiver may treat older values as stale. */
  readonly maxSilenceMs: number;
  /** The latest value as of the birth. */
  readonly value: WireValue;
  /**
   * When `value` was sampled (wall-clock ms; the scrape or the sample's own timestamp), so a receiver
   * stores it at that time and ages it from there. [FM-FRAME-5] Absent only where no sample exists yet.
   */
  readonly time?: number;
}

export interface BirthFrame {
  readonly type: 'birth';
  /** Session epoch: the node's boot counter, greater on every start. [FM-SESSION-1] */
  readonly epoch: number;
  /** Sequence number of this birth; data frames continue from seq + 1. */
  readonly seq: number;
  /** Wall-clock milliseconds since the Unix epoch. */
  readonly time: number;
  readonly zone: string;
  readonly agentVersion: string;
  /** The node's tick: data frames are built at most once per tick. */
  readonly tickMs: number;
  /** The longest the node stays silent: it sends an (empty) data frame at least this often. */
  readonly heartbeatMs: number;
  readonly series: readonly SeriesDef[];
  /** When the node's session (this boot) started, node clock, ms since the Unix epoch. [FM-FRAME-5] */
  readonly bootTime: number;
  /** A short stable hash of the node's effective configuration ("" when the node names none). [FM-FRAME-5] */
  readonly configVersion: string;
}

/**
 * What an encoder of births takes: the session facts may be left out by callers that have none
 * (tests, simulators): `bootTime` is then the birth's `time` and `configVersion` empty.
 */
export type BirthInput = Omit<BirthFrame, 'type' | 'bootTime' | 'configVersion'> & Partial<Pick<BirthFrame, 'bootTime' | 'configVersion'>>;

/** One value change inside a data frame. */
export interface DataEntry {
  readonly alias: number;
  readonly value: WireValue;
  /** When the value was sampled (wall-clock ms); an encoder takes the frame's time when absent. [FM-FRAME-7] */
  readonly time?: number;
}

/** A data entry as a receiver resolves it: always with the time its value was sampled. */
export interface SampledEntry extends DataEntry {
  readonly time: number;
}

export interface DataFrame {
  readonly type: 'data';
  readonly epoch: number;
  readonly seq: number;
  /** The newest sample time of the entries; the send time of a heartbeat. [FM-FRAME-6] */
  readonly time: number;
  readonly entries: readonly SampledEntry[];
}

export type EventPriority = 'low' | 'normal' | 'high' | 'critical';
export const EVENT_PRIORITIES: readonly EventPriority[] = ['low', 'normal', 'high', 'critical'];

export interface EventFrame {
  readonly type: 'event';
  readonly epoch: number;
  /** Event sequence, its own counter within the epoch. */
  readonly seq: number;
  readonly time: number;
  readonly id: string;
  readonly priority: EventPriority;
  readonly kind: string;
  /** Usually UTF-8 JSON. */
  readonly payload: Uint8Array;
}

export type DeathReason = 'lost' | 'shutdown';
const DEATH_REASONS: readonly DeathReason[] = ['lost', 'shutdown'];

export interface DeathFrame {
  readonly type: 'death';
  readonly epoch: number;
  readonly reason: DeathReason;
}

export type RebirthReason = 'unknown-node' | 'gap' | 'unknown-alias' | 'operator' | 'hub-restart';
const REBIRTH_REASONS: readonly RebirthReason[] = ['unknown-node', 'gap', 'unknown-alias', 'operator', 'hub-restart'];

export interface RebirthFrame {
  readonly type: 'rebirth';
  readonly reason: RebirthReason;
}

export interface HubStateFrame {
  readonly type: 'hubState';
  /** The hub's own boot counter; a node that sees a new one re-announces itself. */
  readonly epoch: number;
  readonly online: boolean;
  readonly time: number;
}

export type NodeStateName = 'unknown' | 'online' | 'stale' | 'offline';
export const NODE_STATES: readonly NodeStateName[] = ['unknown', 'online', 'stale', 'offline'];

export interface DigestEntry {
  /** "site/node". */
  readonly node: string;
  readonly state: NodeStateName;
  readonly lastHeardAgeMs: number;
}

export interface DigestFrame {
  readonly type: 'digest';
  readonly epoch: number;
  readonly seq: number;
  readonly time: number;
  readonly entries: readonly DigestEntry[];
}

export type Frame =
  | BirthFrame
  | DataFrame
  | EventFrame
  | DeathFrame
  | RebirthFrame
  | HubStateFrame
  | DigestFrame
  | HistoryFrame
  | AckFrame
  | BackfillFrame
  | QueryFrame
  | ReplyFrame;

export type DecodeResult = { readonly ok: true; readonly frame: Frame } | { readonly ok: false; readonly error: FrameError };

// ---------- values ----------

const VALUE_NULL = 0;
const VALUE_INT = 1;
const VALUE_F64 = 2;

/** The integer a value is on the wire at `decimals` digits, or undefined when that would lose precision. */
export function quantize(value: number, decimals: number): number | undefined {
  if (!Number.isFinite(value)) return undefined;
  const q = Math.round(value * 10 ** decimals);
  if (!Number.isSafeInteger(q) || Math.abs(q) > 2 ** 52) return undefined;
  return q / 10 ** decimals === value ? q : undefined;
}

export function dequantize(q: number, decimals: number): number {
  return q / 10 ** decimals;
}

/** Decimal digits needed to carry `value` exactly, capped at 9; used when a selector names none. */
export function inferDecimals(value: number): number {
  for (let d = 0; d <= MAX_DECIMALS; d++) if (quantize(value, d) !== undefined) return d;
  return 0;
}

function writeAbsolute(w: ByteWriter, value: WireValue, decimals: number): void {
  if (value === null) {
    w.u8(VALUE_NULL);
    return;
  }
  const q = quantize(value, decimals);
  if (q === undefined) w.u8(VALUE_F64).f64(value);
  else w.u8(VALUE_INT).svarint(q);
}

function readAbsolute(r: ByteReader, decimals: number): WireValue {
  const at = r.offset;
  const tag = r.u8('value tag');
  if (tag === VALUE_NULL) return null;
  if (tag === VALUE_INT) return dequantize(r.svarint('value'), decimals);
  if (tag === VALUE_F64) return r.f64('value');
  throw new FrameError('malformed', `unknown value tag ${tag}`, at);
}

// ---------- data entries ----------
// [FM-FRAME-7] Each entry starts with varint (alias * 4 + kind). kind 0: zigzag delta of the quantised
// value against the previous value of the alias in this session; 1: absolute quantised value;
// 2: float64; 3: null. Alias 0 is no series: header 0 is a time mark (a varint: the entries after it
// were sampled that many ms before the frame's time), headers 1 to 3 are malformed.

export const ENTRY_DELTA = 0;
export const ENTRY_INT = 1;
export const ENTRY_F64 = 2;
export const ENTRY_NULL = 3;
/** [FM-FRAME-7] The entry header that marks the sample time of the entries after it. */
const TIME_MARK = 0;

/** A data entry as coded on the wire, before the session resolves deltas. */
export interface RawEntry {
  readonly alias: number;
  readonly kind: 0 | 1 | 2 | 3;
  /** Delta or absolute quantised integer for kinds 0 and 1, the float for 2, 0 for 3. */
  readonly n: number;
  /** How long before the frame's time the value was sampled, ms (0: at the frame's time). [FM-FRAME-7] */
  readonly ageMs: number;
}

export interface RawDataFrame {
  readonly type: 'data';
  readonly epoch: number;
  readonly seq: number;
  /** Milliseconds since the previous frame of the session (birth or data); may be negative. */
  readonly timeDelta: number;
  readonly entries: readonly RawEntry[];
}

// ---------- encoding ----------

function header(w: ByteWriter, type: FrameTypeName): ByteWriter {
  const n = FrameType[type];
  return n < 16 ? w.u8((PROTOCOL_VERSION << 4) | n) : w.u8((PROTOCOL_VERSION << 4) | EXTENDED_TYPE).varint(n);
}

function checkSize(bytes: Uint8Array): Uint8Array {
  if (bytes.length > MAX_FRAME_BYTES) throw new RangeError(`frame of ${bytes.length} bytes exceeds ${MAX_FRAME_BYTES}`);
  return bytes;
}

export function encodeBirth(f: BirthInput): Uint8Array {
  const w = header(new ByteWriter(256), 'birth');
  w.varint(f.epoch).varint(f.seq).varint(f.time).string(f.zone).string(f.agentVersion);
  w.varint(f.tickMs).varint(f.heartbeatMs).varint(f.series.length);
  for (const s of f.series) {
    w.varint(s.alias).string(s.name);
    const labels = Object.entries(s.labels);
    w.varint(labels.length);
    for (const [k, v] of labels) w.string(k).string(v);
    w.u8(SERIES_TYPES.indexOf(s.type)).string(s.unit).u8(s.decimals);
    w.u8(DEADBAND_KINDS.indexOf(s.deadband.kind));
    if (s.deadband.kind !== 'none') w.f64(s.deadband.value);
    w.varint(s.maxSilenceMs);
    writeAbsolute(w, s.value, s.decimals);
  }
  w.varint(f.bootTime ?? f.time).string(f.configVersion ?? '');
  // [FM-FRAME-5] When each value was sampled, as ms before the birth's time (negative: after it).
  // [FM-FRAME-4] Whole milliseconds on the wire (a simulator's clock may be fractional).
  for (const s of f.series) w.svarint(Math.round(f.time - (s.time ?? f.time)));
  return checkSize(w.finish());
}

/** Encodes a data frame from already delta-coded entries (see `SessionEncoder`). */
export function encodeRawData(f: Omit<RawDataFrame, 'type'>): Uint8Array {
  const w = header(new ByteWriter(32), 'data');
  w.varint(f.epoch).varint(f.seq).svarint(f.timeDelta);
  let ageMs = 0;
  for (const e of f.entries) {
    if (e.alias < 1) throw new RangeError(`alias ${e.alias}: aliases start at 1`);
    if (e.ageMs !== ageMs) {
      if (!Number.isSafeInteger(e.ageMs) || e.ageMs < 0) throw new RangeError(`sample age ${e.ageMs} ms: not a whole number of ms from 0`);
      w.varint(TIME_MARK).varint(e.ageMs);
      ageMs = e.ageMs;
    }
    w.varint(e.alias * 4 + e.kind);
    if (e.kind === ENTRY_DELTA || e.kind === ENTRY_INT) w.svarint(e.n);
    else if (e.kind === ENTRY_F64) w.f64(e.n);
  }
  return checkSize(w.finish());
}

export function encodeEvent(f: Omit<EventFrame, 'type'>): Uint8Array {
  const w = header(new ByteWriter(64 + f.payload.length), 'event');
  w.varint(f.epoch).varint(f.seq).varint(f.time).u8(EVENT_PRIORITIES.indexOf(f.priority));
  w.string(f.id).string(f.kind).bytes(f.payload);
  return checkSize(w.finish());
}

export function encodeDeath(f: Omit<DeathFrame, 'type'>): Uint8Array {
  return header(new ByteWriter(8), 'death').varint(f.epoch).u8(DEATH_REASONS.indexOf(f.reason)).finish();
}

export function encodeRebirth(f: Omit<RebirthFrame, 'type'>): Uint8Array {
  return header(new ByteWriter(4), 'rebirth').u8(REBIRTH_REASONS.indexOf(f.reason)).finish();
}

export function encodeHubState(f: Omit<HubStateFrame, 'type'>): Uint8Array {
  return header(new ByteWriter(16), 'hubState')
    .varint(f.epoch)
    .u8(f.online ? 1 : 0)
    .varint(f.time)
    .finish();
}

/** [FM-DURABLE-2] A history frame; throws RangeError when times do not ascend within a series. */
export function encodeHistory(f: Omit<HistoryFrame, 'type'>): Uint8Array {
  const w = header(new ByteWriter(256), 'history');
  writeHistory(w, f);
  return checkSize(w.finish());
}

/** [FM-DURABLE-3] */
export function encodeAck(f: Omit<AckFrame, 'type'>): Uint8Array {
  const w = header(new ByteWriter(16), 'ack');
  writeAck(w, f);
  return w.finish();
}

/** [FM-DURABLE-6] A backfill request; throws RangeError for an empty id or a backwards range. */
export function encodeBackfill(f: Omit<BackfillFrame, 'type'>): Uint8Array {
  const w = header(new ByteWriter(64), 'backfill');
  writeBackfill(w, f);
  return checkSize(w.finish());
}

/** [FM-QUERY-1] A query request; throws RangeError for an empty id or too many parameters. */
export function encodeQuery(f: Omit<QueryFrame, 'type'>): Uint8Array {
  const w = header(new ByteWriter(128), 'query');
  writeQuery(w, f);
  return checkSize(w.finish());
}

/** [FM-QUERY-2] A reply; throws RangeError for an empty id or a body above MAX_REPLY_BODY_BYTES. */
export function encodeReply(f: Omit<ReplyFrame, 'type'>): Uint8Array {
  const w = header(new ByteWriter(64 + f.body.length), 'reply');
  writeReply(w, f);
  return checkSize(w.finish());
}

export function encodeDigest(f: Omit<DigestFrame, 'type'>): Uint8Array {
  const w = header(new ByteWriter(64), 'digest');
  w.varint(f.epoch).varint(f.seq).varint(f.time).varint(f.entries.length);
  for (const e of f.entries) w.string(e.node).u8(NODE_STATES.indexOf(e.state)).varint(e.lastHeardAgeMs);
  return checkSize(w.finish());
}

// ---------- decoding ----------

function pick<T>(list: readonly T[], index: number, what: string, at: number): T {
  const v = list[index];
  if (v === undefined) throw new FrameError('malformed', `unknown ${what} ${index}`, at);
  return v;
}

function readEnum<T>(r: ByteReader, list: readonly T[], what: string): T {
  const at = r.offset;
  return pick(list, r.u8(what), what, at);
}

function decodeBirth(r: ByteReader): BirthFrame {
  const epoch = r.varint('epoch');
  const seq = r.varint('seq');
  const time = r.varint('time');
  const zone = r.string('zone', 64);
  const agentVersion = r.string('agent version', 64);
  const tickMs = r.varint('tick');
  const heartbeatMs = r.varint('heartbeat');
  const countAt = r.offset;
  const count = r.varint('series count');
  if (count > MAX_SERIES) throw new FrameError('malformed', `birth announces ${count} series`, countAt);
  const series: SeriesDef[] = [];
  const aliases = new Set<number>();
  for (let i = 0; i < count; i++) {
    const aliasAt = r.offset;
    const alias = r.varint('alias');
    if (aliases.has(alias)) throw new FrameError('malformed', `alias ${alias} defined twice`, aliasAt);
    aliases.add(alias);
    const name = r.string('series name', 256);
    const labelsAt = r.offset;
    const labelCount = r.varint('label count');
    if (labelCount > MAX_LABELS) throw new FrameError('malformed', `series has ${labelCount} labels`, labelsAt);
    const labels: Record<string, string> = {};
    for (let j = 0; j < labelCount; j++) labels[r.string('label name', 128)] = r.string('label value', 1024);
    const type = readEnum(r, SERIES_TYPES, 'series type');
    const unit = r.string('unit', 32);
    const decimalsAt = r.offset;
    const decimals = r.u8('decimals');
    if (decimals > MAX_DECIMALS) throw new FrameError('malformed', `decimals ${decimals} above ${MAX_DECIMALS}`, decimalsAt);
    const kind = readEnum(r, DEADBAND_KINDS, 'deadband kind');
    const deadband: Deadband = kind === 'none' ? { kind } : { kind, value: r.f64('deadband') };
    const maxSilenceMs = r.varint('max silence');
    const value = readAbsolute(r, decimals);
    series.push({ alias, name, labels, type, unit, decimals, deadband, maxSilenceMs, value });
  }
  // A birth of a build before these fields ends here: refused with a reason, never misread.
  if (r.remaining === 0)
    throw new FrameError('truncated', 'birth without boot time and config version (the sender runs an older build)', r.offset);
  const bootTime = r.varint('boot time');
  const configVersion = r.string('config version', 64);
  if (r.remaining === 0 && series.length > 0)
    throw new FrameError('truncated', 'birth without sample times (the sender runs an older build)', r.offset);
  const timed = series.map((s) => ({ ...s, time: time - r.svarint('sample age') }));
  return { type: 'birth', epoch, seq, time, zone, agentVersion, tickMs, heartbeatMs, series: timed, bootTime, configVersion };
}

function decodeRawData(r: ByteReader): RawDataFrame {
  const epoch = r.varint('epoch');
  const seq = r.varint('seq');
  const timeDelta = r.svarint('time delta');
  const entries: RawEntry[] = [];
  let ageMs = 0;
  while (r.remaining > 0) {
    const headAt = r.offset;
    const head = r.varint('entry header');
    if (head === TIME_MARK) {
      ageMs = r.varint('sample age');
      continue;
    }
    const alias = Math.floor(head / 4);
    if (alias === 0) throw new FrameError('malformed', `entry header ${head}: alias 0 is reserved`, headAt);
    const kind = (head % 4) as RawEntry['kind'];
    let n = 0;
    if (kind === ENTRY_DELTA || kind === ENTRY_INT) n = r.svarint('entry value');
    else if (kind === ENTRY_F64) n = r.f64('entry value');
    entries.push({ alias, kind, n, ageMs });
  }
  return { type: 'data', epoch, seq, timeDelta, entries };
}

function decodeEvent(r: ByteReader): EventFrame {
  const epoch = r.varint('epoch');
  const seq = r.varint('seq');
  const time = r.varint('time');
  const priority = readEnum(r, EVENT_PRIORITIES, 'priority');
  const id = r.string('event id', 128);
  const kind = r.string('event kind', 128);
  const payload = r.bytes('event payload', MAX_EVENT_PAYLOAD_BYTES).slice();
  return { type: 'event', epoch, seq, time, id, priority, kind, payload };
}

function decodeDigest(r: ByteReader): DigestFrame {
  const epoch = r.varint('epoch');
  const seq = r.varint('seq');
  const time = r.varint('time');
  const countAt = r.offset;
  const count = r.varint('entry count');
  if (count > MAX_SERIES) throw new FrameError('malformed', `digest announces ${count} entries`, countAt);
  const entries: DigestEntry[] = [];
  for (let i = 0; i < count; i++) {
    entries.push({ node: r.string('node', 160), state: readEnum(r, NODE_STATES, 'node state'), lastHeardAgeMs: r.varint('age') });
  }
  return { type: 'digest', epoch, seq, time, entries };
}

/** Decoded frame with data frames left raw (deltas unresolved); sessions resolve them. */
export type WireFrame = Exclude<Frame, DataFrame> | RawDataFrame;

function expectEnd(r: ByteReader): void {
  if (r.remaining !== 0) throw new FrameError('malformed', `${r.remaining} trailing bytes`, r.offset);
}

/**
 * Decodes one frame. Never throws: a bad frame comes back as `{ok: false, error}` with the reason and
 * byte offset, so receivers count it and carry on. [FM-FRAME-1] [FM-FRAME-2] [FM-FRAME-3]
 */
export function decodeWireFrame(bytes: Uint8Array): { ok: true; frame: WireFrame } | { ok: false; error: FrameError } {
  try {
    if (bytes.length > MAX_FRAME_BYTES) {
      throw new FrameError('oversized', `frame of ${bytes.length} bytes exceeds ${MAX_FRAME_BYTES}`, MAX_FRAME_BYTES);
    }
    const r = new ByteReader(bytes);
    const first = r.u8('frame header');
    const version = first >> 4;
    if (version !== PROTOCOL_VERSION)
      throw new FrameError('version', `protocol version ${version}, this build speaks ${PROTOCOL_VERSION}`, 0);
    let frame: WireFrame;
    const nibble = first & 0x0f;
    const typeAt = r.offset;
    const type = nibble === EXTENDED_TYPE ? r.varint('frame type') : nibble;
    if (nibble === EXTENDED_TYPE && type < 16) throw new FrameError('malformed', `extended frame type ${type} below 16`, typeAt);
    switch (type) {
      case FrameType.birth:
        frame = decodeBirth(r);
        break;
      case FrameType.death:
        frame = { type: 'death', epoch: r.varint('epoch'), reason: readEnum(r, DEATH_REASONS, 'death reason') };
        break;
      case FrameType.data:
        frame = decodeRawData(r);
        break;
      case FrameType.event:
        frame = decodeEvent(r);
        break;
      case FrameType.rebirth:
        frame = { type: 'rebirth', reason: readEnum(r, REBIRTH_REASONS, 'rebirth reason') };
        break;
      case FrameType.hubState:
        frame = { type: 'hubState', epoch: r.varint('epoch'), online: r.u8('online') === 1, time: r.varint('time') };
        break;
      case FrameType.history:
        frame = readHistory(r);
        break;
      case FrameType.ack:
        frame = readAck(r);
        break;
      case FrameType.backfill:
        frame = readBackfill(r);
        break;
      case FrameType.query:
        frame = readQuery(r);
        break;
      case FrameType.reply:
        frame = readReply(r);
        break;
      case RETIRED_HISTORY_TYPE:
        throw new FrameError('malformed', 'history frame of the layout before FM-DURABLE-6 (type 8): the sender runs an older build', 0);
      case FrameType.digest:
        frame = decodeDigest(r);
        break;
      default:
        throw new FrameError('malformed', `unknown frame type ${type}`, 0);
    }
    expectEnd(r);
    return { ok: true, frame };
  } catch (err) {
    if (err instanceof FrameError) return { ok: false, error: err };
    return { ok: false, error: new FrameError('malformed', String(err), 0) };
  }
}
