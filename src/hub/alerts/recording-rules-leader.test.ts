// Recording rules on a scale-out hub: two processes evaluate the same rules over one real PostgreSQL (started by
// the test), each writing through the storage fenced by its own leader lease; only the leader's results are
// stored. Once the other takes the lease, the deposed one's evaluation writes nothing and is counted as a failure.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Pool } from 'pg';
import { Registry } from 'prom-client';
import { type PostgresInstance, startPostgres } from '../../../test/kit/postgres.js';
import { waitFor } from '../../../test/kit/wait.js';
import { ManualClock } from '../../kit/index.js';
import { createLeaderLease, migrateLeases } from '../storage/postgres/leader-lease.js';
import { openPool } from '../storage/postgres/pool.js';
import { createPostgresStorage } from '../storage/postgres/postgres-storage.js';
import { createAlertSeriesSource } from './fleet-series.js';
import { RecordingRules } from './recording-rules.js';
import { parseRules } from './rule-file.js';

let server: PostgresInstance;
before(async () => {
  server = await startPostgres();
});
after(async () => {
  await server?.stop();
});

const RULES = `groups:
  - name: site
    interval: 30s
    rules:
      - record: site:rtt_ms:avg1m
        expr: avg by (site) (avg_over_time(rtt_ms[1m]))
`;

test('recording rules on a scale-out hub: only the leader writes; a deposed leader writes nothing and counts a failure', async () => {
  const url = await server.createDatabase();
  const pools: Pool[] = [];
  const pool = async () => {
    const p = await openPool({ url, poolSize: 2 });
    pools.push(p);
    return p;
  };
  const storage = await createPostgresStorage({ url, retentionMs: 86_400_000 });
  const a = createLeaderLease({ pool: await pool(), name: 'hub-leader', holder: 'a', ttlMs: 1_000, renewEveryMs: 100 });
  const b = createLeaderLease({ pool: await pool(), name: 'hub-leader', holder: 'b', ttlMs: 1_000, renewEveryMs: 100 });
  // Both processes share one clock here so that their evaluation times are comparable.
  const clock = new ManualClock(Math.floor(Date.now() / 1_000) * 1_000);
  const process = (lease: typeof a) => {
    const registry = new Registry();
    const fenced = storage.fencedBy((client) => lease.check(client));
    const rules = new RecordingRules({
      rules: parseRules(RULES, 'rules.yaml').recording,
      source: createAlertSeriesSource(storage, { nodes: () => [], backlog: () => undefined }),
      write: (batch) => fenced.appendRecordedSamples(batch),
      clock,
      registry,
      evaluationIntervalMs: 15_000,
    });
    const failures = async () =>
      (await registry.getSingleMetric('fieldmesh_rule_evaluation_failures_total')?.get())?.values.reduce((n, v) => n + v.value, 0) ?? 0;
    return { rules, failures, evaluate: () => rules.evaluateGroup('rules.yaml;site') };
  };
  const recorded = async () =>
    (await storage.querySeries([{ name: '__name__', op: '=', value: 'site:rtt_ms:avg1m' }], 0, clock.now() + 1)).flatMap((s) =>
      s.points.map(([t, v]) => [s.series.labels.site, t - clock.now(), v]),
    );
  const pa = process(a);
  const pb = process(b);
  try {
    await migrateLeases(pools[0] as Pool);
    const rtt = (node: string, value: number, agoMs: number) => ({
      series: { name: 'rtt_ms', labels: { site: 's1', node, zone: 'z1' }, unit: '', type: 'gauge' as const },
      ts: clock.now() - agoMs,
      value,
    });
    await storage.appendSamples([rtt('p1', 10, 20_000), rtt('p1', 30, 0), rtt('p2', 50, 10_000)]);
    assert.equal((await a.tryAcquire())?.epoch, 1);

    // Both evaluate; only a, the leader, stores: avg of p1's 20 and p2's 50.
    await pa.evaluate();
    await pb.evaluate();
    assert.deepEqual(await recorded(), [['s1', 0, 35]]);
    assert.deepEqual([await pa.failures(), await pb.failures()], [0, 1], "b's write was refused by the fence");

    // a stops renewing (cut off from the database); b takes the lease once a's term lapsed.
    await a.stop();
    await waitFor(async () => (await b.tryAcquire()) !== undefined, { what: 'b takes the lease', timeoutMs: 10_000 });
    clock.advance(1_000);
    await storage.appendSamples([rtt('p2', 80, 0)]);
    await pa.evaluate();
    assert.equal(await pa.failures(), 1, "the deposed leader's evaluation was refused (FM_LEADER_DEPOSED)");
    assert.deepEqual(await recorded(), [['s1', -1_000, 35]], 'nothing of the deposed leader is stored');
    await pb.evaluate();
    // The new leader stores: p1's mean (10 + 30) / 2 and p2's (50 + 80) / 2, averaged per site.
    assert.deepEqual(await recorded(), [
      ['s1', -1_000, 35],
      ['s1', 0, (20 + 65) / 2],
    ]);
  } finally {
    await pa.rules.stop();
    await pb.rules.stop();
    await a.stop();
    await b.stop();
    await storage.close();
    for (const p of pools) await p.end();
  }
});
