// Zones in running agents on one in-memory broker and a manual clock: detections of two cameras on two
// nodes start the pump on a third, through the agents' own collectors, zone link and envelope; the
// cameras of one node alone do not; an election moves every node's epoch; an operator's emergency stop
// through the node API wins and holds.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { waitFor } from '../../../test/kit/wait.js';
import { ManualClock } from '../../kit/index.js';
import { createMemoryTransport, MemoryBroker } from '../../transport/index.js';
import { type Agent, createAgent } from '../agent.js';
import { agentConfigSchema } from '../config.js';
import type { ZoneStatus } from './zone-engine.js';
import { testDetector as detector } from './zone-test-kit.js';

const TOKEN = 'zone-commands-token-0123456789';

const ZONES = [
  {
    id: 'north',
    voters: ['a', 'b', 'c'],
    cameras: [
      { id: 'cam-a1', node: 'a' },
      { id: 'cam-a2', node: 'a' },
      { id: 'cam-b1', node: 'b' },
    ],
    pumps: [{ id: 'pump-1', node: 'c', driver: { type: 'sim' }, envelope: { minOff: '0s' } }],
    policy: { window: '60s', minCameras: 2, minNodes: 2, threshold: 1, voteTtl: '3s' },
  },
];

async function fleet() {
  const clock = new ManualClock();
  const broker = new MemoryBroker();
  const dir = mkdtempSync(join(tmpdir(), 'fm-zone-agents-'));
  const nodes: { id: string; agent: Agent; eyes: ReturnType<typeof detector>; url: string }[] = [];
  for (const id of ['a', 'b', 'c']) {
    const eyes = detector();
    const config = agentConfigSchema.parse({
      dataDir: dir,
      node: { id, site: 'ranch' },
      http: { port: 0 },
      publish: { tick: '500ms', heartbeat: '5s' },
      zones: ZONES,
      zoneCommands: { token: TOKEN },
    });
    const agent = createAgent(config, {
      clock,
      epoch: 1,
      collectors: [eyes],
      createTransport: (will) => createMemoryTransport(broker, { clientId: id, will, clock }),
      fallbackToFreePort: true,
    });
    const { httpUrl } = await agent.start();
    nodes.push({ id, agent, eyes, url: httpUrl as string });
  }
  const status = async (node: string): Promise<ZoneStatus> => {
    const n = nodes.find((x) => x.id === node);
    const res = await fetch(`${n?.url}/api/v1/zones/north`);
    return ((await res.json()) as { data: ZoneStatus }).data;
  };
  /** Advances the clock a tick at a time until `predicate` holds (bounded by waitFor's deadline). */
  const until = <T>(predicate: () => Promise<T>, what: string) =>
    waitFor(
      async () => {
        clock.advance(250);
        return predicate();
      },
      { timeoutMs: 15_000, intervalMs: 5, what },
    );
  const stop = async () => {
    for (const n of nodes) await n.agent.stop();
  };
  return { clock, nodes, status, until, stop };
}

const pumpRunning = (s: ZoneStatus) => s.pumps.find((p) => p.id === 'pump-1')?.running === true;

test("zones in agents: two cameras on two nodes start the pump on a third; one node's cameras alone do not", async () => {
  const f = await fleet();
  try {
    const [a, b] = f.nodes;
    // Node a's two cameras: two cameras, one node: the policy asks for two nodes.
    for (let k = 0; k < 6; k++) {
      await a?.eyes.see('cam-a1', 0.95);
      await a?.eyes.see('cam-a2', 0.9);
      f.clock.advance(500);
    }
    const c = await f.status('c');
    assert.equal(pumpRunning(c), false, 'no pump on the cameras of one node');
    assert.equal(c.evaluation?.fire ?? false, false);

    await b?.eyes.see('cam-b1', 0.85);
    const started = await f.until(async () => {
      const s = await f.status('c');
      return pumpRunning(s) ? s : undefined;
    }, 'the pump on c running');
    const pump = started.pumps.find((p) => p.id === 'pump-1');
    assert.equal(pump?.cause, 'majority');
    assert.ok(started.majorityVisible);
  } finally {
    await f.stop();
  }
});

test('zones in agents: an election moves every node to the new epoch; an emergency stop through the API wins and holds', async () => {
  const f = await fleet();
  try {
    const [a, b] = f.nodes;
    const elected = await fetch(`${f.nodes[0]?.url}/api/v1/zones/north/elect`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    assert.equal(elected.status, 200);
    const nowhere = await fetch(`${f.nodes[0]?.url}/api/v1/zones/nowhere/elect`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    assert.equal(nowhere.status, 404);
    assert.deepEqual(
      { ...((await nowhere.json()) as object), error: undefined },
      { status: 'error', errorType: 'not_found', code: 'FM_ZONE_UNKNOWN', error: undefined },
    );
    const epoch = ((await elected.json()) as { data: { epoch: number } }).data.epoch;
    assert.equal(epoch, 1);
    await f.until(
      async () => (await Promise.all(['a', 'b', 'c'].map((n) => f.status(n)))).every((s) => s.epoch === epoch),
      'epoch 1 everywhere',
    );

    const keepSeeing = async () => {
      await a?.eyes.see('cam-a1', 0.95);
      await b?.eyes.see('cam-b1', 0.95);
    };
    await f.until(async () => {
      await keepSeeing();
      return pumpRunning(await f.status('c'));
    }, 'the pump running on the fire');

    const denied = await fetch(`${f.nodes[1]?.url}/api/v1/zones/north/pumps/pump-1/estop`, { method: 'POST' });
    assert.equal(denied.status, 401, 'no token, no command');
    const estop = await fetch(`${f.nodes[1]?.url}/api/v1/zones/north/pumps/pump-1/estop`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'x-fieldmesh-operator': 'olga' },
    });
    assert.equal(estop.status, 202, await estop.text());
    // Sent from node b to the pump's owner over the zone link; the fire goes on, the pump stays stopped.
    const stopped = await f.until(async () => {
      await keepSeeing();
      const s = await f.status('c');
      return !pumpRunning(s) ? s : undefined;
    }, 'the pump stopped by the emergency stop');
    assert.equal(stopped.pumps.find((p) => p.id === 'pump-1')?.view?.state, 'estop');
    for (let k = 0; k < 10; k++) {
      await keepSeeing();
      f.clock.advance(500);
    }
    assert.equal(pumpRunning(await f.status('c')), false, 'the emergency stop holds while the majority still asks');
  } finally {
    await f.stop();
  }
});

// Found by test/e2e/zones-mqtt.test.ts: the agent opened its pumps before starting its broker link, so an
// MQTT relay's pump was told "stop" with no link, at every boot: a fault, and after kill -9 a resumed run
// dropped with its runtime. The link starts first now, and the driver waits for it.
test('zones in agents: a pump behind an MQTT relay boots stopped, told off through the broker, without a fault', {
  timeout: 10_000,
}, async () => {
  const broker = new MemoryBroker();
  const relay = createMemoryTransport(broker, { clientId: 'relay' });
  const told: string[] = [];
  const relayed = relay.subscribe('gpio/pump/pump-9', (m) => {
    const payload = new TextDecoder().decode(m.payload);
    told.push(payload);
    void relay.publish(`${m.topic}/state`, m.payload, { qos: 1 });
  });
  relay.start();
  await relayed.ready;
  const clock = new ManualClock();
  const dataDir = mkdtempSync(join(tmpdir(), 'fm-zone-mqtt-relay-'));
  const config = agentConfigSchema.parse({
    dataDir,
    node: { id: 'c', site: 'ranch' },
    http: { enabled: false },
    zones: [{ ...ZONES[0], pumps: [{ id: 'pump-9', node: 'c', driver: { type: 'mqtt' } }] }],
  });
  const agent = createAgent(config, {
    clock,
    epoch: 1,
    collectors: [],
    createTransport: (will) => createMemoryTransport(broker, { clientId: 'c', will, clock }),
  });
  try {
    await agent.start();
    await waitFor(() => told.length === 1, { what: 'the relay told off' });
    assert.deepEqual(told, ['OFF']);
    const state = JSON.parse(readFileSync(join(dataDir, 'ranch', 'c', 'pumps', 'north.pump-9.json'), 'utf8'));
    assert.deepEqual([state.run, state.fault], [null, null]);
  } finally {
    await agent.stop();
    await relay.close();
  }
});
