// What the screens show, computed from the store: sites with health (the hub's when it sends it, else
// derived here from node states and alerts), fleet counts, and alert helpers.

import { ageOf, hubNow, type Store } from './store.js';
import type { AlertInfo, Health, HealthReason, NodeInfo, NodeStateName, OverviewInfo, SiteInfo } from './types.js';

export const STATES: readonly NodeStateName[] = ['online', 'stale', 'offline', 'unknown'];
const STATE_RANK: Record<NodeStateName, number> = { online: 0, unknown: 1, stale: 2, offline: 3 };
export const HEALTH_RANK: Record<Health, number> = { green: 0, warn: 1, error: 2 };
/** Severities that make a site red when firing; anything else firing makes it amber. */
const PAGE_SEVERITIES = new Set(['critical', 'page', 'error']);

export interface SiteRow {
  readonly site: string;
  readonly name: string;
  readonly lat: number | null;
  readonly lon: number | null;
  readonly address: string | null;
  readonly health: Health;
  readonly reasons: readonly HealthReason[];
  readonly worst: NodeStateName;
  readonly counts: Record<NodeStateName, number>;
  readonly total: number;
  readonly nodes: readonly NodeInfo[];
  /** Age of the freshest frame from any node of the site, ms; null when never heard. */
  readonly lastHeardAgeMs: number | null;
  readonly openAlerts: number;
  /** Age of the oldest row any node still has to send, ms; null when nothing is pending. */
  readonly backlogAgeMs: number | null;
  readonly zones: ReadonlyArray<{ readonly id: string; readonly name: string; readonly nodes: number }>;
}

export function isNumber(v: unknown): v is number {
  return typeof v === 'number' && Number.isFinite(v);
}

export function alertSite(a: AlertInfo): string | undefined {
  return a.labels.site;
}

/**
 * The names (alertname) of the alerts that inhibit this one, from the alerts the console holds; a
 * fingerprint it does not hold (yet) shows as itself. Empty when it is not inhibited.
 */
export function inhibitorNames(a: AlertInfo, alerts: ReadonlyMap<string, AlertInfo>): string[] {
  const names = a.inhibitedBy.map((fp) => alerts.get(fp)?.labels.alertname ?? fp);
  return [...new Set(names)];
}

export function severityOf(a: AlertInfo): string {
  return a.labels.severity ?? 'none';
}

export function isPageSeverity(sev: string): boolean {
  return PAGE_SEVERITIES.has(sev);
}

/** Firing before pending, paging severities first, then the oldest first. */
export function compareAlerts(a: AlertInfo, b: AlertInfo): number {
  const st = (x: AlertInfo) => (x.state === 'firing' ? 0 : x.state === 'pending' ? 1 : 2);
  const sv = (x: AlertInfo) => (isPageSeverity(severityOf(x)) ? 0 : severityOf(x) === 'warning' ? 1 : 2);
  return st(a) - st(b) || sv(a) - sv(b) || Date.parse(a.activeAt) - Date.parse(b.activeAt);
}

/**
 * The site's health from what this page knows, for a site the hub has not described yet (a node of a
 * new site reported before its first `site` message): the same rules as src/hub/health/site-health.ts,
 * minus backlog and freshness, which the hub's next message adds.
 */
function deriveHealth(counts: Record<NodeStateName, number>, alerts: readonly AlertInfo[]): { health: Health; reasons: HealthReason[] } {
  const reasons: HealthReason[] = [];
  const plural = (n: number, w: string) => `${n} ${w}${n === 1 ? '' : 's'}`;
  const firing = alerts.filter((a) => a.state === 'firing' && !a.silenced && !a.inhibited);
  const critical = firing.filter((a) => severityOf(a) === 'critical');
  const warning = firing.filter((a) => severityOf(a) !== 'critical' && severityOf(a) !== 'info' && severityOf(a) !== 'none');
  const r = (code: HealthReason['code'], level: 'warn' | 'error', text: string) => reasons.push({ code, level, text, since: null });
  if (counts.offline > 0) r('node-offline', 'error', `${plural(counts.offline, 'node')} offline`);
  if (critical.length > 0) r('alert-critical', 'error', `${plural(critical.length, 'critical alert')} firing`);
  if (counts.stale > 0) r('node-stale', 'warn', `${plural(counts.stale, 'node')} stale`);
  if (counts.unknown > 0) r('node-unknown', 'warn', `${plural(counts.unknown, 'node')} not heard since the hub started`);
  if (warning.length > 0) r('alert-warning', 'warn', `${plural(warning.length, 'alert')} firing`);
  const health: Health = reasons.some((x) => x.level === 'error') ? 'error' : reasons.length > 0 ? 'warn' : 'green';
  return { health, reasons };
}

/** Every site the hub knows (or the console config names), with health and figures. */
export function siteRows(store: Store): SiteRow[] {
  const bySite = new Map<string, NodeInfo[]>();
  for (const n of store.nodes.values()) {
    const list = bySite.get(n.site);
    if (list === undefined) bySite.set(n.site, [n]);
    else list.push(n);
  }
  const alertsBySite = new Map<string, AlertInfo[]>();
  for (const a of store.alerts.values()) {
    const s = alertSite(a);
    if (s === undefined) continue;
    const list = alertsBySite.get(s);
    if (list === undefined) alertsBySite.set(s, [a]);
    else list.push(a);
  }
  const configured = new Map((store.console?.sites ?? []).map((s) => [s.id, s]));
  const ids = new Set<string>([...bySite.keys(), ...store.sites.keys(), ...configured.keys()]);
  const rows: SiteRow[] = [];
  for (const id of ids) {
    const nodes = (bySite.get(id) ?? []).sort((a, b) => a.node.localeCompare(b.node));
    const info: SiteInfo | undefined = store.sites.get(id);
    const conf = configured.get(id);
    const counts: Record<NodeStateName, number> = { online: 0, stale: 0, offline: 0, unknown: 0 };
    for (const n of nodes) counts[n.state]++;
    if (nodes.length === 0 && info !== undefined) Object.assign(counts, info.counts);
    const total = STATES.reduce((t, s) => t + counts[s], 0);
    let worst: NodeStateName = 'online';
    for (const s of STATES) if (counts[s] > 0 && STATE_RANK[s] > STATE_RANK[worst]) worst = s;
    const alerts = alertsBySite.get(id) ?? [];
    const derived = deriveHealth(counts, alerts);
    const heard = nodes.map((n) => ageOf(n.lastHeard)).filter(isNumber);
    const backlog = nodes.map((n) => ageOf(n.backlogOldest ?? null)).filter(isNumber);
    const zoneCounts = new Map<string, number>();
    for (const n of nodes) zoneCounts.set(n.zone, (zoneCounts.get(n.zone) ?? 0) + 1);
    const zones =
      info?.zones?.map((z) => ({ id: z.id, name: z.name, nodes: z.nodes.length })) ??
      [...zoneCounts].map(([z, c]) => ({ id: z, name: z, nodes: c }));
    const lat = info?.lat ?? conf?.lat ?? null;
    const lon = info?.lon ?? conf?.lon ?? null;
    rows.push({
      site: id,
      name: info?.name ?? conf?.name ?? id,
      lat: isNumber(lat) ? lat : null,
      lon: isNumber(lon) ? lon : null,
      address: info?.address ?? null,
      // The hub's health wins when it sends it; node states here are fresher than the last site message only for counts.
      health: info?.health ?? (total === 0 ? 'warn' : derived.health),
      reasons:
        info?.reasons ??
        (total === 0 ? [{ code: 'no-nodes', level: 'warn', text: 'no node has reported yet', since: null }] : derived.reasons),
      worst: total === 0 ? 'unknown' : worst,
      counts,
      total,
      nodes,
      lastHeardAgeMs: heard.length > 0 ? Math.min(...heard) : null,
      openAlerts: info?.openAlerts ?? alerts.filter((a) => a.state !== 'resolved').length,
      backlogAgeMs: backlog.length > 0 ? Math.max(...backlog) : null,
      zones,
    });
  }
  return rows;
}

/** Fleet figures, counted from what the feed keeps current (the hub's GET /api/v1/overview counts the same way). */
export function fleetFigures(store: Store, rows: readonly SiteRow[]): OverviewInfo {
  const nodes = { online: 0, stale: 0, offline: 0, unknown: 0, total: 0 };
  for (const n of store.nodes.values()) {
    nodes[n.state]++;
    nodes.total++;
  }
  const sites = { green: 0, warn: 0, error: 0, total: rows.length };
  for (const r of rows) sites[r.health]++;
  const alerts = { firing: 0, pending: 0, acknowledged: 0, silenced: 0, inhibited: 0 };
  // As the hub's overview counts them: firing and pending unmuted, the acknowledged among the firing, the
  // silenced and (not silenced) the inhibited apart.
  for (const a of store.alerts.values()) {
    if (a.state === 'resolved') continue;
    if (a.silenced) alerts.silenced++;
    else if (a.inhibited) alerts.inhibited++;
    else if (a.state === 'firing') {
      alerts.firing++;
      if (a.ack !== null) alerts.acknowledged++;
    } else if (a.state === 'pending') alerts.pending++;
  }
  return { generatedAt: new Date(hubNow()).toISOString(), title: store.console?.title, sites, nodes, alerts };
}

export function worseHealth(a: Health, b: Health): Health {
  return HEALTH_RANK[a] >= HEALTH_RANK[b] ? a : b;
}
