// Node queries: a selector or one aggregation by/without labels; the rest refused by name; per-step sums.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isFieldmeshError } from '../../kit/index.js';
import { aggregateSeries, parseAggregationQuery } from './aggregation-query.js';
import { evaluateInstantQuery, evaluateRangeQuery } from './evaluate-query.js';

test('aggregation query: a plain selector has no aggregation', () => {
  const q = parseAggregationQuery('battery_soc{site="s1"}');
  assert.equal(q.aggregation, undefined);
  assert.equal(q.selector.matchers.length, 2);
});

test('aggregation query: sum|avg|min|max|count with by/without before or after, or no grouping', () => {
  for (const [text, op, grouping, labels] of [
    ['sum by (site) (battery_soc)', 'sum', 'by', ['site']],
    ['avg without(node, device)(battery_soc{site="s1"})', 'avg', 'without', ['node', 'device']],
    ['max(battery_soc) by (site, zone)', 'max', 'by', ['site', 'zone']],
    ['count(battery_soc)', 'count', 'by', []],
    ['min by () (x{a="(),"})', 'min', 'by', []],
  ] as const) {
    const q = parseAggregationQuery(text);
    assert.deepEqual(q.aggregation, { op, grouping, labels }, text);
  }
  assert.equal(parseAggregationQuery('min by () (x{a="(),"})').selector.matchers[1]?.value, '(),');
  assert.equal(parseAggregationQuery('summary_total').aggregation, undefined, 'a metric named sum... is a selector');
});

test('aggregation query: functions, nested expressions, operators and parameters are refused by name', () => {
  for (const [query, says] of [
    ['rate(x[5m])', /functions and aggregations such as rate\(\)/],
    ['topk(3, x)', /such as topk\(\)/],
    ['sum(rate(x[5m]))', /such as rate\(\)/],
    ['sum(x) / 2', /operators and further expressions \("\/ 2"\)/],
    ['sum by (site) (x) by (zone)', /once/],
    ['sum by (site x)', /"site x" is not a label name/],
    ['sum(x, y)', /parameters of sum\(\)/],
    ['sum(x', /unbalanced/],
    ['sum()', /needs a selector/],
    ['x > 5', /numbers and operators/],
  ] as const) {
    assert.throws(
      () => parseAggregationQuery(query),
      (e) => isFieldmeshError(e, 'FM_QUERY_INVALID') && says.test(e.message) && /sum\|avg\|min\|max\|count/.test(e.message),
      query,
    );
  }
});

const series = [
  {
    metric: { __name__: 'soc', site: 's1', node: 'a' },
    values: [
      [0, 10],
      [1, 20],
    ] as [number, number][],
  },
  { metric: { __name__: 'soc', site: 's1', node: 'b' }, values: [[0, 30]] as [number, number][] },
  {
    metric: { __name__: 'soc', site: 's2', node: 'c' },
    values: [
      [0, 5],
      [1, Number.NaN],
    ] as [number, number][],
  },
];

test('aggregation: per step over the series that have a value there, grouped by or without labels', () => {
  const agg = (op: 'sum' | 'avg' | 'min' | 'max' | 'count', grouping: 'by' | 'without', labels: string[]) =>
    aggregateSeries(series, { op, grouping, labels }).map((s) => [s.metric, s.values]);
  assert.deepEqual(agg('sum', 'by', ['site']), [
    [
      { site: 's1' },
      [
        [0, 40],
        [1, 20],
      ],
    ],
    [
      { site: 's2' },
      [
        [0, 5],
        [1, Number.NaN],
      ],
    ],
  ]);
  assert.deepEqual(agg('avg', 'without', ['node']), agg('avg', 'by', ['site']));
  assert.deepEqual(agg('count', 'by', []), [
    [
      {},
      [
        [0, 3],
        [1, 2],
      ],
    ],
  ]);
  assert.deepEqual(
    agg('max', 'by', []),
    [
      [
        {},
        [
          [0, 30],
          [1, 20],
        ],
      ],
    ],
    'NaN loses to a number in max',
  );
  assert.deepEqual(agg('min', 'by', ['missing']), [
    [
      {},
      [
        [0, 5],
        [1, 20],
      ],
    ],
  ]);
});

test('evaluate query: lookback per series before aggregation; matrix and vector shapes', () => {
  const stored = [
    {
      metric: { __name__: 'soc', node: 'a' },
      points: [
        [0, 1],
        [2_000, 2],
      ] as [number, number][],
    },
    { metric: { __name__: 'soc', node: 'b' }, points: [[1_000, 10]] as [number, number][] },
  ];
  const q = parseAggregationQuery('sum(soc)');
  assert.deepEqual(evaluateRangeQuery(q, stored, 0, 3_000, 1_000), [
    {
      metric: {},
      values: [
        [0, '1'],
        [1, '11'],
        [2, '12'],
        [3, '12'],
      ],
    },
  ]);
  assert.deepEqual(evaluateInstantQuery(parseAggregationQuery('soc'), stored, 1_500), [
    { metric: { __name__: 'soc', node: 'a' }, value: [1.5, '1'] },
    { metric: { __name__: 'soc', node: 'b' }, value: [1.5, '10'] },
  ]);
});
