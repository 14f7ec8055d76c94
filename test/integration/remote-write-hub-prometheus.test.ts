// The hub's remote write forwarder over its real storage (SQLite) to a real Prometheus receiver (Debian's prometheus
// with --web.enable-remote-write-receiver): every sample arrives with its site, node and zone labels, and the hub's
// staleness marker arrives as Prometheus' stale NaN (the series ends there for Prometheus' own queries).

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { Registry } from 'prom-client';
import { createHubRemoteWrites } from '../../src/hub/remote-write.js';
import { createSqliteStorage } from '../../src/hub/storage/sqlite/sqlite-storage.js';
import type { HubStorage, SeriesIdentity } from '../../src/hub/storage/storage.js';
import { silentLogger, systemClock } from '../../src/kit/index.js';
import { remoteWritesSchema } from '../../src/protocol/remote-write/index.js';
import { type PrometheusServer, startPrometheus } from '../kit/prometheus.js';

let dir: string;
let storage: HubStorage;
let prometheus: PrometheusServer;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'fieldmesh-rw-hub-'));
  storage = createSqliteStorage({ path: join(dir, 'hub.db'), retentionMs: 86_400_000 });
  prometheus = await startPrometheus();
});

after(async () => {
  await prometheus?.close();
  await storage?.close();
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
});

test("the hub forwards its history to Prometheus' remote write receiver, staleness as the stale NaN", async () => {
  const registry = new Registry();
  const start = Date.now() - 60_000;
  const series = (node: string): SeriesIdentity => ({
    name: 'battery_soc',
    labels: { site: 's1', node, zone: 'z1' },
    unit: 'percent',
    type: 'gauge',
  });
  const rw = createHubRemoteWrites(
    remoteWritesSchema.parse([
      { url: prometheus.writeUrl, name: 'prom', history: '5m', queue: { batchSendDeadline: '100ms', maxSamplesPerSend: 100 } },
    ]),
    { storage, dataDir: dir, registry, clock: systemClock, logger: silentLogger },
  );
  // Samples of the last minute, one per second per node; n2's series goes stale 10 s before the end.
  const batch = [];
  for (let i = 0; i < 50; i++) {
    batch.push({ series: series('n1'), ts: start + i * 1000, value: 40 + i });
    if (i < 40) batch.push({ series: series('n2'), ts: start + i * 1000, value: i === 39 ? null : 60 - i });
  }
  await storage.appendSamples(batch);
  await rw.start();
  try {
    await rw.forwarders[0]?.waitForCursor(start + 49_000);
  } finally {
    await rw.stop();
  }
  const at = (start + 49_000) / 1000;
  const data = (await prometheus.query('count_over_time(battery_soc[5m])', at)) as {
    result: Array<{ metric: Record<string, string>; value: [number, string] }>;
  };
  const counts = Object.fromEntries(data.result.map((r) => [r.metric.node, Number(r.value[1])]));
  // n2: 39 values; its 40th sample is the stale marker, which Prometheus stores and never counts.
  assert.deepEqual(counts, { n1: 50, n2: 39 });
  assert.equal(data.result[0]?.metric.site, 's1');
  assert.equal(data.result[0]?.metric.zone, 'z1');
  const instant = (await prometheus.query('battery_soc', at)) as { result: Array<{ metric: Record<string, string> }> };
  assert.deepEqual(
    instant.result.map((r) => r.metric.node),
    ['n1'],
    'n2 is stale for Prometheus at the end although its last value is within the lookback',
  );
});

test('late samples sent by arrival order to Prometheus (out-of-order ingestion off) are refused with 400 and counted as out of order', async () => {
  const registry = new Registry();
  const series: SeriesIdentity = { name: 'late_refused', labels: { site: 's1', node: 'n1', zone: 'z1' }, unit: '', type: 'gauge' };
  const rw = createHubRemoteWrites(
    remoteWritesSchema.parse([
      { url: prometheus.writeUrl, name: 'prom-late', queue: { batchSendDeadline: '50ms', maxSamplesPerSend: 100 } },
    ]),
    { storage, dataDir: dir, registry, clock: systemClock, logger: silentLogger },
  );
  const forwarder = rw.forwarders[0];
  assert.ok(forwarder !== undefined);
  const counter = async (name: string) =>
    ((await registry.getMetricsAsJSON()).find((m) => m.name === name)?.values ?? []).reduce((s, v) => s + Number(v.value), 0);
  await rw.start();
  try {
    const now = Date.now();
    await storage.appendSamples(Array.from({ length: 10 }, (_, i) => ({ series, ts: now - 1_000 + i * 10, value: i })));
    await forwarder.waitForIdle();
    assert.equal(await counter('fieldmesh_remote_write_samples_sent_total'), 10);
    // Older than the series' head in Prometheus: stored by the hub after the forwarder sent newer ones.
    await storage.appendSamples(Array.from({ length: 5 }, (_, i) => ({ series, ts: now - 600_000 + i * 1_000, value: -i })));
    await forwarder.waitForIdle();
  } finally {
    await rw.stop();
  }
  assert.equal(await counter('fieldmesh_remote_write_samples_dropped_total'), 5);
  assert.equal(await counter('fieldmesh_remote_write_samples_out_of_order_total'), 5);
  const data = (await prometheus.query('count_over_time(late_refused[15m])')) as { result: Array<{ value: [number, string] }> };
  assert.equal(Number(data.result[0]?.value[1]), 10);
});
