// `cmd all ping` at scale through a real Mosquitto and a real hub: 200 simulated nodes (real protocol
// frames, 20 per MQTT connection), 10 of them silent and 10 offline. Every node gets exactly one result:
// 180 ok, 10 timeout, 10 offline, and the run ends once the timeout has passed for the silent ones. The
// time it takes is a benchmark figure (`npm run bench -- commands`), not asserted here.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { createHub, type Hub, hubConfigSchema } from '../../src/hub/index.js';
import type { CommandRunView } from '../../src/protocol/index.js';
import { type MosquittoInstance, startMosquitto } from '../kit/mosquitto.js';
import { type SimResponders, simNodeId, startSimResponders } from '../kit/sim-responders.js';
import { waitFor } from '../kit/wait.js';

const NODES = 200;
const SILENT = new Set(Array.from({ length: 10 }, (_, i) => simNodeId(i * 20 + 3)));
const OFFLINE = new Set(Array.from({ length: 10 }, (_, i) => simNodeId(i * 20 + 7)));
const TIMEOUT_MS = 2_000;

let mosquitto: MosquittoInstance;
let hub: Hub;
let dir: string;
let sims: SimResponders | undefined;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'fm-commands-scale-'));
  mosquitto = await startMosquitto();
  hub = createHub(
    hubConfigSchema.parse({ dataDir: dir, storage: { path: join(dir, 'hub.db') }, mqtt: { url: mosquitto.url, clientId: 'hub' } }),
  );
  await hub.start({ listen: false });
  sims = await startSimResponders({ mqttUrl: mosquitto.url, site: 'big', count: NODES, silent: SILENT, offline: OFFLINE });
  await waitFor(
    () =>
      hub.fleet.nodes().filter((n) => n.state === 'online').length === NODES - OFFLINE.size &&
      hub.fleet.nodes().filter((n) => n.state === 'offline').length === OFFLINE.size,
    { what: `${NODES - OFFLINE.size} nodes online and ${OFFLINE.size} offline`, timeoutMs: 30_000 },
  );
});

after(async () => {
  await sims?.close();
  await hub?.stop();
  await mosquitto?.stop();
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
});

test('commands at scale: ping all over 200 nodes gives every node exactly one result, silent ones timed out, offline ones offline', async () => {
  const res = await hub.app.inject({
    method: 'POST',
    url: '/api/v1/commands',
    payload: { target: 'all', command: 'ping', timeoutMs: TIMEOUT_MS },
  });
  assert.equal(res.statusCode, 200, res.body);
  const view = res.json() as CommandRunView;
  assert.equal(view.state, 'done');
  assert.equal(view.results.length, NODES);
  assert.equal(new Set(view.results.map((r) => `${r.site}/${r.node}`)).size, NODES, 'one result per node');
  assert.deepEqual(view.counts, { pending: 0, ok: NODES - 20, failed: 0, timeout: 10, offline: 10, skipped: 0 });
  for (const r of view.results) {
    const expected = SILENT.has(r.node) ? 'timeout' : OFFLINE.has(r.node) ? 'offline' : 'ok';
    assert.equal(r.status, expected, `${r.node}: ${JSON.stringify(r)}`);
    if (expected === 'timeout') assert.ok((r.ms ?? 0) >= TIMEOUT_MS - 50, `${r.node} timed out after ${r.ms} ms`);
    else assert.ok((r.ms ?? Number.POSITIVE_INFINITY) < TIMEOUT_MS, `${r.node} answered in ${r.ms} ms, within the timeout`);
  }
  assert.equal(sims?.stats.ignored, 10, 'each silent node was asked once');
});
