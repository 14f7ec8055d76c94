// The JSON shape of a node in the API and the live feed (kept in step with src/client/hub-client.ts).

import type { NodeStateName, WireValue } from '../../../protocol/index.js';
import type { NodeRecord } from '../../fleet/fleet-state.js';

export interface NodeValueView {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  /** A number, null for "no value", or "NaN" / "+Inf" / "-Inf" as Prometheus writes them. */
  readonly value: number | string | null;
  readonly unit: string;
  readonly time: string;
  readonly ageMs: number;
}

export interface NodeView {
  readonly site: string;
  readonly zone: string;
  readonly node: string;
  readonly state: NodeStateName;
  readonly epoch: number | null;
  readonly agentVersion: string | null;
  readonly lastHeard: string | null;
  readonly lastHeardAgeMs: number | null;
  /** When the node entered its current state. */
  readonly since: string | null;
  readonly heartbeatMs: number | null;
  readonly series: number;
  readonly values?: readonly NodeValueView[];
}

function iso(ms: number | undefined): string | null {
  if (ms === undefined) return null;
  const d = new Date(ms);
  return Number.isNaN(d.getTime()) ? null : d.toISOString();
}

export function jsonValue(v: WireValue): number | string | null {
  if (v === null || Number.isFinite(v)) return v;
  if (Number.isNaN(v)) return 'NaN';
  return v > 0 ? '+Inf' : '-Inf';
}

export function toNodeView(r: Readonly<NodeRecord>, now: number, withValues: boolean): NodeView {
  const view: NodeView = {
    site: r.site,
    zone: r.zone,
    node: r.node,
    state: r.state,
    epoch: r.epoch ?? null,
    agentVersion: r.agentVersion ?? null,
    lastHeard: iso(r.lastHeard),
    lastHeardAgeMs: r.lastHeard === undefined ? null : Math.max(0, now - r.lastHeard),
    since: iso(r.lastChanged),
    heartbeatMs: r.heartbeatMs ?? null,
    series: r.values.size,
  };
  if (!withValues) return view;
  const values = [...r.values.values()]
    .sort((a, b) => a.def.alias - b.def.alias)
    .map((v) => ({
      name: v.def.name,
      labels: v.def.labels,
      value: jsonValue(v.value),
      unit: v.def.unit,
      time: iso(v.time) ?? String(v.time),
      ageMs: Math.max(0, now - v.time),
    }));
  return { ...view, values };
}
