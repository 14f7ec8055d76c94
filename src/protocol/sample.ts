// One sample shape for agent, hub and console: a series (name and labels, see ./series.ts), one value and its time.
// Collectors produce it, pushes parse into it, the node's store and outbox take it, and the hub's ingest tier
// forwards it; what only a stage knows (a series id in a store, a frame's quantised value) stays in that stage.

import type { SeriesType } from './frames.js';
import type { SeriesName } from './series.js';

/** One measurement of a series. `time` is wall-clock ms since the Unix epoch; `value` may be NaN, never null. */
export interface Sample extends SeriesName {
  readonly value: number;
  readonly time: number;
  /** gauge when absent. */
  readonly type?: SeriesType;
  /** Base unit (volts, amperes, watts, percent, bytes, seconds, celsius, ratio) when known; "" or absent when none. */
  readonly unit?: string;
}

/** A sample whose type and unit are settled (the node's outbox and history frames carry both). */
export type TypedSample = Sample & { readonly type: SeriesType; readonly unit: string };
