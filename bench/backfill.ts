// Backfill after a one-hour outage: N battery nodes hold an hour of the five critical metrics in their
// outboxes when the broker comes back; history shares a 150 kbps channel (each node's link budget is
// its share) while live frames keep flowing. Reports the time until the hub holds every sample and the
// age of live values at the hub meanwhile.

import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Agent, agentConfigSchema, type Collector, createAgent } from '../src/agent/index.js';
import { createHub, hubConfigSchema } from '../src/hub/index.js';
import { quantile } from '../src/kit/index.js';
import { startMosquitto } from '../test/kit/mosquitto.js';
import { waitFor } from '../test/kit/wait.js';
import { feeder } from './feeder.js';
import { loadWorkload } from './workload.js';

export interface BackfillResult {
  readonly nodes: number;
  readonly outageSeconds: number;
  readonly channelBitsPerSecond: number;
  readonly samplesToBackfill: number;
  readonly secondsToComplete: number;
  readonly historyBytesPerSample: number;
  readonly liveSampleAgeDuringBackfillMs: { readonly p50: number; readonly p99: number };
}

export async function benchBackfill(nodes = 50, outageSeconds = 3_600, channelBitsPerSecond = 150_000): Promise<BackfillResult> {
  const w = await loadWorkload();
  const mosquitto = await startMosquitto();
  const dir = mkdtempSync(join(tmpdir(), 'fm-bench-backfill-'));
  const hub = createHub(
    hubConfigSchema.parse({ mqtt: { url: mosquitto.url }, http: { port: 0 }, storage: { path: join(dir, 'hub.db') }, dataDir: dir }),
  );
  await hub.start({ listen: false });
  const budget = Math.floor(channelBitsPerSecond / 8 / nodes);
  const sims = Array.from({ length: nodes }, (_, i) => new w.NodeSim(w.DEFAULT_SEED, i));
  const feeders = sims.map(() => feeder());
  const agents: Agent[] = sims.map((sim, i) =>
    createAgent(
      agentConfigSchema.parse({
        node: { id: sim.name, site: 'backfill' },
        mqtt: { url: mosquitto.url },
        dataDir: dir,
        http: { enabled: false },
        publish: { tick: '2s', heartbeat: '10s' },
        outbox: { budgetBytesPerSecond: budget, maxFrameRows: 2_000 },
        critical: [{ match: '{__name__=~"battery_soc|dc_voltage|dc_current|ac_in_l1_power|ac_out_l1_power"}', maxSilence: '30s' }],
      }),
      { collectors: [feeders[i] as Collector] },
    ),
  );
  try {
    // The outage: the broker is down while every node collects an hour of readings.
    await mosquitto.pause();
    for (const a of agents) await a.start();
    const now = Date.now();
    const ticks = outageSeconds / 2;
    for (let k = 0; k < ticks; k++) {
      const time = now - (ticks - k) * 2_000;
      await Promise.all(
        sims.map((sim, i) => {
          const values = sim.step();
          return feeders[i]?.ctx?.record(w.METRICS.map((m) => ({ name: m, labels: sim.labels, value: values[m] as number, time })));
        }),
      );
    }
    const samplesToBackfill = nodes * ticks * w.METRICS.length;
    const historyBytesBefore = await historyBytes(agents);
    const startedAt = performance.now();
    await mosquitto.resume();
    const agesBefore = hub.stats().sampleAgesMs.length;
    // Live readings every 2 s while the backlog drains.
    const live = setInterval(() => {
      const time = Date.now();
      sims.forEach((sim, i) => {
        const values = sim.step();
        void feeders[i]?.ctx?.record(w.METRICS.map((m) => ({ name: m, labels: sim.labels, value: values[m] as number, time })));
      });
    }, 2_000);
    try {
      await waitFor(() => hub.stats().historySamplesStored >= samplesToBackfill, {
        timeoutMs: 30 * 60_000,
        intervalMs: 500,
        what: `${samplesToBackfill} backfilled samples at the hub`,
      });
    } finally {
      clearInterval(live);
    }
    const secondsToComplete = (performance.now() - startedAt) / 1000;
    const ages = hub.stats().sampleAgesMs.slice(agesBefore);
    const bytes = (await historyBytes(agents)) - historyBytesBefore;
    return {
      nodes,
      outageSeconds,
      channelBitsPerSecond,
      samplesToBackfill,
      secondsToComplete: Math.round(secondsToComplete * 10) / 10,
      historyBytesPerSample: Math.round((bytes / samplesToBackfill) * 100) / 100,
      liveSampleAgeDuringBackfillMs: { p50: quantile(ages, 0.5), p99: quantile(ages, 0.99) },
    };
  } finally {
    await Promise.all(agents.map((a) => a.stop().catch(() => {})));
    await hub.stop();
    await mosquitto.stop();
  }
}

async function historyBytes(agents: readonly Agent[]): Promise<number> {
  let n = 0;
  for (const a of agents) for (const v of (await a.metrics.frameBytesSent.get()).values) if (v.labels.type === 'history') n += v.value;
  return n;
}
