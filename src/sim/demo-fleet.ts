// The demo fleet: which sites and nodes `fieldmesh demo` simulates, and their node.yaml equivalents.

import { type AgentConfig, agentConfigSchema } from '../agent/index.js';
import { hash32, SeededRandom } from '../kit/index.js';

export type SiteKind = 'battery' | 'fire-watch';

export interface DemoNodePlan {
  readonly site: string;
  readonly zone: string;
  readonly node: string;
  readonly kind: SiteKind;
  /** Index into the simulators' seeded streams, so runs repeat. */
  readonly index: number;
}

/** The i-th demo site: battery sites alternate with fire-watch sites. */
function demoSite(i: number): { kind: SiteKind; name: string } {
  const kind: SiteKind = i % 2 === 0 ? 'battery' : 'fire-watch';
  return { kind, name: `${kind === 'battery' ? 'solar-farm' : 'ridge-watch'}-${Math.floor(i / 2) + 1}` };
}

/** Battery sites alternate with fire-watch sites; nodes are dealt to sites round-robin. */
export function planDemoFleet(nodes: number, sites: number): DemoNodePlan[] {
  const siteNames = Array.from({ length: sites }, (_, i) => demoSite(i));
  const perSite = new Map<string, number>();
  return Array.from({ length: nodes }, (_, index) => {
    const site = siteNames[index % sites] as { kind: SiteKind; name: string };
    const n = (perSite.get(site.name) ?? 0) + 1;
    perSite.set(site.name, n);
    const zone = site.kind === 'battery' ? `bank-${n % 2 === 1 ? 'a' : 'b'}` : n % 2 === 1 ? 'north' : 'south';
    const node = `${site.kind === 'battery' ? 'bess' : 'cam'}-${String(n).padStart(2, '0')}`;
    return { site: site.name, zone, node, kind: site.kind, index };
  });
}

/** Where the demo's sites lie: the Swiss plateau and the foothills, about 150 x 110 km. */
const DEMO_REGION = { lat: 46.9, lon: 8.1, latSpan: 1.0, lonSpan: 2.0 } as const;

/** A demo site as hub.yaml `sites[]` describes it. */
export interface DemoSitePlan {
  readonly id: string;
  readonly name: string;
  readonly lat: number;
  readonly lon: number;
  readonly address: string;
  readonly zones: Readonly<Record<string, string>>;
}

/** Names, coordinates spread over one region (the same for the same seed) and zone names, so the console's map shows pins. */
export function planDemoSites(sites: number, seed: number): DemoSitePlan[] {
  const random = new SeededRandom(hash32(seed, 0x5173));
  return Array.from({ length: sites }, (_, i) => {
    const { kind, name } = demoSite(i);
    const n = Math.floor(i / 2) + 1;
    const round = (v: number) => Math.round(v * 10_000) / 10_000;
    const zones: Record<string, string> =
      kind === 'battery' ? { 'bank-a': 'Battery bank A', 'bank-b': 'Battery bank B' } : { north: 'North slope', south: 'South slope' };
    return {
      id: name,
      name: kind === 'battery' ? `Solar farm ${n}` : `Ridge watch ${n}`,
      lat: round(DEMO_REGION.lat + (random.next() - 0.5) * DEMO_REGION.latSpan),
      lon: round(DEMO_REGION.lon + (random.next() - 0.5) * DEMO_REGION.lonSpan),
      address: kind === 'battery' ? `Solar farm ${n}, battery yard` : `Ridge watch ${n}, fire lookout`,
      zones,
    };
  });
}

/** Critical selectors per site kind: deadbands sized to each sensor's noise (the standard battery workload's metrics). */
const CRITICAL = {
  battery: [
    { match: 'battery_soc', deadband: 0, maxSilence: '30s' },
    { match: 'dc_voltage', deadband: 0.05, maxSilence: '30s' },
    { match: 'dc_current', deadband: 1, maxSilence: '30s' },
    { match: '{__name__=~"ac_(in|out)_l1_power"}', deadband: '5%', maxSilence: '30s' },
  ],
  'fire-watch': [
    { match: 'fire_confidence_ratio', deadband: 0.05, maxSilence: '30s' },
    { match: 'camera_up', deadband: 0, maxSilence: '60s' },
    { match: 'detector_temperature_celsius', deadband: 1, maxSilence: '60s' },
  ],
} as const;

export function demoNodeConfig(plan: DemoNodePlan, brokerUrl: string, dataDir: string, seed: number): AgentConfig {
  const collector =
    plan.kind === 'battery'
      ? { type: 'sim_battery', seed, index: plan.index, interval: '2s' }
      : { type: 'sim_fire_camera', seed, index: plan.index, interval: '1s' };
  return agentConfigSchema.parse({
    node: { id: plan.node, site: plan.site, zone: plan.zone },
    mqtt: { url: brokerUrl, qos: 1 },
    dataDir,
    http: { enabled: false },
    publish: { tick: '1s', heartbeat: '10s' },
    critical: CRITICAL[plan.kind],
    collectors: [collector],
  });
}
