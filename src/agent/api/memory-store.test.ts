// The memory store honours the SampleStore port: anchored regex matchers, ascending points, one per timestamp.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isFieldmeshError } from '../../kit/index.js';
import { parseSelector } from '../../protocol/index.js';
import { createMemorySampleStore } from './memory-store.js';

const m = (s: string) => parseSelector(s).matchers;

test('memory store: points ascend, a later write of the same timestamp wins, NaN is kept', async () => {
  const store = createMemorySampleStore();
  await store.append([
    { name: 'soc', labels: { node: 'a' }, time: 3_000, value: 3 },
    { name: 'soc', labels: { node: 'a' }, time: 1_000, value: 1 },
    { name: 'soc', labels: { node: 'a' }, time: 2_000, value: Number.NaN },
  ]);
  await store.append([{ name: 'soc', labels: { node: 'a' }, time: 1_000, value: 10 }]);
  const [got] = await store.query(m('soc'), 0, 10_000);
  assert.deepEqual(got?.points, [
    [1_000, 10],
    [2_000, Number.NaN],
    [3_000, 3],
  ]);
  assert.deepEqual(got?.series.labels, { node: 'a' });
  assert.deepEqual((await store.query(m('soc'), 1_500, 2_500))[0]?.points, [[2_000, Number.NaN]]);
  assert.deepEqual(await store.query(m('soc'), 5_000, 6_000), [], 'a series without points in range is left out');
});

test('memory store: regex matchers are anchored; a missing label reads as empty', async () => {
  const store = createMemorySampleStore();
  await store.append([
    { name: 'soc', labels: { node: 'ab' }, time: 0, value: 1 },
    { name: 'soc', labels: { node: 'b' }, time: 0, value: 1 },
    { name: 'soc', labels: {}, time: 0, value: 1 },
    { name: 'voltage', labels: { node: 'b' }, time: 0, value: 1 },
  ]);
  const nodes = async (sel: string) => (await store.series(m(sel))).map((s) => `${s.name}/${s.labels.node ?? '-'}`).sort();
  assert.deepEqual(await nodes('soc{node=~"b"}'), ['soc/b']);
  assert.deepEqual(await nodes('soc{node!~"a.*"}'), ['soc/-', 'soc/b']);
  assert.deepEqual(await nodes('{node="b"}'), ['soc/b', 'voltage/b']);
  assert.deepEqual(await nodes('soc{node=""}'), ['soc/-']);
  assert.equal((await store.series([])).length, 4);
  assert.deepEqual(await store.labelNames(), ['__name__', 'node']);
  assert.deepEqual(await store.labelValues('__name__'), ['soc', 'voltage']);
  assert.deepEqual(await store.labelValues('node'), ['ab', 'b']);
});

test('memory store: series in a range, retention by age, stats, refusals and close', async () => {
  const store = createMemorySampleStore({ retentionMs: 1_000 });
  await store.append([
    { name: 'old', labels: {}, time: 0, value: 1 },
    { name: 'new', labels: {}, time: 5_000, value: 2 },
  ]);
  assert.deepEqual(
    (await store.series([], 4_000, 6_000)).map((s) => s.name),
    ['new'],
  );
  assert.deepEqual(await store.applyRetention(5_500), { deletedSamples: 1 });
  assert.deepEqual(await store.stats(), { series: 1, samples: 1, diskBytes: 0, oldestMs: 5_000, newestMs: 5_000 });
  await assert.rejects(store.append([{ name: 'x', labels: {}, time: 1.5, value: 1 }]), (e) =>
    isFieldmeshError(e, 'FM_STORE_SAMPLE_INVALID'),
  );
  await store.close();
  await assert.rejects(store.labelNames(), (e) => isFieldmeshError(e, 'FM_STORE_CLOSED'));
});

test('memory store: rollups computed from the raw samples, steps folding buckets, coverage', async () => {
  const store = createMemorySampleStore({ rollups: [{ resolutionMs: 60_000, retentionMs: 86_400_000 }] });
  await store.append(Array.from({ length: 30 }, (_, i) => ({ name: 'soc', labels: {}, time: 10_000 * i, value: i / 10 })));
  const matchers = [{ name: '__name__', op: '=' as const, value: 'soc' }];
  assert.deepEqual((await store.queryRollup(matchers, 0, 300_000, 60_000, 'avg'))[0]?.points, [
    [0, 1.5 / 6],
    [60_000, 5.1 / 6],
    [120_000, 8.7 / 6],
    [180_000, 12.3 / 6],
    [240_000, 15.9 / 6],
  ]);
  assert.deepEqual((await store.queryRollup(matchers, 100_000, 300_000, 60_000, 'max', 120_000))[0]?.points, [
    [0, 1.1],
    [120_000, 2.3],
    [240_000, 2.9],
  ]);
  assert.deepEqual(await store.coverage(), { rawOldestMs: 0, rollups: [{ resolutionMs: 60_000, retentionMs: 86_400_000, oldestMs: 0 }] });
  await assert.rejects(store.queryRollup(matchers, 0, 1, 300_000, 'avg'), (e) => isFieldmeshError(e, 'FM_QUERY_INVALID'));
});
