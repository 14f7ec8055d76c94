// Where alert expressions read series: the hub's stored history, plus three series the hub derives
// from its fleet state at the instant of evaluation, so rules can speak of liveness the way design
// doc 000 writes `up == 0`:
//   fieldmesh_node_up{site,zone,node}                      1 while the node is online, else 0
//   fieldmesh_node_last_heard_age_seconds{site,zone,node}  seconds since the hub last heard the node
//   fieldmesh_node_backlog_age_seconds{site,zone,node}     age of the node's oldest unsent outbox row (0: none)
// and five the hub derives from its zone monitor (docs/consensus.md "The hub's view"):
//   fieldmesh_zone_majority_visible{site,zone}              1 while floor(n/2)+1 configured voters are online at the hub
//   fieldmesh_zone_voters_online{site,zone}                 configured voters online at the hub
//   fieldmesh_zone_consensus_pending_seconds{site,zone}     how long detections have waited for a decision (0: none wait)
//   fieldmesh_zone_pump_running{site,zone,pump,node}        1 while the pump runs, as its owner reports it
//   fieldmesh_zone_pump_runtime_seconds{site,zone,pump,node} the current (or last) run's runtime
// and, as a Prometheus user (and Grafana) expects them (docs/grafana.md):
//   up{site,zone,node}                                     1 while the node is online, 0 offline, stale or unknown
//   fieldmesh_node_state{site,zone,node,state}             1 for the node's current state, 0 for the others (kube-state-metrics style)
//   fieldmesh_node_backlog_rows{site,zone,node}            rows in the node's outbox not yet sent, as last reported
//   ALERTS{alertname,alertstate,...}                       1 per pending or firing alert, with its labels, as Prometheus has it
//   fieldmesh_node_completeness_ratio{site,zone,node}      covered fraction of the last full UTC day (the completeness route's default window)
// A selector reaches them by naming the metric exactly (`fieldmesh_node_up == 0`). They exist at the
// instant of evaluation only: a range query sees them at its last step, not as history.

import type { LabelMatcher, NodeStateName, SeriesSelector } from '../../protocol/index.js';
import { matchesSelector } from '../../protocol/index.js';
import type { SeriesPoints } from '../../protocol/prometheus/index.js';
import type { NodeBacklog } from '../ledger/completeness.js';
import type { HubStorage } from '../storage/storage.js';
import type { SeriesSource } from './alert-expr.js';

/** What the alert engine needs to know of a node (a subset of the fleet state's NodeRecord). */
export interface AlertNode {
  readonly site: string;
  readonly zone: string;
  readonly node: string;
  readonly state: NodeStateName;
  /** Hub time the node was last heard, ms; undefined when never. */
  readonly lastHeard: number | undefined;
  /** Hub time of the node's last state change, ms. */
  readonly lastChanged: number;
}

/** A pump of a zone as the hub's zone monitor holds it. */
export interface AlertPump {
  readonly pump: string;
  /** The node that drives it. */
  readonly node: string;
  readonly running: boolean;
  /** The current run's runtime (or the last run's when stopped). */
  readonly runtimeSeconds: number;
  readonly maxRuntimeSeconds: number;
}

/** A zone as the hub's zone monitor holds it, at the instant asked. */
export interface AlertZone {
  /** The zone's configured site, else the site of its voters in the fleet ("" when neither is known). */
  readonly site: string;
  readonly zone: string;
  readonly voters: number;
  readonly votersOnline: number;
  readonly majorityVisible: boolean;
  /** Since when the majority has not been visible (hub ms); undefined while visible. */
  readonly quorumLostSince: number | undefined;
  /** Since when detections have waited without a decision or a running pump (ms); undefined when none wait. */
  readonly consensusPendingSince: number | undefined;
  readonly pumps: readonly AlertPump[];
}

export interface FleetView {
  nodes(): readonly AlertNode[];
  /** The node's last reported outbox backlog. */
  backlog(site: string, node: string): NodeBacklog | undefined;
  /** The zones the hub watches (absent: none). */
  zones?(): readonly AlertZone[];
  /** The configuration repository's reconciliation, when hub.yaml has `configRepo` (absent or undefined: none). */
  configRepo?(): AlertConfigRepo | undefined;
  /** Each node's newest valid certificate at the hub's fleet CA, when hub.yaml has `pki` (absent: none). */
  certificates?(): readonly AlertCertificate[];
  /** A scale-out hub's queue as last read (absent or undefined: no queue, or not read yet). */
  queue?(): AlertQueue | undefined;
  /**
   * The node's completeness ratio over [startMs, endMs) from the ledger (ledger/completeness.ts), for
   * fieldmesh_node_completeness_ratio (absent: no such series).
   */
  completenessRatio?(site: string, node: string, startMs: number, endMs: number): Promise<number>;
  /** The pending and firing alerts, for the ALERTS series (absent: none). */
  activeAlerts?(): readonly { readonly labels: Readonly<Record<string, string>>; readonly state: string }[];
}

/** Prometheus' own series of active alerts: `ALERTS{alertname, alertstate="pending"|"firing", ...labels} 1`. */
export const ALERTS_SERIES = 'ALERTS';

/** Each node's completeness over the last full UTC day before the evaluation, 0..1. */
export const COMPLETENESS_SERIES = 'fieldmesh_node_completeness_ratio';
const DAY_MS = 86_400_000;

/** The JetStream stream and the workers' consumer, as the alerts read them. */
export interface AlertQueue {
  /** Messages not delivered to a worker yet. */
  readonly consumerPending: number;
  /** Messages in a worker's hands, not acknowledged yet. */
  readonly consumerAckPending: number;
  /** Copies of the stream offline or not current. */
  readonly replicasBehind: number;
}

/** A node's certificate as the hub's fleet CA holds it. */
export interface AlertCertificate {
  readonly site: string;
  readonly node: string;
  readonly serial: string;
  /** ms since the Unix epoch. */
  readonly notAfter: number;
}

/** The same series as the hub's /metrics exports, for rule files. */
export const CERTIFICATE_EXPIRY_SERIES = 'fieldmesh_node_certificate_expiry_seconds';

export const FLEET_SERIES = [
  'fieldmesh_node_up',
  'fieldmesh_node_last_heard_age_seconds',
  'fieldmesh_node_backlog_age_seconds',
  'up',
  'fieldmesh_node_backlog_rows',
] as const;

/** One series per node and state, 1 for the current one (`fieldmesh_node_state{state="offline"} == 1`). */
export const NODE_STATE_SERIES = 'fieldmesh_node_state';
const NODE_STATES: readonly NodeStateName[] = ['online', 'stale', 'offline', 'unknown'];
type FleetSeriesName = (typeof FLEET_SERIES)[number];

export const ZONE_SERIES = [
  'fieldmesh_zone_majority_visible',
  'fieldmesh_zone_voters_online',
  'fieldmesh_zone_consensus_pending_seconds',
  'fieldmesh_zone_pump_running',
  'fieldmesh_zone_pump_runtime_seconds',
] as const;
export type ZoneSeriesName = (typeof ZONE_SERIES)[number];

/** What alert rules may know of the configuration repository's reconciliation. */
export interface AlertConfigRepo {
  /** The newest revision read was refused (the nodes keep the last good one). */
  readonly refused: boolean;
  readonly nodes: readonly { readonly site: string; readonly node: string; readonly state: string; readonly drift: boolean }[];
}

/**
 * The reconciliation as series, so rules can say "a revision was refused" or "a node failed its config":
 *   fieldmesh_config_revision_refused                1 while the newest revision read is refused, else 0
 *   fieldmesh_config_node_state{site,node,state}     1 for the node's current state (kube-state-metrics style)
 *   fieldmesh_config_node_drift{site,node}           1 while the node drifts: a config the hub never issued, or hand edits of its node.yaml
 */
export const CONFIG_SERIES = ['fieldmesh_config_revision_refused', 'fieldmesh_config_node_state', 'fieldmesh_config_node_drift'] as const;
export type ConfigSeriesName = (typeof CONFIG_SERIES)[number];

export function configSeries(name: ConfigSeriesName, repo: AlertConfigRepo): { labels: Record<string, string>; value: number }[] {
  switch (name) {
    case 'fieldmesh_config_revision_refused':
      return [{ labels: {}, value: repo.refused ? 1 : 0 }];
    case 'fieldmesh_config_node_state':
      return repo.nodes.map((n) => ({ labels: { site: n.site, node: n.node, state: n.state }, value: 1 }));
    case 'fieldmesh_config_node_drift':
      return repo.nodes.map((n) => ({ labels: { site: n.site, node: n.node }, value: n.drift ? 1 : 0 }));
  }
}

/** The zone series at `nowMs`, one row per zone (or per pump for the pump series). */
export function zoneSeries(
  name: ZoneSeriesName,
  zones: readonly AlertZone[],
  nowMs: number,
): Array<{ labels: Record<string, string>; value: number }> {
  const out: Array<{ labels: Record<string, string>; value: number }> = [];
  for (const z of zones) {
    const labels = { site: z.site, zone: z.zone };
    switch (name) {
      case 'fieldmesh_zone_majority_visible':
        out.push({ labels, value: z.majorityVisible ? 1 : 0 });
        break;
      case 'fieldmesh_zone_voters_online':
        out.push({ labels, value: z.votersOnline });
        break;
      case 'fieldmesh_zone_consensus_pending_seconds':
        out.push({ labels, value: z.consensusPendingSince === undefined ? 0 : Math.max(0, nowMs - z.consensusPendingSince) / 1_000 });
        break;
      case 'fieldmesh_zone_pump_running':
        for (const p of z.pumps) out.push({ labels: { ...labels, pump: p.pump, node: p.node }, value: p.running ? 1 : 0 });
        break;
      case 'fieldmesh_zone_pump_runtime_seconds':
        for (const p of z.pumps) out.push({ labels: { ...labels, pump: p.pump, node: p.node }, value: p.runtimeSeconds });
        break;
    }
  }
  return out;
}

function fleetValue(name: FleetSeriesName, n: AlertNode, fleet: FleetView, nowMs: number): number | undefined {
  switch (name) {
    case 'fieldmesh_node_up':
    case 'up':
      return n.state === 'online' ? 1 : 0;
    case 'fieldmesh_node_backlog_rows':
      return fleet.backlog(n.site, n.node)?.pendingRows;
    case 'fieldmesh_node_last_heard_age_seconds':
      return n.lastHeard === undefined ? undefined : Math.max(0, nowMs - n.lastHeard) / 1_000;
    case 'fieldmesh_node_backlog_age_seconds': {
      const b = fleet.backlog(n.site, n.node);
      if (b === undefined) return undefined;
      return b.pendingRows === 0 || b.oldestPendingMs === null ? 0 : Math.max(0, nowMs - b.oldestPendingMs) / 1_000;
    }
  }
}

/** The hub's series for alert expressions: storage, and the fleet's own series by exact name. */
export function createAlertSeriesSource(storage: Pick<HubStorage, 'querySeries'>, fleet: FleetView): SeriesSource {
  return async (matchers, startMs, endMs) => {
    const name = matchers.find((m) => m.name === '__name__' && m.op === '=')?.value;
    if (name !== undefined && (FLEET_SERIES as readonly string[]).includes(name)) {
      const selector: SeriesSelector = { matchers: matchers as LabelMatcher[], text: '' };
      const out: SeriesPoints[] = [];
      for (const n of fleet.nodes()) {
        const labels = { site: n.site, zone: n.zone, node: n.node };
        if (!matchesSelector(selector, name, labels)) continue;
        const value = fleetValue(name as FleetSeriesName, n, fleet, endMs);
        if (value !== undefined) out.push({ metric: { __name__: name, ...labels }, points: [[endMs, value]] });
      }
      return out;
    }
    if (name === COMPLETENESS_SERIES && fleet.completenessRatio !== undefined) {
      const selector: SeriesSelector = { matchers: matchers as LabelMatcher[], text: '' };
      const dayEnd = Math.floor(endMs / DAY_MS) * DAY_MS;
      const out: SeriesPoints[] = [];
      for (const n of fleet.nodes()) {
        const labels = { site: n.site, zone: n.zone, node: n.node };
        if (!matchesSelector(selector, name, labels)) continue;
        const ratio = await fleet.completenessRatio(n.site, n.node, dayEnd - DAY_MS, dayEnd);
        out.push({ metric: { __name__: name, ...labels }, points: [[endMs, ratio]] });
      }
      return out;
    }
    if (name === ALERTS_SERIES) {
      const selector: SeriesSelector = { matchers: matchers as LabelMatcher[], text: '' };
      return (fleet.activeAlerts?.() ?? [])
        .filter((a) => a.state === 'pending' || a.state === 'firing')
        .map((a) => ({ ...a.labels, alertstate: a.state }))
        .filter((labels) => matchesSelector(selector, name, labels))
        .map((labels) => ({ metric: { __name__: name, ...labels }, points: [[endMs, 1]] }));
    }
    if (name === NODE_STATE_SERIES) {
      const selector: SeriesSelector = { matchers: matchers as LabelMatcher[], text: '' };
      const out: SeriesPoints[] = [];
      for (const n of fleet.nodes()) {
        for (const state of NODE_STATES) {
          const labels = { site: n.site, zone: n.zone, node: n.node, state };
          if (matchesSelector(selector, name, labels))
            out.push({ metric: { __name__: name, ...labels }, points: [[endMs, n.state === state ? 1 : 0]] });
        }
      }
      return out;
    }
    if (name !== undefined && (ZONE_SERIES as readonly string[]).includes(name)) {
      const selector: SeriesSelector = { matchers: matchers as LabelMatcher[], text: '' };
      return zoneSeries(name as ZoneSeriesName, fleet.zones?.() ?? [], endMs)
        .filter((r) => matchesSelector(selector, name, r.labels))
        .map((r) => ({ metric: { __name__: name, ...r.labels }, points: [[endMs, r.value]] }));
    }
    // fieldmesh_node_certificate_expiry_seconds{site,node}: seconds until the node's certificate expires (hub.yaml pki).
    if (name === CERTIFICATE_EXPIRY_SERIES) {
      const selector: SeriesSelector = { matchers: matchers as LabelMatcher[], text: '' };
      return (fleet.certificates?.() ?? [])
        .map((c) => ({ labels: { site: c.site, node: c.node }, value: (c.notAfter - endMs) / 1_000 }))
        .filter((r) => matchesSelector(selector, name, r.labels))
        .map((r) => ({ metric: { __name__: name, ...r.labels }, points: [[endMs, r.value]] }));
    }
    if (name !== undefined && (CONFIG_SERIES as readonly string[]).includes(name)) {
      const repo = fleet.configRepo?.();
      if (repo === undefined) return [];
      const selector: SeriesSelector = { matchers: matchers as LabelMatcher[], text: '' };
      return configSeries(name as ConfigSeriesName, repo)
        .filter((r) => matchesSelector(selector, name, r.labels))
        .map((r) => ({ metric: { __name__: name, ...r.labels }, points: [[endMs, r.value]] }));
    }
    const stored = await storage.querySeries(matchers, startMs, endMs);
    return stored.map((s) => ({ metric: { __name__: s.series.name, ...s.series.labels }, points: s.points }));
  };
}
