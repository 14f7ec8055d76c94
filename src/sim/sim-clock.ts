// A discrete-event clock for the simulators: timers in a heap, time jumps to the next one. Unlike
// ManualClock (which scans every pending timer per step) it stays fast with thousands of frames in flight.

import type { Clock, TimerHandle } from '../kit/index.js';

interface Timer {
  readonly due: number;
  readonly seq: number;
  readonly id: number;
  readonly fn: () => void;
}

export class SimClock implements Clock {
  readonly #startWall: number;
  #t = 0;
  #seq = 0;
  readonly #heap: Timer[] = [];
  readonly #cancelled = new Set<number>();

  /** `startWall`: what `now()` says at simulated time 0. */
  constructor(startWall: number) {
    this.#startWall = startWall;
  }

  now(): number {
    return this.#startWall + this.#t;
  }

  monotonic(): number {
    return this.#t;
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    const id = ++this.#seq;
    this.#push({ due: this.#t + Math.max(0, ms), seq: id, id, fn });
    return { id };
  }

  clearTimeout(handle: TimerHandle): void {
    this.#cancelled.add(handle.id);
  }

  /** Runs the next timer due at or before `until` (time moves to it); false when there is none. */
  step(until: number): boolean {
    for (;;) {
      const head = this.#heap[0];
      if (head === undefined || head.due > until) {
        this.#t = Math.max(this.#t, until);
        return false;
      }
      this.#pop();
      if (this.#cancelled.delete(head.id)) continue;
      this.#t = head.due;
      head.fn();
      return true;
    }
  }

  #less(a: Timer, b: Timer): boolean {
    return a.due < b.due || (a.due === b.due && a.seq < b.seq);
  }

  #push(t: Timer): void {
    const h = this.#heap;
    h.push(t);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.#less(h[i] as Timer, h[p] as Timer)) break;
      [h[i], h[p]] = [h[p] as Timer, h[i] as Timer];
      i = p;
    }
  }

  #pop(): void {
    const h = this.#heap;
    const last = h.pop();
    if (last === undefined || h.length === 0) return;
    h[0] = last;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < h.length && this.#less(h[l] as Timer, h[m] as Timer)) m = l;
      if (r < h.length && this.#less(h[r] as Timer, h[m] as Timer)) m = r;
      if (m === i) return;
      [h[i], h[m]] = [h[m] as Timer, h[i] as Timer];
      i = m;
    }
  }
}
