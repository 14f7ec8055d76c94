// Alert expressions: parsed by the hub's query language plus one comparison, evaluated with the
// Prometheus semantics the query API uses (lookback, staleness, aggregation).
// calendar: expressions are evaluated at a given instant over given points.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { matchesSelector } from '../../protocol/index.js';
import type { SeriesPoints } from '../../protocol/prometheus/index.js';
import { evaluateAlertExpression, parseAlertExpression, type SeriesSource } from './alert-expr.js';

const NOW = Date.UTC(2026, 10, 24, 9, 0, 0);

function source(series: SeriesPoints[]): SeriesSource {
  return async () => series;
}

const soc = (node: string, site: string, value: number | null, age = 10_000): SeriesPoints => ({
  metric: { __name__: 'battery_soc', site, node },
  points: [[NOW - age, value]],
});

test('alert expression: comparisons on either side, with numbers Prometheus accepts', () => {
  assert.deepEqual(parseAlertExpression('battery_soc < 20').comparison, { op: '<', threshold: 20 });
  assert.deepEqual(parseAlertExpression('20 > battery_soc').comparison, { op: '<', threshold: 20 });
  assert.deepEqual(parseAlertExpression('up == 0').comparison, { op: '==', threshold: 0 });
  assert.deepEqual(parseAlertExpression('x >= -1.5e3').comparison, { op: '>=', threshold: -1500 });
  assert.deepEqual(parseAlertExpression('x != +Inf').comparison, { op: '!=', threshold: Number.POSITIVE_INFINITY });
  assert.equal(parseAlertExpression('x{site!="a",node=~"n>1"} <= (5)').comparison?.threshold, 5);
  assert.equal(parseAlertExpression('battery_soc').comparison, undefined);
  const agg = parseAlertExpression('avg by (site) (battery_soc{zone="z1"}) > 5');
  assert.deepEqual(agg.query.aggregation, { op: 'avg', grouping: 'by', labels: ['site'] });
});

test('alert expression: every element left after the comparison is active, labels without __name__', async () => {
  const stored = [soc('n1', 's1', 15), soc('n2', 's1', 35), soc('n3', 's2', 5)];
  assert.deepEqual(await evaluateAlertExpression(parseAlertExpression('battery_soc < 20'), source(stored), NOW), [
    { labels: { site: 's1', node: 'n1' }, value: 15 },
    { labels: { site: 's2', node: 'n3' }, value: 5 },
  ]);
  assert.deepEqual(await evaluateAlertExpression(parseAlertExpression('min by (site) (battery_soc) < 20'), source(stored), NOW), [
    { labels: { site: 's1' }, value: 15 },
    { labels: { site: 's2' }, value: 5 },
  ]);
  assert.deepEqual(await evaluateAlertExpression(parseAlertExpression('count(battery_soc)'), source(stored), NOW), [
    { labels: {}, value: 3 },
  ]);
});

test('alert expression: samples older than the 5 min lookback and staleness markers are not active', async () => {
  const stored = [soc('old', 's1', 1, 5 * 60_000 + 1), soc('gone', 's1', null), soc('fresh', 's1', 1, 5 * 60_000)];
  const active = await evaluateAlertExpression(parseAlertExpression('battery_soc < 20'), source(stored), NOW);
  assert.deepEqual(
    active.map((a) => a.labels.node),
    ['fresh'],
  );
});

test('rule expression: one range function of a selector, inside an aggregation or not', () => {
  const e = parseAlertExpression('avg by (site) (avg_over_time(battery_soc{zone="z(1)[x]"}[5m])) > 5');
  assert.deepEqual(e.range, { fn: 'avg_over_time', rangeMs: 300_000 });
  assert.deepEqual(e.query.aggregation, { op: 'avg', grouping: 'by', labels: ['site'] });
  assert.equal(e.query.selector.matchers.find((m) => m.name === 'zone')?.value, 'z(1)[x]');
  assert.deepEqual(parseAlertExpression('quantile_over_time(0.95, rtt_ms[1h30m])').range, {
    fn: 'quantile_over_time',
    rangeMs: 5_400_000,
    quantile: 0.95,
  });
  assert.deepEqual(parseAlertExpression('sum(rate(errors_total[1m])) by (zone)').range, { fn: 'rate', rangeMs: 60_000 });
  assert.equal(parseAlertExpression('max without (node) (battery_soc)').range, undefined);
});

test('rule expression: range functions refused with what is wrong', () => {
  const refused = (text: string, why: RegExp) =>
    assert.throws(() => parseAlertExpression(text), { code: 'FM_QUERY_INVALID', message: why });
  refused('rate(x)', /rate\(\) needs a selector with a range, like rate\(x\[5m\]\)/);
  refused('rate(x[five])', /"five" is not a range/);
  refused('rate(x[0s])', /"0s" is not a range/);
  refused('quantile_over_time(x[5m])', /quantile_over_time takes a number φ and a range/);
  refused('avg_over_time(x[5m], 2)', /avg_over_time\(\) takes one argument/);
  refused('sum(rate(x[5m])) + rate(y[5m])', /only one range function is supported/);
  refused('x[5m]', /range vectors .* are not supported/);
  refused('topk(3, rate(x[5m]))', /topk\(\) .* not supported/);
  refused('rate(x[5m]) * 60', /numbers and operators/);
});

test('rule expression: a range function per series, then the aggregation, at the evaluation time', async () => {
  const S = 1_000;
  const rtt = (node: string, site: string, values: number[]): SeriesPoints => ({
    metric: { __name__: 'rtt_ms', site, node },
    points: values.map((v, i) => [NOW - (values.length - 1 - i) * 15 * S, v] as const),
  });
  const stored = [rtt('p1', 's1', [10, 20, 30, 40]), rtt('p2', 's1', [100, 100, 100, 100]), rtt('p3', 's2', [1, 2])];
  const asked: Array<[number, number]> = [];
  const recording: SeriesSource = async (matchers, startMs, endMs) => {
    asked.push([startMs, endMs]);
    return stored.filter((s) => matchesSelector({ matchers, text: '' }, s.metric.__name__ ?? '', s.metric));
  };
  assert.deepEqual(await evaluateAlertExpression(parseAlertExpression('avg_over_time(rtt_ms[1m])'), recording, NOW), [
    { labels: { site: 's1', node: 'p1' }, value: 25 },
    { labels: { site: 's1', node: 'p2' }, value: 100 },
    { labels: { site: 's2', node: 'p3' }, value: 1.5 },
  ]);
  assert.deepEqual(asked, [[NOW - 60 * S, NOW]], 'the window read is the range, not the lookback');
  assert.deepEqual(await evaluateAlertExpression(parseAlertExpression('max by (site) (max_over_time(rtt_ms[1m]))'), recording, NOW), [
    { labels: { site: 's1' }, value: 100 },
    { labels: { site: 's2' }, value: 2 },
  ]);
  assert.deepEqual(
    await evaluateAlertExpression(parseAlertExpression('quantile_over_time(0.5, rtt_ms{node="p1"}[30s]) > 30'), recording, NOW),
    [{ labels: { site: 's1', node: 'p1' }, value: 35 }],
  );
});
