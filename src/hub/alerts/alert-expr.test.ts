// Alert expressions: any PromQL expression giving an instant vector, evaluated with the semantics the
// query API uses (lookback, staleness, functions, operators, aggregation).
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

test('alert expression: comparisons on either side and of any expression, as PromQL evaluates them', async () => {
  const stored = [soc('n1', 's1', 15), soc('n2', 's1', 35)];
  const filtered: SeriesSource = async (matchers) =>
    stored.filter((s) => matchesSelector({ matchers, text: '' }, s.metric.__name__ ?? '', s.metric));
  const active = async (text: string) => evaluateAlertExpression(parseAlertExpression(text), filtered, NOW);
  assert.deepEqual(await active('20 > battery_soc'), [{ labels: { site: 's1', node: 'n1' }, value: 15 }]);
  assert.deepEqual(await active('battery_soc >= -1.5e3 and battery_soc != +Inf'), [
    { labels: { site: 's1', node: 'n1' }, value: 15 },
    { labels: { site: 's1', node: 'n2' }, value: 35 },
  ]);
  assert.deepEqual(await active('battery_soc{site!="a",node=~"n.*"} <= (15)'), [{ labels: { site: 's1', node: 'n1' }, value: 15 }]);
  assert.deepEqual(await active('avg by (site) (battery_soc) > 20'), [{ labels: { site: 's1' }, value: 25 }]);
  // What the old parser refused: bool, two series compared, arithmetic of a range function.
  assert.deepEqual(await active('battery_soc > bool 20'), [
    { labels: { site: 's1', node: 'n1' }, value: 0 },
    { labels: { site: 's1', node: 'n2' }, value: 1 },
  ]);
  // One-to-one matching ignoring(node) leaves node out of the result, as Prometheus does.
  assert.deepEqual(await active('battery_soc{node="n2"} > ignoring(node) battery_soc{node="n1"}'), [{ labels: { site: 's1' }, value: 35 }]);
  assert.deepEqual(await active('vector(1) > 0'), [{ labels: {}, value: 1 }]);
  assert.deepEqual(await active('scalar(count(battery_soc))'), [{ labels: {}, value: 2 }]);
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

test("rule expression: what is not an instant vector, or not PromQL, is refused with Prometheus' words", () => {
  const refused = (text: string, why: RegExp) =>
    assert.throws(() => parseAlertExpression(text), { code: 'FM_QUERY_INVALID', message: why });
  refused('rate(x)', /expected type range vector in call to function "rate", got instant vector/);
  refused('rate(x[five])', /parse error/);
  refused('quantile_over_time(x[5m])', /expected 2 argument\(s\) in call to "quantile_over_time", got 1/);
  refused('x[5m]', /a rule expression must give an instant vector, this one gives a range vector/);
  refused('"text"', /gives a string/);
  refused('holt_winters(x[5m], 0.5, 0.5) > 1', /function holt_winters is not supported/);
  refused('', /missing parameter "query"/);
});

test('rule expression: topk of a rate, arithmetic and several range functions, which the old parser refused', async () => {
  const S = 1_000;
  const counter = (node: string, perSecond: number): SeriesPoints => ({
    metric: { __name__: 'errors_total', node },
    points: Array.from({ length: 9 }, (_, i) => [NOW - (8 - i) * 15 * S, i * 15 * perSecond] as const),
  });
  const stored = [counter('a', 1), counter('b', 2), counter('c', 3)];
  const src: SeriesSource = async (matchers) =>
    stored.filter((s) => matchesSelector({ matchers, text: '' }, s.metric.__name__ ?? '', s.metric));
  // Window [NOW - 1m, NOW] holds the samples at -60 s..0: rises of 60, 120, 180 over the whole minute.
  assert.deepEqual(await evaluateAlertExpression(parseAlertExpression('topk(1, rate(errors_total[1m])) * 60'), src, NOW), [
    { labels: { node: 'c' }, value: 180 },
  ]);
  assert.deepEqual(
    await evaluateAlertExpression(
      parseAlertExpression('sum(increase(errors_total[1m])) - sum(increase(errors_total[1m] offset 1m))'),
      src,
      NOW,
    ),
    [{ labels: {}, value: 0 }],
  );
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
    await evaluateAlertExpression(parseAlertExpression('quantile_over_time(0.5, rtt_ms{node="p1"}[20s]) > 30'), recording, NOW),
    [{ labels: { site: 's1', node: 'p1' }, value: 35 }],
  );
});
