// PromQL evaluation with Prometheus' semantics, on small series over a manual time base (ms from 0):
// every expectation is computed by hand in the comment beside it.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { isFieldmeshError } from '../../kit/index.js';
import { matchesLabelMatchers } from '../selector.js';
import { checkRange, evaluateInstant, evaluateRange, type SeriesPoints, type SeriesSource } from './evaluate.js';
import { formatValue } from './format.js';
import { parsePromQL } from './parse.js';
import type { Sample } from './values.js';

const S = 1_000;
const M = 60_000;

function sourceOf(data: readonly SeriesPoints[]): SeriesSource {
  return async (matchers, startMs, endMs) =>
    data
      .filter((s) => matchesLabelMatchers(matchers, s.metric))
      .map((s) => ({ metric: s.metric, points: s.points.filter(([t]) => t >= startMs && t <= endMs) }));
}

function series(name: string, labels: Record<string, string>, points: Array<[number, number | null]>): SeriesPoints {
  return { metric: { __name__: name, ...labels }, points };
}

/** A counter going up 1 per second, sampled every 15 s from 0 to 120 s. */
const counter = series(
  'requests_total',
  { job: 'api' },
  Array.from({ length: 9 }, (_, i) => [i * 15 * S, i * 15] as [number, number]),
);

const soc = [
  series('battery_soc', { site: 's1', node: 'a' }, [
    [0, 10],
    [M, 20],
    [2 * M, 30],
  ]),
  series('battery_soc', { site: 's1', node: 'b' }, [
    [0, 50],
    [M, 60],
    [2 * M, 70],
  ]),
  series('battery_soc', { site: 's2', node: 'c' }, [
    [0, 1],
    [M, 2],
    [90 * S, null],
  ]),
];
const DATA = [counter, ...soc];

async function instant(query: string, atMs: number, data: readonly SeriesPoints[] = DATA) {
  return evaluateInstant(parsePromQL(query), sourceOf(data), atMs);
}

async function vector(query: string, atMs: number, data: readonly SeriesPoints[] = DATA): Promise<Sample[]> {
  const r = await instant(query, atMs, data);
  assert.equal(r.resultType, 'vector', query);
  return [...(r.result as Sample[])];
}

/** `labels=value` lines, sorted, for compact comparisons. */
function lines(samples: readonly Sample[]): string[] {
  return samples
    .map(
      (s) =>
        `${Object.entries(s.metric)
          .sort()
          .map(([k, v]) => `${k}=${v}`)
          .join(',')} ${formatValue(s.value)}`,
    )
    .sort();
}

async function scalar(query: string, atMs = 0): Promise<number> {
  const r = await instant(query, atMs);
  assert.equal(r.resultType, 'scalar', query);
  return r.result as number;
}

async function refused(query: string, atMs = 2 * M, data: readonly SeriesPoints[] = DATA): Promise<string> {
  try {
    await instant(query, atMs, data);
  } catch (err) {
    assert.ok(isFieldmeshError(err, 'FM_QUERY_INVALID'), String(err));
    return err.message;
  }
  assert.fail(`${query} was answered`);
}

test("promql eval: Grafana's 1+1 and scalar arithmetic with every operator", async () => {
  assert.equal(await scalar('1+1'), 2);
  assert.equal(await scalar('7 % 3'), 1);
  assert.equal(await scalar('-7 % 3'), -1); // Go's math.Mod keeps the dividend's sign
  assert.equal(await scalar('2 ^ 3 ^ 2'), 512); // right-associative: 2^(3^2)
  assert.equal(await scalar('(1 atan2 1) * 4 == bool pi()'), 1);
  assert.equal(await scalar('-2 ^ 2'), -4); // unary minus binds looser than ^, as in Prometheus' Go parser
  assert.equal(await scalar('2 ^ -1'), 0.5);
  assert.equal(await scalar('1 > bool 2'), 0);
  assert.equal(await scalar('time()', 90 * S), 90);
});

test('promql eval: lookback is 5 minutes, closed as in Prometheus 2, and a staleness marker ends a series', async () => {
  const only = [series('x', {}, [[0, 1]])];
  assert.deepEqual(lines(await vector('x', 5 * M, only)), ['__name__=x 1']);
  assert.deepEqual(lines(await vector('x', 5 * M + 1, only)), []);
  // s2/c was marked stale at 90 s: at 100 s its 60 s sample no longer counts.
  assert.deepEqual(lines(await vector('battery_soc{site="s2"}', 80 * S)), ['__name__=battery_soc,node=c,site=s2 2']);
  assert.deepEqual(lines(await vector('battery_soc{site="s2"}', 100 * S)), []);
});

test('promql eval: avg by (site), battery_soc > 50, sum by (__name__) keeps the name', async () => {
  assert.deepEqual(lines(await vector('avg by (site) (battery_soc)', M)), ['site=s1 40', 'site=s2 2']);
  assert.deepEqual(lines(await vector('battery_soc > 50', M)), ['__name__=battery_soc,node=b,site=s1 60']);
  assert.deepEqual(lines(await vector('sum by (__name__) (battery_soc)', M)), ['__name__=battery_soc 82']);
  assert.deepEqual(lines(await vector('sum without (node) (battery_soc)', M)), ['site=s1 80', 'site=s2 2']);
  assert.deepEqual(lines(await vector('sum(max by (site) (battery_soc))', M)), [' 62']);
});

test('promql eval: offset and @ (a time, start(), end()) move where a selector reads', async () => {
  assert.deepEqual(lines(await vector('battery_soc{node="a"} offset 1m', 2 * M)), ['__name__=battery_soc,node=a,site=s1 20']);
  assert.deepEqual(lines(await vector('battery_soc{node="a"} @ 60', 2 * M)), ['__name__=battery_soc,node=a,site=s1 20']);
  assert.deepEqual(lines(await vector('battery_soc{node="a"} offset -1m', M)), ['__name__=battery_soc,node=a,site=s1 30']);
  const r = await evaluateRange(parsePromQL('battery_soc{node="a"} @ start()'), sourceOf(DATA), M, 2 * M, M);
  assert.deepEqual(
    r.map((s) => s.points),
    [
      [
        [M, 20],
        [2 * M, 20],
      ],
    ],
  );
  const e = await evaluateRange(parsePromQL('battery_soc{node="a"} @ end()'), sourceOf(DATA), 0, M, M);
  assert.deepEqual(e[0]?.points, [
    [0, 20],
    [M, 20],
  ]);
});

test('promql eval: unary minus and arithmetic drop the metric name; comparisons without bool keep it', async () => {
  assert.deepEqual(lines(await vector('-battery_soc{node="a"}', M)), ['node=a,site=s1 -20']);
  assert.deepEqual(lines(await vector('battery_soc{node="a"} * 2', M)), ['node=a,site=s1 40']);
  assert.deepEqual(lines(await vector('100 - battery_soc{node="a"}', M)), ['node=a,site=s1 80']);
  assert.deepEqual(lines(await vector('battery_soc{node="a"} > bool 15', M)), ['node=a,site=s1 1']);
  // A scalar on the left of a comparison filters but keeps the vector's value.
  assert.deepEqual(lines(await vector('15 < battery_soc{site="s1"}', M)), [
    '__name__=battery_soc,node=a,site=s1 20',
    '__name__=battery_soc,node=b,site=s1 60',
  ]);
  assert.deepEqual(lines(await vector('(battery_soc)', 2 * M)).length, 2);
});

test('promql eval: rate, increase, delta, irate, idelta, deriv over a 1/s counter', async () => {
  // Window [60 s, 120 s] holds 5 samples 60..120: an increase of 60 over 60 s, no extrapolation needed.
  assert.deepEqual(lines(await vector('rate(requests_total[1m])', 2 * M)), ['job=api 1']);
  assert.deepEqual(lines(await vector('increase(requests_total[1m])', 2 * M)), ['job=api 60']);
  assert.deepEqual(lines(await vector('delta(requests_total[1m])', 2 * M)), ['job=api 60']);
  assert.deepEqual(lines(await vector('irate(requests_total[1m])', 2 * M)), ['job=api 1']);
  assert.deepEqual(lines(await vector('idelta(requests_total[1m])', 2 * M)), ['job=api 15']);
  assert.deepEqual(lines(await vector('deriv(requests_total[1m])', 2 * M)), ['job=api 1']);
  // predict_linear 60 s ahead of 120 s: 120 + 60.
  assert.deepEqual(lines(await vector('predict_linear(requests_total[1m], 60)', 2 * M)), ['job=api 180']);
  // At 130 s the window [70 s, 130 s] holds 75..120 (4 samples, 45 s apart end to end): the start extrapolates
  // by 5 s (< 1.1 × 15 s), the end by 10 s: 45 × (45 + 5 + 10) / 45 = 60 → rate 1.
  assert.deepEqual(lines(await vector('increase(requests_total[1m])', 130 * S)), ['job=api 60']);
});

test('promql eval: counter resets, resets() and changes()', async () => {
  const c = [
    series('c', {}, [
      [0, 5],
      [10 * S, 10],
      [20 * S, 2],
      [30 * S, 4],
    ]),
  ];
  // Window [0, 30 s] holds all four: 4 - 5 + 10 (the reset) = 9 over the whole window, no extrapolation.
  assert.deepEqual(lines(await vector('increase(c[30s])', 30 * S, c)), [' 9']);
  assert.deepEqual(lines(await vector('resets(c[30s])', 30 * S, c)), [' 1']);
  assert.deepEqual(lines(await vector('changes(c[30s])', 30 * S, c)), [' 3']);
  assert.deepEqual(lines(await vector('changes(c[29s])', 30 * S, c)), [' 2']);
  // irate across the reset: the value after it over 10 s.
  assert.deepEqual(lines(await vector('irate(c[30s])', 30 * S, c)), [' 0.2']);
});

test('promql eval: every *_over_time, with last_over_time keeping the name', async () => {
  const g = [
    series('g', { k: 'v' }, [
      [0, 1],
      [10 * S, 2],
      [20 * S, 4],
      [30 * S, 5],
    ]),
  ];
  const at = 30 * S; // [30s] reaches back to the sample at 0
  const expect: Record<string, string> = {
    'avg_over_time(g[30s])': 'k=v 3',
    'sum_over_time(g[30s])': 'k=v 12',
    'min_over_time(g[30s])': 'k=v 1',
    'max_over_time(g[30s])': 'k=v 5',
    'count_over_time(g[30s])': 'k=v 4',
    'last_over_time(g[30s])': '__name__=g,k=v 5',
    'present_over_time(g[30s])': 'k=v 1',
    'quantile_over_time(0.5, g[30s])': 'k=v 3',
    'stdvar_over_time(g[30s])': 'k=v 2.5', // mean 3, squares 4+1+1+4 = 10, /4
    'stddev_over_time(g[30s])': `k=v ${formatValue(Math.sqrt(2.5))}`,
  };
  for (const [q, want] of Object.entries(expect)) assert.deepEqual(lines(await vector(q, at, g)), [want], q);
  assert.deepEqual(lines(await vector('absent_over_time(g[30s])', at, g)), []);
  assert.deepEqual(lines(await vector('absent_over_time(nope{a="b"}[30s])', at, g)), ['a=b 1']);
  assert.deepEqual(lines(await vector('absent(nope{a="b", c=~"x"})', at, g)), ['a=b 1']);
  assert.deepEqual(lines(await vector('absent(g)', at, g)), []);
});

test('promql eval: math, clamp, round to_nearest, sgn, timestamp, vector, scalar, sort', async () => {
  const g = [series('g', { k: 'a' }, [[10 * S, -2.5]]), series('g', { k: 'b' }, [[20 * S, 7.25]])];
  const at = 30 * S;
  assert.deepEqual(lines(await vector('abs(g)', at, g)), ['k=a 2.5', 'k=b 7.25']);
  assert.deepEqual(lines(await vector('ceil(g)', at, g)), ['k=a -2', 'k=b 8']);
  assert.deepEqual(lines(await vector('floor(g)', at, g)), ['k=a -3', 'k=b 7']);
  assert.deepEqual(lines(await vector('round(g)', at, g)), ['k=a -2', 'k=b 7']); // floor(x + 0.5)
  assert.deepEqual(lines(await vector('round(g, 0.5)', at, g)), ['k=a -2.5', 'k=b 7.5']);
  assert.deepEqual(lines(await vector('clamp(g, 0, 5)', at, g)), ['k=a 0', 'k=b 5']);
  assert.deepEqual(lines(await vector('clamp(g, 5, 0)', at, g)), []);
  assert.deepEqual(lines(await vector('clamp_min(g, 0)', at, g)), ['k=a 0', 'k=b 7.25']);
  assert.deepEqual(lines(await vector('clamp_max(g, 0)', at, g)), ['k=a -2.5', 'k=b 0']);
  assert.deepEqual(lines(await vector('sgn(g)', at, g)), ['k=a -1', 'k=b 1']);
  assert.deepEqual(lines(await vector('sqrt(g{k="b"} - 3.25)', at, g)), ['k=b 2']);
  assert.deepEqual(lines(await vector('exp(g{k="b"} * 0)', at, g)), ['k=b 1']);
  assert.deepEqual(lines(await vector('log2(g{k="b"} + 0.75)', at, g)), ['k=b 3']);
  assert.deepEqual(lines(await vector('log10(g{k="b"} * 0 + 100)', at, g)), ['k=b 2']);
  assert.deepEqual(lines(await vector('ln(g{k="a"})', at, g)), ['k=a NaN']);
  assert.deepEqual(lines(await vector('timestamp(g)', at, g)), ['k=a 10', 'k=b 20']);
  assert.deepEqual(lines(await vector('vector(3)', at, g)), [' 3']);
  assert.deepEqual(lines(await vector('vector(scalar(g{k="b"}))', at, g)), [' 7.25']);
  assert.deepEqual(lines(await vector('vector(scalar(g))', at, g)), [' NaN']); // two elements: NaN
  const sorted = await vector('sort_desc(g)', at, g);
  assert.deepEqual(
    sorted.map((s) => s.value),
    [7.25, -2.5],
  );
  assert.equal(sorted[0]?.metric.__name__, 'g');
  assert.deepEqual(
    (await vector('sort(g)', at, g)).map((s) => s.value),
    [-2.5, 7.25],
  );
  // Date functions of the evaluation time: 1970-01-01T00:00:30Z.
  assert.deepEqual(lines(await vector('year()', at, g)), [' 1970']);
  assert.deepEqual(lines(await vector('day_of_week()', at, g)), [' 4']);
  assert.deepEqual(lines(await vector('days_in_month(vector(86400 * 40))', at, g)), [' 28']);
});

test('promql eval: histogram_quantile over classic buckets', async () => {
  const h = [
    series('lat_bucket', { le: '0.1' }, [[0, 10]]),
    series('lat_bucket', { le: '0.5' }, [[0, 30]]),
    series('lat_bucket', { le: '1' }, [[0, 40]]),
    series('lat_bucket', { le: '+Inf' }, [[0, 40]]),
  ];
  // rank 0.5 × 40 = 20, in the 0.1..0.5 bucket (10..30): 0.1 + 0.4 × (10 / 20) = 0.3 (in floats).
  assert.deepEqual(lines(await vector('histogram_quantile(0.5, lat_bucket)', 0, h)), [` ${formatValue(0.1 + 0.4 * 0.5)}`]);
  // rank 40 reaches the last finite bucket's count: its upper bound.
  assert.deepEqual(lines(await vector('histogram_quantile(1, lat_bucket)', 0, h)), [' 1']);
  assert.deepEqual(lines(await vector('histogram_quantile(0.5, lat_bucket{le!="+Inf"})', 0, h)), [' NaN']);
  assert.deepEqual(lines(await vector('histogram_quantile(2, lat_bucket)', 0, h)), [' +Inf']);
});

test('promql eval: label_replace and label_join with RE2 groups', async () => {
  const at = M;
  assert.deepEqual(lines(await vector('label_replace(battery_soc{node="a"}, "n", "node-$1", "node", "(.*)")', at)), [
    '__name__=battery_soc,n=node-a,node=a,site=s1 20',
  ]);
  // biome-ignore lint/suspicious/noTemplateCurlyInString: a PromQL replacement template, not a JS one
  assert.deepEqual(lines(await vector('label_replace(battery_soc{node="a"}, "n", "${x}!", "site", "(?P<x>s)\\\\d")', at)), [
    '__name__=battery_soc,n=s!,node=a,site=s1 20',
  ]);
  // No match: the element is unchanged.
  assert.deepEqual(lines(await vector('label_replace(battery_soc{node="a"}, "n", "$1", "node", "z(.*)")', at)), [
    '__name__=battery_soc,node=a,site=s1 20',
  ]);
  assert.deepEqual(lines(await vector('label_join(battery_soc{node="a"}, "id", "/", "site", "node")', at)), [
    '__name__=battery_soc,id=s1/a,node=a,site=s1 20',
  ]);
  assert.match(await refused('label_replace(battery_soc, "1x", "", "node", "")'), /invalid destination label name/);
  // label_replace making two elements alike is refused, as Prometheus refuses it.
  assert.match(await refused('label_replace(battery_soc{site="s1"}, "node", "", "node", ".*")', M), /same labelset/);
});

test('promql eval: RE2 regex matchers, (?i) included, anchored to the whole value', async () => {
  assert.deepEqual(lines(await vector('battery_soc{node=~"(?i)A"}', M)), ['__name__=battery_soc,node=a,site=s1 20']);
  assert.deepEqual(lines(await vector('battery_soc{site=~"s"}', M)), []); // anchored: "s" is not "s1"
  assert.deepEqual(lines(await vector('count(battery_soc{site!~"s1"})', M)), [' 1']);
});

test('promql eval: vector matching one-to-one, on/ignoring, group_left/right, and its errors', async () => {
  const d = [
    series('used', { site: 's1', node: 'a' }, [[0, 3]]),
    series('used', { site: 's1', node: 'b' }, [[0, 5]]),
    series('total', { site: 's1', node: 'a' }, [[0, 10]]),
    series('total', { site: 's1', node: 'b' }, [[0, 20]]),
    series('site_cap', { site: 's1', region: 'north' }, [[0, 100]]),
  ];
  assert.deepEqual(lines(await vector('used / total', 0, d)), ['node=a,site=s1 0.3', 'node=b,site=s1 0.25']);
  assert.deepEqual(lines(await vector('used / on(site, node) total', 0, d)), ['node=a,site=s1 0.3', 'node=b,site=s1 0.25']);
  assert.deepEqual(lines(await vector('used / on(site) group_left(region) site_cap', 0, d)), [
    'node=a,region=north,site=s1 0.03',
    'node=b,region=north,site=s1 0.05',
  ]);
  assert.deepEqual(lines(await vector('site_cap / on(site) group_right used', 0, d)), [
    'node=a,site=s1 33.333333333333336',
    'node=b,site=s1 20',
  ]);
  // One-to-one matching on(...) keeps only the matching labels, the name too.
  assert.deepEqual(lines(await vector('total > on(site, node) used', 0, d)), ['node=a,site=s1 10', 'node=b,site=s1 20']);
  assert.deepEqual(lines(await vector('total > used', 0, d)), ['__name__=total,node=a,site=s1 10', '__name__=total,node=b,site=s1 20']);
  assert.deepEqual(lines(await vector('used > bool ignoring(node) group_left site_cap', 0, d)).length, 0); // site_cap has region: no match
  assert.match(await refused('used / on(site) site_cap', 0, d), /many-to-one matching must be explicit/);
  assert.match(
    await refused('site_cap / on(site) group_left used', 0, d),
    /found duplicate series for the match group \{site="s1"\} on the right hand-side/,
  );
});

test('promql eval: and, or, unless', async () => {
  const at = M;
  assert.deepEqual(lines(await vector('battery_soc and battery_soc > 15', at)), [
    '__name__=battery_soc,node=a,site=s1 20',
    '__name__=battery_soc,node=b,site=s1 60',
  ]);
  assert.deepEqual(lines(await vector('battery_soc unless on(site) battery_soc{site="s1"}', at)), [
    '__name__=battery_soc,node=c,site=s2 2',
  ]);
  assert.deepEqual(lines(await vector('battery_soc{node="a"} or vector(1)', at)), [' 1', '__name__=battery_soc,node=a,site=s1 20']);
  assert.deepEqual(lines(await vector('vector(1) or battery_soc{node="a"}', at)), [' 1', '__name__=battery_soc,node=a,site=s1 20']);
});

test('promql eval: every aggregation with by and without', async () => {
  const at = M; // a=20, b=60 (s1), c=2 (s2)
  const expect: Record<string, string[]> = {
    'sum by (site) (battery_soc)': ['site=s1 80', 'site=s2 2'],
    'avg(battery_soc)': [`${' '}${formatValue(82 / 3)}`],
    'min without (node) (battery_soc)': ['site=s1 20', 'site=s2 2'],
    'max(battery_soc) by (site)': ['site=s1 60', 'site=s2 2'],
    'count by (site) (battery_soc)': ['site=s1 2', 'site=s2 1'],
    'group by (site) (battery_soc)': ['site=s1 1', 'site=s2 1'],
    'stdvar by (site) (battery_soc)': ['site=s1 400', 'site=s2 0'],
    'stddev by (site) (battery_soc)': ['site=s1 20', 'site=s2 0'],
    'quantile by (site) (0.5, battery_soc)': ['site=s1 40', 'site=s2 2'],
    'topk(2, battery_soc)': ['__name__=battery_soc,node=a,site=s1 20', '__name__=battery_soc,node=b,site=s1 60'],
    'bottomk by (site) (1, battery_soc)': ['__name__=battery_soc,node=a,site=s1 20', '__name__=battery_soc,node=c,site=s2 2'],
    'count_values("soc", battery_soc)': ['soc=2 1', 'soc=20 1', 'soc=60 1'],
    'count_values by (site) ("soc", battery_soc > 10)': ['site=s1,soc=20 1', 'site=s1,soc=60 1'],
  };
  for (const [q, want] of Object.entries(expect)) assert.deepEqual(lines(await vector(q, at)), want, q);
  const top = await vector('topk(3, battery_soc)', at);
  assert.deepEqual(
    top.map((s) => s.value),
    [60, 20, 2],
  );
});

test('promql eval: subqueries align their steps to multiples of the step', async () => {
  // At 120 s, battery_soc{node="a"}[2m:1m] evaluates at 0, 60 s and 120 s: 10, 20, 30.
  assert.deepEqual(lines(await vector('sum_over_time(battery_soc{node="a"}[2m:1m])', 2 * M)), ['node=a,site=s1 60']);
  // At 150 s the steps are 60 s and 120 s (30 s is not a multiple of 1m): 20 + 30.
  assert.deepEqual(lines(await vector('sum_over_time(battery_soc{node="a"}[2m:1m])', 150 * S)), ['node=a,site=s1 50']);
  assert.deepEqual(lines(await vector('max_over_time(rate(requests_total[30s])[1m:30s])', 2 * M)), ['job=api 1']);
  assert.deepEqual(lines(await vector('sum_over_time(battery_soc{node="a"}[2m:1m] offset 1m)', 2 * M)), ['node=a,site=s1 30']); // steps -60 s (no value), 0 and 60 s
  const r = await instant('battery_soc{node="a"}[1m:1m]', 2 * M);
  assert.equal(r.resultType, 'matrix');
});

test('promql eval: left-open windows (Prometheus 3) leave out the sample at the lower edge', async () => {
  const open = { windows: 'left-open' } as const;
  const only = [series('x', {}, [[0, 1]])];
  const at5m = await evaluateInstant(parsePromQL('x'), sourceOf(only), 5 * M, open);
  assert.equal(at5m.resultType === 'vector' && at5m.result.length, 0);
  const before = await evaluateInstant(parsePromQL('x'), sourceOf(only), 5 * M - 1, open);
  assert.equal(before.resultType === 'vector' && before.result.length, 1);
  // Steps after 0: 60 s and 120 s.
  const sq = await evaluateInstant(parsePromQL('sum_over_time(battery_soc{node="a"}[2m:1m])'), sourceOf(DATA), 2 * M, open);
  assert.deepEqual(sq.resultType === 'vector' && sq.result.map((s) => s.value), [50]);
  // (60 s, 120 s] holds 75..120: 45 over 45 s, extrapolated 15 s back (< 1.1 × 15 s): 60, as floats compute it.
  const r = await evaluateInstant(parsePromQL('increase(requests_total[1m])'), sourceOf(DATA), 2 * M, open);
  assert.deepEqual(r.resultType === 'vector' && r.result.map((s) => s.value), [45 * (60 / 45)]);
});

test('promql eval: range queries step from start to end, sorted by labels, scalars as one series', async () => {
  const r = await evaluateRange(parsePromQL('sum by (site) (battery_soc)'), sourceOf(DATA), 0, 2 * M, M);
  assert.deepEqual(r, [
    {
      metric: { site: 's1' },
      points: [
        [0, 60],
        [M, 80],
        [2 * M, 100],
      ],
    },
    {
      metric: { site: 's2' },
      points: [
        [0, 1],
        [M, 2],
      ],
    },
  ]);
  const s = await evaluateRange(parsePromQL('1+1'), sourceOf(DATA), 0, M, 30 * S);
  assert.deepEqual(s, [
    {
      metric: {},
      points: [
        [0, 2],
        [30 * S, 2],
        [M, 2],
      ],
    },
  ]);
  await assert.rejects(
    evaluateRange(parsePromQL('battery_soc[1m]'), sourceOf(DATA), 0, M, M),
    /invalid expression type "range vector" for range query/,
  );
});

test('promql eval: a range of exactly 11,000 steps (11,001 points) is answered, one more is refused', () => {
  assert.equal(checkRange(0, 11_000 * 15 * S, 15 * S), 11_001);
  assert.throws(() => checkRange(0, 11_001 * 15 * S, 15 * S), /exceeded maximum resolution of 11,000 points per timeseries/);
  assert.throws(() => checkRange(10, 0, 1), /end timestamp must not be before start time/);
});

test('promql eval: functions dropping the name may make two elements alike, which is refused', async () => {
  const d = [series('a', { k: 'v' }, [[0, 1]]), series('b', { k: 'v' }, [[0, 2]])];
  await assert.rejects(instant('abs({k="v"})', 0, d), /vector cannot contain metrics with the same labelset/);
  assert.deepEqual(lines(await vector('{k="v"}', 0, d)), ['__name__=a,k=v 1', '__name__=b,k=v 2']);
});

test('promql eval: values render as Prometheus renders them', () => {
  assert.equal(formatValue(Number.POSITIVE_INFINITY), '+Inf');
  assert.equal(formatValue(Number.NEGATIVE_INFINITY), '-Inf');
  assert.equal(formatValue(Number.NaN), 'NaN');
  assert.equal(formatValue(0.1 + 0.2), '0.30000000000000004');
  assert.equal(formatValue(1e21), '1000000000000000000000');
  assert.equal(formatValue(1.5e-7), '0.00000015');
  assert.equal(formatValue(-2.5e22), '-25000000000000000000000');
  assert.equal(formatValue(12345.678), '12345.678');
});

test("promql eval (property): sum by (g) equals the sum of each group's members", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.record({ g: fc.constantFrom('x', 'y', 'z'), v: fc.integer({ min: -1000, max: 1000 }) }), { minLength: 1, maxLength: 20 }),
      async (rows) => {
        const data = rows.map((r, i) => series('m', { g: r.g, i: String(i) }, [[0, r.v]]));
        const got = await vector('sum by (g) (m)', 0, data);
        const want = new Map<string, number>();
        for (const r of rows) want.set(r.g, (want.get(r.g) ?? 0) + r.v);
        assert.deepEqual(new Map(got.map((s) => [s.metric.g as string, s.value])), want);
      },
    ),
    { numRuns: 50 },
  );
});

test('promql eval (property): a + b - b == a on matching series', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.tuple(fc.integer({ min: -1e6, max: 1e6 }), fc.integer({ min: -1e6, max: 1e6 })), { minLength: 1, maxLength: 10 }),
      async (pairs) => {
        const data = pairs.flatMap(([a, b], i) => [series('a', { i: String(i) }, [[0, a]]), series('b', { i: String(i) }, [[0, b]])]);
        const got = await vector('a + b - b', 0, data);
        assert.deepEqual(new Map(got.map((s) => [s.metric.i as string, s.value])), new Map(pairs.map(([a], i) => [String(i), a])));
      },
    ),
    { numRuns: 50 },
  );
});

test("promql eval: rate's start is limited toward the counter's zero before the threshold (Prometheus 2), after it (Prometheus 3)", async () => {
  // 6, 16, 26 at 30, 45, 60 s, window [0, 60 s]: 20 over 30 s, average spacing 15 s (threshold 16.5 s). The counter
  // reaches zero 30 × 6 / 20 = 9 s before its first sample. Prometheus 2: the start is 9 s back (under the
  // threshold), 20 × 39 / 30 = 26; Prometheus 3: 30 s is past the threshold, so half a spacing, 7.5 s, which is
  // already under 9 s: 20 × 37.5 / 30 = 25.
  const c = [
    series('c', {}, [
      [30 * S, 6],
      [45 * S, 16],
      [60 * S, 26],
    ]),
  ];
  const v2 = await evaluateInstant(parsePromQL('increase(c[1m])'), sourceOf(c), M);
  assert.deepEqual(v2.resultType === 'vector' && v2.result.map((s) => s.value), [26]);
  const v3 = await evaluateInstant(parsePromQL('increase(c[1m])'), sourceOf(c), M, { windows: 'left-open' });
  assert.deepEqual(v3.resultType === 'vector' && v3.result.map((s) => s.value), [25]);
});

test('promql eval: topk keeps what Prometheus 2 keeps among NaNs (a later NaN displaces the top), Prometheus 3 the first', async () => {
  const nan = ['a', 'b', 'c', 'd'].map((n) => series('x', { n }, [[0, Number.NaN]]));
  const kept = async (options = {}) => {
    const r = await evaluateInstant(parsePromQL('topk(2, x)'), sourceOf(nan), 0, options);
    return r.resultType === 'vector' ? r.result.map((s) => s.metric.n).sort() : [];
  };
  // Prometheus 2.42: a, then b; c pops the NaN on top (b, after the push of b moved it up) and d pops c.
  assert.deepEqual(await kept(), ['a', 'd']);
  assert.deepEqual(await kept({ windows: 'left-open' }), ['a', 'b']);
});

test('promql eval: avg of an infinity and finite values stays infinite, as Prometheus 2 averages', async () => {
  const data = [series('x', { n: 'a' }, [[0, Number.POSITIVE_INFINITY]]), series('x', { n: 'b' }, [[0, 1]])];
  const r = await evaluateInstant(parsePromQL('avg(x)'), sourceOf(data), 0);
  assert.deepEqual(r.resultType === 'vector' && r.result.map((s) => s.value), [Number.POSITIVE_INFINITY]);
});
