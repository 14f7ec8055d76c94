// The bulk action engine's ports over the hub's real parts: the fleet state, the alert engine, the
// rebirth command plus the next birth, and node ping (the hub's node commands).

import type { AlertEngine } from '../alerts/alert-engine.js';
import type { FleetState } from '../fleet/fleet-state.js';
import type { ActionAlerts, ActionPorts, PingResult } from './action-ports.js';
import type { BirthWatch } from './birth-watch.js';

export interface HubActionPortsOptions {
  readonly fleet: FleetState;
  readonly alerts: AlertEngine | undefined;
  readonly births: BirthWatch;
  /** Publishes a rebirth request to the node; rejects when it cannot go out. */
  readonly sendRebirth: (site: string, node: string) => Promise<void>;
  readonly ping: (site: string, node: string, timeoutMs: number) => Promise<PingResult>;
}

export function alertActionsOf(engine: AlertEngine, now: () => number): ActionAlerts {
  return {
    active: () =>
      engine.list(['firing', 'pending']).map(({ alert }) => ({
        fingerprint: alert.fingerprint,
        alertname: alert.labels.alertname ?? alert.ruleId,
        site: alert.labels.site,
        node: alert.labels.node,
        acknowledged: alert.ack !== null,
      })),
    acknowledge: async (fingerprint, by, comment) => {
      await engine.acknowledge(fingerprint, by, comment);
    },
    silence: async ({ site, node, durationMs, createdBy, comment }) => {
      const startsAt = now();
      const silence = await engine.createSilence({
        matchers: [
          { name: 'site', value: site, isRegex: false, isEqual: true },
          { name: 'node', value: node, isRegex: false, isEqual: true },
        ],
        startsAt,
        endsAt: startsAt + durationMs,
        createdBy,
        comment,
      });
      return { id: silence.id, endsAt: silence.endsAt };
    },
  };
}

export function createHubActionPorts(o: HubActionPortsOptions & { readonly now: () => number }): ActionPorts {
  return {
    nodes: () => o.fleet.nodes().map((r) => ({ site: r.site, node: r.node, zone: r.zone, state: r.state })),
    ping: o.ping,
    async rebirth(site, node, signal) {
      // Watch before asking: the birth may arrive before the publish resolves.
      const local = new AbortController();
      const born = o.births.next(site, node, AbortSignal.any([signal, local.signal]));
      born.catch(() => {});
      try {
        await o.sendRebirth(site, node);
      } catch (err) {
        local.abort(err);
        throw err;
      }
      await born;
    },
    ...(o.alerts === undefined ? {} : { alerts: alertActionsOf(o.alerts, o.now) }),
  };
}
