// Alert expressions: parsed by the hub's query language plus one comparison, evaluated with the
// Prometheus semantics the query API uses (lookback, staleness, aggregation).
// calendar: expressions are evaluated at a given instant over given points.
import assert from 'node:assert/strict';
import { test } from 'node:test';
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
