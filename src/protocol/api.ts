// JSON shapes of the hub's HTTP API (/api/v1) and live feed: the contract between the hub and its
// clients (CLI, dashboard, scripts). The hub builds them; src/client reads them.

import type { NodeStateName } from './frames.js';

export interface NodeValueView {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  /** A number, null for "no value", or "NaN" / "+Inf" / "-Inf" as Prometheus writes them. */
  readonly value: number | string | null;
  readonly unit: string;
  /** RFC 3339 time of the frame that carried the value. */
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
  /** RFC 3339 time of the last frame from the node itself (a will does not count). */
  readonly lastHeard: string | null;
  readonly lastHeardAgeMs: number | null;
  /** When the node entered its current state. */
  readonly since: string | null;
  readonly heartbeatMs: number | null;
  readonly series: number;
  readonly values?: readonly NodeValueView[];
}

export interface SiteView {
  readonly site: string;
  /** The worst state of any node: offline > stale > unknown > online. */
  readonly worst: NodeStateName;
  readonly counts: Readonly<Record<NodeStateName, number>>;
  readonly nodes: readonly string[];
}
