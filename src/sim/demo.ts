// `fieldmesh demo`: an embedded broker, a hub and a simulated fleet in one process, with live status
// and an end-of-run summary. Nodes connect over real TCP to the broker, so wire bytes are real. Fire-watch
// sites with three nodes or more run zones (docs/consensus.md): a fire appears in one zone at `fireAtMs`,
// and the real zone engines of the nodes detect, vote and start the pumps.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Agent, createAgent } from '../agent/index.js';
import { brokerConfigSchema, createBroker } from '../broker/index.js';
import { createHubClient } from '../client/index.js';
import { createHub, hubConfigSchema } from '../hub/index.js';
import { type Logger, quantile, silentLogger } from '../kit/index.js';
import { type DemoSiteZones, demoNodeConfig, planDemoFleet, planDemoSites, planDemoZones } from './demo-fleet.js';

/** Status rates average over this window: nodes report by exception, so one second says little. */
const STATUS_WINDOW_MS = 5_000;

export const DEMO_DEFAULTS = Object.freeze({
  nodes: 8,
  sites: 2,
  seed: 20241123,
  brokerPort: 18830,
  wsPort: 18831,
  hubPort: 18800,
  /** The fire appears a minute after start: long enough to look at the quiet console first. */
  fireAtMs: 60_000,
});

export interface DemoOptions {
  readonly nodes?: number;
  readonly sites?: number;
  readonly seed?: number;
  readonly brokerPort?: number;
  readonly wsPort?: number;
  readonly hubPort?: number;
  /** When the fire appears in the first fire-watch site's north zone, ms after start; null: no fire. */
  readonly fireAtMs?: number | null;
  readonly logger?: Logger;
}

/** One pump of the demo's zones, as its owner node reports it. */
export interface DemoPump {
  readonly site: string;
  readonly zone: string;
  readonly pump: string;
  readonly owner: string;
  readonly running: boolean;
  readonly cause: string | null;
  /** When it first started in this run: seconds after the demo's start, and the cause then; null: not yet. */
  readonly startedAfterSeconds: number | null;
  readonly startCause: string | null;
}

/** The zones of the demo: where the fire is, when it appears, and the pumps. */
export interface DemoZones {
  /** `site/zone` of the fire; null when no site has zones. */
  readonly fireZone: string | null;
  /** Seconds after start; null: no fire (`--fire-at off`, or no zones). */
  readonly fireAtSeconds: number | null;
  readonly pumps: readonly DemoPump[];
}

export interface DemoStatus {
  readonly nodesOnline: number;
  readonly nodes: number;
  /** Samples the hub received per second over the last status interval. */
  readonly updatesPerSecond: number;
  /** Bytes the broker read from node connections per second (MQTT framing included). */
  readonly wireBytesPerSecond: number;
  readonly zones: DemoZones;
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
  readonly zones: DemoZones;
}

export interface RunningDemo {
  /** The simulated nodes, for tests and benchmarks that crash or inspect one. */
  readonly agents: readonly Agent[];
  readonly brokerUrl: string;
  readonly wsUrl: string | undefined;
  readonly consoleUrl: string;
  /** Ports asked for that were taken, with the ones chosen instead. */
  readonly portNotes: readonly string[];
  /** Each fire-watch site's zones (sites with fewer than three nodes have none). */
  readonly siteZones: readonly DemoSiteZones[];
  /** Whether the hub was given the zones (hub.yaml `zones:`); false while the hub's config takes none. */
  readonly hubHasZones: boolean;
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

  const plans = planDemoFleet(o.nodes, o.sites);
  const siteZones = planDemoZones(plans);
  const fireAtMs = options.fireAtMs === undefined ? DEMO_DEFAULTS.fireAtMs : options.fireAtMs;
  // The same zones for the hub (hub.yaml `zones:` with `site:`), once the hub's configuration takes them.
  const hubHasZones = 'zones' in hubConfigSchema.shape && siteZones.length > 0;
  const hub = createHub(
    hubConfigSchema.parse({
      mqtt: { url: started.mqttUrl },
      http: { port: o.hubPort },
      storage: { path: join(dataDir, 'hub.db') },
      dataDir,
      // Names and coordinates, so the console's map shows the demo's sites as pins.
      sites: planDemoSites(o.sites, o.seed),
      console: { title: 'fieldmesh demo' },
      ...(hubHasZones ? { zones: siteZones.flatMap((s) => s.zones.map((z) => ({ ...z, site: s.site }))) } : {}),
    }),
    { logger },
  );
  const { httpUrl } = await hub.start();
  const hubPort = Number(new URL(httpUrl).port);
  if (hubPort !== o.hubPort) portNotes.push(`HTTP port ${o.hubPort} is taken; using ${hubPort}`);

  const agents: Agent[] = plans.map((plan) => {
    const site = siteZones.find((z) => z.site === plan.site);
    const fireCameras = site?.fire?.cameras.filter((c) => c.node === plan.node).map((c) => c.camera) ?? [];
    const zoned =
      site === undefined ? {} : { zones: site.zones, fireCameras, ...(fireAtMs === null ? {} : { fireAtMs: Math.max(0, fireAtMs) }) };
    return createAgent(demoNodeConfig(plan, started.mqttUrl, dataDir, o.seed, zoned), { logger });
  });
  const startedWall = Date.now();
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

  /** First start of each pump in this run, read from its owner's envelope (`lastStart`), by `site/zone/pump`. */
  const firstStarts = new Map<string, { at: number; cause: string }>();
  const fire = siteZones.find((s) => s.fire !== undefined);
  const zonesNow = (): DemoZones => {
    const pumps: DemoPump[] = [];
    for (const agent of agents) {
      const runtime = agent.zones;
      if (runtime === undefined) continue;
      for (const zone of runtime.zones()) {
        for (const p of runtime.status(zone)?.pumps ?? []) {
          if (p.view === undefined || p.view.zone !== zone) continue;
          const key = `${agent.identity.site}/${zone}/${p.id}`;
          const last = p.view.lastStart;
          if (last !== null && last.at >= startedWall && !firstStarts.has(key)) firstStarts.set(key, { at: last.at, cause: last.cause });
          const first = firstStarts.get(key);
          pumps.push({
            site: agent.identity.site,
            zone,
            pump: p.id,
            owner: p.owner,
            running: p.running,
            cause: p.cause,
            startedAfterSeconds: first === undefined ? null : Math.round((first.at - startedWall) / 100) / 10,
            startCause: first?.cause ?? null,
          });
        }
      }
    }
    return {
      fireZone: fire?.fire === undefined ? null : `${fire.site}/${fire.fire.zone}`,
      fireAtSeconds: fire === undefined || fireAtMs === null ? null : Math.max(0, fireAtMs) / 1000,
      pumps: pumps.sort((a, b) => `${a.site}/${a.zone}`.localeCompare(`${b.site}/${b.zone}`)),
    };
  };

  return {
    agents,
    brokerUrl: started.mqttUrl,
    wsUrl: started.wsUrl,
    consoleUrl: `${httpUrl}/`,
    portNotes,
    siteZones,
    hubHasZones,
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
        zones: zonesNow(),
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
        zones: zonesNow(),
      };
      await Promise.all(agents.map((a) => a.stop().catch(() => {})));
      await hub.stop();
      await broker.stop();
      rmSync(dataDir, { recursive: true, force: true });
      return summary;
    },
  };
}
