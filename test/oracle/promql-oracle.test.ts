// Prometheus itself as the oracle of fieldmesh's PromQL (issue 14): every query of the corpus, as an instant query at
// several instants and as a range query over several ranges and steps, against a real Prometheus and the hub's HTTP
// API over the same samples; each answer agrees point by point or fieldmesh refuses the query by name.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { compareAnswers, type Params } from './oracle-compare.js';
import { type Oracle, startOracle } from './oracle-harness.js';
import { CORPUS, expandQuery, INSTANT_ONLY } from './promql-corpus.js';

const SPAN_MS = 3 * 3_600_000;
let oracle: Oracle;

before(async () => {
  oracle = await startOracle({ sites: 3, nodesPerSite: 4, spanMs: SPAN_MS, endMs: Date.now() - 60_000 });
});

after(async () => {
  await oracle?.close();
});

const sec = (ms: number) => String(ms / 1000);

function cases(): Array<['query' | 'query_range', Params, string]> {
  const { startMs, endMs } = oracle.data;
  const instants = [
    endMs,
    endMs - 7 * 60_000 + 3_000,
    startMs + 3_600_000 + 7_500,
    startMs + 120_000,
    endMs + 4 * 60_000,
    startMs + SPAN_MS / 3 + 61_000,
  ];
  const ranges: Array<[number, number, number]> = [
    [startMs, endMs, 60_000],
    [endMs - 30 * 60_000, endMs + 6 * 60_000, 15_000],
    [startMs + 123_400, startMs + 3_600_000, 37_000],
    [endMs - 2 * 3_600_000, endMs, 300_000],
  ];
  const out: Array<['query' | 'query_range', Params, string]> = [];
  for (const query of CORPUS.map((q) => expandQuery(q, oracle.data))) {
    const rangesToo = !INSTANT_ONLY.has(query);
    for (const t of instants) out.push(['query', { query, time: sec(t) }, `${query} @ ${sec(t)}`]);
    for (const [s, e, step] of rangesToo ? ranges : []) {
      out.push([
        'query_range',
        { query, start: sec(s), end: sec(e), step: sec(step) },
        `${query} over [${sec(s)}, ${sec(e)}] step ${sec(step)}`,
      ]);
    }
  }
  return out;
}

test('promql oracle: every corpus query agrees with Prometheus or is refused by name', async () => {
  assert.ok(CORPUS.length >= 150);
  const all = cases();
  const mismatches: string[] = [];
  const refused = new Set<string>();
  let agreed = 0;
  let next = 0;
  const worker = async () => {
    while (next < all.length) {
      const [path, params, what] = all[next++] as (typeof all)[number];
      const [p, f] = await Promise.all([oracle.prom(path, params), oracle.fieldmesh(path, params)]);
      const v = compareAnswers(params.query ?? '', p, f);
      if (v.kind === 'agree') agreed++;
      else if (v.kind === 'refused') refused.add(`${params.query}: ${v.why}`);
      else mismatches.push(`${what}: ${v.diff}`);
    }
  };
  await Promise.all([worker(), worker(), worker()]);
  if (process.env.ORACLE_VERBOSE) console.log(`agreed ${agreed}, refused ${[...refused].join('\n')}`);
  assert.deepEqual(mismatches, [], `${mismatches.length} of ${all.length} answers differ from Prometheus`);
});

test('promql oracle: a range of exactly 11,000 steps is answered, one step more is refused, by both', async () => {
  const end = Math.floor(oracle.data.endMs / 1000);
  for (const [steps, ok] of [
    [11_000, true],
    [11_001, false],
  ] as const) {
    const params = { query: 'vector(1)', start: String(end - steps), end: String(end), step: '1' };
    const [p, f] = await Promise.all([oracle.prom('query_range', params), oracle.fieldmesh('query_range', params)]);
    assert.equal(p.ok, ok, `prometheus at ${steps} steps`);
    assert.equal(f.ok, ok, `fieldmesh at ${steps} steps`);
    assert.deepEqual(compareAnswers('vector(1)', p, f), { kind: 'agree' });
  }
});

test("promql oracle: the one deliberate difference, a duration as a number (Prometheus 3's syntax), is Prometheus 2.42's parse error", async () => {
  const params = { query: 'battery_soc > 5m', time: String(oracle.data.endMs / 1000) };
  const [p, f] = await Promise.all([oracle.prom('query', params), oracle.fieldmesh('query', params)]);
  assert.equal(p.ok, false);
  assert.match(p.ok ? '' : p.error, /unexpected duration "5m"/);
  // fieldmesh reads 5m as 300 (docs/promql.md, differences): the same answer as battery_soc > 300.
  const [p300, f300] = await Promise.all([
    oracle.prom('query', { ...params, query: 'battery_soc > 300' }),
    oracle.fieldmesh('query', { ...params, query: 'battery_soc > 300' }),
  ]);
  assert.deepEqual(compareAnswers('battery_soc > 300', p300, f), { kind: 'agree' });
  assert.deepEqual(compareAnswers('battery_soc > 300', p300, f300), { kind: 'agree' });
});
