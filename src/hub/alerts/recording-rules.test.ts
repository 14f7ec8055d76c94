// Recording rules on a manual clock over samples stored in a real (in-memory SQLite) hub storage: each group
// evaluated every interval, results stored as series with the rule's labels at the evaluation time, later rules
// reading earlier ones, staleness markers for series that went away, and failures counted, never thrown.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Registry } from 'prom-client';
import { ManualClock } from '../../kit/index.js';
import { createSqliteStorage } from '../storage/sqlite/sqlite-storage.js';
import type { HubStorage, SampleInput } from '../storage/storage.js';
import { createAlertSeriesSource } from './fleet-series.js';
import { RecordingRules } from './recording-rules.js';
import { parseRules } from './rule-file.js';

const S = 1_000;
const RULES = `groups:
  - name: probe
    interval: 30s
    rules:
      - record: probe:rtt_ms:avg1m
        expr: avg_over_time(rtt_ms[1m])
      - record: site:rtt_ms:avg1m
        expr: avg by (site) (probe:rtt_ms:avg1m)
        labels: {window: 1m}
      - record: zone:errors:rate1m
        expr: sum by (zone) (rate(errors_total[1m]))
      - record: collides
        expr: avg_over_time(rtt_ms{site="s1"}[1m])
        labels: {node: same}
  - name: slow
    interval: 5m
    rules:
      - record: fleet:rtt_ms:max
        expr: max(rtt_ms)
`;

function sample(name: string, node: string, site: string, zone: string, ts: number, value: number): SampleInput {
  return { series: { name, labels: { site, node, zone }, unit: '', type: 'gauge' }, ts, value };
}

async function setup(write?: (storage: HubStorage) => (batch: readonly SampleInput[]) => Promise<number>) {
  // Whole minutes from now: the evaluation times below are relative to it.
  const clock = new ManualClock(Math.floor(Date.now() / 60_000) * 60_000);
  const storage = createSqliteStorage({ path: ':memory:', retentionMs: 86_400_000 });
  const registry = new Registry();
  const rules = new RecordingRules({
    rules: parseRules(RULES, 'rules.yaml').recording,
    source: createAlertSeriesSource(storage, { nodes: () => [], backlog: () => undefined }),
    write: write?.(storage) ?? ((batch) => storage.appendRecordedSamples(batch)),
    clock,
    registry,
    evaluationIntervalMs: 15 * S,
  });
  // The first evaluation of group "probe" is 30 s from now, at T.
  const T = clock.now() + 30 * S;
  const batch: SampleInput[] = [];
  /** Values every 15 s, the last at T (or `lastAgoS` before). */
  const series = (name: string, node: string, site: string, zone: string, values: number[], lastAgoS = 0) => {
    values.forEach((v, i) => {
      batch.push(sample(name, node, site, zone, T - ((values.length - 1 - i) * 15 + lastAgoS) * S, v));
    });
  };
  series('rtt_ms', 'p1', 's1', 'z1', [10, 20, 30, 40]);
  series('rtt_ms', 'p2', 's1', 'z1', [100, 100, 100, 100]);
  series('rtt_ms', 'p3', 's2', 'z2', [7, 9], 30);
  series('errors_total', 'p1', 's1', 'z1', [0, 30, 6, 36]);
  series('errors_total', 'p2', 's1', 'z1', [0, 15, 30, 45]);
  await storage.appendSamples(batch);
  /** Moves the clock on and waits for what its timers started. */
  const advance = async (ms: number) => {
    clock.advance(ms);
    await rules.idle();
  };
  const recorded = async (name: string) =>
    (await storage.querySeries([{ name: '__name__', op: '=', value: name }], 0, clock.now())).map((s) => [
      s.series.labels,
      s.points.map(([t, v]) => [(t - T) / S, v]),
    ]);
  const failures = async () => (await registry.getSingleMetric('fieldmesh_rule_evaluation_failures_total')?.get())?.values ?? [];
  const writtenSamples = async () =>
    ((await registry.getSingleMetric('fieldmesh_rule_recorded_samples_total')?.get())?.values ?? []).reduce((n, v) => n + v.value, 0);
  return { clock, storage, rules, T, advance, recorded, failures, writtenSamples };
}

test('recording rules: each group every interval, results stored at the evaluation time with the rule labels over the result', async () => {
  const s = await setup();
  s.rules.start();
  await s.advance(30 * S);
  assert.equal(s.clock.now(), s.T);
  assert.deepEqual(await s.recorded('probe:rtt_ms:avg1m'), [
    [{ node: 'p1', site: 's1', zone: 'z1' }, [[0, 25]]],
    [{ node: 'p2', site: 's1', zone: 'z1' }, [[0, 100]]],
    [{ node: 'p3', site: 's2', zone: 'z2' }, [[0, 8]]],
  ]);
  // The second rule read what the first stored at the same instant.
  assert.deepEqual(await s.recorded('site:rtt_ms:avg1m'), [
    [{ site: 's1', window: '1m' }, [[0, 62.5]]],
    [{ site: 's2', window: '1m' }, [[0, 8]]],
  ]);
  assert.deepEqual(await s.recorded('zone:errors:rate1m'), [[{ zone: 'z1' }, [[0, 66 / 60 + 45 / 60]]]]);
  assert.deepEqual(await s.recorded('fleet:rtt_ms:max'), [], 'the 5 min group has not been evaluated yet');

  // 30 s on: the window [T - 30 s, T + 30 s] (closed, as Prometheus 2) holds p1's last three samples and
  // p3's last one; 30 s later p3's samples left it, so its series and its site's end with a staleness marker.
  await s.advance(30 * S);
  await s.advance(30 * S);
  assert.deepEqual(await s.recorded('probe:rtt_ms:avg1m'), [
    [
      { node: 'p1', site: 's1', zone: 'z1' },
      [
        [0, 25],
        [30, 30],
        [60, 40],
      ],
    ],
    [
      { node: 'p2', site: 's1', zone: 'z1' },
      [
        [0, 100],
        [30, 100],
        [60, 100],
      ],
    ],
    [
      { node: 'p3', site: 's2', zone: 'z2' },
      [
        [0, 8],
        [30, 9],
        [60, null],
      ],
    ],
  ]);
  assert.deepEqual(await s.recorded('site:rtt_ms:avg1m'), [
    [
      { site: 's1', window: '1m' },
      [
        [0, 62.5],
        [30, 65],
        [60, 70],
      ],
    ],
    [
      { site: 's2', window: '1m' },
      [
        [0, 8],
        [30, 9],
        [60, null],
      ],
    ],
  ]);
  // At the 5 min group's first interval (T + 270 s): the last sample within the 5 min lookback, p2's 100.
  for (let i = 0; i < 7; i++) await s.advance(30 * S);
  assert.deepEqual(await s.recorded('fleet:rtt_ms:max'), [[{}, [[270, 100]]]]);
  // Once p1's and p2's samples left the window too (at T + 90 s), their series ended and nothing more is written.
  assert.deepEqual(
    (await s.recorded('probe:rtt_ms:avg1m')).map(([, points]) => (points as unknown[]).length),
    [4, 4, 3],
  );
  const written = await s.writtenSamples();
  await s.rules.stop();
  for (let i = 0; i < 20; i++) await s.advance(30 * S);
  assert.equal(await s.writtenSamples(), written, 'nothing evaluated after stop');
  await s.storage.close();
});

test('recording rules: a failed rule is counted by group and logged; the group goes on and nothing is thrown', async () => {
  let broken = true;
  const s = await setup((storage) => async (batch) => {
    if (broken && batch.some((b) => b.series.name === 'zone:errors:rate1m')) throw new Error('disk on fire');
    return storage.appendRecordedSamples(batch);
  });
  await s.advance(30 * S);
  assert.deepEqual(
    s.rules.ruleHealth().map((h) => [h.rule.record, h.lastEvaluation, h.lastError]),
    [
      ['probe:rtt_ms:avg1m', null, null],
      ['site:rtt_ms:avg1m', null, null],
      ['zone:errors:rate1m', null, null],
      ['collides', null, null],
      ['fleet:rtt_ms:max', null, null],
    ],
    'never evaluated: no health yet',
  );
  await s.rules.evaluateGroup('rules.yaml;probe');
  // Each rule's last evaluation, for /api/v1/rules: when, and the error of the failed ones.
  const health = s.rules.ruleHealth();
  assert.deepEqual(
    health.map((h) => [h.rule.record, h.lastEvaluation === null ? null : (h.lastEvaluation - s.T) / S, h.lastError]),
    [
      ['probe:rtt_ms:avg1m', 0, null],
      ['site:rtt_ms:avg1m', 0, null],
      ['zone:errors:rate1m', 0, 'disk on fire'],
      ['collides', 0, health[3]?.lastError],
      ['fleet:rtt_ms:max', null, null],
    ],
  );
  assert.match(health[3]?.lastError ?? '', /two elements with the labels/);
  // "collides" fails every time (two results with the same labels once node="same" is set), the write once.
  assert.deepEqual(
    (await s.failures()).map((v) => [v.labels, v.value]),
    [[{ rule_group: 'rules.yaml;probe' }, 2]],
  );
  assert.deepEqual(await s.recorded('zone:errors:rate1m'), []);
  assert.deepEqual(await s.recorded('collides'), []);
  assert.equal((await s.recorded('site:rtt_ms:avg1m')).length, 2, 'the rules around the failed ones were stored');
  broken = false;
  await s.rules.evaluateGroup('rules.yaml;probe');
  assert.equal((await s.failures())[0]?.value, 3, 'only "collides" failed this time');
  assert.equal(s.rules.ruleHealth()[2]?.lastError, null, 'the rule that succeeded again has no error');
  assert.deepEqual(await s.recorded('zone:errors:rate1m'), [[{ zone: 'z1' }, [[0, 66 / 60 + 45 / 60]]]]);
  await s.storage.close();
});
