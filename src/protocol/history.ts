// History and ack frames of the durable plane: self-contained batches of samples from a node's
// outbox, and the hub's acknowledgement of exactly the outbox range it committed.
// [FM-DURABLE-1..6] in docs/protocol.md; design in docs/decisions/0001-durable-plane.md.

import { MAX_BACKFILL_ID_BYTES } from './backfill.js';
import { type ByteReader, type ByteWriter, FrameError, zigzag } from './codec.js';
import { inferDecimals, quantize, type SeriesType } from './frames.js';

const SERIES_TYPES: readonly SeriesType[] = ['gauge', 'counter', 'state'];

/** Values of a series block are quantised integers at `decimals` digits, or raw float64 when 255. */
const FLOAT_VALUES = 255;
const MAX_HISTORY_SERIES = 65_535;
const MAX_HISTORY_SAMPLES = 1_000_000;
const MAX_DROPPED_RANGES = 1_024;
const MAX_REPAIRED_RANGES = 1_024;

export interface HistorySeries {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly type: SeriesType;
  /** Base unit, "" when none. */
  readonly unit: string;
  /** [ms since the Unix epoch, value], ascending by time. */
  readonly samples: ReadonlyArray<readonly [number, number]>;
}

/** A time range of samples the node deleted unsent (outbox at its disk cap), for the hub's ledger. */
export interface DroppedRange {
  readonly fromMs: number;
  readonly toMs: number;
  readonly rows: number;
}

/** A backfill request the node finished: it read the range and the hub acknowledged every row it sent. [FM-DURABLE-6] */
export interface RepairedRange {
  /** The request's id, as the backfill frame carried it. */
  readonly requestId: string;
  /** The request's range, as the backfill frame carried it. */
  readonly fromMs: number;
  readonly toMs: number;
}

export interface HistoryFrame {
  readonly type: 'history';
  /** The node's boot counter when it sent the frame (informational: outbox seqs survive boots). */
  readonly epoch: number;
  /** The node's zone, so the hub labels history the same whether or not it has seen a birth. */
  readonly zone: string;
  /** The outbox rows this frame carries: every seq in [firstSeq, lastSeq] that was not dropped. */
  readonly firstSeq: number;
  readonly lastSeq: number;
  /** Outbox rows still pending after this frame, and the time of the oldest of them (null if none). */
  readonly pendingRows: number;
  readonly oldestPendingMs: number | null;
  /**
   * What the pending rows will cost on the wire, bytes: an estimate (the node multiplies pendingRows by
   * the bytes per row of the history frames it sent last). [FM-DURABLE-2]
   */
  readonly pendingBytes: number;
  readonly dropped: readonly DroppedRange[];
  /** Backfill requests finished since the last acknowledged report. [FM-DURABLE-6] */
  readonly repaired: readonly RepairedRange[];
  readonly series: readonly HistorySeries[];
}

export type AckLane = 'events' | 'samples';
export const ACK_LANES: readonly AckLane[] = ['events', 'samples'];

export interface AckFrame {
  readonly type: 'ack';
  readonly lane: AckLane;
  /** The outbox range the hub committed; the node deletes exactly these rows. */
  readonly firstSeq: number;
  readonly lastSeq: number;
}

function valueDecimals(samples: HistorySeries['samples']): number {
  let decimals = 0;
  for (const [, v] of samples) {
    if (!Number.isFinite(v) || Object.is(v, -0)) return FLOAT_VALUES;
    decimals = Math.max(decimals, inferDecimals(v));
  }
  // Every value must be exact at the common scale, and every delta must zigzag into a safe integer.
  let prev = 0;
  for (const [, v] of samples) {
    const q = quantize(v, decimals);
    if (q === undefined || !Number.isSafeInteger(zigzag(q - prev))) return FLOAT_VALUES;
    prev = q;
  }
  return decimals;
}

/** Writes a history frame's body (after the header byte). [FM-DURABLE-2] */
export function writeHistory(w: ByteWriter, f: Omit<HistoryFrame, 'type'>): void {
  w.varint(f.epoch)
    .string(f.zone)
    .varint(f.firstSeq)
    .varint(f.lastSeq)
    .varint(f.pendingRows)
    .varint(f.oldestPendingMs ?? 0)
    .varint(f.pendingBytes);
  w.varint(f.dropped.length);
  for (const d of f.dropped) w.varint(d.fromMs).varint(d.toMs).varint(d.rows);
  w.varint(f.repaired.length);
  for (const r of f.repaired) {
    if (r.requestId === '' || r.toMs < r.fromMs) throw new RangeError(`repaired range ${r.requestId} ${r.fromMs}..${r.toMs}`);
    w.string(r.requestId).varint(r.fromMs).varint(r.toMs);
  }
  w.varint(f.series.length);
  for (const s of f.series) {
    if (s.samples.length === 0) throw new RangeError(`history series ${s.name} has no samples`);
    w.string(s.name);
    const labels = Object.entries(s.labels);
    w.varint(labels.length);
    for (const [k, v] of labels) w.string(k).string(v);
    w.u8(SERIES_TYPES.indexOf(s.type)).string(s.unit);
    const decimals = valueDecimals(s.samples);
    w.u8(decimals).varint(s.samples.length);
    let prevT = 0;
    let prevDelta = 0;
    s.samples.forEach(([t], i) => {
      if (i === 0) w.varint(t);
      else {
        const delta = t - prevT;
        if (delta <= 0) throw new RangeError(`history series ${s.name}: times must ascend`);
        w.svarint(delta - prevDelta);
        prevDelta = delta;
      }
      prevT = t;
    });
    let prevQ = 0;
    for (const [, v] of s.samples) {
      if (decimals === FLOAT_VALUES) w.f64(v);
      else {
        const q = quantize(v, decimals) as number;
        w.svarint(q - prevQ);
        prevQ = q;
      }
    }
  }
}

export function readHistory(r: ByteReader): HistoryFrame {
  const epoch = r.varint('epoch');
  const zone = r.string('zone', 64);
  const firstAt = r.offset;
  const firstSeq = r.varint('first seq');
  const lastSeq = r.varint('last seq');
  if (lastSeq < firstSeq) throw new FrameError('malformed', `seq range ${firstSeq}..${lastSeq} runs backwards`, firstAt);
  const pendingRows = r.varint('pending rows');
  const oldest = r.varint('oldest pending');
  const pendingBytes = r.varint('pending bytes');
  const droppedAt = r.offset;
  const droppedCount = r.varint('dropped count');
  if (droppedCount > MAX_DROPPED_RANGES) throw new FrameError('malformed', `${droppedCount} dropped ranges`, droppedAt);
  const dropped: DroppedRange[] = [];
  for (let i = 0; i < droppedCount; i++)
    dropped.push({ fromMs: r.varint('dropped from'), toMs: r.varint('dropped to'), rows: r.varint('dropped rows') });
  const repairedAt = r.offset;
  const repairedCount = r.varint('repaired count');
  if (repairedCount > MAX_REPAIRED_RANGES) throw new FrameError('malformed', `${repairedCount} repaired ranges`, repairedAt);
  const repaired: RepairedRange[] = [];
  for (let i = 0; i < repairedCount; i++) {
    const idAt = r.offset;
    const requestId = r.string('repaired request id', MAX_BACKFILL_ID_BYTES);
    if (requestId === '') throw new FrameError('malformed', 'repaired request id is empty', idAt);
    const fromAt = r.offset;
    const fromMs = r.varint('repaired from');
    const toMs = r.varint('repaired to');
    if (toMs < fromMs) throw new FrameError('malformed', `repaired range ${fromMs}..${toMs} runs backwards`, fromAt);
    repaired.push({ requestId, fromMs, toMs });
  }
  const countAt = r.offset;
  const count = r.varint('series count');
  if (count > MAX_HISTORY_SERIES) throw new FrameError('malformed', `history announces ${count} series`, countAt);
  const series: HistorySeries[] = [];
  let total = 0;
  for (let i = 0; i < count; i++) {
    const name = r.string('series name', 256);
    const labelCount = r.varint('label count');
    if (labelCount > 64) throw new FrameError('malformed', `series has ${labelCount} labels`, r.offset);
    const labels: Record<string, string> = {};
    for (let j = 0; j < labelCount; j++) labels[r.string('label name', 128)] = r.string('label value', 1024);
    const typeAt = r.offset;
    const type = SERIES_TYPES[r.u8('series type')];
    if (type === undefined) throw new FrameError('malformed', 'unknown series type', typeAt);
    const unit = r.string('unit', 32);
    const decimalsAt = r.offset;
    const decimals = r.u8('decimals');
    if (decimals > 9 && decimals !== FLOAT_VALUES) throw new FrameError('malformed', `decimals ${decimals}`, decimalsAt);
    const nAt = r.offset;
    const n = r.varint('sample count');
    total += n;
    if (n === 0 || total > MAX_HISTORY_SAMPLES) throw new FrameError('malformed', `series block of ${n} samples`, nAt);
    const times: number[] = [];
    let t = 0;
    let delta = 0;
    for (let k = 0; k < n; k++) {
      const at = r.offset;
      if (k === 0) t = r.varint('time');
      else {
        delta += r.svarint('time delta-of-delta');
        if (delta <= 0) throw new FrameError('malformed', 'history times must ascend', at);
        t += delta;
      }
      if (!Number.isSafeInteger(t)) throw new FrameError('malformed', 'history time out of range', at);
      times.push(t);
    }
    const samples: Array<readonly [number, number]> = [];
    let q = 0;
    for (let k = 0; k < n; k++) {
      if (decimals === FLOAT_VALUES) samples.push([times[k] as number, r.f64('value')]);
      else {
        q += r.svarint('value delta');
        samples.push([times[k] as number, q / 10 ** decimals]);
      }
    }
    series.push({ name, labels, type, unit, samples });
  }
  return {
    type: 'history',
    epoch,
    zone,
    firstSeq,
    lastSeq,
    pendingRows,
    oldestPendingMs: oldest === 0 ? null : oldest,
    pendingBytes,
    dropped,
    repaired,
    series,
  };
}

export function writeAck(w: ByteWriter, f: Omit<AckFrame, 'type'>): void {
  w.u8(ACK_LANES.indexOf(f.lane)).varint(f.firstSeq).varint(f.lastSeq);
}

export function readAck(r: ByteReader): AckFrame {
  const laneAt = r.offset;
  const lane = ACK_LANES[r.u8('lane')];
  if (lane === undefined) throw new FrameError('malformed', 'unknown ack lane', laneAt);
  const firstAt = r.offset;
  const firstSeq = r.varint('first seq');
  const lastSeq = r.varint('last seq');
  if (lastSeq < firstSeq) throw new FrameError('malformed', `ack range ${firstSeq}..${lastSeq} runs backwards`, firstAt);
  return { type: 'ack', lane, firstSeq, lastSeq };
}
