// The node's side of [FM-ASSIGN-1..4]: subscribes to its own `<prefix>/_hub/assign/<site>/<node>`, validates an
// assignment (zod, protocol/assignment.ts), and when it names another site or zone than the node runs under,
// keeps it on disk (assignment-store.ts) and hands it to `onAssigned` (the CLI restarts the agent under it).
// A bad one is refused with a log line and a count, nothing else changes; one equal to the running identity
// (a retained assignment replayed after it was applied) and an empty payload (cleared) are nothing to do.

import { Counter, type Registry } from 'prom-client';
import { describeError, isFieldmeshError, type Logger } from '../../kit/index.js';
import { decodeAssignment, hubAssignTopic, type NodeAssignment } from '../../protocol/index.js';
import type { Subscription, Transport } from '../../transport/index.js';
import { type StoredAssignment, saveAssignment } from './assignment-store.js';

export interface AssignmentListenerOptions {
  readonly transport: Transport;
  readonly prefix: string;
  /** The identity the node runs under now (its topic is this site's). */
  readonly identity: { readonly site: string; readonly zone: string; readonly node: string };
  /** node.yaml's identity: names the file the assignment is kept in. */
  readonly nodeYaml: { readonly site: string; readonly id: string };
  readonly dataDir: string;
  readonly logger: Logger;
  readonly registry?: Registry;
  /** A new assignment, kept on disk already. */
  onAssigned(assignment: StoredAssignment): void;
}

export interface AssignmentListener {
  readonly topic: string;
  /** Takes one message (the transport's handler calls it; tests may too). */
  accept(payload: Uint8Array): 'applied' | 'unchanged' | 'refused' | 'cleared' | 'ignored';
  start(): void;
  stop(): void;
}

export function createAssignmentListener(o: AssignmentListenerOptions): AssignmentListener {
  const logger = o.logger.child({ area: 'identity' });
  const topic = hubAssignTopic(o.prefix, o.identity.site, o.identity.node);
  const results =
    o.registry === undefined
      ? undefined
      : new Counter({
          name: 'fieldmesh_agent_assignments_total',
          help: 'Identity assignments from the hub (site and zone at approval), by result: applied, unchanged (the identity it runs under), refused (invalid).',
          labelNames: ['result'] as const,
          registers: [o.registry],
        });
  for (const result of ['applied', 'unchanged', 'refused']) results?.inc({ result }, 0);
  let assigned: NodeAssignment | undefined;

  function accept(payload: Uint8Array): ReturnType<AssignmentListener['accept']> {
    if (payload.byteLength === 0) {
      logger.debug({ topic }, 'identity: the retained assignment was cleared');
      return 'cleared';
    }
    // One restart per assignment: what arrives while it happens waits for the next agent.
    if (assigned !== undefined) return 'ignored';
    let a: NodeAssignment;
    try {
      a = decodeAssignment(payload);
    } catch (err) {
      results?.inc({ result: 'refused' });
      const code = isFieldmeshError(err) ? err.code : 'FM_ASSIGNMENT_INVALID';
      logger.warn(
        { topic, code, err: describeError(err) },
        `identity: ${describeError(err)}; the node keeps site ${o.identity.site} zone ${o.identity.zone}`,
      );
      return 'refused';
    }
    if (a.site === o.identity.site && a.zone === o.identity.zone) {
      results?.inc({ result: 'unchanged' });
      logger.debug({ topic, assignedSite: a.site, assignedZone: a.zone }, 'identity: the assignment is the identity the node runs under');
      return 'unchanged';
    }
    const stored: StoredAssignment = { ...a, from: { site: o.identity.site, zone: o.identity.zone }, moved: false };
    try {
      saveAssignment(o.dataDir, o.nodeYaml, stored);
    } catch (err) {
      logger.error(
        { err: describeError(err) },
        `identity: the assignment could not be kept on disk (${describeError(err)}); the node keeps its identity`,
      );
      return 'refused';
    }
    assigned = a;
    results?.inc({ result: 'applied' });
    logger.info(
      { assignedSite: a.site, assignedZone: a.zone, by: a.by, at: a.at },
      `identity assigned by the hub: site ${a.site} zone ${a.zone} (it ran as site ${o.identity.site} zone ${o.identity.zone}); restarting under it`,
    );
    o.onAssigned(stored);
    return 'applied';
  }

  let subscription: Subscription | undefined;
  return {
    topic,
    accept,
    start() {
      subscription = o.transport.subscribe(topic, (m) => accept(m.payload));
      subscription.ready.catch((err: unknown) =>
        logger.warn({ topic, err: describeError(err) }, 'identity: subscribing to the assignment topic failed'),
      );
    },
    stop() {
      subscription?.unsubscribe();
    },
  };
}
