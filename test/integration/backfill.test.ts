// The durable plane's repair, node and hub together on the in-memory broker: a node whose outbox passed
// its cap while the hub was away reports what it dropped; the hub asks for those ranges, the node sends
// them again from its local store, and the hub ends up holding exactly what the node collected, with
// the window reported complete. [FM-DURABLE-5] [FM-DURABLE-6]
// calendar: node and hub run on one manual clock.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { agentConfigSchema, createAgent } from '../../src/agent/index.js';
import { createHub, createSqliteStorage, hubConfigSchema } from '../../src/hub/index.js';
import { ManualClock } from '../../src/kit/index.js';
import { createFrameRouter, type HistoryFrame } from '../../src/protocol/index.js';
import { createMemoryTransport, MemoryBroker } from '../../src/transport/index.js';
import { feederCollector } from '../kit/feeder-collector.js';
import { waitFor } from '../kit/wait.js';

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

test('backfill: a node that dropped rows at its outbox cap while the hub was away sends them again when asked; the hub ends complete and exact', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'fm-backfill-it-'));
  dirs.push(dataDir);
  const clock = new ManualClock(Date.UTC(2026, 0, 1, 12));
  const broker = new MemoryBroker();
  const hubConfig = hubConfigSchema.parse({
    dataDir,
    storage: { path: join(dataDir, 'hub.db') },
    // Nine drops: ask for them all at once rather than one per 5 s of the manual clock.
    backfill: { minInterval: '0s' },
  });
  const firstHub = createHub(hubConfig, { transport: createMemoryTransport(broker, { clientId: 'hub' }), clock });
  await firstHub.start({ listen: false });

  const collector = feederCollector();
  const agent = createAgent(
    agentConfigSchema.parse({
      dataDir,
      node: { id: 'bess-01', site: 'farm' },
      http: { enabled: false },
      publish: { tick: '1s', heartbeat: '5s' },
      // A small cap, so ten minutes of two series at 1 s overflow it; frames of 50 rows, sent at once.
      outbox: { maxSampleRows: 200, maxFrameRows: 50, historyInterval: '0s' },
      critical: [{ match: 'battery_soc' }, { match: 'dc_voltage' }],
    }),
    {
      clock,
      epoch: 3,
      collectors: [collector],
      createTransport: (will) => createMemoryTransport(broker, { clientId: 'agent', will, clock }),
    },
  );
  const history: HistoryFrame[] = [];
  const observer = createMemoryTransport(broker, { clientId: 'observer', clock });
  const histories = createFrameRouter({ source: observer, prefix: 'fieldmesh' }).on('history', (frame) => history.push(frame), {
    site: 'farm',
    node: 'bess-01',
  });
  observer.start();
  await histories.ready;
  await agent.start();
  await waitFor(() => firstHub.fleet.get('farm', 'bess-01')?.state === 'online', { what: 'the node online at the first hub' });

  // The hub goes away; the node collects ten minutes, two hours ago, in batches of a minute.
  await firstHub.stop();
  const base = clock.now() - 2 * 3_600_000;
  const SECONDS = 600;
  for (let minute = 0; minute < SECONDS / 60; minute++) {
    const samples = [];
    for (let s = minute * 60; s < (minute + 1) * 60; s++) {
      const time = base + s * 1_000;
      samples.push(
        { name: 'battery_soc', labels: { device: 'bms' }, time, value: 50 + s / 100 },
        { name: 'dc_voltage', labels: { device: 'bms' }, time, value: 52 + (s % 7) / 10 },
        { name: 'host_uptime_seconds', labels: {}, time, value: s },
      );
    }
    await collector.ctx?.record(samples);
  }
  const collected = 2 * SECONDS;
  const dropped = (await agent.metrics.outboxDropped.get()).values.reduce((n, v) => n + v.value, 0);
  assert.ok(dropped > collected / 2, `the outbox coalesced at its cap (${dropped} rows dropped)`);
  assert.ok(agent.stats().outboxPendingRows <= 200);

  // A hub comes back (a new boot): the node resends its outbox, with the dropped ranges.
  const storage = createSqliteStorage({ path: hubConfig.storage.path, retentionMs: hubConfig.storage.retention });
  const hub = createHub(hubConfig, { transport: createMemoryTransport(broker, { clientId: 'hub' }), clock, storage });
  await hub.start({ listen: false });
  const window = `start=${base / 1_000}&end=${(base + SECONDS * 1_000) / 1_000}`;
  const report = async () => (await hub.app.inject(`/api/v1/nodes/farm/bess-01/completeness?${window}`)).json();
  await waitFor(() => hub.stats().backfillsSent > 0, { what: 'the hub asking for the dropped ranges' });
  const asked = await report();
  assert.ok(asked.repairs.length + asked.repaired.length > 0, 'the requests show in the completeness report');

  const done = await waitFor(
    async () => {
      const r = await report();
      return r.complete ? r : undefined;
    },
    { what: 'the window complete at the hub', timeoutMs: 30_000 },
  );
  assert.deepEqual([done.ratio, done.missing, done.dropped, done.repairs], [1, [], [], []]);
  assert.ok(done.repaired.length > 0, 'the dropped ranges show as repaired');
  assert.equal(hub.stats().backfillsCompleted, hub.stats().backfillsSent, 'every request reported done, none sent twice');

  const points = await storage.querySeries(
    [{ name: '__name__', op: '=~', value: 'battery_soc|dc_voltage' }],
    base,
    base + (SECONDS - 1) * 1_000,
  );
  assert.equal(
    points.reduce((n, s) => n + s.points.length, 0),
    collected,
    'exactly the samples the node collected',
  );
  const soc = points.find((s) => s.series.name === 'battery_soc');
  assert.deepEqual(soc?.points[599], [base + 599_000, 55.99]);
  assert.equal(
    (await storage.querySeries([{ name: '__name__', op: '=', value: 'host_uptime_seconds' }], base, base + SECONDS * 1_000)).length,
    0,
    'a non-critical series is not sent',
  );

  const requests = (await agent.metrics.backfillRequests.get()).values.reduce((n, v) => n + v.value, 0);
  const rows = (await agent.metrics.backfillRows.get()).values[0]?.value ?? 0;
  assert.equal(requests, hub.stats().backfillsSent);
  assert.ok(rows >= dropped, `the node queued ${rows} rows for ${dropped} dropped`);
  const first = history.find((f) => f.pendingRows > 0 && f.series.length > 0);
  assert.ok(first !== undefined && first.pendingBytes > 0, 'history frames carry an estimate of the backlog in bytes');

  await agent.stop();
  await observer.close();
  await hub.stop();
});
