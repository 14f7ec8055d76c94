// Where alert expressions read series: the hub's stored history, plus three series the hub derives
// from its fleet state at the instant of evaluation, so rules can speak of liveness the way design
// doc 000 writes `up == 0`:
//   fieldmesh_node_up{site,zone,node}                      1 while the node is online, else 0
//   fieldmesh_node_last_heard_age_seconds{site,zone,node}  seconds since the hub last heard the node
//   fieldmesh_node_backlog_age_seconds{site,zone,node}     age of the node's oldest unsent outbox row (0: none)
// A selector reaches them by naming the metric exactly (`fieldmesh_node_up == 0`).

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

export interface FleetView {
  nodes(): readonly AlertNode[];
  /** The node's last reported outbox backlog. */
  backlog(site: string, node: string): NodeBacklog | undefined;
}

export const FLEET_SERIES = ['fieldmesh_node_up', 'fieldmesh_node_last_heard_age_seconds', 'fieldmesh_node_backlog_age_seconds'] as const;
type FleetSeriesName = (typeof FLEET_SERIES)[number];

function fleetValue(name: FleetSeriesName, n: AlertNode, fleet: FleetView, nowMs: number): number | undefined {
  switch (name) {
    case 'fieldmesh_node_up':
      return n.state === 'online' ? 1 : 0;
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
    const stored = await storage.querySeries(matchers, startMs, endMs);
    return stored.map((s) => ({ metric: { __name__: s.series.name, ...s.series.labels }, points: s.points }));
  };
}
