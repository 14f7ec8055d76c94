// The hub's view of zones through a real Mosquitto, with a hub and three agents in-process (sim pumps, a
// detector collector the test drives): a fire on two nodes' cameras shows at the hub's GET /api/v1/zones/:zone
// with its detections, the majority decision and the pump running; an operator's emergency stop through the
// hub stops the pump (a viewer gets 403) and is audited; QuorumLost fires when two of the three voters stop.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { type Agent, agentConfigSchema, createAgent } from '../../src/agent/index.js';
import { testDetector as detector, type TestDetector } from '../../src/agent/zones/zone-test-kit.js';
import { createHub, type Hub, type HubZoneView, hubConfigSchema, type ZoneSummary } from '../../src/hub/index.js';
import { type MosquittoInstance, startMosquitto } from '../kit/mosquitto.js';
import { waitFor } from '../kit/wait.js';

const SITE = 'ranch';
const PASSWORD = 'zones integration password';
const ZONES = [
  {
    id: 'north',
    voters: ['a', 'b', 'c'],
    cameras: [
      { id: 'cam-a1', node: 'a' },
      { id: 'cam-b1', node: 'b' },
    ],
    pumps: [{ id: 'pump-1', node: 'c', driver: { type: 'sim' }, envelope: { minOff: '0s' } }],
    policy: { window: '60s', minCameras: 2, minNodes: 2, threshold: 1, voteTtl: '3s' },
  },
];

type Eyes = TestDetector;

let mosquitto: MosquittoInstance;
let hub: Hub;
let dataDir: string;
const agents = new Map<string, { agent: Agent; eyes: Eyes; stopped: boolean }>();
const sessions = new Map<string, { cookie: string; csrf: string }>();

before(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'fm-hub-zones-it-'));
  mosquitto = await startMosquitto();
  hub = createHub(
    hubConfigSchema.parse({
      dataDir,
      storage: { path: join(dataDir, 'hub.db') },
      mqtt: { url: mosquitto.url, clientId: 'hub' },
      auth: { mode: 'on' },
      alerts: { evaluationInterval: '500ms', builtins: { quorumLost: { for: '2s' } } },
      zones: ZONES.map((z) => ({ ...z, site: SITE })),
    }),
  );
  await hub.start({ listen: false });
  for (const role of ['viewer', 'operator', 'admin'] as const) {
    await hub.auth.addUser(`${role}-user`, role, PASSWORD);
    const res = await hub.app.inject({
      method: 'POST',
      url: '/api/v1/auth/login',
      payload: { username: `${role}-user`, password: PASSWORD },
    });
    assert.equal(res.statusCode, 200, res.body);
    sessions.set(role, { cookie: String(res.headers['set-cookie']).split(';')[0] as string, csrf: res.json().csrfToken });
  }
  for (const id of ['a', 'b', 'c']) {
    const eyes = detector();
    const agent = createAgent(
      agentConfigSchema.parse({
        dataDir,
        node: { id, site: SITE, zone: 'north' },
        mqtt: { url: mosquitto.url },
        http: { enabled: false },
        publish: { tick: '250ms', heartbeat: '1s' },
        zones: ZONES,
      }),
      { collectors: [eyes] },
    );
    agents.set(id, { agent, eyes, stopped: false });
    await agent.start();
  }
  await waitFor(() => ['a', 'b', 'c'].every((n) => hub.fleet.get(SITE, n)?.state === 'online'), {
    what: 'the three nodes online at the hub',
    timeoutMs: 15_000,
  });
});

after(async () => {
  for (const a of agents.values()) if (!a.stopped) await a.agent.stop();
  await hub?.stop();
  await mosquitto?.stop();
  if (dataDir !== undefined) rmSync(dataDir, { recursive: true, force: true });
});

async function get<T>(url: string, role = 'viewer'): Promise<{ status: number; body: T }> {
  const res = await hub.app.inject({ method: 'GET', url, headers: { cookie: sessions.get(role)?.cookie ?? '' } });
  return { status: res.statusCode, body: res.json() as T };
}

async function post(url: string, role: string) {
  const s = sessions.get(role);
  return hub.app.inject({ method: 'POST', url, headers: { cookie: s?.cookie ?? '', 'x-csrf-token': s?.csrf ?? '' }, payload: {} });
}

const zoneView = async () => (await get<{ data: HubZoneView }>('/api/v1/zones/north')).body.data;

test('hub zones: a fire on two nodes shows at the hub with its detections, the majority and the pump running; an operator stops it', async () => {
  const before = await get<{ data: { zones: ZoneSummary[] } }>('/api/v1/zones');
  assert.equal(before.status, 200);
  assert.deepEqual(
    before.body.data.zones.map((z) => [z.zone, z.site, z.votersOnline, z.majorityVisible, z.fire]),
    [['north', SITE, 3, true, false]],
  );
  assert.equal((await get('/api/v1/zones/nowhere')).status, 404);

  await agents.get('a')?.eyes.see('cam-a1', 0.95);
  await agents.get('b')?.eyes.see('cam-b1', 0.9);
  const view = await waitFor(
    async () => {
      const v = await zoneView();
      return v.pumps[0]?.state === 'running' && v.decisions.some((d) => d.kind === 'majority') && v.detections.length >= 2 ? v : undefined;
    },
    { what: 'the hub showing the detections, the majority and the pump running', timeoutMs: 20_000 },
  );
  assert.deepEqual(view.detections.map((d) => `${d.node}/${d.camera}`).sort(), ['a/cam-a1', 'b/cam-b1']);
  assert.equal(view.fire, true, "the hub's evaluator agrees, for display");
  const majority = view.decisions.find((d) => d.kind === 'majority');
  assert.equal(majority?.node, 'c');
  assert.ok((majority?.votes?.length ?? 0) >= 2, 'the majority names its votes');
  assert.deepEqual(majority?.pumps, ['pump-1']);
  assert.equal(view.pumps[0]?.cause, 'majority');
  assert.equal(view.pumps[0]?.owner, 'c');
  assert.equal(view.majorityVisible, true);
  assert.equal(view.pumpsRunning, 1);

  // The pump's state comes first by its owner's frame; its pump_started event follows through the outbox.
  const history = await waitFor(
    async () => {
      const h = await get<{ data: { pumps: { pump: string; runs: { end: string | null; cause: string }[] }[] } }>(
        '/api/v1/zones/north/history?range=1h',
      );
      return h.status !== 200 || (h.body.data.pumps[0]?.runs.length ?? 0) > 0 ? h : undefined;
    },
    { what: 'the pump run in the stored history', timeoutMs: 10_000 },
  );
  assert.equal(history.status, 200);
  assert.deepEqual(
    history.body.data.pumps[0]?.runs.map((r) => [r.cause, r.end]),
    [['majority', null]],
  );
  assert.equal((await get('/api/v1/zones/north/history?range=1s')).status, 400);

  const denied = await post('/api/v1/zones/north/pumps/pump-1/estop', 'viewer');
  assert.equal(denied.statusCode, 403, denied.body);
  assert.equal((await post('/api/v1/zones/north/pumps/pump-1/explode', 'operator')).statusCode, 400);
  assert.equal((await post('/api/v1/zones/north/pumps/pump-9/estop', 'operator')).statusCode, 404);
  const estop = await post('/api/v1/zones/north/pumps/pump-1/estop', 'operator');
  assert.equal(estop.statusCode, 202, estop.body);
  const data = estop.json().data;
  assert.equal(data.via, `${SITE}/c`, "handed to the pump's owner, online");
  assert.equal(data.action, 'estop');

  const stopped = await waitFor(
    async () => {
      const v = await zoneView();
      // The state by the owner's frame, the last stop by its pump_stopped event.
      return v.pumps[0]?.state === 'estop' && v.pumps[0]?.lastStop !== null ? v : undefined;
    },
    { what: 'the pump in emergency stop at the hub, with its last stop', timeoutMs: 15_000 },
  );
  assert.equal(stopped.pumps[0]?.lastStop?.reason, 'estop');
  assert.equal(stopped.pumps[0]?.lastStop?.by, 'hub:operator-user');
  const audit = await get<{ entries?: { action: string; target: string; actor: string }[] }>('/api/v1/audit', 'admin');
  const entry = JSON.stringify(audit.body);
  assert.match(entry, /zone north pump pump-1 estop via ranch\/c/);
  assert.match(entry, /operator-user/);

  const elected = await post('/api/v1/zones/north/elect', 'operator');
  assert.equal(elected.statusCode, 202, elected.body);
  const epoch = elected.json().data.epoch as number;
  assert.ok(epoch > view.epoch, `elected epoch ${epoch} after ${view.epoch}`);
  await waitFor(async () => (await zoneView()).epoch >= epoch, { what: 'the new epoch at the hub', timeoutMs: 10_000 });

  const metrics = await hub.app.inject('/metrics');
  assert.match(metrics.body, /fieldmesh_zone_decisions_total\{zone="north",kind="majority"\} [1-9]/);
  assert.match(metrics.body, /fieldmesh_zone_decision_latency_seconds_count [1-9]/);
  assert.match(metrics.body, /fieldmesh_zone_majority_visible\{site="ranch",zone="north"\} 1/);
});

test('hub zones: QuorumLost fires when two of the three voters stop', async () => {
  for (const id of ['a', 'b']) {
    const a = agents.get(id);
    if (a === undefined) continue;
    a.stopped = true;
    await a.agent.stop();
  }
  const alert = await waitFor(
    () => hub.alerts?.list().find((a) => a.alert.labels.alertname === 'QuorumLost' && a.alert.state === 'firing'),
    { what: 'QuorumLost firing', timeoutMs: 20_000 },
  );
  assert.equal(alert.alert.labels.zone, 'north');
  assert.equal(alert.alert.labels.site, SITE);
  const view = await zoneView();
  assert.equal(view.majorityVisible, false);
  assert.equal(view.votersOnline, 1);
  assert.ok(view.alerts.some((a) => a.name === 'QuorumLost' && a.state === 'firing'));
  // No member but c is online: an election still goes through c.
  const elected = await post('/api/v1/zones/north/elect', 'operator');
  assert.equal(elected.statusCode, 202, elected.body);
  assert.equal(elected.json().data.via, `${SITE}/c`);
});
