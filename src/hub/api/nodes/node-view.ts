// Builds the JSON shape of a node (protocol/api.ts) for the API and the live feed.

import type { NodeCertificateState, NodeView, WireValue } from '../../../protocol/index.js';
import type { NodeRecord } from '../../fleet/fleet-state.js';
import type { NodeBacklog } from '../../ledger/completeness.js';

export type { NodeValueView, NodeView } from '../../../protocol/index.js';

export function iso(ms: number | null | undefined): string | null {
  if (ms === undefined || ms === null) return null;
  const d = new Date(ms);
  return Number.isNaN(d.getTime()) ? null : d.toISOString();
}

export function jsonValue(v: WireValue): number | string | null {
  if (v === null || Number.isFinite(v)) return v;
  if (Number.isNaN(v)) return 'NaN';
  return v > 0 ? '+Inf' : '-Inf';
}

/**
 * `backlog` is the node's last reported outbox backlog, when the hub has one; `certificate` the state of its
 * certificate at the hub's fleet CA (undefined: the hub has no `pki`, and the view has no `certificate`).
 */
export function toNodeView(
  r: Readonly<NodeRecord>,
  now: number,
  withValues: boolean,
  backlog?: NodeBacklog,
  certificate?: NodeCertificateState | null,
): NodeView {
  const view: NodeView = {
    site: r.site,
    zone: r.zone,
    node: r.node,
    state: r.state,
    epoch: r.epoch ?? null,
    agentVersion: r.agentVersion ?? null,
    bootTime: iso(r.bootTime),
    uptimeMs: r.state === 'offline' || r.bootTimeHub === undefined ? null : Math.max(0, now - r.bootTimeHub),
    configVersion: r.configVersion || null,
    lastHeard: iso(r.lastHeard),
    lastHeardAgeMs: r.lastHeard === undefined ? null : Math.max(0, now - r.lastHeard),
    since: iso(r.lastChanged),
    heartbeatMs: r.heartbeatMs ?? null,
    series: r.values.size,
    backlogRows: backlog?.pendingRows ?? null,
    backlogOldest: backlog === undefined || backlog.pendingRows === 0 ? null : iso(backlog.oldestPendingMs),
    backlogBytes: backlog?.pendingBytes ?? null,
    ...(certificate === undefined ? {} : { certificate }),
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
