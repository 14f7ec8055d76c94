// A site's health, green / warn / error, and the reasons that made it so: pure functions of its nodes'
// states, last heard times, backlogs and its alerts at a given hub time (docs/console.md "Health").

import type { HealthReasonCode, NodeStateName, SiteHealth } from '../../protocol/index.js';

export interface HealthThresholds {
  /** A node's oldest unsent sample older than this: warn. */
  readonly backlogWarnMs: number;
  /** ...older than this: error. */
  readonly backlogErrorMs: number;
  /** No node of the site heard for longer than this: warn (data not fresh). */
  readonly freshnessMs: number;
}

/** The defaults of hub.yaml `console.health`. */
export const DEFAULT_HEALTH_THRESHOLDS: HealthThresholds = Object.freeze({
  backlogWarnMs: 10 * 60_000,
  backlogErrorMs: 60 * 60_000,
  freshnessMs: 5 * 60_000,
});

export interface NodeHealthInput {
  readonly node: string;
  readonly state: NodeStateName;
  /** Hub time the node entered its state, ms. */
  readonly since: number;
  /** Hub time of the node's last frame, ms; undefined when never heard. */
  readonly lastHeard: number | undefined;
  /** Time of the oldest sample the node still has to send, ms; null when none pending or never reported. */
  readonly backlogOldestMs: number | null;
}

export interface AlertHealthInput {
  readonly fingerprint: string;
  readonly name: string;
  readonly state: 'pending' | 'firing' | 'resolved';
  /** The `severity` label; undefined when the alert has none. */
  readonly severity: string | undefined;
  /** Hub time it started firing, ms; null while pending. */
  readonly firedAt: number | null;
  /** The `summary` annotation, when there is one. */
  readonly summary: string | undefined;
  /** The `node` label, when there is one. */
  readonly node: string | undefined;
  /** Who acknowledged it; null when nobody. */
  readonly acknowledgedBy: string | null;
  readonly silenced: boolean;
  /**
   * Inhibited by a firing alert (alerts.inhibitRules): counts like silenced, so a site that is offline
   * lists SiteOffline and its offline nodes, not a NodeDown per node besides.
   */
  readonly inhibited: boolean;
}

export interface SiteHealthInput {
  readonly nodes: readonly NodeHealthInput[];
  /** The site's alerts (label `site`), any state: the rules pick what counts. */
  readonly alerts: readonly AlertHealthInput[];
}

export interface HealthReasonRecord {
  readonly code: HealthReasonCode;
  readonly level: 'warn' | 'error';
  readonly text: string;
  /** Hub time the condition's clock starts, ms; null when there is none (never heard). */
  readonly since: number | null;
  readonly node?: string;
  readonly alert?: string;
  readonly acknowledged?: boolean;
}

export interface SiteAssessment {
  readonly health: SiteHealth;
  /** Error reasons first, then warn; within a level, the longest-standing first. */
  readonly reasons: readonly HealthReasonRecord[];
}

/** "45 s", "4 min", "2 h 5 min", "3 d 4 h": an age short enough for a pin's tooltip. */
export function formatSpan(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1_000));
  if (s < 60) return `${s} s`;
  const min = Math.floor(s / 60);
  if (min < 60) return `${min} min`;
  const h = Math.floor(min / 60);
  if (h < 24) return min % 60 === 0 ? `${h} h` : `${h} h ${min % 60} min`;
  const d = Math.floor(h / 24);
  return h % 24 === 0 ? `${d} d` : `${d} d ${h % 24} h`;
}

/**
 * How an alert's `severity` label counts: `critical` makes the site error, `info` and `none` do not
 * count, anything else (`warning`, `page`, no label) makes it warn.
 */
export function severityLevel(severity: string | undefined): 'warn' | 'error' | undefined {
  const s = severity?.toLowerCase();
  if (s === 'critical') return 'error';
  if (s === 'info' || s === 'none') return undefined;
  return 'warn';
}

/**
 * The rules, in docs/console.md "Health: green, warn, error":
 * - error: a node offline; every node unknown; a firing, unsilenced critical alert; a node's oldest
 *   unsent sample older than `backlogErrorMs`;
 * - warn: a node stale or unknown; a firing, unsilenced alert of another severity (not info); a
 *   backlog older than `backlogWarnMs`; no node heard for more than `freshnessMs`; no node known;
 * - green otherwise. Acknowledged alerts count (marked so); silenced, inhibited and pending ones do not.
 * Every age limit is "more than": exactly at the limit is still fine.
 */
export function assessSiteHealth(input: SiteHealthInput, thresholds: HealthThresholds, now: number): SiteAssessment {
  const reasons: HealthReasonRecord[] = [];
  const nodes = input.nodes;
  const allUnknown = nodes.length > 0 && nodes.every((n) => n.state === 'unknown');
  if (nodes.length === 0) {
    reasons.push({ code: 'no-nodes', level: 'warn', text: 'no node of this site has been heard from', since: null });
  } else if (allUnknown) {
    const since = Math.min(...nodes.map((n) => n.since));
    const text = nodes.length === 1 ? `${nodes[0]?.node} unknown` : `all ${nodes.length} nodes unknown`;
    reasons.push({ code: 'all-unknown', level: 'error', text: `${text}: no session with the hub`, since });
  }
  for (const n of nodes) {
    const forSpan = formatSpan(now - n.since);
    if (n.state === 'offline') {
      reasons.push({ code: 'node-offline', level: 'error', text: `${n.node} offline for ${forSpan}`, since: n.since, node: n.node });
    } else if (n.state === 'stale') {
      const silent = n.lastHeard === undefined ? '' : `, silent for ${formatSpan(now - n.lastHeard)}`;
      reasons.push({ code: 'node-stale', level: 'warn', text: `${n.node} stale${silent}`, since: n.since, node: n.node });
    } else if (n.state === 'unknown' && !allUnknown) {
      reasons.push({ code: 'node-unknown', level: 'warn', text: `${n.node} unknown for ${forSpan}`, since: n.since, node: n.node });
    }
    if (n.backlogOldestMs !== null) {
      const age = now - n.backlogOldestMs;
      const level = age > thresholds.backlogErrorMs ? 'error' : age > thresholds.backlogWarnMs ? 'warn' : undefined;
      if (level !== undefined) {
        const text = `${n.node} backlog: oldest unsent sample ${formatSpan(age)} old`;
        reasons.push({ code: 'backlog-old', level, text, since: n.backlogOldestMs, node: n.node });
      }
    }
  }
  if (nodes.length > 0) {
    const heard = nodes.map((n) => n.lastHeard).filter((t) => t !== undefined);
    const newest = heard.length === 0 ? undefined : Math.max(...heard);
    if (newest === undefined) {
      reasons.push({ code: 'data-stale', level: 'warn', text: 'no data from this site yet', since: null });
    } else if (now - newest > thresholds.freshnessMs) {
      reasons.push({ code: 'data-stale', level: 'warn', text: `no data from this site for ${formatSpan(now - newest)}`, since: newest });
    }
  }
  for (const a of input.alerts) {
    if (a.state !== 'firing' || a.silenced || a.inhibited) continue;
    const level = severityLevel(a.severity);
    if (level === undefined) continue;
    const what = a.summary ?? `${a.name}${a.node === undefined ? '' : ` on ${a.node}`}`;
    const acked = a.acknowledgedBy !== null;
    const text = `${a.name}: ${what === a.name ? 'firing' : what}${acked ? ` (acknowledged by ${a.acknowledgedBy})` : ''}`;
    reasons.push({
      code: level === 'error' ? 'alert-critical' : 'alert-warning',
      level,
      text,
      since: a.firedAt,
      ...(a.node === undefined ? {} : { node: a.node }),
      alert: a.fingerprint,
      ...(acked ? { acknowledged: true } : {}),
    });
  }
  reasons.sort(
    (x, y) =>
      (x.level === y.level ? 0 : x.level === 'error' ? -1 : 1) ||
      (x.since ?? Number.NEGATIVE_INFINITY) - (y.since ?? Number.NEGATIVE_INFINITY) ||
      (x.node ?? '').localeCompare(y.node ?? ''),
  );
  const health: SiteHealth = reasons.some((r) => r.level === 'error') ? 'error' : reasons.length > 0 ? 'warn' : 'green';
  return { health, reasons };
}
