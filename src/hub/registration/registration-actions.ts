// An admin's registration decisions carried out at the hub (docs/registration.md): approval with an assignment
// publishes it retained on the node's `<prefix>/_hub/assign/<site>/<node>` [FM-ASSIGN-1], a plain one asks
// the node for an unknown-node rebirth; the retained assignment is cleared once the node announced itself
// under it [FM-ASSIGN-5]; what could not go out (the hub off the broker) goes out at the next connection.
// hub.ts wires it: the Registrations API's port, `birthAdmitted` on every admitted birth, `connected` on
// every connection to the broker.

import { describeError, type Logger } from '../../kit/index.js';
import { encodeAssignment, hubAssignTopic } from '../../protocol/index.js';
import type { Transport } from '../../transport/index.js';
import type { RegistrationAssignment, RegistrationGate, RegistrationList, RegistrationView } from './registration-gate.js';

/** The sites and zones the hub knows, offered when an admin assigns a node (the console's choices). */
export interface KnownPlaces {
  readonly sites: readonly string[];
  readonly zones: readonly string[];
}

/** An approval as the API answers it. */
export type ApprovalResult = RegistrationView & {
  /** An unknown-node rebirth request went out (plain approval, the hub on the broker). */
  readonly rebirthRequested: boolean;
  /** The assignment was published retained (false: none to send, or the hub is off the broker: sent on reconnection). */
  readonly assignmentSent: boolean;
};

export interface RegistrationActionsOptions {
  readonly gate: RegistrationGate;
  readonly prefix: string;
  readonly transport: () => Transport | undefined;
  /** The hub's unknown-node rebirth request; false when it could not go out. */
  sendRebirth(site: string, node: string): Promise<boolean>;
  /** The fleet's nodes now (their sites and zones are the known places). */
  nodes(): readonly { readonly site: string; readonly zone: string }[];
  /** The sites the hub describes (hub.yaml's and the repository's, with their zones) besides the fleet's; none by default. */
  sites?(): readonly { readonly site: string; readonly zones: readonly { readonly id: string }[] }[];
  readonly logger: Logger;
}

export interface RegistrationActions {
  list(): RegistrationList & { readonly known: KnownPlaces };
  approve(site: string, node: string, by: string, assignment?: RegistrationAssignment): Promise<ApprovalResult>;
  reject(site: string, node: string, by: string): RegistrationView;
  /** A birth the gate admitted: clears the retained assignment of a node now running under it. */
  birthAdmitted(site: string, node: string, zone: string): void;
  /** The hub (re)connected to the broker: publishes and clears what is owed. */
  connected(): void;
}

const sorted = (values: Iterable<string>) => [...new Set(values)].sort();

export function createRegistrationActions(o: RegistrationActionsOptions): RegistrationActions {
  const { gate, logger } = o;

  /** Publishes or clears one node's retained assignment as its state says; true when it went out. */
  async function settle(r: RegistrationView): Promise<boolean> {
    const transport = o.transport();
    if (transport === undefined || !transport.connected) return false;
    const topic = hubAssignTopic(o.prefix, r.site, r.node);
    const name = `${r.site}/${r.node}`;
    try {
      if (r.assignmentState === 'publish' && r.assignedSite !== null && r.assignedZone !== null) {
        const payload = encodeAssignment({ site: r.assignedSite, zone: r.assignedZone, by: r.decidedBy ?? 'hub', at: r.decidedAt ?? 0 });
        await transport.publish(topic, payload, { qos: 1, retain: true });
        gate.setAssignmentState(r.site, r.node, 'retained');
        logger.info(
          { site: r.site, node: r.node, topic },
          `registration: assignment of ${name} published (site ${r.assignedSite} zone ${r.assignedZone})`,
        );
        return true;
      }
      if (r.assignmentState === 'clear') {
        // [MQTT-3.3.1-10] An empty retained message clears the retained one.
        await transport.publish(topic, new Uint8Array(), { qos: 1, retain: true });
        gate.setAssignmentState(r.site, r.node, null);
        logger.info({ site: r.site, node: r.node, topic }, `registration: retained assignment of ${name} cleared`);
        return true;
      }
    } catch (err) {
      logger.warn(
        { site: r.site, node: r.node, topic, err: describeError(err) },
        `registration: assignment of ${name} not published; again at the next connection`,
      );
    }
    return false;
  }

  return {
    list() {
      const nodes = o.nodes();
      const described = o.sites?.() ?? [];
      const sites = [...nodes.map((n) => n.site), ...described.map((s) => s.site)];
      const zones = [...nodes.map((n) => n.zone), ...described.flatMap((s) => s.zones.map((z) => z.id))];
      return { ...gate.list(), known: { sites: sorted(sites), zones: sorted(zones) } };
    },
    async approve(site, node, by, assignment) {
      const view = gate.approve(site, node, by, assignment);
      if (view.assignmentState === 'publish') {
        // [FM-ASSIGN-2] No rebirth: the node restarts under the assignment and announces itself then.
        const assignmentSent = await settle(view);
        return { ...(gate.get(site, node) ?? view), rebirthRequested: false, assignmentSent };
      }
      // A plain approval withdrew an earlier assignment: its retained message goes.
      if (view.assignmentState === 'clear') await settle(view);
      // The node re-announces at once and its outbox sends again what the hub ignored (an unknown-node rebirth).
      const rebirthRequested = await o.sendRebirth(site, node);
      return { ...(gate.get(site, node) ?? view), rebirthRequested, assignmentSent: false };
    },
    reject: (site, node, by) => gate.reject(site, node, by),
    birthAdmitted(site, node, zone) {
      const owed = gate.announced(site, node, zone);
      if (owed !== undefined) void settle(owed);
    },
    connected() {
      for (const r of gate.assignmentsOwed()) void settle(r);
    },
  };
}
