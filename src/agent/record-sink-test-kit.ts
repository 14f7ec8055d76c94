// Test support for the record sink's tests, never built into dist: the numbered batch of the crash test's child.
import type { Sample, TypedSample } from '../protocol/index.js';

/** Series of the crash batches whose samples also go to the outbox (critical): s0..s4 of s0..s9. */
export const CRASH_CRITICAL_SERIES = 5;

/**
 * Batch `seq`: `size` (a multiple of 10, at most 10,000) samples over 10 series `crash{s="0".."9"}` at
 * base + seq s + i/10 ms, value = seq; the samples of s0..s4 are its outbox rows.
 */
export function crashBatch(base: number, seq: number, size: number): { samples: Sample[]; durable: TypedSample[] } {
  const samples: Sample[] = Array.from({ length: size }, (_, i) => ({
    name: 'crash',
    labels: { s: String(i % 10) },
    time: base + seq * 1000 + Math.floor(i / 10),
    value: seq,
  }));
  const durable = samples
    .filter((s) => Number(s.labels.s) < CRASH_CRITICAL_SERIES)
    .map((s) => ({ ...s, type: 'gauge' as const, unit: '' }));
  return { samples, durable };
}
