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

/** Nodes a fire-watch site needs for its zones: three voters, so a majority (2 of 3) survives one lost node. */
export const FIRE_WATCH_MIN_NODES = 3;

/** The consensus zone ids of the n-th fire-watch site: `north`/`south` at the first, `north-2`/`south-2` at the second... (unique across the hub). */
export function fireZoneIds(n: number): { north: string; south: string } {
  return n === 1 ? { north: 'north', south: 'south' } : { north: `north-${n}`, south: `south-${n}` };
}

/**
 * How many nodes each site gets: round-robin, then nodes move from the largest battery sites (down to one
 * node) to fire-watch sites below FIRE_WATCH_MIN_NODES, so their zones have three voters where the fleet
 * allows it. 8 nodes on 2 sites stay 4 and 4; 8 on 4 become 1, 3, 1, 3.
 */
function siteCounts(nodes: number, sites: number): number[] {
  const counts = Array.from({ length: sites }, (_, i) => Math.floor(nodes / sites) + (i < nodes % sites ? 1 : 0));
  for (let i = 0; i < sites; i++) {
    if (demoSite(i).kind !== 'fire-watch') continue;
    while ((counts[i] as number) < FIRE_WATCH_MIN_NODES) {
      let donor = -1;
      for (let j = 0; j < sites; j++)
        if (demoSite(j).kind === 'battery' && (counts[j] as number) > 1 && (donor < 0 || (counts[j] as number) > (counts[donor] as number)))
          donor = j;
      if (donor < 0) break;
      counts[donor] = (counts[donor] as number) - 1;
      counts[i] = (counts[i] as number) + 1;
    }
  }
  return counts;
}

/** Battery sites alternate with fire-watch sites; nodes are dealt to sites round-robin (fire-watch sites get three where possible). */
export function planDemoFleet(nodes: number, sites: number): DemoNodePlan[] {
  const siteNames = Array.from({ length: sites }, (_, i) => demoSite(i));
  const quota = siteCounts(nodes, sites);
  const perSite = new Map<string, number>();
  const plans: DemoNodePlan[] = [];
  for (let turn = 0; plans.length < nodes; turn++) {
    const i = turn % sites;
    const site = siteNames[i] as { kind: SiteKind; name: string };
    const n = (perSite.get(site.name) ?? 0) + 1;
    if (n > (quota[i] as number)) continue;
    perSite.set(site.name, n);
    const ids = fireZoneIds(Math.floor(i / 2) + 1);
    const zone = site.kind === 'battery' ? `bank-${n % 2 === 1 ? 'a' : 'b'}` : n % 2 === 1 ? ids.north : ids.south;
    const node = `${site.kind === 'battery' ? 'bess' : 'cam'}-${String(n).padStart(2, '0')}`;
    plans.push({ site: site.name, zone, node, kind: site.kind, index: plans.length });
  }
  return plans;
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
    const ids = fireZoneIds(n);
    const zones: Record<string, string> =
      kind === 'battery'
        ? { 'bank-a': 'Battery bank A', 'bank-b': 'Battery bank B' }
        : { [ids.north]: 'North slope', [ids.south]: 'South slope' };
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

/** One camera a fire is seen by: the node and its local camera id (cam1...). */
export interface DemoFireCamera {
  readonly node: string;
  readonly camera: string;
}

/** A fire-watch site's zones, as node.yaml and hub.yaml `zones:` write them (the same blocks on every node). */
export interface DemoSiteZones {
  readonly site: string;
  readonly zones: readonly Record<string, unknown>[];
  /** The fire the demo starts here (the first fire-watch site only): its zone and the cameras that see it. */
  readonly fire?: { readonly zone: string; readonly cameras: readonly DemoFireCamera[] };
}

/** The demo's pump envelope: the seed's defaults but 5 minutes of runtime, so a run ends while you watch. */
const DEMO_ENVELOPE = { maxRuntime: '5m', atMaxRuntime: 'stop', minOff: '1m' } as const;

/**
 * The zones of each fire-watch site with at least three nodes: `north` (the first three nodes) and `south`
 * (the last three), overlapping on the nodes in both; a confirmed fire in north also starts south's pump
 * (`activates`), not the other way round. Each node's cam1 and cam2 look north, cam3 and cam4 south; a node
 * in one zone only looks into it with all four; a node in both also sees the other slope's edge with cam2
 * (south) and cam3 (north) at weight 0.4. One simulated pump per zone, on its first (north) or last (south)
 * voter. The fire of the demo is in the first site's north zone, on cam1 of its first two voters.
 */
export function planDemoZones(plans: readonly DemoNodePlan[]): DemoSiteZones[] {
  const out: DemoSiteZones[] = [];
  const sites = [...new Set(plans.filter((p) => p.kind === 'fire-watch').map((p) => p.site))];
  for (const site of sites) {
    const nodes = plans.filter((p) => p.site === site).map((p) => p.node);
    if (nodes.length < FIRE_WATCH_MIN_NODES) continue;
    const ids = fireZoneIds(Number(site.slice(site.lastIndexOf('-') + 1)));
    const north = nodes.slice(0, 3);
    const south = nodes.slice(-3);
    const cameras = (voters: readonly string[], other: readonly string[], facing: 'north' | 'south') =>
      voters.flatMap((node) => {
        const cam = (i: number, weight = 1) => ({ id: `${node}-cam${i}`, node, ...(weight === 1 ? {} : { weight }) });
        if (!other.includes(node)) return [1, 2, 3, 4].map((i) => cam(i));
        return facing === 'north' ? [cam(1), cam(2), cam(3, 0.4)] : [cam(2, 0.4), cam(3), cam(4)];
      });
    const policy = (activates: readonly string[]) => ({
      window: '60s',
      minCameras: 2,
      minNodes: 2,
      threshold: 1.2,
      cooldown: '5m',
      activates,
    });
    const zones = [
      {
        id: ids.north,
        voters: north,
        cameras: cameras(north, south, 'north'),
        pumps: [{ id: `${ids.north}-pump`, node: north[0], envelope: DEMO_ENVELOPE, driver: { type: 'sim' } }],
        overlaps: [ids.south],
        policy: policy([ids.south]),
      },
      {
        id: ids.south,
        voters: south,
        cameras: cameras(south, north, 'south'),
        pumps: [{ id: `${ids.south}-pump`, node: south[south.length - 1], envelope: DEMO_ENVELOPE, driver: { type: 'sim' } }],
        overlaps: [ids.north],
        policy: policy([]),
      },
    ];
    const fire = out.length === 0 ? { zone: ids.north, cameras: north.slice(0, 2).map((node) => ({ node, camera: 'cam1' })) } : undefined;
    out.push({ site, zones, ...(fire === undefined ? {} : { fire }) });
  }
  return out;
}

export interface DemoNodeZones {
  /** The site's zones (every node of a site with zones carries them). */
  readonly zones?: readonly Record<string, unknown>[];
  /** When the fire appears after start, ms; undefined: no fire. */
  readonly fireAtMs?: number;
  /** This node's cameras that see the fire. */
  readonly fireCameras?: readonly string[];
}

export function demoNodeConfig(
  plan: DemoNodePlan,
  brokerUrl: string,
  dataDir: string,
  seed: number,
  zoned: DemoNodeZones = {},
): AgentConfig {
  const fires =
    zoned.fireAtMs === undefined || (zoned.fireCameras ?? []).length === 0 ? [] : [{ at: zoned.fireAtMs, cameras: zoned.fireCameras }];
  const collector =
    plan.kind === 'battery'
      ? { type: 'sim_battery', seed, index: plan.index, interval: '2s' }
      : zoned.zones === undefined
        ? { type: 'sim_fire_camera', seed, index: plan.index, interval: '1s' }
        : // In a site with zones the cameras see only the demo's fire: random episodes on two nodes at once would start pumps.
          { type: 'sim_fire_camera', seed, index: plan.index, interval: '1s', fire_probability: 0, camera_prefix: `${plan.node}-`, fires };
  return agentConfigSchema.parse({
    node: { id: plan.node, site: plan.site, zone: plan.zone },
    mqtt: { url: brokerUrl, qos: 1 },
    dataDir,
    http: { enabled: false },
    publish: { tick: '1s', heartbeat: '10s' },
    critical: CRITICAL[plan.kind],
    collectors: [collector],
    ...(zoned.zones === undefined ? {} : { zones: zoned.zones }),
  });
}
