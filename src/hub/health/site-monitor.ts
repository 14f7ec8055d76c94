// The sites as the console sees them: the site facts of hub.yaml and of the configuration repository
// (a new set at run time: `setSites`) joined with the fleet, backlogs and alerts into SiteViews with their
// health; remembers when each site's health last changed, and tells what changed since it was last asked
// (for the live feed's `site` and `overview` messages).

import type { Clock } from '../../kit/index.js';
import type { ConsoleView, DefinitionSource, HealthReason, NodeStateName, OverviewView, SiteView } from '../../protocol/index.js';
import type { AlertSnapshot } from '../alerts/alert-engine.js';
import type { NodeRecord } from '../fleet/fleet-state.js';
import type { NodeBacklog } from '../ledger/completeness.js';
import type { ConsoleConfig, SiteConfig } from './console-config.js';
import {
  type AlertHealthInput,
  assessSiteHealth,
  DEFAULT_HEALTH_THRESHOLDS,
  type HealthThresholds,
  type NodeHealthInput,
  type SiteAssessment,
} from './site-health.js';

/** Age-based reasons (backlog age, freshness) are re-checked this often. */
export const SITE_HEALTH_INTERVAL_MS = 5_000;
/** The overview lists at most this many sites that are not green. */
export const OVERVIEW_WORST_SITES = 5;
/** Where the hub serves the configured site-plan image. */
export const MAP_IMAGE_PATH = '/api/v1/console/map-image';

/** A state is as bad as its rank: a site is as bad as its worst node. */
const STATE_RANK: Record<NodeStateName, number> = { online: 0, unknown: 1, stale: 2, offline: 3 };
const HEALTH_RANK = { error: 0, warn: 1, green: 2 } as const;

/** A site's facts and where the hub took them from (absent: hub.yaml). */
export type SourcedSiteConfig = SiteConfig & { readonly source?: DefinitionSource };

export interface SiteMonitorOptions {
  readonly clock: Clock;
  readonly fleet: { nodes(): readonly Readonly<NodeRecord>[] };
  readonly backlog?: (site: string, node: string) => NodeBacklog | undefined;
  /** Pending and firing alerts (absent: no alert engine). */
  readonly alerts?: () => readonly AlertSnapshot[];
  /** The sites described from the start (hub.yaml's); `setSites` replaces them. */
  readonly sites?: readonly SourcedSiteConfig[];
  readonly console?: ConsoleConfig;
}

export interface SiteChanges {
  /** Sites whose health, reasons, counts, nodes or alerts changed. */
  readonly sites: readonly SiteView[];
  /** The overview, when its counts or worst sites changed. */
  readonly overview: OverviewView | undefined;
}

function iso(ms: number | null | undefined): string | null {
  return ms === null || ms === undefined ? null : new Date(ms).toISOString();
}

function toReason(r: SiteAssessment['reasons'][number]): HealthReason {
  return { ...r, since: iso(r.since) };
}

export class SiteMonitor {
  private readonly configs = new Map<string, SourcedSiteConfig>();
  private readonly thresholds: HealthThresholds;
  /** Each site's health as last computed, and the hub time it took it. */
  private readonly healthSince = new Map<string, { health: SiteView['health']; since: number }>();
  /** What was last reported as changed, per site, and for the overview. */
  private readonly reported = new Map<string, string>();
  private reportedOverview: string | undefined;

  constructor(private readonly options: SiteMonitorOptions) {
    for (const s of options.sites ?? []) this.configs.set(s.id, s);
    const h = options.console?.health;
    this.thresholds =
      h === undefined
        ? DEFAULT_HEALTH_THRESHOLDS
        : { backlogWarnMs: h.backlogWarn, backlogErrorMs: h.backlogError, freshnessMs: h.freshness };
  }

  /**
   * Describes a new set of sites (hub.yaml's, then the repository's). A site that stays keeps its health
   * history (since); a site no longer described shows as the fleet reports it, without name or position, or
   * not at all when no node of it is known. The next `changes()` reports every site whose facts changed.
   */
  setSites(sites: readonly SourcedSiteConfig[]): void {
    this.configs.clear();
    for (const s of sites) this.configs.set(s.id, s);
    const known = new Set([...this.configs.keys(), ...this.options.fleet.nodes().map((r) => r.site)]);
    for (const id of [...this.healthSince.keys()]) if (!known.has(id)) this.healthSince.delete(id);
    for (const id of [...this.reported.keys()]) if (!known.has(id)) this.reported.delete(id);
  }

  get title(): string {
    return this.options.console?.title ?? 'fieldmesh';
  }

  /** The configured site-plan image's path, if any. */
  get mapImage(): string | undefined {
    return this.options.console?.map.image;
  }

  /** Every site: described ones in hub.yaml's order, then the repository's, then the others the fleet knows, by id. */
  sites(): SiteView[] {
    const now = this.options.clock.now();
    const bySite = new Map<string, Readonly<NodeRecord>[]>();
    for (const r of this.options.fleet.nodes()) {
      const list = bySite.get(r.site);
      if (list === undefined) bySite.set(r.site, [r]);
      else list.push(r);
    }
    const alertsBySite = new Map<string, AlertSnapshot[]>();
    for (const a of this.options.alerts?.() ?? []) {
      const site = a.alert.labels.site;
      if (site === undefined) continue;
      const list = alertsBySite.get(site);
      if (list === undefined) alertsBySite.set(site, [a]);
      else list.push(a);
    }
    const ids = [...this.configs.keys(), ...[...bySite.keys()].filter((s) => !this.configs.has(s)).sort()];
    return ids.map((id) => this.build(id, bySite.get(id) ?? [], alertsBySite.get(id) ?? [], now));
  }

  site(id: string): SiteView | undefined {
    return this.sites().find((s) => s.site === id);
  }

  overview(sites: readonly SiteView[] = this.sites()): OverviewView {
    const now = this.options.clock.now();
    const count = { green: 0, warn: 0, error: 0, total: sites.length };
    for (const s of sites) count[s.health]++;
    const nodes = { online: 0, stale: 0, offline: 0, unknown: 0, total: 0 };
    for (const r of this.options.fleet.nodes()) {
      nodes[r.state]++;
      nodes.total++;
    }
    const alerts = { firing: 0, pending: 0, acknowledged: 0, silenced: 0, inhibited: 0 };
    for (const a of this.options.alerts?.() ?? []) {
      if (a.alert.state === 'resolved') continue;
      if (a.silencedBy.length > 0) alerts.silenced++;
      else if (a.inhibitedBy.length > 0) alerts.inhibited++;
      else if (a.alert.state === 'pending') alerts.pending++;
      else {
        alerts.firing++;
        if (a.alert.ack !== null) alerts.acknowledged++;
      }
    }
    const sinceMs = (s: SiteView) => (s.since === null ? now : Date.parse(s.since));
    const worstSites = sites
      .filter((s) => s.health !== 'green')
      .sort((a, b) => HEALTH_RANK[a.health] - HEALTH_RANK[b.health] || sinceMs(a) - sinceMs(b) || a.site.localeCompare(b.site))
      .slice(0, OVERVIEW_WORST_SITES);
    return { generatedAt: new Date(now).toISOString(), title: this.title, sites: count, nodes, alerts, worstSites };
  }

  /** The console's map setup: title, site-plan image and bounds, every site's coordinates. */
  consoleView(): ConsoleView {
    const map = this.options.console?.map;
    return {
      title: this.title,
      map: { image: map?.image === undefined ? null : MAP_IMAGE_PATH, bounds: map?.bounds ?? null },
      sites: this.sites().map((s) => ({ id: s.site, name: s.name, lat: s.lat, lon: s.lon })),
    };
  }

  /**
   * The sites and overview that changed since the last call (everything, the first time). Ages in the
   * texts and last heard times move all the time: they alone do not count as a change.
   */
  changes(): SiteChanges {
    const sites = this.sites();
    const changed: SiteView[] = [];
    for (const s of sites) {
      const key = siteChangeKey(s);
      if (this.reported.get(s.site) === key) continue;
      this.reported.set(s.site, key);
      changed.push(s);
    }
    const overview = this.overview(sites);
    const key = JSON.stringify([overview.sites, overview.nodes, overview.alerts, overview.worstSites.map((s) => [s.site, s.health])]);
    if (key === this.reportedOverview) return { sites: changed, overview: undefined };
    this.reportedOverview = key;
    return { sites: changed, overview };
  }

  private build(id: string, records: readonly Readonly<NodeRecord>[], alerts: readonly AlertSnapshot[], now: number): SiteView {
    const config = this.configs.get(id);
    const counts: Record<NodeStateName, number> = { unknown: 0, online: 0, stale: 0, offline: 0 };
    let worst: NodeStateName = 'online';
    let lastHeard: number | undefined;
    let backlogOldest: number | undefined;
    const nodeInputs: NodeHealthInput[] = [];
    const zoneNodes = new Map<string, string[]>();
    for (const zone of Object.keys(config?.zones ?? {})) zoneNodes.set(zone, []);
    const seenZones: string[] = [];
    for (const r of records) {
      counts[r.state]++;
      if (STATE_RANK[r.state] > STATE_RANK[worst]) worst = r.state;
      if (r.lastHeard !== undefined && (lastHeard === undefined || r.lastHeard > lastHeard)) lastHeard = r.lastHeard;
      const b = this.options.backlog?.(r.site, r.node);
      const oldest = b === undefined || b.pendingRows === 0 ? null : b.oldestPendingMs;
      if (oldest !== null && (backlogOldest === undefined || oldest < backlogOldest)) backlogOldest = oldest;
      nodeInputs.push({ node: r.node, state: r.state, since: r.lastChanged, lastHeard: r.lastHeard, backlogOldestMs: oldest });
      let inZone = zoneNodes.get(r.zone);
      if (inZone === undefined) {
        inZone = [];
        zoneNodes.set(r.zone, inZone);
        seenZones.push(r.zone);
      }
      inZone.push(r.node);
    }
    const alertInputs: AlertHealthInput[] = alerts.map((s) => ({
      fingerprint: s.alert.fingerprint,
      name: s.alert.labels.alertname ?? s.alert.ruleId,
      state: s.alert.state,
      severity: s.alert.labels.severity,
      firedAt: s.alert.firedAt,
      summary: s.alert.annotations.summary,
      node: s.alert.labels.node,
      acknowledgedBy: s.alert.ack?.by ?? null,
      silenced: s.silencedBy.length > 0,
      inhibited: s.inhibitedBy.length > 0,
    }));
    const assessment = assessSiteHealth({ nodes: nodeInputs, alerts: alertInputs }, this.thresholds, now);
    const since = this.trackSince(id, assessment, records, now);
    // Configured zones in hub.yaml's order, then the others by id.
    const configuredZones = Object.keys(config?.zones ?? {});
    const zoneIds = [...configuredZones, ...seenZones.filter((z) => !configuredZones.includes(z)).sort()];
    return {
      site: id,
      worst,
      counts,
      nodes: records.map((r) => r.node),
      name: config?.name ?? id,
      lat: config?.lat ?? null,
      lon: config?.lon ?? null,
      address: config?.address ?? null,
      configured: config !== undefined,
      source: config === undefined ? null : (config.source ?? 'hub.yaml'),
      health: assessment.health,
      reasons: assessment.reasons.map(toReason),
      since: iso(since),
      lastHeard: iso(lastHeard),
      lastHeardAgeMs: lastHeard === undefined ? null : Math.max(0, now - lastHeard),
      openAlerts: alerts.filter((a) => a.alert.state === 'firing' && a.silencedBy.length === 0 && a.inhibitedBy.length === 0).length,
      backlogOldest: iso(backlogOldest),
      zones: zoneIds.map((z) => ({ id: z, name: config?.zones[z] ?? z, nodes: zoneNodes.get(z) ?? [] })),
    };
  }

  /**
   * When the site took its current health. The first time a site is seen, the best this hub run can
   * say: for warn or error, when the oldest reason of that level began; for green, when its nodes last
   * changed state. After that, the hub time it was first computed different.
   */
  private trackSince(id: string, a: SiteAssessment, records: readonly Readonly<NodeRecord>[], now: number): number {
    const known = this.healthSince.get(id);
    if (known !== undefined && known.health === a.health) return known.since;
    let since = now;
    if (known === undefined) {
      if (a.health === 'green') {
        if (records.length > 0) since = Math.min(now, Math.max(...records.map((r) => r.lastChanged)));
      } else {
        const starts = a.reasons.filter((r) => r.level === a.health && r.since !== null).map((r) => r.since as number);
        if (starts.length > 0) since = Math.min(now, ...starts);
      }
    }
    this.healthSince.set(id, { health: a.health, since });
    return since;
  }
}

/** What a site message is sent for: health, reasons (without their ages), counts, nodes, zones, alerts, facts. */
function siteChangeKey(s: SiteView): string {
  return JSON.stringify([
    s.health,
    s.since,
    s.worst,
    s.counts,
    s.nodes,
    s.openAlerts,
    s.zones,
    s.name,
    s.lat,
    s.lon,
    s.address,
    s.source,
    s.reasons.map((r) => [r.code, r.level, r.node, r.alert, r.acknowledged]),
  ]);
}
