// A scale-out hub's remote write cursor survives a change of leader: leader A forwards the hub's history (PostgreSQL)
// to Debian's VictoriaMetrics and stops; leader B, on another data dir, continues from A's cursor in the storage:
// every sample once in VictoriaMetrics, none missing, none sent twice. A deposed leader's cursor save writes nothing.

import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { Pool } from 'pg';
import { Registry } from 'prom-client';
import { createHubRemoteWrites } from '../../src/hub/remote-write.js';
import { createLeaderLease, migrateLeases } from '../../src/hub/storage/postgres/leader-lease.js';
import { openPool } from '../../src/hub/storage/postgres/pool.js';
import { createPostgresStorage, type PostgresStorage } from '../../src/hub/storage/postgres/postgres-storage.js';
import type { SampleInput, SeriesIdentity } from '../../src/hub/storage/storage.js';
import { isFieldmeshError, silentLogger, systemClock } from '../../src/kit/index.js';
import { remoteWritesSchema } from '../../src/protocol/remote-write/index.js';
import { type PostgresInstance, startPostgres } from '../kit/postgres.js';
import { startVictoriaMetrics, type VictoriaMetrics } from '../kit/victoria-metrics.js';
import { waitFor } from '../kit/wait.js';

let pg: PostgresInstance;
let vm: VictoriaMetrics;
const dirs: string[] = [];

before(async () => {
  pg = await startPostgres();
  vm = await startVictoriaMetrics();
});

after(async () => {
  await vm?.close();
  await pg?.stop();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

async function sent(registry: Registry): Promise<number> {
  const m = (await registry.getMetricsAsJSON()).find((x) => x.name === 'fieldmesh_remote_write_samples_sent_total');
  return (m?.values ?? []).reduce((sum, v) => sum + Number(v.value), 0);
}

test('a new leader on another data dir continues remote write from the last leader’s cursor: no gap, no duplicate', async () => {
  const url = await pg.createDatabase();
  const pools: Pool[] = [await openPool({ url, poolSize: 2 }), await openPool({ url, poolSize: 2 })];
  let storage: PostgresStorage | undefined;
  const a = createLeaderLease({ pool: pools[0] as Pool, name: 'hub-leader', holder: 'a', ttlMs: 1_000, renewEveryMs: 100 });
  const b = createLeaderLease({ pool: pools[1] as Pool, name: 'hub-leader', holder: 'b', ttlMs: 1_000, renewEveryMs: 100 });
  try {
    storage = await createPostgresStorage({ url, retentionMs: 86_400_000 });
    await migrateLeases(pools[0] as Pool);
    const remotes = remoteWritesSchema.parse([
      { url: vm.writeUrl, name: 'vm', history: '10m', queue: { batchSendDeadline: '50ms', maxSamplesPerSend: 40 } },
    ]);
    const series = (node: string): SeriesIdentity => ({
      name: 'failover_soc',
      labels: { site: 's1', node, zone: 'z1' },
      unit: '',
      type: 'gauge',
    });
    const samples = (fromMs: number, count: number, stepMs: number): SampleInput[] =>
      Array.from({ length: count }, (_, i) => [
        { series: series('n1'), ts: fromMs + i * stepMs, value: i },
        { series: series('n2'), ts: fromMs + i * stepMs, value: -i },
      ]).flat();

    // Leader A: two minutes of history, forwarded, then A stops and lets its lease go.
    assert.equal((await a.tryAcquire())?.epoch, 1);
    const dirA = mkdtempSync(join(tmpdir(), 'fm-rw-leader-a-'));
    const dirB = mkdtempSync(join(tmpdir(), 'fm-rw-leader-b-'));
    dirs.push(dirA, dirB);
    const first = samples(Date.now() - 120_000, 120, 1_000);
    await storage.appendSamples(first);
    const regA = new Registry();
    const rwA = createHubRemoteWrites(remotes, {
      storage: storage.fencedBy((client) => a.check(client)),
      dataDir: dirA,
      registry: regA,
      clock: systemClock,
      logger: silentLogger,
    });
    await rwA.start();
    await rwA.forwarders[0]?.waitForIdle();
    await rwA.stop();
    const cursorA = rwA.forwarders[0]?.cursorMs as number;
    const arrivalA = rwA.forwarders[0]?.arrival as number;
    assert.equal(await storage.loadRemoteWriteCursor('vm'), cursorA, 'the cursor is in the storage');
    assert.equal(await storage.loadRemoteWriteCursor('vm.arrival'), arrivalA, 'and the arrival position');
    assert.equal(existsSync(join(dirA, 'remote-write')), false, 'no cursor file on a PostgreSQL hub');
    await a.stop();

    // Leader B, another data dir: samples stored after A stopped (some older than A's time cursor: late history), then
    // B forwards from A's position, not from its own history.
    await waitFor(async () => (await b.tryAcquire()) !== undefined, { what: 'b takes the lease', timeoutMs: 10_000 });
    // Late ones off the first samples' grid (none replaces another), and three just after A's time cursor.
    const second = [...samples((first.at(-1) as SampleInput).ts - 29_500, 50, 600), ...samples(cursorA + 1, 3, 1)];
    assert.ok(second.some((x) => x.ts < cursorA) && second.some((x) => x.ts > cursorA));
    await storage.appendSamples(second);
    const regB = new Registry();
    const rwB = createHubRemoteWrites(remotes, {
      storage: storage.fencedBy((client) => b.check(client)),
      dataDir: dirB,
      registry: regB,
      clock: systemClock,
      logger: silentLogger,
    });
    await rwB.start();
    try {
      await rwB.forwarders[0]?.waitForIdle();
    } finally {
      await rwB.stop();
    }

    assert.equal(await sent(regA), first.length);
    assert.equal(await sent(regB), second.length, 'B sent only what came after A’s cursor');
    const held = await vm.exportSamples('{__name__="failover_soc"}');
    const expected = (node: string) =>
      [...first, ...second]
        .filter((s) => s.series.labels.node === node)
        .map((s) => s.ts)
        .sort((x, y) => x - y);
    const times = (node: string) =>
      [...held]
        .filter(([k]) => k.includes(`"node":"${node}"`))
        .flatMap(([, v]) => v.map(([t]) => t))
        .sort((x, y) => x - y);
    assert.equal(held.size, 2);
    assert.deepEqual(times('n1'), expected('n1'));
    assert.deepEqual(times('n2'), expected('n2'));

    // A, deposed, cannot move the shared cursor.
    const deposed = storage.fencedBy((client) => a.check(client));
    await assert.rejects(deposed.saveRemoteWriteCursor?.('vm.arrival', 0) ?? Promise.resolve(), (err) =>
      isFieldmeshError(err, 'FM_LEADER_DEPOSED'),
    );
    assert.equal(await storage.loadRemoteWriteCursor('vm.arrival'), rwB.forwarders[0]?.arrival);
  } finally {
    await a.stop();
    await b.stop();
    await storage?.close();
    for (const p of pools) await p.end();
  }
});
