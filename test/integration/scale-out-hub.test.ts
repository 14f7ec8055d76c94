// The scale-out hub end to end on real servers (docs/scale-out.md): a node's history and event frames go through a
// real Mosquitto to two ingest processes (one MQTT shared subscription), into a NATS JetStream stream, to two workers
// that store them in a real PostgreSQL and only then acknowledge them; the node deletes only what was acknowledged.
// An api process serves the fleet state and the history from PostgreSQL, and leads (the PostgreSQL lease). One worker
// and one ingest process stop in the middle: every sample the node recorded is at the hub, exactly, once.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { agentConfigSchema, createAgent } from '../../src/agent/index.js';
import { type Hub, hubConfigSchema, openHub } from '../../src/hub/index.js';
import { createPostgresStorage } from '../../src/hub/storage/postgres/postgres-storage.js';
import { createMqttTransport } from '../../src/transport/index.js';
import { feederCollector } from '../kit/feeder-collector.js';
import { startMosquitto } from '../kit/mosquitto.js';
import { startNatsServer } from '../kit/nats.js';
import { startPostgres } from '../kit/postgres.js';
import { waitFor } from '../kit/wait.js';

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

test('scale-out hub: two ingest processes, two workers, NATS JetStream and PostgreSQL store every recorded sample and event exactly once, through the loss of a worker and an ingest process', async () => {
  const mosquitto = await startMosquitto();
  const nats = await startNatsServer();
  const pg = await startPostgres();
  const hubs: Hub[] = [];
  const stopped = new Set<Hub>();
  const stop = async (hub: Hub) => {
    if (stopped.has(hub)) return;
    stopped.add(hub);
    await hub.stop();
  };
  try {
    const url = await pg.createDatabase();
    const open = async (roles: string[]) => {
      const dataDir = mkdtempSync(join(tmpdir(), 'fm-scale-out-'));
      dirs.push(dataDir);
      const config = hubConfigSchema.parse({
        dataDir,
        mqtt: { url: mosquitto.url },
        storage: { path: join(dataDir, 'hub.db'), url },
        queue: { url: nats.urls.join(','), workers: 1 },
        roles,
        leader: { lease: '3s' },
        alerts: { enabled: false },
      });
      const hub = await openHub(config);
      hubs.push(hub);
      await hub.start({ listen: false });
      return hub;
    };
    const ingestA = await open(['ingest']);
    const ingestB = await open(['ingest']);
    const workerA = await open(['worker']);
    const workerB = await open(['worker']);
    const api = await open(['api']);

    const dataDir = mkdtempSync(join(tmpdir(), 'fm-scale-out-node-'));
    dirs.push(dataDir);
    const collector = feederCollector();
    const agent = createAgent(
      agentConfigSchema.parse({
        dataDir,
        node: { id: 'rig-1', site: 'lab' },
        http: { enabled: false },
        publish: { tick: '200ms', heartbeat: '2s' },
        outbox: { historyInterval: '100ms', maxFrameRows: 50 },
        critical: [{ match: 'probe_value' }],
      }),
      {
        collectors: [collector],
        createTransport: (will) => createMqttTransport({ url: mosquitto.url, clientId: 'rig-1', will }),
      },
    );
    await agent.start();
    await waitFor(() => api.fleet.get('lab', 'rig-1')?.state === 'online', {
      what: 'the node online at the api process',
      timeoutMs: 20_000,
    });

    // Recorded = acknowledged to the producer (store and outbox committed at the node).
    const base = Date.now() - 60_000;
    const BATCHES = 40;
    const PER_BATCH = 25;
    let recorded = 0;
    for (let b = 0; b < BATCHES; b++) {
      const samples = Array.from({ length: PER_BATCH }, (_, k) => {
        const i = b * PER_BATCH + k;
        return { name: 'probe_value', labels: { rig: 'a' }, time: base + i * 10, value: i };
      });
      const outcome = await collector.ctx?.record(samples);
      recorded += PER_BATCH - (outcome?.refused.length ?? PER_BATCH);
      await collector.ctx?.emit({ kind: 'probe_event', priority: 'normal', time: base + b, payload: { batch: b } });
      // Halfway: one worker and one ingest process go; the others carry on with what they left.
      if (b === BATCHES / 2) {
        await stop(workerA);
        await stop(ingestA);
      }
      await new Promise((r) => setImmediate(r));
    }
    assert.equal(recorded, BATCHES * PER_BATCH);

    // The node's outbox empties only as the hub acknowledges what it stored.
    await waitFor(() => agent.stats().outboxPendingRows === 0, { what: 'the outbox drained by acks', timeoutMs: 60_000 });
    const check = await createPostgresStorage({ url, retentionMs: 30 * 86_400_000 });
    try {
      const found = await check.querySeries(
        [{ name: '__name__', op: '=', value: 'probe_value' }],
        base - 1,
        base + BATCHES * PER_BATCH * 10,
      );
      assert.equal(found.length, 1, 'one series');
      const points = found[0]?.points ?? [];
      assert.equal(points.length, BATCHES * PER_BATCH, 'every recorded sample stored once');
      const wrong = points.filter(([ts, v]) => v !== (ts - base) / 10);
      assert.equal(wrong.length, 0, 'each sample holds the value recorded at its time');
      // Events have their own lane, acknowledged apart from the samples': wait for all of them, then count them.
      const events = () => check.queryEvents({ site: 'lab', node: 'rig-1', kind: 'probe_event', limit: 1000 });
      await waitFor(async () => (await events()).length >= BATCHES, { what: `${BATCHES} events stored`, timeoutMs: 60_000 });
      assert.equal((await events()).length, BATCHES, 'every event stored once');
    } finally {
      await check.close();
    }
    assert.ok(workerB.stats().historySamplesStored > 0, 'the remaining worker stored frames');
    // The only api process leads, under the lease's fencing epoch (the hub epoch the nodes see); the others never do.
    assert.equal(api.stats().epoch, 1, 'the api process leads with the first epoch of the lease');
    assert.equal(workerB.stats().epoch, 0, 'a worker process does not contend');
    assert.equal(api.stats().samplesStored, 0, 'the api process stores no live samples: history comes through the workers');
    void ingestB;
  } finally {
    for (const hub of hubs.reverse()) await stop(hub).catch(() => {});
    await pg.stop();
    await nats.stop();
    await mosquitto.stop();
  }
});
