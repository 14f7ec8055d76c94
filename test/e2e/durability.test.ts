// Durability through real faults, with real processes and a real Mosquitto: every sample whose push was
// answered 2xx reaches the hub, exactly, across a kill -9 of the node, a broker outage and a hub outage.
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { createHubClient, createPrometheusClient } from '../../src/client/index.js';
import { type FieldmeshProcess, runFieldmesh, writeHubConfig } from '../kit/fieldmesh-process.js';
import { type MosquittoInstance, startMosquitto } from '../kit/mosquitto.js';
import { freePort } from '../kit/ports.js';
import { waitFor } from '../kit/wait.js';

/** The outages of issue 3's fault list. */
const OUTAGE_MS = 60_000;
const TOKEN = 'durability-test-token';
const running: FieldmeshProcess[] = [];
after(() => {
  for (const p of running) p.kill('SIGKILL');
});

interface Fleet {
  dir: string;
  mosquitto: MosquittoInstance;
  hubYaml: string;
  nodeYaml: string;
  hubUrl: string;
  hub: FieldmeshProcess;
}

async function startHub(hubYaml: string): Promise<{ hub: FieldmeshProcess; hubUrl: string }> {
  const hub = runFieldmesh(['hub', '--config', hubYaml]);
  running.push(hub);
  const [, hubUrl] = await hub.waitForOutput(/console (http:\/\/\S+?)\/?\s/);
  return { hub, hubUrl: hubUrl as string };
}

async function startNode(nodeYaml: string): Promise<{ node: FieldmeshProcess; nodeUrl: string }> {
  const node = runFieldmesh(['node', '--config', nodeYaml]);
  running.push(node);
  const [, nodeUrl] = await node.waitForOutput(/HTTP (http:\/\/\S+)/);
  return { node, nodeUrl: nodeUrl as string };
}

async function fleet(nodePort: number, outbox = '{historyInterval: 500ms}'): Promise<Fleet> {
  const dir = mkdtempSync(join(tmpdir(), 'fm-durability-'));
  const mosquitto = await startMosquitto();
  const hubYaml = await writeHubConfig(dir, mosquitto.url);
  const nodeYaml = join(dir, 'node.yaml');
  writeFileSync(
    nodeYaml,
    [
      'node: {id: probe-1, site: qoe}',
      `mqtt: {url: "${mosquitto.url}"}`,
      `dataDir: ${dir}`,
      `http: {port: ${nodePort}}`,
      'publish: {tick: 500ms, heartbeat: 2s}',
      `outbox: ${outbox}`,
      'critical: [{match: probe_seq}]',
      `collectors: [{type: http_push, token: ${TOKEN}}]`,
      '',
    ].join('\n'),
  );
  const { hub, hubUrl } = await startHub(hubYaml);
  return { dir, mosquitto, hubYaml, nodeYaml, hubUrl, hub };
}

/**
 * Samples are stamped from a day ago, one second apart, whole seconds so that range steps land on them:
 * inside any retention, never in the future however many the test pushes (at most 50,000 s, 14 h).
 */
const BASE_MS = Math.floor(Date.now() / 1000) * 1000 - 24 * 3_600_000;

/** Pushes samples probe_seq = i at BASE + i s, one batch at a time; `acked` counts those answered 2xx. */
function pusher(nodeUrl: () => string) {
  const state = { acked: 0, stop: false, errors: 0 };
  const done = (async () => {
    while (!state.stop) {
      const batch = Array.from({ length: 10 }, (_, k) => ({
        time: BASE_MS + (state.acked + k) * 1000,
        metrics: { probe_seq: state.acked + k },
      }));
      try {
        const res = await fetch(`${nodeUrl()}/events`, {
          method: 'POST',
          headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
          body: JSON.stringify(batch),
        });
        if (res.ok) state.acked += batch.length;
        else state.errors++;
      } catch {
        state.errors++;
      }
      // A steady producer: 100 samples a second, bounded by the test's length.
      await new Promise((r) => setTimeout(r, 100));
      if (state.acked >= 50_000) break;
    }
  })();
  return { state, done };
}

/**
 * Whether every acknowledged sample is there: step i of the range holds exactly i (a gap would repeat
 * i-1). The hub and the node serve the same Prometheus API; the hub labels series with their node.
 */
async function holdsAll(what: 'hub' | 'node', url: string, acked: number): Promise<boolean> {
  const client = createPrometheusClient(url);
  const query = what === 'hub' ? 'probe_seq{node="probe-1"}' : 'probe_seq';
  const start = BASE_MS / 1000;
  const end = start + acked - 1;
  const values: number[] = [];
  for (let from = start; from <= end; from += 10_000) {
    const res = await client.queryRange(query, from, Math.min(end, from + 9_999), 1);
    values.push(...(res.data.result[0]?.values ?? []).map(([, v]) => Number(v)));
  }
  return values.length === acked && values.every((v, i) => v === i);
}

async function assertAllAt(what: 'hub' | 'node', url: string, acked: number): Promise<void> {
  await waitFor(() => holdsAll(what, url, acked), {
    timeoutMs: 150_000,
    intervalMs: 500,
    what: `all ${acked} acknowledged samples at the ${what}`,
  });
}

test('durability: kill -9 of the node during sustained pushes loses nothing that was acknowledged', async () => {
  const nodePort = await freePort();
  const f = await fleet(nodePort);
  try {
    let { node, nodeUrl } = await startNode(f.nodeYaml);
    const push = pusher(() => nodeUrl);
    await waitFor(() => push.state.acked >= 500, { timeoutMs: 30_000, what: '500 acknowledged samples' });
    node.kill('SIGKILL');
    await node.exited();
    const ackedAtKill = push.state.acked;
    ({ node, nodeUrl } = await startNode(f.nodeYaml));
    await waitFor(() => push.state.acked >= ackedAtKill + 300, { timeoutMs: 30_000, what: 'pushes resumed after the restart' });
    push.state.stop = true;
    await push.done;
    await assertAllAt('node', nodeUrl, push.state.acked);
    await assertAllAt('hub', f.hubUrl, push.state.acked);
    node.kill('SIGTERM');
    assert.equal(await node.exited(), 0);
  } finally {
    f.hub.kill('SIGTERM');
    await f.hub.exited();
    await f.mosquitto.stop();
  }
});

test('durability: a broker outage, then a hub outage, while the node keeps collecting: zero loss at the hub', async () => {
  const nodePort = await freePort();
  // A narrow link for history (2.5 kB/s: some 20 s to drain the two outages' 12,000 samples) so the
  // backlog is surely still draining when the live value is back, however loaded the machine is.
  const f = await fleet(nodePort, '{historyInterval: 500ms, budgetBytesPerSecond: 2500}');
  let hub = f.hub;
  try {
    const { node, nodeUrl } = await startNode(f.nodeYaml);
    const push = pusher(() => nodeUrl);
    await waitFor(() => push.state.acked >= 500, { timeoutMs: 30_000, what: 'samples before the outages' });

    await f.mosquitto.pause();
    const beforeBroker = push.state.acked;
    await new Promise((r) => setTimeout(r, OUTAGE_MS));
    assert.ok(push.state.acked > beforeBroker, 'the node kept acknowledging pushes while the broker was away');
    await f.mosquitto.resume();

    hub.kill('SIGTERM');
    assert.equal(await hub.exited(), 0);
    const beforeHub = push.state.acked;
    await new Promise((r) => setTimeout(r, OUTAGE_MS));
    assert.ok(push.state.acked > beforeHub, 'the node kept acknowledging pushes while the hub was away');
    ({ hub } = await startHub(f.hubYaml));

    // [FM-DURABLE-5] Live values come back before the backlog has drained: the new hub holds the
    // node's current value while history from the outages is still on its way. The history itself is
    // the witness (the backlog figure the hub shows may still be the one it stored before it stopped).
    const client = createHubClient(f.hubUrl);
    await waitFor(
      async () => {
        const n = await client.node('qoe', 'probe-1').catch(() => undefined);
        return n?.values?.some((v) => v.name === 'probe_seq') ? n : undefined;
      },
      { timeoutMs: 15_000, intervalMs: 100, what: 'a live value at the restarted hub' },
    );
    assert.equal(await holdsAll('hub', f.hubUrl, beforeHub), false, 'history of the outages still on its way when the live value was back');

    push.state.stop = true;
    await push.done;
    await assertAllAt('hub', f.hubUrl, push.state.acked);
    node.kill('SIGTERM');
    assert.equal(await node.exited(), 0);
  } finally {
    hub.kill('SIGTERM');
    await hub.exited();
    await f.mosquitto.stop();
  }
});
