// SqliteStore rollups: bucket values equal a brute-force computation over the raw samples, late samples
// recompute their window, rollups outlive raw retention and answer after it, their own retention, the
// size cap deleting raw chunks first.
// calendar: every store runs on a manual clock, retention and compaction included.

import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { describe, it } from 'node:test';
import Database from 'better-sqlite3';
import fc from 'fast-check';
import { isFieldmeshError, ManualClock } from '../../kit/index.js';
import type { LabelMatcher, Sample } from '../../protocol/index.js';
import { createSqliteStore, type RollupFn, type SqliteStoreOptions, type StoreRollup } from './index.js';
import { recordingLogger, tempStorePaths } from './store-test-kit.js';

const MIN = 60_000;
const HOUR = 3_600_000;
const DAY = 86_400_000;
const T0 = Date.UTC(2026, 0, 1);
const FNS: RollupFn[] = ['avg', 'min', 'max', 'sum', 'count', 'last'];
const ALL: LabelMatcher[] = [{ name: '__name__', op: '=', value: 'v' }];
const ROLLUPS: StoreRollup[] = [
  { resolutionMs: MIN, retentionMs: 400 * DAY },
  { resolutionMs: 5 * MIN, retentionMs: 400 * DAY },
];

const tempPath = tempStorePaths('fm-rollup-');

function open(options: Partial<SqliteStoreOptions> = {}) {
  const clock = (options.clock as ManualClock | undefined) ?? new ManualClock(T0 + 10 * HOUR);
  const path = options.path ?? tempPath();
  return { store: createSqliteStore({ retentionMs: DAY, rollups: ROLLUPS, ...options, path, clock }), clock, path };
}

const sample = (time: number, value: number, labels: Record<string, string> = {}): Sample => ({ name: 'v', labels, time, value });

// ---- the brute force: every bucket straight from the raw samples, by another road -------------------

/** v as an exact decimal m / 10^d from its shortest decimal string, when d ≤ 9 and |m| ≤ 2^50. */
function decimalParts(v: number): { m: bigint; d: number } | undefined {
  if (!Number.isFinite(v) || Object.is(v, -0)) return undefined;
  const parsed = /^(-?)(\d+)(?:\.(\d+))?(?:e([+-]\d+))?$/.exec(String(v));
  if (!parsed) return undefined;
  const [, sign, int, frac = '', exp = '0'] = parsed;
  let d = frac.length - Number(exp);
  let m = BigInt(`${sign}${int}${frac}`);
  if (d < 0) {
    m *= 10n ** BigInt(-d);
    d = 0;
  }
  if (d > 9 || (m < 0n ? -m : m) > 2n ** 50n) return undefined;
  return { m, d };
}

/** Exact when every value is decimal (integer sum of the scaled values, partial sums within 2^52), else the float sum in order. */
function bruteSum(values: number[]): number {
  const parts = values.map(decimalParts);
  if (parts.every((p) => p !== undefined)) {
    const scale = Math.max(...parts.map((p) => p.d));
    let total = 0n;
    let exact = true;
    for (const p of parts) {
      total += p.m * 10n ** BigInt(scale - p.d);
      if ((total < 0n ? -total : total) > 2n ** 52n) exact = false;
    }
    if (exact) return Number(total) / 10 ** scale;
  }
  return values.reduce((a, v) => a + v, 0);
}

function bruteExtreme(values: number[], wins: (a: number, b: number) => boolean): number {
  const numbers = values.filter((v) => !Number.isNaN(v));
  if (numbers.length === 0) return Number.NaN;
  let best = numbers[0] as number;
  for (const v of numbers) if (wins(v, best)) best = v;
  return best;
}

function bruteBuckets(samples: Map<number, number>, resolutionMs: number) {
  const byBucket = new Map<number, [number, number][]>();
  for (const [t, v] of [...samples].sort((a, b) => a[0] - b[0])) {
    const start = Math.floor(t / resolutionMs) * resolutionMs;
    byBucket.set(start, [...(byBucket.get(start) ?? []), [t, v]]);
  }
  return [...byBucket].map(([start, points]) => {
    const values = points.map((p) => p[1]);
    const sum = bruteSum(values);
    return {
      start,
      avg: sum / values.length,
      min: bruteExtreme(values, (a, b) => a < b),
      max: bruteExtreme(values, (a, b) => a > b),
      sum,
      count: values.length,
      last: values[values.length - 1] as number,
    };
  });
}

function expected(samples: Map<number, number>, resolutionMs: number, fn: RollupFn): [number, number][] {
  return bruteBuckets(samples, resolutionMs).map((b) => [b.start, b[fn]]);
}

function assertPoints(actual: ReadonlyArray<readonly [number, number]> | undefined, want: [number, number][], what: string): void {
  const got = actual ?? [];
  assert.deepEqual(
    got.map((p) => p[0]),
    want.map((p) => p[0]),
    `${what}: bucket starts`,
  );
  for (let i = 0; i < want.length; i++) {
    const [t, v] = want[i] as [number, number];
    assert.ok(Object.is(got[i]?.[1], v), `${what}: bucket at ${t}: ${got[i]?.[1]} !== ${v}`);
  }
}

async function assertRollupsMatch(store: ReturnType<typeof open>['store'], samples: Map<number, number>, what: string) {
  for (const { resolutionMs } of ROLLUPS) {
    for (const fn of FNS) {
      const [series] = await store.queryRollup(ALL, T0, T0 + 12 * HOUR, resolutionMs, fn);
      assertPoints(series?.points, expected(samples, resolutionMs, fn), `${what}, ${resolutionMs / MIN}m ${fn}`);
    }
  }
}

function countRows(path: string, table: 'chunks' | 'rollups', where = '1'): number {
  const db = new Database(path, { readonly: true });
  try {
    return db.prepare(`SELECT COUNT(*) FROM ${table} WHERE ${where}`).pluck().get() as number;
  } finally {
    db.close();
  }
}

const anyValue = fc.oneof(
  { weight: 6, arbitrary: fc.tuple(fc.integer({ min: -10_000_000, max: 10_000_000 }), fc.integer({ min: 0, max: 4 })) },
  { weight: 1, arbitrary: fc.double() },
  { weight: 1, arbitrary: fc.constantFrom(Number.NaN, -0, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, 1 / 3) },
);
const toValue = (v: number | [number, number]) => (Array.isArray(v) ? v[0] / 10 ** v[1] : v);

/** Up to 400 samples in three 2 h windows, dense (within half an hour) or sparse, unique times. */
const randomSamples = fc
  .uniqueArray(
    fc.oneof(
      fc.integer({ min: 0, max: 30 * 60 - 1 }).map((s) => s * 1000),
      fc.integer({ min: 0, max: 6 * HOUR - 1 }),
    ),
    {
      minLength: 1,
      maxLength: 400,
    },
  )
  .chain((offsets) => fc.tuple(fc.constant(offsets), fc.array(anyValue, { minLength: offsets.length, maxLength: offsets.length })))
  .map(([offsets, values]) => new Map(offsets.map((o, i) => [T0 + o, toValue(values[i] as number | [number, number])])));

describe('SqliteStore rollups', () => {
  it('hold per bucket what a brute force computes from the raw samples, before and after the raw samples expire', async () => {
    await fc.assert(
      fc.asyncProperty(randomSamples, async (samples) => {
        const { store } = open();
        try {
          await store.append([...samples].map(([t, v]) => sample(t, v)));
          const compacted = await store.compact();
          assert.equal(compacted.rollupsWritten, 2 * new Set([...samples.keys()].map((t) => Math.floor(t / (2 * HOUR)))).size);
          await assertRollupsMatch(store, samples, 'from rollup rows');
          // Steps of 15 minutes fold three 5-minute buckets: sums add (exactly, when decimal), extremes widen, the last bucket's last wins.
          const five = bruteBuckets(samples, 5 * MIN);
          const quarter = new Map<number, typeof five>();
          for (const b of five) {
            const q = Math.floor(b.start / (15 * MIN)) * 15 * MIN;
            quarter.set(q, [...(quarter.get(q) ?? []), b]);
          }
          const [folded] = await store.queryRollup(ALL, T0, T0 + 12 * HOUR, 5 * MIN, 'count', 15 * MIN);
          assertPoints(
            folded?.points,
            [...quarter].map(([q, bs]) => [q, bs.reduce((a, b) => a + b.count, 0)]),
            '15m count',
          );
          const [sums] = await store.queryRollup(ALL, T0, T0 + 12 * HOUR, 5 * MIN, 'sum', 15 * MIN);
          assertPoints(
            sums?.points,
            [...quarter].map(([q, bs]) => [q, bs.slice(1).reduce((a, b) => bruteSum([a, b.sum]), (bs[0] as (typeof bs)[0]).sum)]),
            '15m sum',
          );
          await store.applyRetention(T0 + 3 * DAY);
          assert.equal((await store.query(ALL, 0, T0 + DAY)).length, 0, 'the raw samples are gone');
          assert.equal((await store.coverage()).rawOldestMs, undefined);
          await assertRollupsMatch(store, samples, 'after raw retention');
        } finally {
          await store.close();
        }
      }),
      { numRuns: 40 },
    );
  });

  it('recompute a compacted window when a late sample or a rewrite of a timestamp arrives', async () => {
    const { store, path } = open();
    const samples = new Map<number, number>();
    for (let i = 0; i < 720; i++) samples.set(T0 + i * 5000, 230 + (i % 13) / 10);
    await store.append([...samples].map(([t, v]) => sample(t, v)));
    await store.compact();
    await assertRollupsMatch(store, samples, 'first compaction');
    // A late sample between two others, a rewrite of a timestamp, and a new maximum in the same window.
    const late: [number, number][] = [
      [T0 + 2500, 1000],
      [T0 + 5000, 7.5],
      [T0 + 3_000_000 + 1, -3],
    ];
    for (const [t, v] of late) samples.set(t, v);
    await store.append(late.map(([t, v]) => sample(t, v)));
    const { rollupsWritten } = await store.compact();
    assert.equal(rollupsWritten, 2, 'one row per resolution for the one window');
    assert.equal(countRows(path, 'rollups'), 2, 'the window still has one row per resolution');
    await store.applyRetention(T0 + 3 * DAY);
    await assertRollupsMatch(store, samples, 'after the late samples, raw gone');
    await store.close();
  });

  it('merge a late sample into the rollup of a window whose raw samples already expired', async () => {
    const { store } = open();
    await store.append(Array.from({ length: 60 }, (_, i) => sample(T0 + i * 5000, 10 + i)));
    await store.compact();
    await store.applyRetention(T0 + 3 * DAY);
    await store.append([sample(T0 + 1000, 500), sample(T0 + 299_999, 1)]);
    await store.compact();
    const read = async (fn: RollupFn) => (await store.queryRollup(ALL, T0, T0 + HOUR, 5 * MIN, fn))[0]?.points;
    assert.deepEqual(await read('count'), [[T0, 62]]);
    assert.deepEqual(await read('max'), [[T0, 500]]);
    assert.deepEqual(await read('min'), [[T0, 1]]);
    assert.deepEqual(await read('sum'), [[T0, (10 + 69) * 30 + 501]]);
    assert.deepEqual(await read('last'), [[T0, 1]], 'the later last sample wins');
    await store.close();
  });

  it('roll up head samples before raw retention deletes them, so the rollup keeps what raw retention drops', async () => {
    const clock = new ManualClock(T0 + 40 * DAY);
    const { store } = open({ clock, retentionMs: 30 * DAY });
    const samples = new Map(Array.from({ length: 100 }, (_, i) => [T0 + i * 10_000, i / 4] as [number, number]));
    await store.append([...samples].map(([t, v]) => sample(t, v)));
    const { deletedSamples } = await store.applyRetention(clock.now());
    assert.equal(deletedSamples, 100);
    await assertRollupsMatch(store, samples, 'rolled up at retention');
    await store.close();
  });

  it('keep each rollup for its own retention, and a resolution no longer configured for the raw retention', async () => {
    const { store, path } = open({
      rollups: [
        { resolutionMs: MIN, retentionMs: 2 * DAY },
        { resolutionMs: 5 * MIN, retentionMs: 400 * DAY },
        { resolutionMs: HOUR, retentionMs: 400 * DAY },
      ],
    });
    await store.append(Array.from({ length: 2880 }, (_, i) => sample(T0 + i * 5000, i % 100)));
    await store.compact();
    assert.equal(countRows(path, 'rollups'), 3 * 2);
    await store.applyRetention(T0 + DAY + 5 * HOUR);
    assert.equal(countRows(path, 'chunks'), 0, 'raw past its one day');
    assert.equal(countRows(path, 'rollups'), 6, 'every rollup outlives raw');
    await store.applyRetention(T0 + 2 * DAY + 5 * HOUR);
    assert.equal(countRows(path, 'rollups', `resolution_ms = ${MIN}`), 0, 'the 1-minute rollup past its two days');
    assert.equal(countRows(path, 'rollups'), 4);
    await store.close();
    // Reopened without the hourly rollup: its rows are kept for the raw retention (one day), then deleted.
    const again = createSqliteStore({
      path,
      clock: new ManualClock(T0 + 3 * DAY),
      retentionMs: DAY,
      rollups: [{ resolutionMs: 5 * MIN, retentionMs: 400 * DAY }],
    });
    assert.equal(countRows(path, 'rollups', `resolution_ms = ${HOUR}`), 0);
    assert.equal(countRows(path, 'rollups', `resolution_ms = ${5 * MIN}`), 2);
    const coverage = await again.coverage();
    assert.deepEqual(coverage, { rawOldestMs: undefined, rollups: [{ resolutionMs: 5 * MIN, retentionMs: 400 * DAY, oldestMs: T0 }] });
    await again.close();
  });

  it('under the size cap delete raw chunks first and rollups only once no chunk is left', async () => {
    const clock = new ManualClock(T0 + 4 * DAY);
    const rollups5m = [{ resolutionMs: 5 * MIN, retentionMs: 400 * DAY }];
    const { store, path } = open({ clock, retentionMs: 30 * DAY, rollups: rollups5m });
    for (let day = 0; day < 3; day++) {
      const batch: Sample[] = [];
      for (let i = 0; i < 24 * 720; i++) {
        for (let s = 0; s < 4; s++)
          batch.push(sample(T0 + day * DAY + i * 5000, Math.round(Math.sin(i / 7 + s) * 1000) / 10, { s: String(s) }));
      }
      await store.append(batch);
      await store.compact();
    }
    await store.close();
    const chunks = countRows(path, 'chunks');
    const rollups = countRows(path, 'rollups');
    assert.equal(rollups, chunks);

    const lines: string[] = [];
    const half = createSqliteStore({
      path,
      clock,
      retentionMs: 30 * DAY,
      rollups: rollups5m,
      logger: recordingLogger(lines),
      maxBytes: Math.floor(statSync(path).size / 2),
    });
    await half.close();
    assert.ok(countRows(path, 'chunks') < chunks, 'raw chunks went');
    assert.equal(countRows(path, 'rollups'), rollups, 'no rollup went while chunks were left');
    assert.ok(
      lines.some((l) => /deleted the \d+ oldest chunks \(\d+ samples\), now/.test(l)),
      lines.join('\n'),
    );

    const tiny = createSqliteStore({ path, clock, retentionMs: 30 * DAY, rollups: rollups5m, logger: recordingLogger(lines), maxBytes: 1 });
    const coverage = await tiny.coverage();
    await tiny.close();
    assert.equal(countRows(path, 'chunks'), 0);
    assert.equal(countRows(path, 'rollups'), 0, 'rollups went once no chunk was left');
    assert.equal(coverage.rawOldestMs, undefined);
    assert.ok(
      lines.some((l) => /and the \d+ oldest rollup rows, now \d+ bytes; the head alone is over the cap/.test(l)),
      lines.join('\n'),
    );
  });

  it('answer windows compacted before the rollup was configured from their raw samples', async () => {
    const path = tempPath();
    const samples = new Map(Array.from({ length: 500 }, (_, i) => [T0 + i * 7000, (i * 37) % 101] as [number, number]));
    const before = open({ path, rollups: [] });
    await before.store.append([...samples].map(([t, v]) => sample(t, v)));
    await before.store.compact();
    await before.store.close();
    const { store } = open({ path });
    assert.equal(countRows(path, 'rollups'), 0);
    await assertRollupsMatch(store, samples, 'from raw chunks');
    // And samples still in the head, before any compaction, the same way.
    const head = new Map(Array.from({ length: 50 }, (_, i) => [T0 + 11 * HOUR + i * 1000, i] as [number, number]));
    await store.append([...head].map(([t, v]) => sample(t, v)));
    const [series] = await store.queryRollup(ALL, T0 + 11 * HOUR, T0 + 12 * HOUR, 5 * MIN, 'sum');
    assertPoints(series?.points, expected(head, 5 * MIN, 'sum'), 'head');
    await store.close();
  });

  it('refuses a resolution that does not divide the chunk span, and a query of a rollup not configured', async () => {
    assert.throws(
      () => createSqliteStore({ path: tempPath(), rollups: [{ resolutionMs: 7 * MIN, retentionMs: DAY }] }),
      (err) =>
        isFieldmeshError(err, 'FM_CONFIG_INVALID') &&
        /420000 ms must be a whole number of ms dividing the 7200000 ms chunk span/.test((err as Error).message),
    );
    const { store } = open();
    await assert.rejects(
      store.queryRollup(ALL, T0, T0 + HOUR, HOUR, 'avg'),
      (err) =>
        isFieldmeshError(err, 'FM_QUERY_INVALID') &&
        /no rollup of 3600000 ms is configured \(configured: 60000 ms, 300000 ms\)/.test((err as Error).message),
    );
    await store.close();
  });
});
