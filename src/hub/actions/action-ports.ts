// What the bulk action engine needs from the rest of the hub: the fleet, a way to ping and to rebirth
// a node, and the alert engine's acks and silences. The hub wires the real ones (hub-action-ports.ts);
// tests pass fakes.

import type { SelectableNode } from './selection.js';

/** A ping's answer. */
export interface PingResult {
  /** Round trip hub -> node -> hub, ms. */
  readonly rttMs: number;
  readonly epoch?: number;
  readonly agentVersion?: string;
  readonly uptimeMs?: number;
}

/** An active (pending or firing) alert, as the bulk alert actions see it. */
export interface ActiveAlert {
  readonly fingerprint: string;
  readonly alertname: string;
  /** The alert's `site` and `node` labels; undefined when it has none (a site-wide alert has no node). */
  readonly site: string | undefined;
  readonly node: string | undefined;
  readonly acknowledged: boolean;
}

export interface ActionAlerts {
  /** Every pending or firing alert. */
  active(): readonly ActiveAlert[];
  /** Acknowledges the alert; rejects with FM_NOT_FOUND when it is gone. */
  acknowledge(fingerprint: string, by: string, comment: string): Promise<void>;
  /** One new silence with the matchers site=`site`, node=`node`, from now for `durationMs`. */
  silence(request: {
    readonly site: string;
    readonly node: string;
    readonly durationMs: number;
    readonly createdBy: string;
    readonly comment: string;
  }): Promise<{ readonly id: string; readonly endsAt: number }>;
}

export interface ActionPorts {
  /** Every node the hub knows, sorted by site then node. */
  nodes(): readonly SelectableNode[];
  /** A round trip to the node; rejects (a FieldmeshError) on timeout, when offline, or when ping is unavailable. */
  ping(site: string, node: string, timeoutMs: number): Promise<PingResult>;
  /**
   * Asks the node to republish its birth; resolves when a birth of that node arrives after the request.
   * Rejects when the request cannot be sent, or with the signal's reason when it aborts (the timeout).
   */
  rebirth(site: string, node: string, signal: AbortSignal): Promise<void>;
  /** The alert engine; undefined when alerts are disabled (ack-alerts and silence-alerts answer 503). */
  readonly alerts?: ActionAlerts;
}
