// The rollup codec round-trips any buckets exactly and rejects bad bytes with a typed error.
// calendar: a codec round trip; no clock reads the times.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { isFieldmeshError } from '../../kit/index.js';
import { computeRollup } from './rollup-buckets.js';
import { decodeRollup, encodeRollup } from './rollup-codec.js';

const T0 = Date.UTC(2026, 0, 1);
const RESOLUTION_MS = 300_000;

const anyValue = fc.oneof(
  fc.double(),
  fc.constantFrom(Number.NaN, -0, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, 1 / 3),
  fc.integer({ min: -100_000, max: 100_000 }).map((i) => i / 100),
);

/** Random samples of one window, ascending, one per timestamp, as the store compacts them. */
const windowSamples = fc.uniqueArray(fc.integer({ min: 0, max: 2 * 3_600_000 - 1 }), { minLength: 1, maxLength: 200 }).chain((offsets) => {
  const ts = offsets.sort((a, b) => a - b).map((o) => T0 + o);
  return fc.tuple(fc.constant(ts), fc.array(anyValue, { minLength: ts.length, maxLength: ts.length }));
});

function assertSameColumns(actual: Record<string, number[]>, expected: Record<string, number[]>): void {
  for (const [name, column] of Object.entries(expected)) {
    const got = actual[name] as number[];
    assert.equal(got.length, column.length, name);
    for (let i = 0; i < column.length; i++) assert.ok(Object.is(got[i], column[i]), `${name}[${i}]: ${got[i]} !== ${column[i]}`);
  }
}

describe('rollup codec', () => {
  it('round-trips the buckets of random samples exactly (NaN, -0, ±Inf, gaps between buckets)', () => {
    fc.assert(
      fc.property(windowSamples, ([ts, values]) => {
        const buckets = computeRollup(ts, values, RESOLUTION_MS);
        const decoded = decodeRollup(encodeRollup(buckets, RESOLUTION_MS), RESOLUTION_MS);
        assertSameColumns(decoded as unknown as Record<string, number[]>, buckets as unknown as Record<string, number[]>);
      }),
    );
  });

  it('refuses a blob read at another resolution, random bytes, every truncation and flipped bytes with FM_STORE_CHUNK_CORRUPT', () => {
    const ts = Array.from({ length: 1440 }, (_, i) => T0 + i * 5000);
    const blob = encodeRollup(
      computeRollup(
        ts,
        ts.map((_, i) => 230 + (i % 17) / 100),
        RESOLUTION_MS,
      ),
      RESOLUTION_MS,
    );
    const typed = (err: unknown) => isFieldmeshError(err, 'FM_STORE_CHUNK_CORRUPT') && /rollup is corrupt/.test((err as Error).message);
    assert.throws(() => decodeRollup(blob, 60_000), typed);
    for (let n = 0; n < blob.length; n++) assert.throws(() => decodeRollup(blob.subarray(0, n), RESOLUTION_MS), typed);
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 400 }), (bytes) => {
        try {
          decodeRollup(bytes, RESOLUTION_MS);
        } catch (err) {
          assert.ok(typed(err), String(err));
        }
      }),
    );
    for (let i = 1; i < blob.length; i++) {
      const flipped = blob.slice();
      flipped[i] = (flipped[i] as number) ^ 0x55;
      try {
        decodeRollup(flipped, RESOLUTION_MS);
      } catch (err) {
        assert.ok(typed(err), String(err));
      }
    }
  });

  it('costs a few bytes per bucket for a regular scrape of a quantised sensor', () => {
    const ts = Array.from({ length: 1440 }, (_, i) => T0 + i * 5000);
    const values = ts.map((_, i) => Math.round((52 + 3 * Math.sin(i / 100)) * 100) / 100);
    const blob = encodeRollup(computeRollup(ts, values, RESOLUTION_MS), RESOLUTION_MS);
    // 24 buckets of a 2 h window; the sums are exact decimals, so every column is delta coded.
    assert.ok(blob.length < 24 * 10, `${blob.length} bytes`);
  });
});
