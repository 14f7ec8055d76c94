// Late history on the embedded hub (SQLite) reaches a real VictoriaMetrics: the hub forwards by arrival order, so
// samples stored with old timestamps after the forwarder passed their time (a node's replay after a long outage, a
// backfill) are sent too, each once, while the forwarder keeps running.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { Registry } from 'prom-client';
import { createHubRemoteWrites } from '../../src/hub/remote-write.js';
import { createSqliteStorage } from '../../src/hub/storage/sqlite/sqlite-storage.js';
import type { HubStorage, SampleInput, SeriesIdentity } from '../../src/hub/storage/storage.js';
import { silentLogger, systemClock } from '../../src/kit/index.js';
import { remoteWritesSchema } from '../../src/protocol/remote-write/index.js';
import { startVictoriaMetrics, type VictoriaMetrics } from '../kit/victoria-metrics.js';

let dir: string;
let storage: HubStorage;
let vm: VictoriaMetrics;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'fm-rw-late-'));
  storage = createSqliteStorage({ path: join(dir, 'hub.db'), retentionMs: 7 * 86_400_000 });
  vm = await startVictoriaMetrics();
});

after(async () => {
  await vm?.close();
  await storage?.close();
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
});

test('the hub forwards samples stored with old timestamps after its cursor passed them: every one arrives, once', async () => {
  const registry = new Registry();
  const series = (node: string): SeriesIdentity => ({
    name: 'late_soc',
    labels: { site: 's1', node, zone: 'z1' },
    unit: '',
    type: 'gauge',
  });
  const rw = createHubRemoteWrites(
    remoteWritesSchema.parse([{ url: vm.writeUrl, name: 'vm', queue: { batchSendDeadline: '50ms', maxSamplesPerSend: 50 } }]),
    { storage, dataDir: dir, registry, clock: systemClock, logger: silentLogger },
  );
  const forwarder = rw.forwarders[0];
  assert.ok(forwarder !== undefined);
  await rw.start();
  try {
    // Live samples, forwarded as they come.
    const now = Date.now();
    const live: SampleInput[] = Array.from({ length: 20 }, (_, i) => ({ series: series('n1'), ts: now - 2_000 + i * 10, value: i }));
    await storage.appendSamples(live);
    await forwarder.waitForIdle();
    assert.ok((forwarder.cursorMs as number) > now - 60_000);
    // An hour of n2's history replayed after a long outage, and a backfilled hole in n1's, all long behind the cursor.
    const replay: SampleInput[] = Array.from({ length: 360 }, (_, i) => ({
      series: series('n2'),
      ts: now - 3_600_000 + i * 10_000,
      value: i,
    }));
    const backfill: SampleInput[] = Array.from({ length: 30 }, (_, i) => ({
      series: series('n1'),
      ts: now - 1_800_000 + i * 1_000,
      value: -i,
    }));
    for (let i = 0; i < replay.length; i += 60) await storage.appendSamples(replay.slice(i, i + 60));
    await storage.appendSamples(backfill);
    await forwarder.waitForIdle();
    const held = await vm.exportSamples('{__name__="late_soc"}');
    const times = (node: string) =>
      [...held]
        .filter(([k]) => k.includes(`"node":"${node}"`))
        .flatMap(([, v]) => v.map(([t]) => t))
        .sort((a, b) => a - b);
    const expected = (list: SampleInput[]) => list.map((x) => x.ts).sort((a, b) => a - b);
    assert.deepEqual(times('n1'), expected([...live, ...backfill]));
    assert.deepEqual(times('n2'), expected(replay));
    const sent = (await registry.getMetricsAsJSON()).find((m) => m.name === 'fieldmesh_remote_write_samples_sent_total');
    assert.equal(
      sent?.values.reduce((s, v) => s + Number(v.value), 0),
      live.length + replay.length + backfill.length,
    );
  } finally {
    await rw.stop();
  }
});
