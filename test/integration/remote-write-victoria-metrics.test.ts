// The node's remote write forwarder against a real VictoriaMetrics (Debian's victoria-metrics): every sample the
// store holds arrives exactly once, across a receiver stopped mid-stream and started again on the same data dir and
// port, and across a restart of the forwarder (its cursor file).

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { Registry } from 'prom-client';
import { createNodeRemoteWrites } from '../../src/agent/remote-write.js';
import { createSqliteStore, type SqliteStore } from '../../src/agent/store/index.js';
import { silentLogger, systemClock } from '../../src/kit/index.js';
import { remoteWritesSchema } from '../../src/protocol/remote-write/index.js';
import { startVictoriaMetrics, type VictoriaMetrics } from '../kit/victoria-metrics.js';
import { waitFor } from '../kit/wait.js';

let vm: VictoriaMetrics;
let dir: string;
let store: SqliteStore;

before(async () => {
  vm = await startVictoriaMetrics();
  dir = mkdtempSync(join(tmpdir(), 'fieldmesh-rw-'));
  store = createSqliteStore({ path: join(dir, 'store.db') });
});

after(async () => {
  await store?.close();
  await vm?.close();
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
});

function remotes(url: string, name: string) {
  return remoteWritesSchema.parse([
    {
      url,
      name,
      match: [`{__name__=~"${name}_.*"}`],
      queue: { maxSamplesPerSend: 500, maxShards: 3, batchSendDeadline: '100ms', minBackoff: '20ms', maxBackoff: '500ms' },
    },
  ]);
}

function counter(registry: Registry, metric: string, remote: string): Promise<number> {
  return registry
    .getSingleMetric(metric)
    ?.get()
    .then((m) => m.values.find((v) => v.labels.remote === remote)?.value ?? 0) as Promise<number>;
}

test('remote write forwards every stored sample to VictoriaMetrics exactly once across a receiver restart mid-stream', async () => {
  const registry = new Registry();
  const start = Date.now();
  const rw = createNodeRemoteWrites(remotes(vm.writeUrl, 'rwa'), {
    store,
    stateDir: dir,
    identity: { site: 's1', node: 'n1' },
    registry,
    clock: systemClock,
    logger: silentLogger,
  });
  // The forwarder starts from the cursor's default, now minus its settle time: write from then on.
  await rw.start();
  let written = 0;
  let lastTime = 0;
  const series = 40;
  let stop = false;
  // A bounded writer: one sample of each series every 10 ms, each at a time of its own.
  const writer = (async () => {
    for (let i = 0; i < 2000 && !stop; i++) {
      const time = Math.max(Date.now(), lastTime + 1);
      lastTime = time;
      await store.append(
        Array.from({ length: series }, (_, s) => ({ name: 'rwa_power_watts', labels: { unit_no: String(s) }, value: i * 1000 + s, time })),
      );
      written += series;
      await new Promise((r) => setTimeout(r, 10));
    }
  })();
  try {
    await waitFor(async () => (await counter(registry, 'fieldmesh_remote_write_samples_sent_total', 'rwa')) > 2000, {
      what: 'samples acknowledged before the outage',
      timeoutMs: 20_000,
    });
    await vm.stop();
    await waitFor(async () => (await counter(registry, 'fieldmesh_remote_write_samples_retried_total', 'rwa')) > 0, {
      what: 'sends retried while the receiver is down',
      timeoutMs: 20_000,
    });
    await vm.restart();
    const sentBefore = await counter(registry, 'fieldmesh_remote_write_samples_sent_total', 'rwa');
    await waitFor(async () => (await counter(registry, 'fieldmesh_remote_write_samples_sent_total', 'rwa')) > sentBefore + 2000, {
      what: 'acknowledged samples after the restart',
      timeoutMs: 30_000,
    });
  } finally {
    stop = true;
    await writer;
  }
  const [forwarder] = rw.forwarders;
  assert.ok(forwarder);
  await forwarder.waitForCursor(lastTime);
  await rw.stop();
  const held = await vm.exportSamples('{__name__="rwa_power_watts"}');
  let total = 0;
  for (const [key, points] of held) {
    const times = points.map(([t]) => t);
    assert.equal(new Set(times).size, times.length, `duplicate samples in ${key}`);
    assert.ok(key.includes('"node":"n1"') && key.includes('"site":"s1"'), key);
    total += points.length;
  }
  assert.equal(held.size, series);
  assert.equal(total, written, `written ${written}, VictoriaMetrics holds ${total}`);
  assert.equal(await counter(registry, 'fieldmesh_remote_write_samples_sent_total', 'rwa'), written);
  assert.equal(await counter(registry, 'fieldmesh_remote_write_samples_dropped_total', 'rwa'), 0);
  assert.ok(Date.now() - start < 120_000);
});

test('remote write resumes from its cursor file after a restart of the forwarder without resending', async () => {
  const deps = { store, stateDir: dir, identity: { site: 's1', node: 'n2' }, clock: systemClock, logger: silentLogger };
  const first = createNodeRemoteWrites(remotes(vm.writeUrl, 'rwb'), { ...deps, registry: new Registry() });
  await first.start();
  const t0 = Date.now();
  await store.append(Array.from({ length: 100 }, (_, i) => ({ name: 'rwb_soc_percent', labels: {}, value: i, time: t0 + i })));
  await first.forwarders[0]?.waitForCursor(t0 + 99);
  await first.stop();
  const t1 = Math.max(Date.now(), t0 + 100);
  await store.append(Array.from({ length: 50 }, (_, i) => ({ name: 'rwb_soc_percent', labels: {}, value: 1000 + i, time: t1 + i })));
  const registry = new Registry();
  const second = createNodeRemoteWrites(remotes(vm.writeUrl, 'rwb'), { ...deps, registry });
  await second.start();
  await second.forwarders[0]?.waitForCursor(t1 + 49);
  await second.stop();
  // Only the 50 written while it was stopped went again: nothing acknowledged before is resent.
  assert.equal(await counter(registry, 'fieldmesh_remote_write_samples_sent_total', 'rwb'), 50);
  assert.equal(await vm.countSamples('{__name__="rwb_soc_percent"}'), 150);
});
