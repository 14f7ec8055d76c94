// What a push (an `http_push` body, InfluxDB line protocol) turns into, wherever it is accepted: at a node's
// collectors or straight at a scale-out hub's ingest tier (docs/collectors.md, docs/scale-out.md).

import type { EventPriority } from '../frames.js';
import type { Sample } from '../sample.js';

/**
 * The latest sample time a push may carry, ms since the epoch: 2^52 (the year 144,683), the node store's chunk codec
 * limit (zigzag of a delta-of-delta stays below 2^53), and so the limit of every push.
 */
export const MAX_SAMPLE_TIME_MS = 2 ** 52;

/** One pushed measurement: the one sample shape. (An alias until the hub's queue modules import `Sample`.) */
export type PushedSample = Sample;

/** One pushed event; `payload` is the pushed object itself. The agent's `AgentEvent` has this shape. */
export interface PushedEvent {
  /** The producer's id for deduplication, when it gave one. */
  readonly id?: string;
  readonly kind: string;
  readonly priority: EventPriority;
  readonly time: number;
  readonly payload: unknown;
}

/** A pushed body that cannot be used; the message starts with the path of the value at fault (`[2].metrics.rtt`). */
export class PushShapeError extends Error {}

/** A time a node's store can hold: ms in [0, 2^52]. */
export function isStorableTime(ms: number): boolean {
  return Number.isFinite(ms) && ms >= 0 && ms <= MAX_SAMPLE_TIME_MS;
}
