// What the store keeps, as a window of sample times: the agent holds every batch a collector records
// to it, so that nothing is acknowledged, stored or forwarded that retention would delete at its next
// pass, or that lies implausibly far ahead of the node's clock (docs/collectors.md#what-is-refused).

import type { Clock, Logger } from '../../kit/index.js';
import { seriesText } from '../../protocol/index.js';
import { MAX_CHUNK_TS } from '../store/chunk-codec.js';
import type { RecordOutcome, Sample, SampleRefusal, SampleWindow } from './collector.js';

/**
 * How far ahead of the node's clock a sample may be: 2 days, VictoriaMetrics' bound (its storage
 * skips rows past now + 2 d and counts them as too_big_timestamp). Wide enough for a producer whose
 * clock or time zone is off by a day; narrow enough to refuse microseconds sent as milliseconds.
 */
export const SAMPLE_FUTURE_LIMIT_MS = 2 * 86_400_000;

/** How often the agent logs refused samples per collector (the counter has every one). */
export const REFUSED_LOG_EVERY_MS = 60_000;

/** The window at `nowMs` of a store that deletes samples older than `retentionMs`. */
export function sampleWindow(nowMs: number, retentionMs: number): SampleWindow {
  // The store deletes `time < now - retention` (sqlite-store.ts retentionNow) and holds [0, 2^52].
  return { oldestMs: Math.max(0, nowMs - retentionMs), newestMs: Math.min(MAX_CHUNK_TS, nowMs + SAMPLE_FUTURE_LIMIT_MS) };
}

/**
 * Splits a batch into the samples the store keeps (times rounded to whole ms, as the store and the
 * wire keep ms) and the refused ones, by index.
 */
export function admitSamples(samples: readonly Sample[], window: SampleWindow): { kept: Sample[]; outcome: RecordOutcome } {
  const kept: Sample[] = [];
  const refused: { index: number; reason: SampleRefusal }[] = [];
  samples.forEach((s, index) => {
    const time = Number.isInteger(s.time) ? s.time : Math.round(s.time);
    // Written so that NaN fails the first test: it is refused, never stored.
    if (!(time >= window.oldestMs)) refused.push({ index, reason: 'too-old' });
    else if (time > window.newestMs) refused.push({ index, reason: 'too-new' });
    else kept.push(time === s.time ? s : { ...s, time });
  });
  return { kept, outcome: { refused, window } };
}

/** How many samples of an outcome were refused for each reason. */
export function countRefusals(outcome: RecordOutcome): Record<SampleRefusal, number> {
  const counts: Record<SampleRefusal, number> = { 'too-old': 0, 'too-new': 0 };
  for (const r of outcome.refused) counts[r.reason]++;
  return counts;
}

/** An ms time as ISO 8601 when it has one, else the number. */
export function timeText(ms: number): string {
  return Number.isFinite(ms) && Math.abs(ms) <= 8.64e15 ? new Date(ms).toISOString() : String(ms);
}

/**
 * Logs the samples one collector had refused, at most once per REFUSED_LOG_EVERY_MS: a scrape or an
 * MQTT input has nobody to answer, and a source stuck in the past must not flood the log.
 */
export class RefusedSampleLog {
  private pending: Record<SampleRefusal, number> = { 'too-old': 0, 'too-new': 0 };
  private lastLoggedAt: number | undefined;

  constructor(
    private readonly logger: Logger,
    private readonly clock: Clock,
  ) {}

  note(samples: readonly Sample[], outcome: RecordOutcome): void {
    const counts = countRefusals(outcome);
    this.pending['too-old'] += counts['too-old'];
    this.pending['too-new'] += counts['too-new'];
    const now = this.clock.monotonic();
    if (this.lastLoggedAt !== undefined && now - this.lastLoggedAt < REFUSED_LOG_EVERY_MS) return;
    const first = outcome.refused[0];
    const example = first === undefined ? undefined : samples[first.index];
    if (example === undefined) return;
    this.lastLoggedAt = now;
    const { oldestMs, newestMs } = outcome.window;
    this.logger.warn(
      { refused: this.pending, example: { series: seriesText(example), time: example.time }, oldestMs, newestMs },
      `samples refused since the last report: ${this.pending['too-old']} older than the retention, ${this.pending['too-new']} ` +
        `too far ahead; the store keeps ${timeText(oldestMs)} to ${timeText(newestMs)}; e.g. ${seriesText(example)} at ${timeText(example.time)}`,
    );
    this.pending = { 'too-old': 0, 'too-new': 0 };
  }
}
