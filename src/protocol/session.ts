// Session state on both ends of a node's frame stream: the encoder that delta-codes values after a
// birth, and the decoder that resolves them and spots gaps. [FM-SESSION-1..5] in docs/protocol.md.

import { varintSize, zigzag } from './codec.js';
import {
  type BirthFrame,
  type BirthInput,
  type DataEntry,
  type DataFrame,
  dequantize,
  ENTRY_DELTA,
  ENTRY_F64,
  ENTRY_INT,
  ENTRY_NULL,
  encodeBirth,
  encodeRawData,
  quantize,
  type RawDataFrame,
  type RawEntry,
  type SampledEntry,
  type SeriesDef,
  type WireValue,
} from './frames.js';

/** Node side: numbers frames and codes each value as the shorter of a delta or an absolute. */
export class SessionEncoder {
  private seq = 0;
  private lastTime = 0;
  private decimals = new Map<number, number>();
  private lastQ = new Map<number, number | undefined>();

  constructor(readonly epoch: number) {}

  /** The sequence number the next frame will carry. */
  get nextSeq(): number {
    return this.seq;
  }

  /** [FM-SESSION-2] A birth resets every delta base to the value it announces. */
  birth(f: Omit<BirthInput, 'epoch' | 'seq'>): Uint8Array {
    this.decimals = new Map(f.series.map((s) => [s.alias, s.decimals]));
    this.lastQ = new Map(f.series.map((s) => [s.alias, s.value === null ? undefined : quantize(s.value, s.decimals)]));
    this.lastTime = f.time;
    return encodeBirth({ ...f, epoch: this.epoch, seq: this.seq++ });
  }

  /**
   * Encodes changed values sent at `sendTime`; every alias must have been announced by the last birth.
   * [FM-FRAME-6] The frame's time is the newest sample time of its entries (an entry without one was
   * sampled at `sendTime`), the send time for a heartbeat; [FM-FRAME-7] older entries follow time marks,
   * newest first, so a frame of one collection pays nothing for its sample time.
   */
  data(sendTime: number, entries: readonly DataEntry[]): Uint8Array {
    // [FM-FRAME-4] Whole milliseconds on the wire, as the store keeps them.
    const timed = entries.map((e) => ({ ...e, time: Math.round(e.time ?? sendTime) })).sort((a, b) => b.time - a.time);
    const time = timed[0]?.time ?? Math.round(sendTime);
    const raw: RawEntry[] = [];
    for (const e of timed) {
      const decimals = this.decimals.get(e.alias);
      if (decimals === undefined) throw new RangeError(`alias ${e.alias} was not announced in the birth`);
      raw.push(this.code(e.alias, e.value, decimals, time - e.time));
    }
    const timeDelta = time - this.lastTime;
    this.lastTime = time;
    return encodeRawData({ epoch: this.epoch, seq: this.seq++, timeDelta, entries: raw });
  }

  private code(alias: number, value: WireValue, decimals: number, ageMs: number): RawEntry {
    if (value === null) {
      this.lastQ.set(alias, undefined);
      return { alias, kind: ENTRY_NULL, n: 0, ageMs };
    }
    const q = quantize(value, decimals);
    const prev = this.lastQ.get(alias);
    this.lastQ.set(alias, q);
    if (q === undefined) return { alias, kind: ENTRY_F64, n: value, ageMs };
    if (prev !== undefined) {
      const delta = q - prev;
      if (Number.isSafeInteger(zigzag(delta)) && varintSize(zigzag(delta)) <= varintSize(zigzag(q))) {
        return { alias, kind: ENTRY_DELTA, n: delta, ageMs };
      }
    }
    return { alias, kind: ENTRY_INT, n: q, ageMs };
  }
}

/** What became of a data frame handed to a `SessionDecoder`. */
export type DataOutcome =
  | { readonly kind: 'applied'; readonly frame: DataFrame }
  /** No birth seen for this node yet (hub restarted, or the birth was missed). */
  | { readonly kind: 'no-session' }
  /** The frame belongs to another epoch than the current birth. */
  | { readonly kind: 'wrong-epoch'; readonly epoch: number }
  /** Older than what was already applied: a duplicate or a frame from before the birth. */
  | { readonly kind: 'stale'; readonly seq: number }
  /** Frames are missing: deltas cannot be resolved until the next birth. */
  | { readonly kind: 'gap'; readonly expected: number; readonly got: number }
  | { readonly kind: 'unknown-alias'; readonly alias: number }
  /** A delta for an alias whose previous value was not a quantised number. */
  | { readonly kind: 'bad-delta'; readonly alias: number };

interface AliasState {
  readonly def: SeriesDef;
  q: number | undefined;
  value: WireValue;
  /** When `value` was sampled, sender's clock. */
  time: number;
}

/** Receiver side: holds one node's alias table and current values, resolves deltas, detects gaps. */
export class SessionDecoder {
  private current: BirthFrame | undefined;
  private expectedSeq = 0;
  private lastTime = 0;
  private broken = false;
  private readonly aliases = new Map<number, AliasState>();

  get birth(): BirthFrame | undefined {
    return this.current;
  }

  get epoch(): number | undefined {
    return this.current?.epoch;
  }

  /** True after a gap or bad frame, until the next birth. */
  get awaitingBirth(): boolean {
    return this.current === undefined || this.broken;
  }

  series(alias: number): SeriesDef | undefined {
    return this.aliases.get(alias)?.def;
  }

  /** Latest value of every series and when it was sampled, by alias. */
  values(): Map<number, { def: SeriesDef; value: WireValue; time: number }> {
    return new Map([...this.aliases].map(([a, s]) => [a, { def: s.def, value: s.value, time: s.time }]));
  }

  applyBirth(b: BirthFrame): void {
    this.current = b;
    this.expectedSeq = b.seq + 1;
    this.lastTime = b.time;
    this.broken = false;
    this.aliases.clear();
    for (const s of b.series) {
      const q = s.value === null ? undefined : quantize(s.value, s.decimals);
      this.aliases.set(s.alias, { def: s, q, value: s.value, time: s.time ?? b.time });
    }
  }

  /** [FM-SESSION-3] Applies a frame only if it is the next in sequence; reports why not otherwise. */
  applyData(f: RawDataFrame): DataOutcome {
    if (this.current === undefined) return { kind: 'no-session' };
    if (f.epoch !== this.current.epoch) return { kind: 'wrong-epoch', epoch: f.epoch };
    if (f.seq < this.expectedSeq) return { kind: 'stale', seq: f.seq };
    if (this.broken || f.seq > this.expectedSeq) {
      this.broken = true;
      return { kind: 'gap', expected: this.expectedSeq, got: f.seq };
    }
    // Resolve against a scratch copy first, so a bad entry leaves the session as it was.
    const time = this.lastTime + f.timeDelta;
    const updates = new Map<number, { q: number | undefined; value: WireValue; time: number }>();
    const entries: SampledEntry[] = [];
    for (const e of f.entries) {
      const state = this.aliases.get(e.alias);
      if (state === undefined) {
        this.broken = true;
        return { kind: 'unknown-alias', alias: e.alias };
      }
      const prevQ = updates.has(e.alias) ? updates.get(e.alias)?.q : state.q;
      let q: number | undefined;
      let value: WireValue;
      switch (e.kind) {
        case ENTRY_DELTA:
          if (prevQ === undefined) {
            this.broken = true;
            return { kind: 'bad-delta', alias: e.alias };
          }
          q = prevQ + e.n;
          value = dequantize(q, state.def.decimals);
          break;
        case ENTRY_INT:
          q = e.n;
          value = dequantize(q, state.def.decimals);
          break;
        case ENTRY_F64:
          q = undefined;
          value = e.n;
          break;
        case ENTRY_NULL:
          q = undefined;
          value = null;
          break;
      }
      updates.set(e.alias, { q, value, time: time - e.ageMs });
      entries.push({ alias: e.alias, value, time: time - e.ageMs });
    }
    for (const [alias, u] of updates) {
      const state = this.aliases.get(alias) as AliasState;
      state.q = u.q;
      state.value = u.value;
      state.time = u.time;
    }
    this.expectedSeq = f.seq + 1;
    this.lastTime = time;
    return { kind: 'applied', frame: { type: 'data', epoch: f.epoch, seq: f.seq, time, entries } };
  }
}
