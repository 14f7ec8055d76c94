// The chunk codec is lossless for any timestamps and float64 values, and rejects bad bytes with a typed error.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { isFieldmeshError } from '../../kit/index.js';
import { decodeChunk, encodeChunk, MAX_CHUNK_TS } from './chunk-codec.js';

const sortedTimestamps = (maxLength: number) =>
  fc.uniqueArray(fc.integer({ min: 0, max: MAX_CHUNK_TS }), { maxLength }).map((ts) => ts.sort((a, b) => a - b));

const anyValue = fc.oneof(
  fc.double(),
  fc.constantFrom(Number.NaN, -0, 0, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, Number.MAX_VALUE, Number.MIN_VALUE, 1 / 3),
  fc.integer({ min: -1_000_000, max: 1_000_000 }).map((i) => i / 10),
  fc.integer({ min: -100_000, max: 100_000 }).map((i) => i / 100),
  fc.integer(),
);

function samples(maxLength = 300) {
  return sortedTimestamps(maxLength).chain((ts) =>
    fc.tuple(fc.constant(ts), fc.array(anyValue, { minLength: ts.length, maxLength: ts.length })),
  );
}

function assertSame(actual: readonly number[], expected: readonly number[]): void {
  assert.equal(actual.length, expected.length);
  for (let i = 0; i < expected.length; i++) {
    assert.ok(Object.is(actual[i], expected[i]), `index ${i}: ${actual[i]} !== ${expected[i]}`);
  }
}

describe('chunk codec', () => {
  it('round-trips random timestamps and values exactly (NaN, -0, ±Inf, extremes)', () => {
    fc.assert(
      fc.property(samples(), ([ts, values]) => {
        const decoded = decodeChunk(encodeChunk(ts, values));
        assert.deepEqual(decoded.ts, ts);
        assertSame(decoded.values, values);
      }),
      { numRuns: 500 },
    );
  });

  it('round-trips quantised decimal series exactly', () => {
    const decimals = fc.integer({ min: 0, max: 9 }).chain((d) =>
      fc.array(
        fc.integer({ min: -(2 ** 40), max: 2 ** 40 }).map((m) => m / 10 ** d),
        { maxLength: 200 },
      ),
    );
    fc.assert(
      fc.property(decimals, (values) => {
        const ts = values.map((_, i) => 1_700_000_000_000 + i * 5000);
        const decoded = decodeChunk(encodeChunk(ts, values));
        assert.deepEqual(decoded.ts, ts);
        assertSame(decoded.values, values);
      }),
      { numRuns: 300 },
    );
  });

  it('codes regular 5 s quantised samples in well under a byte each', () => {
    const ts: number[] = [];
    const values: number[] = [];
    let v = 5230;
    for (let i = 0; i < 1440; i++) {
      ts.push(1_700_000_000_000 + i * 5000);
      v += (i * 7919) % 5 === 0 ? 1 : 0;
      values.push(v / 100);
    }
    const data = encodeChunk(ts, values);
    assert.ok(data.length / ts.length < 0.2, `${data.length} bytes for ${ts.length} samples`);
    assertSame(decodeChunk(data).values, values);
  });

  it('picks delta-of-delta for a monotonic counter and XOR for non-decimal values', () => {
    const ts = Array.from({ length: 500 }, (_, i) => i * 1000);
    const counter = ts.map((_, i) => 1_000_000 + i * 1234);
    const thirds = ts.map((_, i) => i / 3);
    assertSame(decodeChunk(encodeChunk(ts, counter)).values, counter);
    assertSame(decodeChunk(encodeChunk(ts, thirds)).values, thirds);
    // Constant increments are all-zero delta-of-deltas: a few bytes for the whole chunk.
    assert.ok(encodeChunk(ts, counter).length < 40, `${encodeChunk(ts, counter).length} bytes`);
  });

  it('encodes an empty chunk', () => {
    assert.deepEqual(decodeChunk(encodeChunk([], [])), { ts: [], values: [] });
  });

  it('refuses unsorted, duplicate, negative or fractional timestamps with FM_STORE_SAMPLE_INVALID', () => {
    for (const ts of [[2, 1], [1, 1], [-1], [1.5], [2 ** 53]]) {
      assert.throws(
        () => encodeChunk(ts, ts),
        (err) => isFieldmeshError(err, 'FM_STORE_SAMPLE_INVALID'),
      );
    }
  });

  it('gives FM_STORE_CHUNK_CORRUPT, never a crash or a wrong answer, for random bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        try {
          decodeChunk(bytes);
        } catch (err) {
          assert.ok(isFieldmeshError(err, 'FM_STORE_CHUNK_CORRUPT'), String(err));
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('gives FM_STORE_CHUNK_CORRUPT for every truncation and most byte flips of a real chunk', () => {
    fc.assert(
      fc.property(samples(100), fc.nat(), fc.integer({ min: 1, max: 255 }), ([ts, values], at, mask) => {
        const data = encodeChunk(ts, values);
        for (let cut = 0; cut < data.length; cut++) {
          assert.throws(
            () => decodeChunk(data.subarray(0, cut)),
            (err) => isFieldmeshError(err, 'FM_STORE_CHUNK_CORRUPT'),
            `cut at ${cut} of ${data.length}`,
          );
        }
        const flipped = Uint8Array.from(data);
        const i = at % flipped.length;
        flipped[i] = (flipped[i] as number) ^ mask;
        try {
          decodeChunk(flipped);
        } catch (err) {
          assert.ok(isFieldmeshError(err, 'FM_STORE_CHUNK_CORRUPT'), String(err));
        }
      }),
      { numRuns: 200 },
    );
  });
});
