// Bulk actions end to end in one process: the embedded broker on a free port, a real hub, and simulated
// battery nodes (real agents) over TCP. A rebirth action on two nodes completes with new births from
// exactly those two; a ping action gets real round trips; ack-alerts acknowledges the alerts of exactly
// the selected nodes.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { type Agent, createAgent } from '../../src/agent/index.js';
import { brokerConfigSchema, createBroker } from '../../src/broker/index.js';
import { createHub, type Hub, hubConfigSchema } from '../../src/hub/index.js';
import type { ActionPreview, ActionView } from '../../src/protocol/index.js';
import { demoNodeConfig, planDemoFleet } from '../../src/sim/index.js';
import { createMqttTransport, type Transport } from '../../src/transport/index.js';
import { waitFor } from '../kit/wait.js';

let dataDir: string;
let broker: ReturnType<typeof createBroker>;
let hub: Hub;
let agents: Agent[] = [];
/** Watches every rebirth request the hub publishes. */
let observer: Transport;
const rebirthTopics: string[] = [];

before(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'fm-bulk-actions-'));
  broker = createBroker(brokerConfigSchema.parse({ listen: { port: 0 }, websocket: { enabled: false } }));
  const { mqttUrl } = await broker.start();
  // One alert per battery node as soon as the rule is evaluated.
  const rules = join(dataDir, 'rules.yaml');
  writeFileSync(rules, 'groups:\n  - name: test\n    rules:\n      - alert: SocReported\n        expr: battery_soc >= 0\n');
  hub = createHub(
    hubConfigSchema.parse({
      dataDir,
      mqtt: { url: mqttUrl },
      storage: { path: join(dataDir, 'hub.db') },
      alerts: { ruleFiles: [rules] },
    }),
  );
  await hub.start({ listen: false });
  // Three battery nodes on one site (the plan alternates sites: take every other of six).
  const plans = planDemoFleet(6, 2).filter((p) => p.kind === 'battery');
  agents = plans.map((p) => createAgent(demoNodeConfig(p, mqttUrl, dataDir, 7)));
  await Promise.all(agents.map((a) => a.start()));
  await waitFor(() => hub.fleet.nodes().filter((n) => n.state === 'online').length === 3, {
    what: 'three nodes online',
    timeoutMs: 15_000,
  });
  observer = createMqttTransport({ url: mqttUrl, clientId: 'observer' });
  const rebirths = observer.subscribe('fieldmesh/+/+/cmd/rebirth', (m) => rebirthTopics.push(m.topic));
  observer.start();
  await rebirths.ready;
});

after(async () => {
  await observer?.close();
  await Promise.all(agents.map((a) => a.stop().catch(() => {})));
  await hub?.stop();
  await broker?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

async function previewAndRun(body: unknown): Promise<{ preview: ActionPreview; done: ActionView }> {
  const res = await hub.app.inject({ method: 'POST', url: '/api/v1/actions/preview', payload: body as object });
  assert.equal(res.statusCode, 200, res.body);
  const preview = res.json() as ActionPreview;
  const run = await hub.app.inject({ method: 'POST', url: '/api/v1/actions', payload: { previewId: preview.previewId } });
  assert.equal(run.statusCode, 202, run.body);
  const id = (run.json() as ActionView).id;
  const done = await waitFor(
    async () => {
      const view = (await hub.app.inject(`/api/v1/actions/${id}`)).json() as ActionView;
      return view.state === 'done' && view;
    },
    { what: `action ${id} done`, timeoutMs: 20_000 },
  );
  return { preview, done };
}

test('bulk actions over the broker: a rebirth of two nodes completes with a new birth from each, and only from them', async () => {
  const [a, b, c] = hub.fleet.nodes();
  assert.ok(a && b && c);
  const birthTimes = () => hub.fleet.nodes().map((n) => `${n.key}@${n.birthTime}`);
  const before = birthTimes();
  const { preview, done } = await previewAndRun({ action: 'rebirth', selector: { nodes: [a.key, b.key] }, params: { timeout: '10s' } });
  assert.deepEqual(
    preview.targets.map((t) => `${t.site}/${t.node}`),
    [a.key, b.key],
  );
  assert.deepEqual(
    done.targets.map((t) => [`${t.site}/${t.node}`, t.status]),
    [
      [a.key, 'ok'],
      [b.key, 'ok'],
    ],
    JSON.stringify(done.targets),
  );
  const afterRun = birthTimes();
  // A birth carries its time: both rebirthed nodes announced themselves anew.
  assert.notEqual(afterRun[0], before[0]);
  assert.notEqual(afterRun[1], before[1]);
  // The hub asked exactly those two (the observer's copy may trail the node's answer).
  await waitFor(() => rebirthTopics.length >= 2, { what: 'the observer saw two rebirth requests' });
  assert.deepEqual(rebirthTopics.sort(), [`fieldmesh/${a.key}/cmd/rebirth`, `fieldmesh/${b.key}/cmd/rebirth`]);
});

test('bulk actions over the broker: a ping of every node answers with real round trips', async () => {
  const { done } = await previewAndRun({ action: 'ping', selector: { all: true } });
  assert.deepEqual(done.counts, { pending: 0, ok: 3, failed: 0, skipped: 0 }, JSON.stringify(done.targets));
  for (const t of done.targets) {
    assert.equal(typeof t.rttMs, 'number');
    assert.match(t.detail ?? '', /^pong in \d+ ms \(agent .+, epoch \d+\)$/);
  }
});

test('bulk actions over the broker: ack-alerts acknowledges the alerts of exactly the selected nodes', async () => {
  const alerts = hub.alerts;
  assert.ok(alerts);
  const keys = hub.fleet.nodes().map((n) => n.key);
  await waitFor(
    async () => {
      await alerts.evaluate();
      return alerts.list().filter((s) => s.alert.labels.alertname === 'SocReported').length === 3;
    },
    { what: 'one SocReported alert per node', timeoutMs: 15_000 },
  );
  const { preview, done } = await previewAndRun({
    action: 'ack-alerts',
    selector: { nodes: keys.slice(0, 2) },
    params: { comment: 'checked on site' },
  });
  assert.deepEqual(
    preview.targets.map((t) => [t.plan, t.skip]),
    [
      ['acknowledge 1 alert: SocReported', null],
      ['acknowledge 1 alert: SocReported', null],
    ],
  );
  assert.deepEqual(done.counts, { pending: 0, ok: 2, failed: 0, skipped: 0 }, JSON.stringify(done.targets));
  const ackedBy = Object.fromEntries(
    alerts
      .list()
      .filter((s) => s.alert.labels.alertname === 'SocReported')
      .map((s) => [`${s.alert.labels.site}/${s.alert.labels.node}`, s.alert.ack?.comment ?? null]),
  );
  assert.deepEqual(ackedBy, { [keys[0] as string]: 'checked on site', [keys[1] as string]: 'checked on site', [keys[2] as string]: null });
});
