// A mesh-only node (mqtt.enabled: false) through the built binary: it says at start what it does without a
// broker, is ready (broker none, not "disconnected"), collects into its store, answers queries, runs UDP
// awareness, and keeps the critical samples it acknowledged on disk; configured later with a broker, it hands
// every one of them to the hub.
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { createPrometheusClient } from '../../src/client/index.js';
import { type FieldmeshProcess, runFieldmesh } from '../kit/fieldmesh-process.js';
import { startMosquitto } from '../kit/mosquitto.js';
import { nodeFleet, nodeMetric } from '../kit/node-api.js';
import { freePort } from '../kit/ports.js';
import { waitFor } from '../kit/wait.js';

const TOKEN = 'mesh-only-token';
const SAMPLES = 20;
/** Whole seconds, an hour ago: inside any retention. */
const BASE_MS = Math.floor(Date.now() / 1000) * 1000 - 3_600_000;
const running: FieldmeshProcess[] = [];
after(() => {
  for (const p of running) p.kill('SIGKILL');
});

function nodeYaml(dir: string, mqtt: string, udpPort: number): string {
  const path = join(dir, 'node.yaml');
  writeFileSync(
    path,
    [
      'node: {id: bess-07, site: ranch}',
      `mqtt: ${mqtt}`,
      `dataDir: ${dir}`,
      'http: {port: 0}',
      'publish: {tick: 500ms}',
      `awareness: {transport: udp, udp: {port: ${udpPort}, interface: 127.0.0.1, group: 239.255.70.${(udpPort % 200) + 20}}}`,
      'critical: [{match: probe_seq}]',
      'outbox: {historyInterval: 500ms}',
      `collectors: [{type: http_push, token: ${TOKEN}}]`,
      '',
    ].join('\n'),
  );
  return path;
}

async function startNode(path: string): Promise<{ node: FieldmeshProcess; url: string }> {
  const node = runFieldmesh(['node', '--config', path], { FIELDMESH_LOG_LEVEL: 'info' });
  running.push(node);
  const [, url] = await node.waitForOutput(/HTTP (http:\/\/\S+)/);
  return { node, url: url as string };
}

/** Whether `url` (node or hub) holds probe_seq = i at BASE + i s for every i below SAMPLES. */
async function holdsAll(url: string, query: string): Promise<boolean> {
  const start = BASE_MS / 1000;
  const res = await createPrometheusClient(url).queryRange(query, start, start + SAMPLES - 1, 1);
  const values = (res.data.result[0]?.values ?? []).map(([, v]) => Number(v));
  return values.length === SAMPLES && values.every((v, i) => v === i);
}

test('e2e node without a broker: it runs, is ready, keeps what it acknowledged, and hands it to a hub configured later', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'fm-e2e-no-broker-'));
  const udpPort = await freePort();
  const meshOnly = nodeYaml(dir, '{enabled: false}', udpPort);
  let { node, url } = await startNode(meshOnly);
  assert.match(node.stdout(), /fieldmesh node ranch\/bess-07 \(boot 1\) -> no broker; HTTP/);
  await node.waitForOutput(/no broker configured \(mqtt\.enabled: false\).*UDP awareness.*no live frames reach a hub.*outbox on disk/);

  const ready = await fetch(`${url}/readyz`);
  assert.equal(ready.status, 200);
  assert.deepEqual(await ready.json(), { ready: true, broker: 'none' }, 'ready, and no broker is not a disconnected one');
  assert.equal(await nodeMetric(url, 'fieldmesh_agent_broker_connected'), undefined, 'no broker gauge to read as 0');

  const batch = Array.from({ length: SAMPLES }, (_, i) => ({ time: BASE_MS + i * 1000, metrics: { probe_seq: i } }));
  const push = await fetch(`${url}/events`, {
    method: 'POST',
    headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify(batch),
  });
  assert.equal(push.status, 200, await push.text());
  assert.ok(await holdsAll(url, 'probe_seq'), 'the local store answers the query API');
  const fleet = await nodeFleet(url);
  assert.deepEqual(
    fleet.data.nodes.map((n) => [n.node, n.self]),
    [['bess-07', true]],
    'UDP awareness runs: the node is in its own fleet view',
  );
  await waitFor(async () => ((await nodeMetric(url, 'fieldmesh_awareness_frames_sent_total', 'type="pulse"')) ?? 0) > 0, {
    what: 'pulses on the segment',
  });
  assert.doesNotMatch(node.stderr(), /disconnected|ECONNREFUSED|unreachable/i, 'nothing tries a broker it does not have');
  node.kill('SIGTERM');
  assert.equal(await node.exited(), 0, node.stderr());

  // Later the site gets a hub: the same node, now with a broker, delivers what it kept.
  const mosquitto = await startMosquitto();
  try {
    const hubYaml = join(dir, 'hub.yaml');
    writeFileSync(
      hubYaml,
      `mqtt: {url: "${mosquitto.url}"}\nhttp: {port: ${await freePort()}}\nstorage: {path: ${join(dir, 'hub.db')}}\ndataDir: ${dir}\n`,
    );
    const hub = runFieldmesh(['hub', '--config', hubYaml]);
    running.push(hub);
    const [, hubUrl] = await hub.waitForOutput(/console (http:\/\/\S+?)\/?\s/);
    ({ node, url } = await startNode(nodeYaml(dir, `{url: "${mosquitto.url}"}`, udpPort)));
    await waitFor(() => holdsAll(hubUrl as string, 'probe_seq{node="bess-07"}'), {
      timeoutMs: 30_000,
      intervalMs: 250,
      what: `the ${SAMPLES} samples acknowledged without a broker, at the hub`,
    });
    const readyNow = (await (await fetch(`${url}/readyz`)).json()) as { broker: string; brokerConnected: boolean };
    assert.deepEqual(readyNow, { ready: true, broker: 'connected', brokerConnected: true });
    for (const p of [node, hub]) p.kill('SIGTERM');
    for (const p of [node, hub]) assert.equal(await p.exited(), 0, p.stderr());
  } finally {
    await mosquitto.stop();
  }
});
