// The plan's link cost model against what nodes really send: real agents (createAgent with the sim_battery
// collector of the seed-004 workload, the publisher, the outbox and replicator, the MQTT transport) through
// a real Mosquitto to an in-process hub that acknowledges history, for two configs (before and after a
// change: tighter deadband, two more critical series). Bytes are the transport's socket bytes out, after
// the births, over a compressed-time run; the prediction is estimateLinkCost over the same window.

import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Agent, agentConfigSchema, createAgent } from '../src/agent/index.js';
import { ACK_TIMEOUT_MS } from '../src/agent/outbox/index.js';
import { estimateLinkCost } from '../src/fleet-config/index.js';
import { createHub, hubConfigSchema } from '../src/hub/index.js';
import { type Logger, ManualClock } from '../src/kit/index.js';
import { startMosquitto } from '../test/kit/mosquitto.js';
import { waitFor } from '../test/kit/wait.js';

const TICK_MS = 2_000;

const quiet: Logger = {
  debug() {},
  info() {},
  warn: (obj, msg) => console.error('warn', msg, JSON.stringify(obj)),
  error: (obj, msg) => console.error('error', msg, JSON.stringify(obj)),
  child: () => quiet,
};

/** The two configs of the bench: the change a plan would show. */
export const LINK_COST_VARIANTS: Readonly<Record<string, unknown[]>> = {
  before: [
    { match: 'battery_soc', deadband: 0.5, maxSilence: '30s' },
    { match: 'dc_voltage', deadband: 0.05, maxSilence: '30s' },
  ],
  after: [
    { match: 'battery_soc', deadband: 0.5, maxSilence: '30s' },
    { match: 'dc_voltage', deadband: 0.02, maxSilence: '30s' },
    { match: 'dc_current', deadband: 1, maxSilence: '30s' },
    { match: 'ac_out_l1_power', deadband: '5%', maxSilence: '30s' },
  ],
};

export interface LinkCostRun {
  readonly variant: string;
  readonly nodes: number;
  readonly seconds: number;
  readonly predictedBps: { live: number; durable: number; total: number };
  readonly measuredBps: number;
  /** measured / predicted. */
  readonly ratio: number;
  readonly perNode: readonly { node: string; predicted: number; measured: number; ratio: number }[];
}

function nodeConfig(url: string, dir: string, i: number, critical: unknown[]) {
  const id = `bess-${String(i + 1).padStart(2, '0')}`;
  return agentConfigSchema.parse({
    node: { id, site: 'bench', zone: 'north' },
    mqtt: { url, qos: 1, protocolVersion: 'auto' },
    dataDir: join(dir, id),
    http: { enabled: false },
    publish: { tick: `${TICK_MS}ms`, heartbeat: '10s' },
    critical,
    collectors: [{ name: 'battery', type: 'sim_battery', index: i, interval: `${TICK_MS}ms` }],
  });
}

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

async function runVariant(url: string, variant: string, nodes: number, ticks: number): Promise<LinkCostRun> {
  const dir = mkdtempSync(join(tmpdir(), 'fm-bench-linkcost-'));
  const hub = createHub(hubConfigSchema.parse({ mqtt: { url }, http: { port: 0 }, storage: { path: join(dir, 'hub.db') }, dataDir: dir }), {
    logger: quiet,
  });
  await hub.start({ listen: false });
  const clock = new ManualClock(Date.UTC(2026, 0, 1));
  const configs = Array.from({ length: nodes }, (_, i) => nodeConfig(url, dir, i, LINK_COST_VARIANTS[variant] as unknown[]));
  const agents = configs.map((c) => createAgent(c, { clock, epoch: 1, logger: quiet }));
  try {
    for (const a of agents) await a.start();
    await waitFor(() => agents.every((a) => a.transport.connected), { what: 'agents connected', timeoutMs: 10_000 });
    // The first collection and the births, then the steady state.
    const step = async () => {
      const collected = agents.map((a) => a.stats().samplesCollected);
      clock.advance(TICK_MS);
      await waitFor(() => agents.every((a, i) => a.stats().samplesCollected > (collected[i] ?? 0)), {
        what: 'collection',
        timeoutMs: 10_000,
        intervalMs: 1,
      });
      const framesSent = async () => {
        let n = 0;
        for (const a of agents) for (const v of (await a.metrics.framesSent.get()).values) n += v.value;
        return n;
      };
      const expected = await framesSent();
      await waitFor(() => agents.reduce((s, a) => s + a.transport.stats().messagesOut, 0) >= expected, {
        what: 'tick published',
        timeoutMs: 10_000,
        intervalMs: 1,
      });
      await acknowledged(agents, clock);
    };
    for (let k = 0; k < 3; k++) await step();
    const before = agents.map((a) => a.transport.stats().bytesOut);
    for (let k = 0; k < ticks; k++) await step();
    const seconds = (ticks * TICK_MS) / 1000;
    const perNode = agents.map((a, i) => {
      const measured = (a.transport.stats().bytesOut - (before[i] ?? 0)) / seconds;
      const cost = estimateLinkCost(configs[i] as (typeof configs)[number], { windowMs: (ticks + 3) * TICK_MS });
      return {
        node: a.identity.node,
        predicted: cost.totalBps,
        measured: Math.round(measured * 10) / 10,
        ratio: measured / cost.totalBps,
        cost,
      };
    });
    const sum = (f: (x: (typeof perNode)[number]) => number) => perNode.reduce((s, x) => s + f(x), 0) / nodes;
    const measuredBps = Math.round(sum((x) => x.measured) * 10) / 10;
    const predicted = {
      live: Math.round(sum((x) => x.cost.liveBps) * 10) / 10,
      durable: Math.round(sum((x) => x.cost.durableBps) * 10) / 10,
      total: Math.round(sum((x) => x.cost.totalBps) * 10) / 10,
    };
    return {
      variant,
      nodes,
      seconds,
      predictedBps: predicted,
      measuredBps,
      ratio: Math.round((measuredBps / predicted.total) * 1000) / 1000,
      perNode: perNode.map(({ node, predicted, measured, ratio }) => ({
        node,
        predicted,
        measured,
        ratio: Math.round(ratio * 1000) / 1000,
      })),
    };
  } finally {
    await Promise.all(agents.map((a) => a.stop()));
    await hub.stop();
  }
}

/** Predicted against measured bytes per second per node, for each config variant. */
export async function benchLinkCost(nodes = 5, ticks = 300): Promise<LinkCostRun[]> {
  const mosquitto = await startMosquitto();
  try {
    const runs: LinkCostRun[] = [];
    for (const variant of Object.keys(LINK_COST_VARIANTS)) runs.push(await runVariant(mosquitto.url, variant, nodes, ticks));
    return runs;
  } finally {
    await mosquitto.stop();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(JSON.stringify(await benchLinkCost(Number(process.argv[2] ?? 5), Number(process.argv[3] ?? 300)), null, 2));
  process.exit(0);
}
