// The head log codec round-trips any samples exactly, in order, and rejects damaged rows with a typed error.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { isFieldmeshError } from '../../kit/index.js';
import { MAX_CHUNK_TS } from './chunk-codec.js';
import { decodeHeadLog, HeadLogWriter } from './head-log-codec.js';

const anyValue = fc.oneof(
  fc.double(),
  fc.constantFrom(Number.NaN, -0, 0, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, Number.MAX_VALUE, Number.MIN_VALUE, 1 / 3),
);
const anySample = fc.tuple(fc.integer({ min: 1, max: 2 ** 40 }), fc.integer({ min: 0, max: MAX_CHUNK_TS }), anyValue);

function encode(samples: readonly (readonly [number, number, number])[], writer = new HeadLogWriter()): Uint8Array {
  writer.reset();
  for (const [id, ts, v] of samples) writer.add(id, ts, v);
  return Uint8Array.from(writer.bytes());
}

const isCorrupt = (err: unknown) => isFieldmeshError(err, 'FM_STORE_CHUNK_CORRUPT');

describe('head log codec', () => {
  it('round-trips random samples exactly and in order (any ids, times, NaN, -0, ±Inf), with the writer reused', () => {
    const writer = new HeadLogWriter();
    fc.assert(
      fc.property(fc.array(anySample, { maxLength: 300 }), (samples) => {
        const row = decodeHeadLog(encode(samples, writer));
        assert.equal(row.length, samples.length);
        samples.forEach(([id, ts, v], i) => {
          assert.equal(row.ids[i], id);
          assert.equal(row.ts[i], ts);
          assert.ok(Object.is(row.values[i], v), `sample ${i}: ${row.values[i]} !== ${v}`);
        });
        if (samples.length > 0) {
          assert.equal(writer.minTs, Math.min(...samples.map((s) => s[1])));
          assert.equal(writer.maxTs, Math.max(...samples.map((s) => s[1])));
        }
      }),
      { numRuns: 300 },
    );
  });

  it('rejects random bytes, truncations and any single flipped byte with FM_STORE_CHUNK_CORRUPT', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        assert.throws(() => decodeHeadLog(bytes), isCorrupt);
      }),
      { numRuns: 300 },
    );
    const good = encode(Array.from({ length: 50 }, (_, i) => [1 + (i % 7), 1_767_225_600_000 + i * 5000, i / 10] as const));
    for (let cut = 0; cut < good.length; cut++) assert.throws(() => decodeHeadLog(good.subarray(0, cut)), isCorrupt);
    for (let at = 0; at < good.length; at++) {
      const bad = Uint8Array.from(good);
      bad[at] = (bad[at] as number) ^ 0x21;
      assert.throws(() => decodeHeadLog(bad), isCorrupt, `flipped byte ${at}`);
    }
  });
});
