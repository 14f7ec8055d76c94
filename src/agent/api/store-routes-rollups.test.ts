// The node's query_range over a real SqliteStore with rollups: a rollup answers when the range reaches
// before the oldest raw sample or the step covers a bucket (plain selectors), rollup= and fn= pick one,
// and a rollup the node does not keep is a 400 naming the parameter.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Fastify, { type FastifyInstance } from 'fastify';
import { ManualClock } from '../../kit/index.js';
import type { Sample } from '../../protocol/index.js';
import { createSqliteStore, type SqliteStore } from '../store/index.js';
import { registerStoreRoutes } from './store-routes.js';

const MIN = 60_000;
const HOUR = 3_600_000;
const DAY = 86_400_000;
/** Midnight (UTC) yesterday: sample times relative to the run, on a day boundary. */
const T0 = Math.floor(Date.now() / DAY) * DAY - DAY;
const S = (ms: number) => ms / 1000;
/** Pack a: 50 + (i mod 97) / 10 at sample i (every 5 s from T0); pack b: 20. */
const valueA = (i: number) => 50 + (i % 97) / 10;
const A = { site: 's1', node: 'n1', pack: 'a' };
const B = { site: 's1', node: 'n1', pack: 'b' };
const RECENT = T0 + 3 * DAY;

/** Brute force for pack a: per aligned bucket of `widthMs`, avg / max of its samples, for buckets starting in [from, to]. */
function expectedA(from: number, to: number, widthMs: number, fn: 'avg' | 'max', first: number, last: number): [number, string][] {
  const out: [number, string][] = [];
  for (let b = from; b <= to; b += widthMs) {
    let tenths = 0;
    let count = 0;
    let max = Number.NEGATIVE_INFINITY;
    for (let t = Math.max(b, first); t < Math.min(b + widthMs, last + 1); t += 5000) {
      const i = (t - T0) / 5000;
      tenths += 500 + (i % 97);
      max = Math.max(max, valueA(i));
      count++;
    }
    if (count > 0) out.push([S(b), String(fn === 'avg' ? tenths / 10 / count : max)]);
  }
  return out;
}

describe('node api query_range with rollups (SqliteStore)', () => {
  let dir: string;
  let store: SqliteStore;
  let app: FastifyInstance;
  const clock = new ManualClock(T0 + 10 * HOUR);
  const recentStart = RECENT - 3 * HOUR;
  const recentEnd = RECENT + HOUR - 5000;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'fm-api-rollup-'));
    store = createSqliteStore({
      path: join(dir, 'store.db'),
      clock,
      retentionMs: DAY,
      rollups: [
        { resolutionMs: 5 * MIN, retentionMs: 400 * DAY },
        { resolutionMs: HOUR, retentionMs: 400 * DAY },
      ],
    });
    const samples = (from: number, to: number): Sample[] => {
      const out: Sample[] = [];
      for (let t = from; t <= to; t += 5000) {
        out.push({ name: 'battery_soc', labels: A, time: t, value: valueA((t - T0) / 5000) });
        out.push({ name: 'battery_soc', labels: B, time: t, value: 20 });
      }
      return out;
    };
    // Eight hours on day 0, compacted; three days later its raw samples have expired (one day), its rollups not.
    await store.append(samples(T0, T0 + 8 * HOUR - 5000));
    await store.compact();
    clock.advance(RECENT + HOUR - clock.now());
    // Recent samples: three hours compacted, the last hour still in the head.
    await store.append(samples(recentStart, recentEnd));
    await store.compact();
    await store.applyRetention(clock.now());
    assert.equal((await store.coverage()).rawOldestMs, recentStart);
    app = Fastify({ logger: false });
    await registerStoreRoutes(app, store, { now: () => clock.now() });
  });

  after(async () => {
    await app.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const get = async (query: string, start: number, end: number, step: string, extra = '') =>
    app.inject(`/api/v1/query_range?query=${encodeURIComponent(query)}&start=${S(start)}&end=${S(end)}&step=${step}${extra}`);

  it('answers a range before the oldest raw sample from the finest rollup, avg per bucket at its start', async () => {
    const res = await get('battery_soc{pack="a"}', T0, T0 + 2 * HOUR, '60s');
    assert.equal(res.statusCode, 200);
    const body = res.json();
    assert.equal(body.status, 'success');
    assert.equal(body.data.resultType, 'matrix');
    assert.deepEqual(body.data.result, [
      { metric: { __name__: 'battery_soc', ...A }, values: expectedA(T0, T0 + 2 * HOUR, 5 * MIN, 'avg', T0, T0 + 8 * HOUR - 5000) },
    ]);
    assert.deepEqual(body.infos, [
      "answered from the 5m rollup (the range starts before the oldest raw sample): avg of each 5m step's buckets, at the step's start",
    ]);
    const raw = await get('battery_soc{pack="a"}', T0, T0 + 2 * HOUR, '60s', '&rollup=raw');
    assert.deepEqual(raw.json(), { status: 'success', data: { resultType: 'matrix', result: [] } }, 'raw samples are gone');
  });

  it('aggregates the rollup avgs of each series when the range reaches before the oldest raw sample', async () => {
    const res = await get('sum by (node) (battery_soc)', T0, T0 + 3 * HOUR, '1h');
    const hourly = expectedA(T0, T0 + 3 * HOUR, HOUR, 'avg', T0, T0 + 8 * HOUR - 5000);
    assert.deepEqual(res.json().data.result, [{ metric: { node: 'n1' }, values: hourly.map(([t, v]) => [t, String(Number(v) + 20)]) }]);
    assert.match(res.json().infos[0], /^answered from the 1h rollup \(the range starts before the oldest raw sample\): avg/);
  });

  it('answers a plain selector from the coarsest rollup within its step, the head included', async () => {
    const res = await get('battery_soc{pack="a"}', recentStart, recentEnd, '10m');
    const body = res.json();
    assert.deepEqual(body.data.result[0].values, expectedA(recentStart, recentEnd, 10 * MIN, 'avg', recentStart, recentEnd));
    assert.equal(body.data.result[0].values.at(-1)[0], S(RECENT + 50 * MIN), 'the last step holds head samples');
    assert.match(body.infos[0], /^answered from the 5m rollup \(the step is at least its resolution\): avg of each 10m step's buckets/);
  });

  it('keeps raw samples with Prometheus semantics for finer steps and for aggregations of raw ranges', async () => {
    const fine = (await get('battery_soc{pack="a"}', recentStart, recentStart + MIN, '30s')).json();
    assert.equal(fine.infos, undefined);
    assert.deepEqual(fine.data.result[0].values, [
      [S(recentStart), String(valueA((recentStart - T0) / 5000))],
      [S(recentStart + 30_000), String(valueA((recentStart + 30_000 - T0) / 5000))],
      [S(recentStart + MIN), String(valueA((recentStart + MIN - T0) / 5000))],
    ]);
    const aggregated = (await get('max(battery_soc)', recentStart, recentStart + HOUR, '10m')).json();
    assert.equal(aggregated.infos, undefined);
    assert.deepEqual(aggregated.data.result[0].values[1], [
      S(recentStart + 10 * MIN),
      String(valueA((recentStart + 10 * MIN - T0) / 5000)),
    ]);
  });

  it('uses the rollup and function named by rollup= and fn=, GET or form POST', async () => {
    const res = await get('battery_soc{pack="a"}', recentStart, recentEnd, '15s', '&rollup=1h&fn=max');
    assert.deepEqual(res.json().data.result[0].values, expectedA(recentStart, recentEnd, HOUR, 'max', recentStart, recentEnd));
    assert.match(res.json().infos[0], /^answered from the 1h rollup \(as asked\): max of each 1h step's buckets/);
    const posted = await app.inject({
      method: 'POST',
      url: '/api/v1/query_range',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: new URLSearchParams({
        query: 'count(battery_soc)',
        start: String(S(T0)),
        end: String(S(T0 + 20 * MIN)),
        step: '300',
        rollup: '5m',
        fn: 'count',
      }).toString(),
    });
    assert.deepEqual(posted.json().data.result, [
      {
        metric: {},
        values: [
          [S(T0), '2'],
          [S(T0 + 5 * MIN), '2'],
          [S(T0 + 10 * MIN), '2'],
          [S(T0 + 15 * MIN), '2'],
          [S(T0 + 20 * MIN), '2'],
        ],
      },
    ]);
    const sums = (await get('battery_soc{pack="b"}', T0, T0, '5m', '&rollup=5m&fn=count')).json();
    assert.deepEqual(sums.data.result[0].values, [[S(T0), '60']], 'fn=count is the samples in the bucket');
  });

  it('refuses a rollup the node does not keep, an unknown fn and fn without rollup, naming the parameter', async () => {
    const bad = async (extra: string) => {
      const res = await get('battery_soc', T0, T0 + HOUR, '5m', extra);
      assert.equal(res.statusCode, 400);
      const body = res.json();
      assert.equal(body.status, 'error');
      assert.equal(body.errorType, 'bad_data');
      assert.equal(body.code, 'FM_QUERY_INVALID');
      return body.error as string;
    };
    assert.equal(
      await bad('&rollup=2m'),
      'invalid parameter "rollup": this node keeps no 2m rollup (it keeps: 5m, 1h); rollup=raw reads raw samples',
    );
    assert.equal(await bad('&rollup=5m&fn=median'), 'invalid parameter "fn": "median" is not one of avg, min, max, sum, count, last');
    assert.equal(await bad('&fn=max'), 'invalid parameter "fn": applies to a rollup; name one with rollup= (e.g. rollup=5m&fn=max)');
    assert.match(await bad('&rollup=soon'), /^invalid parameter "rollup": cannot parse "soon" to a valid duration/);
  });

  it('answers an expression of instant selectors from a rollup, and refuses rollup= for one reading a range', async () => {
    const doubled = (await get('2 * battery_soc{pack="b"}', T0, T0, '5m', '&rollup=5m&fn=count')).json();
    assert.deepEqual(doubled.data.result, [{ metric: { node: 'n1', pack: 'b', site: 's1' }, values: [[S(T0), '120']] }]);
    const res = await get('rate(battery_soc[5m])', T0, T0 + HOUR, '5m', '&rollup=5m');
    assert.equal(res.statusCode, 400);
    assert.match(res.json().error, /^invalid parameter "rollup": a rollup answers expressions of instant selectors .* use rollup=raw$/);
  });
});
