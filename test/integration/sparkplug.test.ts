// Sparkplug B edge mode (docs/sparkplug.md) through a real Mosquitto: what an in-process agent publishes, read by a
// host-side MQTT client and decoded by an independent decoder (the npm package sparkplug-payload, not our codec).

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { connect, type MqttClient } from 'mqtt';
import { type Agent, agentConfigSchema, createAgent } from '../../src/agent/index.js';
import { type FeederCollector, feederCollector } from '../kit/feeder-collector.js';
import { type MosquittoInstance, startMosquitto } from '../kit/mosquitto.js';
import { waitFor } from '../kit/wait.js';

interface DecodedMetric {
  readonly name?: string;
  readonly alias?: number;
  readonly timestamp?: number;
  readonly type?: string;
  readonly value: unknown;
}
interface Received {
  readonly topic: string;
  readonly type: string;
  readonly device?: string;
  readonly seq?: number;
  readonly timestamp?: number;
  readonly metrics: readonly DecodedMetric[];
  readonly retain: boolean;
  readonly state?: { online: boolean; timestamp: number };
}

const sparkplugPayload = createRequire(import.meta.url)('sparkplug-payload').get('spBv1.0') as {
  decodePayload(bytes: Uint8Array): Record<string, unknown>;
  encodePayload(payload: Record<string, unknown>): Uint8Array;
};

/** A protobufjs Long (as the independent decoder returns uint64) or a number, as a number. */
function num(x: unknown): number | undefined {
  if (x === undefined || x === null) return undefined;
  if (typeof x === 'object' && typeof (x as { toNumber?: unknown }).toNumber === 'function')
    return (x as { toNumber(): number }).toNumber();
  return x as number;
}

function decode(topic: string, payload: Buffer, retain: boolean): Received {
  const parts = topic.split('/');
  if (parts[1] === 'STATE') {
    let state: Received['state'];
    try {
      state = JSON.parse(payload.toString());
    } catch {}
    return { topic, type: 'STATE', metrics: [], retain, state };
  }
  const p = sparkplugPayload.decodePayload(payload);
  const metrics = ((p.metrics as Record<string, unknown>[] | undefined) ?? []).map((m) => ({
    name: m.name as string | undefined,
    alias: num(m.alias),
    timestamp: num(m.timestamp),
    type: m.type as string | undefined,
    value: typeof m.value === 'object' && m.value !== null ? num(m.value) : m.value,
  }));
  return { topic, type: parts[2] as string, device: parts[4], seq: num(p.seq), timestamp: num(p.timestamp), metrics, retain };
}

/** A Sparkplug host's view: every message under spBv1.0/#, decoded, in arrival order. */
async function startHost(url: string, id: string): Promise<{ client: MqttClient; log: Received[] }> {
  const log: Received[] = [];
  const client = connect(url, { clientId: id, protocolVersion: 4, clean: true, reconnectPeriod: 0 });
  client.on('message', (topic, payload, packet) => log.push(decode(topic, payload, packet.retain)));
  await new Promise<void>((resolve, reject) => {
    client.once('connect', () => client.subscribe('spBv1.0/#', { qos: 1 }, (err) => (err ? reject(err) : resolve())));
    client.once('error', reject);
  });
  return { client, log };
}

const SITE = 'plant';
const NODE = 'edge-1';
let mosquitto: MosquittoInstance;
let dataDir: string;
const agents: Agent[] = [];
const clients: MqttClient[] = [];

before(async () => {
  mosquitto = await startMosquitto();
  dataDir = mkdtempSync(join(tmpdir(), 'fm-sparkplug-it-'));
});

after(async () => {
  for (const a of agents) await a.stop().catch(() => {});
  for (const c of clients) await c.endAsync(true).catch(() => {});
  await mosquitto?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

function makeAgent(node: string, sparkplug: Record<string, unknown>, feeder: FeederCollector): Agent {
  const agent = createAgent(
    agentConfigSchema.parse({
      dataDir,
      node: { id: node, site: SITE },
      mqtt: { url: mosquitto.url },
      http: { enabled: false },
      sparkplug: { enabled: true, reconnect: '100ms', ...sparkplug },
    }),
    { epoch: 1, collectors: [feeder] },
  );
  agents.push(agent);
  return agent;
}

const of = (log: readonly Received[], type: string, node = NODE) => log.filter((r) => r.type === type && r.topic.split('/')[3] === node);
const metric = (r: Received, name: string) => r.metrics.find((m) => m.name === name);

test('sparkplug NBIRTH, DBIRTH with every metric, DDATA by exception with aliases only, seq wrapping at 255', async () => {
  const host = await startHost(mosquitto.url, 'host-births');
  clients.push(host.client);
  const feeder = feederCollector('meter');
  const agent = makeAgent(NODE, {}, feeder);
  await agent.start();
  const ctx = () => feeder.ctx ?? assert.fail('collector not started');
  const nbirth = await waitFor(() => of(host.log, 'NBIRTH')[0], { what: 'NBIRTH' });
  assert.equal(nbirth.topic, `spBv1.0/${SITE}/NBIRTH/${NODE}`);
  assert.equal(nbirth.seq, 0);
  assert.equal(nbirth.retain, false);
  assert.equal(metric(nbirth, 'bdSeq')?.type, 'Int64');
  assert.equal(metric(nbirth, 'bdSeq')?.value, agent.sparkplug?.bdSeq);
  assert.deepEqual(
    { ...metric(nbirth, 'Node Control/Rebirth') },
    { name: 'Node Control/Rebirth', alias: undefined, timestamp: undefined, type: 'Boolean', value: false },
  );

  const t0 = Date.now() - 1000;
  await ctx().record([
    { name: 'battery_soc', labels: { bank: 'a' }, time: t0, value: 50 },
    { name: 'dc_voltage', labels: {}, time: t0, value: 48.5 },
  ]);
  const dbirth = await waitFor(() => of(host.log, 'DBIRTH')[0], { what: 'DBIRTH' });
  // The device was not in the first births: the birth sequence again, its DBIRTH right after the NBIRTH.
  assert.equal(host.log[host.log.indexOf(dbirth) - 1]?.type, 'NBIRTH');
  assert.equal(dbirth.topic, `spBv1.0/${SITE}/DBIRTH/${NODE}/meter`);
  assert.equal(dbirth.seq, 1);
  const soc = metric(dbirth, 'battery_soc/bank=a');
  const volts = metric(dbirth, 'dc_voltage');
  assert.deepEqual([soc?.type, soc?.value, soc?.timestamp], ['Double', 50, t0]);
  assert.deepEqual([volts?.type, volts?.value, volts?.timestamp], ['Double', 48.5, t0]);
  assert.ok(soc?.alias !== undefined && volts?.alias !== undefined && soc.alias !== volts.alias, 'distinct aliases');

  // An unchanged value is not sent: the next DDATA carries only the metric that moved.
  await ctx().record([
    { name: 'battery_soc', labels: { bank: 'a' }, time: t0 + 1, value: 50 },
    { name: 'dc_voltage', labels: {}, time: t0 + 1, value: 48.5 },
  ]);
  await ctx().record([
    { name: 'battery_soc', labels: { bank: 'a' }, time: t0 + 2, value: 50 },
    { name: 'dc_voltage', labels: {}, time: t0 + 2, value: 49 },
  ]);
  const ddata = await waitFor(() => of(host.log, 'DDATA')[0], { what: 'DDATA' });
  assert.equal(ddata.topic, `spBv1.0/${SITE}/DDATA/${NODE}/meter`);
  assert.equal(ddata.seq, 2, 'the unchanged record sent nothing');
  assert.deepEqual(ddata.metrics, [{ name: undefined, alias: volts.alias, timestamp: t0 + 2, type: 'Double', value: 49 }]);

  // seq goes 0..255 and wraps to 0 (NBIRTH 0, DBIRTH 1, DDATA 2, ...).
  for (let i = 1; i <= 260; i++) await ctx().record([{ name: 'dc_voltage', labels: {}, time: t0 + 2 + i, value: 49 + i }]);
  const seqs = await waitFor(
    () => {
      const s = of(host.log, 'DDATA').map((r) => r.seq as number);
      return s.length === 261 && s;
    },
    { what: '261 DDATA' },
  );
  assert.deepEqual(
    seqs,
    Array.from({ length: 261 }, (_, i) => (i + 2) % 256),
  );
  assert.ok(seqs.includes(255) && seqs.indexOf(0) === seqs.indexOf(255) + 1);

  // A series the births did not list brings the whole birth sequence again: NBIRTH (seq 0, same bdSeq), then a
  // DBIRTH with every metric, the aliases kept.
  const nbirths = of(host.log, 'NBIRTH').length;
  await ctx().record([{ name: 'temperature', labels: {}, time: t0 + 300, value: 21 }]);
  const rebirthDevice = await waitFor(() => of(host.log, 'DBIRTH')[1], { what: 'a second DBIRTH' });
  const renewed = of(host.log, 'NBIRTH')[nbirths] ?? assert.fail('no NBIRTH before the new DBIRTH');
  assert.ok(host.log.indexOf(renewed) < host.log.indexOf(rebirthDevice));
  assert.deepEqual([renewed.seq, metric(renewed, 'bdSeq')?.value, rebirthDevice.seq], [0, metric(nbirth, 'bdSeq')?.value, 1]);
  assert.equal(metric(rebirthDevice, 'dc_voltage')?.alias, volts.alias);
  assert.equal(metric(rebirthDevice, 'dc_voltage')?.value, 49 + 260);
  assert.ok(metric(rebirthDevice, 'temperature'));

  // NCMD Node Control/Rebirth: NBIRTH again (seq 0, same bdSeq), then the DBIRTHs with every metric and value.
  const births = of(host.log, 'NBIRTH').length;
  host.client.publish(
    `spBv1.0/${SITE}/NCMD/${NODE}`,
    Buffer.from(
      sparkplugPayload.encodePayload({ timestamp: Date.now(), metrics: [{ name: 'Node Control/Rebirth', type: 'Boolean', value: true }] }),
    ),
  );
  const reborn = await waitFor(() => of(host.log, 'NBIRTH')[births], { what: 'NBIRTH after NCMD rebirth' });
  assert.equal(reborn.seq, 0);
  assert.equal(metric(reborn, 'bdSeq')?.value, metric(nbirth, 'bdSeq')?.value);
  const redbirth = await waitFor(() => of(host.log, 'DBIRTH')[2], { what: 'DBIRTH after NCMD rebirth' });
  assert.equal(redbirth.seq, 1);
  assert.deepEqual(
    redbirth.metrics.map((m) => [m.name, m.alias, m.value]).sort(),
    [
      ['battery_soc/bank=a', soc.alias, 50],
      ['dc_voltage', volts.alias, 49 + 260],
      ['temperature', metric(rebirthDevice, 'temperature')?.alias, 21],
    ].sort(),
  );
  const sentText = await agent.metrics.registry.getSingleMetricAsString('fieldmesh_sparkplug_messages_sent_total');
  // NBIRTH: the first, the new device's, the new series', the NCMD's; DDATA: the one plus the 260 of the wrap.
  for (const [type, n] of [
    ['NBIRTH', 4],
    ['DBIRTH', 3],
    ['DDATA', 261],
  ])
    assert.match(sentText, new RegExp(`type="${type}"[^}]*} ${n}$`, 'm'));
  await agent.stop();
  agents.splice(agents.indexOf(agent), 1);
  const ndeath = await waitFor(() => of(host.log, 'NDEATH')[0], { what: 'NDEATH on a graceful stop' });
  assert.equal(metric(ndeath, 'bdSeq')?.value, metric(nbirth, 'bdSeq')?.value);
});

test('sparkplug bdSeq persists across agent restarts; a dropped connection brings the will as NDEATH with the NBIRTH bdSeq', async () => {
  const node = 'edge-2';
  const host = await startHost(mosquitto.url, 'host-bdseq');
  clients.push(host.client);
  const bdSeqs: number[] = [];
  for (let run = 0; run < 3; run++) {
    const agent = makeAgent(node, {}, feederCollector('meter'));
    await agent.start();
    const nbirth = await waitFor(() => of(host.log, 'NBIRTH', node)[run], { what: `NBIRTH of run ${run}` });
    const bdSeq = metric(nbirth, 'bdSeq')?.value as number;
    bdSeqs.push(bdSeq);
    // Run 1 crashes (the socket dropped without DISCONNECT): only the broker can send its NDEATH, the will.
    await agent.stop({ graceful: run !== 1 });
    agents.splice(agents.indexOf(agent), 1);
    const ndeath = await waitFor(() => of(host.log, 'NDEATH', node)[run], { what: `NDEATH of run ${run}` });
    assert.equal(metric(ndeath, 'bdSeq')?.value, bdSeq, `run ${run}: the NDEATH names the NBIRTH's bdSeq`);
    assert.equal(metric(ndeath, 'bdSeq')?.type, 'Int64');
  }
  assert.deepEqual(bdSeqs, [bdSeqs[0], (bdSeqs[0] as number) + 1, (bdSeqs[0] as number) + 2]);
  assert.match(mosquitto.log(), /fieldmesh-plant-edge-2-spb/);
});

const CHILD = fileURLToPath(new URL('./sparkplug-kill-child.ts', import.meta.url));

test('sparkplug agent process killed with SIGKILL: the broker delivers the will, an NDEATH with the NBIRTH bdSeq; the next process takes bdSeq + 1', async () => {
  const node = 'edge-kill';
  const host = await startHost(mosquitto.url, 'host-kill');
  clients.push(host.client);
  const born: number[] = [];
  for (let run = 0; run < 2; run++) {
    const child = spawn(process.execPath, ['--import', 'tsx', CHILD, mosquitto.url, dataDir, node], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    try {
      const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, signal) => resolve(signal)));
      for await (const line of createInterface({ input: child.stdout })) {
        const m = /^born (\d+)$/.exec(line);
        if (m) {
          born.push(Number(m[1]));
          break;
        }
      }
      const nbirth = await waitFor(() => of(host.log, 'NBIRTH', node)[run], { what: `NBIRTH of process ${run}` });
      assert.equal(metric(nbirth, 'bdSeq')?.value, born[run]);
      child.kill('SIGKILL');
      assert.equal(await exited, 'SIGKILL');
      const ndeath = await waitFor(() => of(host.log, 'NDEATH', node)[run], { what: `the will of process ${run}`, timeoutMs: 10_000 });
      assert.equal(metric(ndeath, 'bdSeq')?.value, born[run]);
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
  }
  assert.equal(born[1], (born[0] as number) + 1);
});

test('sparkplug waits for the primary host online STATE before its birth, and on the host going offline starts a new session born on its return', async () => {
  const node = 'edge-3';
  const host = await startHost(mosquitto.url, 'host-state');
  clients.push(host.client);
  const state = (online: boolean, timestamp: number) =>
    host.client.publishAsync('spBv1.0/STATE/scada', JSON.stringify({ online, timestamp }), { qos: 1, retain: true });
  const t = Date.now();
  await state(false, t);
  const feeder = feederCollector('meter');
  const agent = makeAgent(node, { primaryHostId: 'scada', groupId: 'line-a' }, feeder);
  await agent.start();
  // Connected and subscribed to the host's STATE (the retained offline one is delivered): no birth yet.
  await waitFor(() => /Received SUBSCRIBE from fieldmesh-plant-edge-3-spb[\s\S]*?spBv1\.0\/STATE\/scada/.test(mosquitto.log()), {
    what: 'the STATE subscription',
  });
  await feeder.ctx?.record([{ name: 'dc_voltage', labels: {}, time: t, value: 48 }]);
  // A STATE that is not Sparkplug 3.0 JSON (a 2.2 host's text) is refused and counted, and changes nothing.
  await host.client.publishAsync('spBv1.0/STATE/scada', 'ONLINE', { qos: 1 });
  await waitFor(
    async () =>
      /reason="state-invalid"[^}]*} 1$/m.test(await agent.metrics.registry.getSingleMetricAsString('fieldmesh_sparkplug_rejected_total')),
    {
      what: 'the bad STATE counted',
    },
  );
  // A STATE of another host changes nothing.
  await host.client.publishAsync('spBv1.0/STATE/other', JSON.stringify({ online: true, timestamp: t + 1 }), { qos: 1 });
  await state(true, t + 2);
  const nbirth = await waitFor(() => host.log.findIndex((r) => r.type === 'NBIRTH' && r.topic === `spBv1.0/line-a/NBIRTH/${node}`) + 1, {
    what: 'NBIRTH once the host is online',
  });
  const onlineAt = host.log.findIndex((r) => r.topic === 'spBv1.0/STATE/scada' && r.state?.online === true);
  assert.ok(onlineAt >= 0 && onlineAt < nbirth - 1, 'no NBIRTH before the online STATE');
  assert.ok(
    host.log.slice(0, onlineAt).every((r) => r.type !== 'NBIRTH' && r.type !== 'DBIRTH'),
    'nothing born while the host was offline',
  );
  const first = host.log[nbirth - 1] as Received;
  const firstBdSeq = metric(first, 'bdSeq')?.value as number;
  await waitFor(() => of(host.log, 'DBIRTH', node)[0], { what: 'DBIRTH after the NBIRTH' });

  // A stale offline STATE (older than the online one) is ignored: no NDEATH.
  await state(false, t + 1);
  // The host goes offline: NDEATH (its bdSeq), a new session; born again (bdSeq + 1) only when the host is back.
  await state(false, t + 3);
  const ndeath = await waitFor(() => of(host.log, 'NDEATH', node)[0], { what: 'NDEATH on the host going offline' });
  assert.equal(metric(ndeath, 'bdSeq')?.value, firstBdSeq);
  const staleAt = host.log.findIndex((r) => r.state?.timestamp === t + 1 && r.topic === 'spBv1.0/STATE/scada');
  assert.ok(
    host.log.indexOf(ndeath) > host.log.findIndex((r, i) => i > staleAt && r.state?.timestamp === t + 3),
    'the NDEATH follows the valid offline STATE, not the stale one',
  );
  await waitFor(() => agent.sparkplug?.bdSeq === firstBdSeq + 1, { what: 'the new session' });
  await waitFor(() => (mosquitto.log().match(/New client connected.*fieldmesh-plant-edge-3-spb/g) ?? []).length >= 2, {
    what: 'reconnected',
  });
  assert.equal(of(host.log, 'NBIRTH', node).length, 1, 'not born again before the host is back');
  await state(true, t + 4);
  const second = await waitFor(() => host.log.filter((r) => r.topic === `spBv1.0/line-a/NBIRTH/${node}`)[1], {
    what: 'NBIRTH on the host return',
  });
  assert.equal(metric(second, 'bdSeq')?.value, firstBdSeq + 1);
  const dbirths = await waitFor(
    () => {
      const d = host.log.filter((r) => r.topic === `spBv1.0/line-a/DBIRTH/${node}/meter`);
      return d.length === 2 && d;
    },
    { what: 'DBIRTH on the host return' },
  );
  assert.equal(metric(dbirths[1] as Received, 'dc_voltage')?.value, 48);
  await state(false, t + 5);
});

test('sparkplug after a broker restart opens a new session with the next bdSeq and is born again', async () => {
  const node = 'edge-restart';
  const feeder = feederCollector('meter');
  const agent = makeAgent(node, {}, feeder);
  await agent.start();
  await waitFor(() => agent.sparkplug?.born, { what: 'born' });
  const first = agent.sparkplug?.bdSeq as number;
  await feeder.ctx?.record([{ name: 'dc_voltage', labels: {}, time: Date.now(), value: 51 }]);
  await mosquitto.restart();
  await waitFor(() => agent.sparkplug?.born && agent.sparkplug.bdSeq === first + 1, {
    what: 'born again on the next bdSeq',
    timeoutMs: 10_000,
  });
  // What a host that connects now sees on asking for a rebirth: the new bdSeq, the device with its last value.
  const host = await startHost(mosquitto.url, 'host-restart');
  clients.push(host.client);
  await host.client.publishAsync(
    `spBv1.0/${SITE}/NCMD/${node}`,
    Buffer.from(
      sparkplugPayload.encodePayload({ timestamp: Date.now(), metrics: [{ name: 'Node Control/Rebirth', type: 'Boolean', value: true }] }),
    ),
  );
  const nbirth = await waitFor(() => of(host.log, 'NBIRTH', node)[0], { what: 'NBIRTH after the rebirth request' });
  assert.equal(metric(nbirth, 'bdSeq')?.value, first + 1);
  const dbirth = await waitFor(() => of(host.log, 'DBIRTH', node)[0], { what: 'DBIRTH after the rebirth request' });
  assert.equal(metric(dbirth, 'dc_voltage')?.value, 51);
});
