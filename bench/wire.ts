// Bytes per node-tick of the five critical metrics on the wire: the JSON-star baseline's messages (one JSON
// message per metric over an MQTT star, as deployments run today) against fieldmesh frames, same workload, same broker, same run. Time is compressed: ticks are
// driven as fast as the broker acknowledges them.

import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Agent, agentConfigSchema, type Collector, type CollectorContext, createAgent } from '../src/agent/index.js';
import { ACK_TIMEOUT_MS } from '../src/agent/outbox/index.js';
import { createHub, hubConfigSchema } from '../src/hub/index.js';
import { type Logger, ManualClock } from '../src/kit/index.js';
import { createMqttTransport, type Transport } from '../src/transport/index.js';
import { waitFor } from '../test/kit/wait.js';
import { feeder } from './feeder.js';
import { loadWorkload } from './workload.js';

export interface WireVariant {
  readonly design: string;
  readonly messagesPerNodeTick: number;
  readonly payloadBytesPerNodeTick: number;
  /** MQTT PUBLISH packets as sent by the clients (fixed header, topic, packet id, payload). */
  readonly wireBytesPerNodeTick: number;
}

export interface WireResult {
  readonly nodes: number;
  readonly ticks: number;
  readonly tickSeconds: number;
  readonly broker: string;
  readonly variants: readonly WireVariant[];
  /** baseline wire bytes / fieldmesh wire bytes, per fieldmesh variant. */
  readonly ratios: Record<string, { payload: number; wire: number }>;
}

const TICK_MS = 2_000;

/** Warnings and errors of the processes under measurement go to stderr; the figures go to stdout. */
const stderrWarnings: Logger = {
  debug() {},
  info() {},
  warn: (obj, msg) => console.error('warn', msg, JSON.stringify(obj)),
  error: (obj, msg) => console.error('error', msg, JSON.stringify(obj)),
  child: () => stderrWarnings,
};

function connect(url: string, clientId: string): Promise<Transport> {
  // The baseline's clients speak MQTT 3.1.1, as mosquitto_pub and paho do by default.
  const t = createMqttTransport({ url, clientId, protocolVersion: 4 });
  t.start();
  return waitFor(() => (t.connected ? t : undefined), { what: `${clientId} connected`, timeoutMs: 10_000 });
}

async function jsonStarBaseline(url: string, nodes: number, ticks: number): Promise<WireVariant> {
  const w = await loadWorkload();
  const sims = Array.from({ length: nodes }, (_, i) => new w.NodeSim(w.DEFAULT_SEED, i));
  const clients = await Promise.all(sims.map((s) => connect(url, `json-star-${s.name}`)));
  const before = clients.map((c) => c.stats().bytesOut);
  let payloadBytes = 0;
  let messages = 0;
  const enc = new TextEncoder();
  for (let k = 0; k < ticks; k++) {
    const tsNs = Date.UTC(2026, 0, 1) * 1e6 + k * TICK_MS * 1e6;
    await Promise.all(
      sims.map((sim, i) => {
        const values = sim.step();
        return Promise.all(
          w.METRICS.map((m) => {
            const payload = enc.encode(w.seedPayload(sim, values[m] as number, tsNs));
            payloadBytes += payload.length;
            messages++;
            return clients[i]?.publish(`bess/${sim.name}/${m}`, payload, { qos: 1 });
          }),
        );
      }),
    );
  }
  const wire = clients.reduce((sum, c, i) => sum + c.stats().bytesOut - (before[i] ?? 0), 0);
  await Promise.all(clients.map((c) => c.close()));
  const nodeTicks = nodes * ticks;
  return {
    design: 'json-star baseline: JSON per metric, QoS 1',
    messagesPerNodeTick: messages / nodeTicks,
    payloadBytesPerNodeTick: payloadBytes / nodeTicks,
    wireBytesPerNodeTick: wire / nodeTicks,
  };
}

async function fieldmeshDesign(
  url: string,
  nodes: number,
  ticks: number,
  label: string,
  critical: unknown[],
  protocolVersion: 4 | 'auto',
  replicateSamples = false,
): Promise<WireVariant> {
  const dataDir = mkdtempSync(join(tmpdir(), 'fm-bench-wire-'));
  // The durable plane needs a hub to acknowledge history frames; the awareness plane needs none.
  const hub = replicateSamples
    ? createHub(hubConfigSchema.parse({ mqtt: { url }, http: { port: 0 }, storage: { path: join(dataDir, 'hub.db') }, dataDir }), {
        logger: stderrWarnings,
      })
    : undefined;
  await hub?.start({ listen: false });
  const w = await loadWorkload();
  const clock = new ManualClock(Date.UTC(2026, 0, 1));
  const sims = Array.from({ length: nodes }, (_, i) => new w.NodeSim(w.DEFAULT_SEED, i));
  const feeders = sims.map(() => feeder());
  const agents = sims.map((sim, i) =>
    createAgent(
      agentConfigSchema.parse({
        node: { id: sim.name, site: 'bench' },
        mqtt: { url, qos: 1, protocolVersion },
        dataDir,
        outbox: { replicateSamples },
        http: { enabled: false },
        publish: { tick: `${TICK_MS}ms`, heartbeat: '10s' },
        critical,
      }),
      { clock, epoch: 1, collectors: [feeders[i] as Collector] },
    ),
  );
  // Feed the first values before connecting so the birth carries the whole alias table.
  for (const a of agents) await a.start();
  const record = async (sim: (typeof sims)[number], f: (typeof feeders)[number]) => {
    const values = sim.step();
    await f.ctx?.record(w.METRICS.map((m) => ({ name: m, labels: sim.labels, value: values[m] as number, time: clock.now() })));
  };
  await Promise.all(sims.map((s, i) => record(s, feeders[i] as Collector & { ctx?: CollectorContext })));
  await waitFor(() => agents.every((a) => a.transport.connected), { what: 'agents connected', timeoutMs: 10_000 });
  const framesSent = async () => {
    let n = 0;
    for (const a of agents) for (const v of (await a.metrics.framesSent.get()).values) n += v.value;
    return n;
  };
  const messagesOut = () => agents.reduce((sum, a) => sum + a.transport.stats().messagesOut, 0);
  // Births went out on connect; measure the steady state after them.
  await waitFor(async () => messagesOut() === (await framesSent()) && messagesOut() >= nodes, { what: 'births acknowledged' });
  const before = agents.map((a) => a.transport.stats().bytesOut);
  const bytesBefore = async () => {
    let n = 0;
    for (const a of agents) for (const v of (await a.metrics.frameBytesSent.get()).values) n += v.value;
    return n;
  };
  const payloadBefore = await bytesBefore();
  const messagesBefore = messagesOut();
  for (let k = 0; k < ticks; k++) {
    await Promise.all(sims.map((s, i) => record(s, feeders[i] as Collector & { ctx?: CollectorContext })));
    clock.advance(TICK_MS);
    const expected = await framesSent();
    await waitFor(() => messagesOut() >= expected, { what: 'tick published', timeoutMs: 10_000, intervalMs: 1 });
    // In real time a hub's acknowledgement comes back within a tick; wait for it, or compressed time would
    // trip the ack timeout and measure resends that real links do not make.
    if (replicateSamples) await acknowledged(agents, clock);
  }
  const wire = agents.reduce((sum, a, i) => sum + a.transport.stats().bytesOut - (before[i] ?? 0), 0);
  const payload = (await bytesBefore()) - payloadBefore;
  const messages = messagesOut() - messagesBefore;
  await Promise.all(agents.map((a) => a.stop()));
  const nodeTicks = nodes * ticks;
  return {
    design: label,
    messagesPerNodeTick: messages / nodeTicks,
    payloadBytesPerNodeTick: payload / nodeTicks,
    wireBytesPerNodeTick: wire / nodeTicks,
  };
}

/**
 * Waits until no durable-plane frame is unacknowledged. Should an ack go missing, lets the simulated
 * clock run into the ack timeout, as real time would, so the resend it causes is measured too.
 */
async function acknowledged(agents: readonly Agent[], clock: ManualClock): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      await waitFor(() => agents.every((a) => a.stats().outboxFramesInFlight === 0), {
        what: 'history acknowledged',
        timeoutMs: 5_000,
        intervalMs: 1,
      });
      return;
    } catch (err) {
      if (attempt >= 3) throw err;
      clock.advance(ACK_TIMEOUT_MS);
    }
  }
}

const METRICS_RE = '{__name__=~"battery_soc|dc_voltage|dc_current|ac_in_l1_power|ac_out_l1_power"}';

export async function benchWire(url: string, brokerName: string, nodes: number, ticks: number): Promise<WireResult> {
  const baseline = await jsonStarBaseline(url, nodes, ticks);
  const exactOptions = [{ match: METRICS_RE, maxSilence: '30s' }];
  const exact311 = await fieldmeshDesign(url, nodes, ticks, 'fieldmesh, every change (lossless), MQTT 3.1.1', exactOptions, 4);
  const exact = await fieldmeshDesign(url, nodes, ticks, 'fieldmesh, every change (lossless), MQTT 5 topic aliases', exactOptions, 'auto');
  const deadband = await fieldmeshDesign(
    url,
    nodes,
    ticks,
    'fieldmesh, deadbands of the demo, MQTT 5 topic aliases',
    [
      { match: 'battery_soc', maxSilence: '30s' },
      { match: 'dc_voltage', deadband: 0.05, maxSilence: '30s' },
      { match: 'dc_current', deadband: 1, maxSilence: '30s' },
      { match: '{__name__=~"ac_(in|out)_l1_power"}', deadband: '5%', maxSilence: '30s' },
    ],
    'auto',
  );
  const durable = await fieldmeshDesign(
    url,
    nodes,
    ticks,
    'fieldmesh, every change live + every sample durable (history frames), MQTT 5',
    exactOptions,
    'auto',
    true,
  );
  const ratio = (v: WireVariant) => ({
    payload: Math.round((baseline.payloadBytesPerNodeTick / v.payloadBytesPerNodeTick) * 10) / 10,
    wire: Math.round((baseline.wireBytesPerNodeTick / v.wireBytesPerNodeTick) * 10) / 10,
  });
  return {
    nodes,
    ticks,
    tickSeconds: TICK_MS / 1000,
    broker: brokerName,
    variants: [baseline, exact311, exact, deadband, durable],
    ratios: {
      [exact311.design]: ratio(exact311),
      [exact.design]: ratio(exact),
      [deadband.design]: ratio(deadband),
      [durable.design]: ratio(durable),
    },
  };
}
