// Relay: what a node does with an awareness frame it heard in a multi-hop mesh. Delivers each frame once,
// forwards a first-seen frame one hop further while it has hops left, and forgets what it saw after a window.
// Pure logic, no I/O: the caller decodes the frame and sends what `consider` returns. [FM-AWARE-4]

import { type Clock, systemClock } from '../kit/index.js';
import { type AwarenessHeader, type AwarenessTypeName, awarenessKey, withHops } from '../protocol/index.js';

/**
 * How long a frame's key is remembered. Copies of one flood arrive within a few link latencies of each other
 * (at most MAX_HOPS = 7 hops); a minute is generous for that, and far below the time a sender needs to wrap
 * its 14-bit seq (16,384 frames of one type: 4.5 h at one per second; a sender of more than 273 frames of one
 * type per second would wrap inside the window and see new frames taken for duplicates).
 */
export const RELAY_DEDUP_WINDOW_MS = 60_000;
/**
 * Keys remembered at most: 1,000 nodes at about one frame per second for the 60 s window, rounded up to a
 * power of two. About 5 MB at worst (a Map entry of a number key and value is some 80 bytes in V8).
 */
export const RELAY_MAX_ENTRIES = 65_536;

export interface RelayOptions {
  /** This node's 16-bit origin id: frames of this origin are never delivered nor forwarded. */
  readonly self: number;
  /** Default `RELAY_DEDUP_WINDOW_MS`. */
  readonly dedupWindowMs?: number;
  /** Default `RELAY_MAX_ENTRIES`; beyond it the oldest key is forgotten first. */
  readonly maxEntries?: number;
  /** Read (`monotonic`) when `consider` is not given the time. Default the system clock. */
  readonly clock?: Clock;
}

/** What to do with one heard frame. */
export interface RelayVerdict {
  /** First time this node hears the frame, and it is not its own: hand it to the fleet view. */
  readonly deliver: boolean;
  /** The copy to send on, hops-left one lower; undefined when the frame is not to be forwarded. */
  readonly forward: Uint8Array | undefined;
}

export interface RelayStats {
  /** Frames heard for the first time and delivered. */
  readonly delivered: number;
  /** Copies of a frame already delivered (another neighbour's forward, an echo): dropped. */
  readonly duplicates: number;
  /** First-seen frames sent on with one hop less. */
  readonly forwarded: number;
  /** First-seen frames that arrived with no hops left: delivered, not forwarded. */
  readonly expiredHops: number;
  /** Frames carrying this node's own origin: its flood coming back, or another node with the same id. */
  readonly fromSelf: number;
  /** Keys forgotten before their window ran out because `maxEntries` was reached. */
  readonly evicted: number;
  /** Keys remembered now. */
  readonly entries: number;
}

const DROP: RelayVerdict = Object.freeze({ deliver: false, forward: undefined });

export class Relay {
  private readonly self: number;
  private readonly windowMs: number;
  private readonly maxEntries: number;
  private readonly clock: Clock;
  /** Key to the time it was first seen. Insertion order is first-seen order, so the oldest key comes first. */
  private readonly seen = new Map<number, number>();
  private readonly counts = { delivered: 0, duplicates: 0, forwarded: 0, expiredHops: 0, fromSelf: 0, evicted: 0 };

  constructor(options: RelayOptions) {
    const { self, dedupWindowMs = RELAY_DEDUP_WINDOW_MS, maxEntries = RELAY_MAX_ENTRIES } = options;
    if (!Number.isInteger(self) || self < 0 || self > 0xffff) throw new RangeError(`relay: self ${self} is not a 16-bit origin id`);
    if (!(dedupWindowMs > 0)) throw new RangeError(`relay: dedupWindowMs ${dedupWindowMs} must be positive`);
    if (!Number.isInteger(maxEntries) || maxEntries < 1) throw new RangeError(`relay: maxEntries ${maxEntries} must be a positive integer`);
    this.self = self;
    this.windowMs = dedupWindowMs;
    this.maxEntries = maxEntries;
    this.clock = options.clock ?? systemClock;
  }

  /**
   * Decides about one frame as heard: `bytes` its encoding, `header` its decoded header and type. The sender
   * set hops-left to its radius (0: its neighbours only), so a frame reaches the nodes within radius + 1 hops.
   */
  consider(
    bytes: Uint8Array,
    header: AwarenessHeader & { readonly type: AwarenessTypeName },
    nowMs = this.clock.monotonic(),
  ): RelayVerdict {
    if (header.origin === this.self) {
      this.counts.fromSelf++;
      return DROP;
    }
    this.expire(nowMs);
    const key = awarenessKey(header);
    if (this.seen.has(key)) {
      // Not refreshed: the window counts from the first copy, which keeps the map in first-seen order.
      this.counts.duplicates++;
      return DROP;
    }
    if (this.seen.size >= this.maxEntries) {
      const oldest = this.seen.keys().next().value as number;
      this.seen.delete(oldest);
      this.counts.evicted++;
    }
    this.seen.set(key, nowMs);
    this.counts.delivered++;
    if (header.hops <= 0) {
      this.counts.expiredHops++;
      return { deliver: true, forward: undefined };
    }
    this.counts.forwarded++;
    return { deliver: true, forward: withHops(bytes, header.hops - 1) };
  }

  stats(): RelayStats {
    return { ...this.counts, entries: this.seen.size };
  }

  /** Forgets keys first seen a window ago or more. A clock that steps back only delays this; the cap still holds. */
  private expire(nowMs: number): void {
    for (const [key, firstSeen] of this.seen) {
      if (nowMs - firstSeen < this.windowMs) break;
      this.seen.delete(key);
    }
  }
}
