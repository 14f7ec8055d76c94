// `npm run bench -- promql` (issue 14, "Oracle agreement"): the oracle corpus against Debian's Prometheus 2.42 and the
// hub's HTTP API over the same 1,000 series and one day at 15 s (fed through Prometheus' remote write receiver and the
// hub's appendSamples): how many queries agree and how many fieldmesh refuses by name (100 % must be one or the other),
// and query latency p50/p99 of a representative subset on both, over HTTP on 127.0.0.1, one query at a time.

import { compareAnswers, type Params } from '../test/oracle/oracle-compare.js';
import { startOracle } from '../test/oracle/oracle-harness.js';
import { CORPUS, expandQuery, INSTANT_ONLY } from '../test/oracle/promql-corpus.js';

const DAY_MS = 86_400_000;

/** Representative of dashboards and rules: a selector, aggregations, rate and friends, a histogram, a join, a subquery. */
export const LATENCY_QUERIES: readonly string[] = [
  'battery_soc{site="s1"}',
  'avg by (site) (battery_soc)',
  'battery_soc > 50',
  'sum by (site) (rate(energy_total[5m]))',
  'increase(energy_total[1h])',
  'max_over_time(battery_voltage[10m])',
  'histogram_quantile(0.9, sum by (site, le) (rate(request_duration_seconds_bucket[5m])))',
  'battery_soc / on(site, node, zone) battery_voltage',
  'topk(5, battery_soc)',
  'max_over_time(avg by (site) (battery_soc)[30m:1m])',
];

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] as number;
}

async function timed(url: string, path: string, params: Params): Promise<number> {
  const t0 = performance.now();
  const res = await fetch(`${url}/api/v1/${path}?${new URLSearchParams(params)}`);
  const body = (await res.json()) as { status: string; error?: string };
  const ms = performance.now() - t0;
  if (body.status !== 'success') throw new Error(`${url} ${params.query}: ${body.error}`);
  return ms;
}

export async function benchPromql(sites = 10, nodesPerSite = 18, instantRuns = 30, rangeRuns = 8) {
  const feedStart = performance.now();
  const oracle = await startOracle({ sites, nodesPerSite, spanMs: DAY_MS, endMs: Date.now() - 60_000 });
  const feedSeconds = (performance.now() - feedStart) / 1000;
  try {
    const { startMs, endMs } = oracle.data;
    const samples = oracle.data.series.reduce((a, s) => a + s.points.length, 0);
    const sec = (ms: number) => String(ms / 1000);
    // Agreement: every corpus query at 3 instants and over 2 ranges.
    const asks: Array<['query' | 'query_range', Params]> = [];
    for (const query of CORPUS.map((q) => expandQuery(q, oracle.data))) {
      const rangesToo = !INSTANT_ONLY.has(query);
      for (const t of [endMs, endMs - 7 * 60_000 + 3_000, startMs + DAY_MS / 2 + 7_500]) asks.push(['query', { query, time: sec(t) }]);
      if (!rangesToo) continue;
      asks.push(['query_range', { query, start: sec(endMs - 3_600_000), end: sec(endMs + 6 * 60_000), step: '60' }]);
      asks.push(['query_range', { query, start: sec(startMs + 123_400), end: sec(startMs + 1_800_000), step: '15' }]);
    }
    const perQuery = new Map<string, 'agree' | 'refused' | 'mismatch'>();
    const mismatches: string[] = [];
    const refusals = new Set<string>();
    for (const [path, params] of asks) {
      const query = params.query as string;
      const [p, f] = await Promise.all([oracle.prom(path, params), oracle.fieldmesh(path, params)]);
      const v = compareAnswers(query, p, f);
      const before = perQuery.get(query);
      if (v.kind === 'mismatch') {
        perQuery.set(query, 'mismatch');
        mismatches.push(`${query} ${JSON.stringify(params)}: ${v.diff}`);
      } else if (v.kind === 'refused') {
        if (before !== 'mismatch') perQuery.set(query, 'refused');
        refusals.add(`${query}: ${v.why}`);
      } else if (before === undefined) perQuery.set(query, 'agree');
    }
    const count = (k: string) => [...perQuery.values()].filter((v) => v === k).length;
    // Latency: one at a time, alternating, after a warm-up of each.
    const latency = [];
    for (const query of LATENCY_QUERIES) {
      for (const [kind, runs, params] of [
        ['instant', instantRuns, { query, time: sec(endMs) }],
        ['range 6h step 60s', rangeRuns, { query, start: sec(endMs - 6 * 3_600_000), end: sec(endMs), step: '60' }],
      ] as const) {
        const path = kind === 'instant' ? 'query' : 'query_range';
        await timed(oracle.prometheus.url, path, params);
        await timed(oracle.fieldmeshUrl, path, params);
        const prom: number[] = [];
        const fm: number[] = [];
        for (let i = 0; i < runs; i++) {
          prom.push(await timed(oracle.prometheus.url, path, params));
          fm.push(await timed(oracle.fieldmeshUrl, path, params));
        }
        prom.sort((a, b) => a - b);
        fm.sort((a, b) => a - b);
        const r = (x: number) => Math.round(x * 10) / 10;
        latency.push({
          query,
          kind,
          runs,
          prometheusP50Ms: r(percentile(prom, 50)),
          prometheusP99Ms: r(percentile(prom, 99)),
          fieldmeshP50Ms: r(percentile(fm, 50)),
          fieldmeshP99Ms: r(percentile(fm, 99)),
          ratioP50: r(percentile(fm, 50) / percentile(prom, 50)),
        });
      }
    }
    return {
      prometheus: 'Debian prometheus 2.42 (remote write receiver)',
      fieldmesh: 'hub HTTP API over SQLite',
      series: oracle.data.series.length,
      samples,
      spanHours: 24,
      feedSeconds: Math.round(feedSeconds),
      corpusQueries: CORPUS.length,
      comparisons: asks.length,
      agreeingQueries: count('agree'),
      refusedByNameQueries: count('refused'),
      mismatchingQueries: count('mismatch'),
      refusals: [...refusals],
      mismatches: mismatches.slice(0, 20),
      latency,
    };
  } finally {
    await oracle.close();
  }
}
