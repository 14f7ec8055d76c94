// The in-memory head of one series: its samples not yet compacted into chunks, ascending by time, one
// per timestamp (a later write of a timestamp replaces the value). Rebuilt from head_log at open.

const INITIAL_CAPACITY = 16;

export class SeriesHead {
  private ts = new Float64Array(INITIAL_CAPACITY);
  private vs = new Float64Array(INITIAL_CAPACITY);
  /** Samples held. */
  length = 0;

  /** Oldest time held, or undefined when empty. */
  get firstTs(): number | undefined {
    return this.length === 0 ? undefined : this.ts[0];
  }

  /** Newest time held, or undefined when empty. */
  get lastTs(): number | undefined {
    return this.length === 0 ? undefined : this.ts[this.length - 1];
  }

  timeAt(i: number): number {
    return this.ts[i] as number;
  }

  valueAt(i: number): number {
    return this.vs[i] as number;
  }

  private resize(capacity: number): void {
    const ts = new Float64Array(capacity);
    const vs = new Float64Array(capacity);
    ts.set(this.ts.subarray(0, this.length));
    vs.set(this.vs.subarray(0, this.length));
    this.ts = ts;
    this.vs = vs;
  }

  /** Sets the value at `t`; returns 1 when `t` is new to the head, 0 when it replaced a value. */
  set(t: number, v: number): 0 | 1 {
    const n = this.length;
    // Appends in time order are the common case: no search, no move.
    if (n === 0 || t > (this.ts[n - 1] as number)) {
      if (n === this.ts.length) this.resize(n * 2);
      this.ts[n] = t;
      this.vs[n] = v;
      this.length = n + 1;
      return 1;
    }
    const i = this.lowerBound(t);
    if (this.ts[i] === t) {
      this.vs[i] = v;
      return 0;
    }
    // A late sample: shift the newer ones up by one (O(n), rare).
    if (n === this.ts.length) this.resize(n * 2);
    this.ts.copyWithin(i + 1, i, n);
    this.vs.copyWithin(i + 1, i, n);
    this.ts[i] = t;
    this.vs[i] = v;
    this.length = n + 1;
    return 1;
  }

  /** Index of the first sample with time >= t (`length` when none). */
  lowerBound(t: number): number {
    let lo = 0;
    let hi = this.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.ts[mid] as number) < t) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** The value at exactly `t`, or undefined. */
  get(t: number): number | undefined {
    const i = this.lowerBound(t);
    return i < this.length && this.ts[i] === t ? this.vs[i] : undefined;
  }

  /** [ms, value] pairs within [startMs, endMs], ascending. */
  points(startMs: number, endMs: number): [number, number][] {
    const out: [number, number][] = [];
    for (let i = this.lowerBound(startMs); i < this.length && (this.ts[i] as number) <= endMs; i++) {
      out.push([this.ts[i] as number, this.vs[i] as number]);
    }
    return out;
  }

  /** Whether any sample lies within [startMs, endMs]. */
  has(startMs: number, endMs: number): boolean {
    const i = this.lowerBound(startMs);
    return i < this.length && (this.ts[i] as number) <= endMs;
  }

  /** Drops the `k` oldest samples. */
  dropFirst(k: number): void {
    if (k <= 0) return;
    const n = this.length;
    this.ts.copyWithin(0, k, n);
    this.vs.copyWithin(0, k, n);
    this.length = n - k;
    // Give memory back after a compaction emptied most of a head that had grown large.
    if (this.ts.length > INITIAL_CAPACITY && this.length < this.ts.length / 4) {
      this.resize(Math.max(INITIAL_CAPACITY, 2 ** Math.ceil(Math.log2(this.length * 2 || 1))));
    }
  }
}
