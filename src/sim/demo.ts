// `fieldmesh demo`: an embedded broker, a hub and a simulated fleet in one process, with live status
// and an end-of-run summary. Nodes connect over real TCP to the broker, so wire bytes are real.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Agent, createAgent } from '../agent/index.js';
import { brokerConfigSchema, createBroker } from '../broker/index.js';
import { createHubClient } from '../client/index.js';
import { createHub, hubConfigSchema } from '../hub/index.js';
import { type Logger, quantile, silentLogger } from '../kit/index.js';
import { demoNodeConfig, planDemoFleet, planDemoSites } from './demo-fleet.js';

/** Status rates average over this window: nodes report by exception, so one second says little. */
const STATUS_WINDOW_MS = 5_000;

export const DEMO_DEFAULTS = Object.freeze({ nodes: 8, sites: 2, seed: 20241123, brokerPort: 18830, wsPort: 18831, hubPort: 18800 });

export interface DemoOptions {
  readonly nodes?: number;
  readonly sites?: number;
  readonly seed?: number;
  readonly brokerPort?: number;
  readonly wsPort?: number;
  readonly hubPort?: number;
  readonly logger?: Logger;
}

export interface DemoStatus {
  readonly nodesOnline: number;
  readonly nodes: number;
  /** Samples the hub received per second over the last status interval. */
  readonly updatesPerSecond: number;
  /** Bytes the broker read from node connections per second (MQTT framing included). */
  readonly wireBytesPerSecond: number;
}

export interface DemoSummary {
  readonly nodes: number;
  readonly sites: number;
  readonly durationSeconds: number;
  readonly brokerUrl: string;
  readonly consoleUrl: string;
  readonly nodesSeenOnline: number;
  readonly framesReceivedByHub: number;
  readonly samplesReceivedByHub: number;
  readonly wireBytesPerNodePerSecond: number;
  readonly sampleAgeAtHubMs: { readonly p50: number; readonly p99: number };
}

export interface RunningDemo {
  /** The simulated nodes, for tests and benchmarks that crash or inspect one. */
  readonly agents: readonly Agent[];
  readonly brokerUrl: string;
  readonly wsUrl: string | undefined;
  readonly consoleUrl: string;
  /** Ports asked for that were taken, with the ones chosen instead. */
  readonly portNotes: readonly string[];
  status(): Promise<DemoStatus>;
  stop(): Promise<DemoSummary>;
}

export async function startDemo(options: DemoOptions = {}): Promise<RunningDemo> {
  const o = { ...DEMO_DEFAULTS, ...options };
  const logger = options.logger ?? silentLogger;
  const dataDir = mkdtempSync(join(tmpdir(), 'fieldmesh-demo-'));
  const portNotes: string[] = [];

  const broker = createBroker(brokerConfigSchema.parse({ listen: { port: o.brokerPort }, websocket: { port: o.wsPort } }), { logger });
  const started = await broker.start();
  if (started.port !== o.brokerPort) portNotes.push(`MQTT port ${o.brokerPort} is taken; using ${started.port}`);
  if (started.wsPort !== undefined && started.wsPort !== o.wsPort)
    portNotes.push(`WebSocket port ${o.wsPort} is taken; using ${started.wsPort}`);

  const hub = createHub(
    hubConfigSchema.parse({
      mqtt: { url: started.mqttUrl },
      http: { port: o.hubPort },
      storage: { path: join(dataDir, 'hub.db') },
      dataDir,
      // Names and coordinates, so the console's map shows the demo's sites as pins.
      sites: planDemoSites(o.sites, o.seed),
      console: { title: 'fieldmesh demo' },
    }),
    { logger },
  );
  const { httpUrl } = await hub.start();
  const hubPort = Number(new URL(httpUrl).port);
  if (hubPort !== o.hubPort) portNotes.push(`HTTP port ${o.hubPort} is taken; using ${hubPort}`);

  const plans = planDemoFleet(o.nodes, o.sites);
  const agents: Agent[] = plans.map((plan) => createAgent(demoNodeConfig(plan, started.mqttUrl, dataDir, o.seed), { logger }));
  await Promise.all(agents.map((a) => a.start()));

  const client = createHubClient(httpUrl);
  const startedAt = performance.now();
  const seenOnline = new Set<string>();
  /** Recent (time, samples, bytes) readings: rates are averaged over the last few seconds. */
  const history: Array<{ at: number; samples: number; bytes: number }> = [{ at: startedAt, samples: 0, bytes: 0 }];

  const nodeBytes = () => {
    const perClient = broker.stats().perClientBytesIn;
    let total = 0;
    for (const a of agents) total += perClient.get(`fieldmesh-${a.identity.site}-${a.identity.node}`) ?? 0;
    return total;
  };

  return {
    agents,
    brokerUrl: started.mqttUrl,
    wsUrl: started.wsUrl,
    consoleUrl: `${httpUrl}/`,
    portNotes,
    async status() {
      const nodes = await client.nodes();
      for (const n of nodes) if (n.state === 'online') seenOnline.add(`${n.site}/${n.node}`);
      const now = performance.now();
      const reading = { at: now, samples: hub.stats().samplesStored, bytes: nodeBytes() };
      while (history.length > 1 && now - (history[0] as { at: number }).at > STATUS_WINDOW_MS) history.shift();
      const oldest = history[0] as typeof reading;
      history.push(reading);
      const seconds = Math.max(0.001, (now - oldest.at) / 1000);
      const status = {
        nodesOnline: nodes.filter((n) => n.state === 'online').length,
        nodes: agents.length,
        updatesPerSecond: (reading.samples - oldest.samples) / seconds,
        wireBytesPerSecond: (reading.bytes - oldest.bytes) / seconds,
      };
      return status;
    },
    async stop() {
      const nodes = await client.nodes().catch(() => []);
      for (const n of nodes) if (n.state === 'online') seenOnline.add(`${n.site}/${n.node}`);
      const durationSeconds = (performance.now() - startedAt) / 1000;
      const stats = hub.stats();
      const bytes = nodeBytes();
      const summary: DemoSummary = {
        nodes: agents.length,
        sites: o.sites,
        durationSeconds: Math.round(durationSeconds * 10) / 10,
        brokerUrl: started.mqttUrl,
        consoleUrl: `${httpUrl}/`,
        nodesSeenOnline: seenOnline.size,
        framesReceivedByHub: stats.framesReceived,
        samplesReceivedByHub: stats.samplesStored,
        wireBytesPerNodePerSecond: Math.round((bytes / agents.length / durationSeconds) * 10) / 10,
        sampleAgeAtHubMs: { p50: quantile(stats.sampleAgesMs, 0.5), p99: quantile(stats.sampleAgesMs, 0.99) },
      };
      await Promise.all(agents.map((a) => a.stop().catch(() => {})));
      await hub.stop();
      await broker.stop();
      rmSync(dataDir, { recursive: true, force: true });
      return summary;
    },
  };
}
