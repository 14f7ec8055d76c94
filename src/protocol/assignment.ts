// [FM-ASSIGN-1..5] Identity assignment: when an admin approves a pending node with a site and a zone other than
// the ones it announced, the hub tells the node, retained (QoS 1), on `<prefix>/_hub/assign/<site>/<node>` (the
// key the node announced itself under), as UTF-8 JSON `{site, zone, by, at}`. The node keeps it and runs under
// it from then on, whatever its node.yaml says. An empty retained payload clears it (the hub does so once the
// node announced itself under the assigned identity). docs/protocol.md §12, docs/registration.md.

import { z } from 'zod';
import { FieldmeshError, ID_PATTERN } from '../kit/index.js';
import { HUB_LEVEL } from './topics.js';

/** What the hub assigns one node at approval. */
export interface NodeAssignment {
  /** The site the node runs under from now on (an id, [FM-TOPIC-2]). */
  readonly site: string;
  /** The zone the node runs in from now on (an id). */
  readonly zone: string;
  /** Who approved it (an admin's name). */
  readonly by: string;
  /** When the hub issued it, ms since the Unix epoch (hub clock). */
  readonly at: number;
}

/** [FM-ASSIGN-3] `by` may hold at most this many characters. */
export const MAX_ASSIGNMENT_BY_CHARS = 200;

const id = (what: string) =>
  z.string({ error: `${what}: expected a string` }).regex(ID_PATTERN, `${what}: expected an id of lowercase letters, digits, '-' and '_'`);

/** [FM-ASSIGN-3] The assignment's JSON; fields other than these four are ignored (a newer hub may add some). */
export const nodeAssignmentSchema = z.object({
  site: id('site'),
  zone: id('zone'),
  by: z
    .string({ error: 'by: expected a string' })
    .min(1, 'by: expected a name')
    .max(MAX_ASSIGNMENT_BY_CHARS, `by: at most ${MAX_ASSIGNMENT_BY_CHARS} characters`),
  at: z.number({ error: 'at: expected a number (ms)' }).finite().nonnegative('at: expected ms since the Unix epoch'),
});

/** [FM-ASSIGN-1] Where the hub publishes the assignment of the node that announced itself as `site`/`node`. */
export function hubAssignTopic(prefix: string, site: string, node: string): string {
  return `${prefix}/${HUB_LEVEL}/assign/${site}/${node}`;
}

/** [FM-ASSIGN-3] The payload: UTF-8 JSON of the four fields. */
export function encodeAssignment(a: NodeAssignment): Uint8Array {
  return new TextEncoder().encode(JSON.stringify({ site: a.site, zone: a.zone, by: a.by, at: a.at }));
}

/**
 * Decodes and validates an assignment payload (not an empty one: that is a cleared assignment, for the caller
 * to tell apart first). Throws FM_ASSIGNMENT_INVALID naming every problem.
 */
export function decodeAssignment(bytes: Uint8Array): NodeAssignment {
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch (err) {
    throw new FieldmeshError('FM_ASSIGNMENT_INVALID', `assignment is not UTF-8 JSON: ${(err as Error).message}`, { cause: err });
  }
  const parsed = nodeAssignmentSchema.safeParse(value);
  if (!parsed.success)
    throw new FieldmeshError(
      'FM_ASSIGNMENT_INVALID',
      `assignment refused: ${parsed.error.issues.map((i) => (i.path.length === 0 ? `expected an object {site, zone, by, at}` : i.message)).join('; ')}`,
    );
  return parsed.data;
}

/** The identity a node runs under, in its `GET /api/v1/config` (`identity`). [FM-ASSIGN-4] */
export interface NodeIdentityStatus {
  readonly site: string;
  readonly zone: string;
  readonly node: string;
  /** The hub's assignment it runs under; null when it runs its node.yaml's site and zone. */
  readonly assigned: NodeAssignment | null;
  /** What its node.yaml says (left untouched by an assignment). */
  readonly nodeYaml: { readonly site: string; readonly zone: string };
}
