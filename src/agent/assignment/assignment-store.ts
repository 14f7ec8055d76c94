// The hub's assignment a node keeps (docs/registration.md "Assigning a site and a zone"): one small JSON file in
// its dataDir, `assignment.<site>.<node>.json` after its node.yaml's identity (which the assignment leaves
// untouched), written durably (temporary file, fsync, rename), so a crash leaves the old file or the new one.
// [FM-ASSIGN-4]

import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { describeError, ID_PATTERN, type Logger } from '../../kit/index.js';
import { writeFileDurably } from '../../platform/index.js';
import { type NodeAssignment, nodeAssignmentSchema } from '../../protocol/index.js';

/** An assignment as the node keeps it. */
export interface StoredAssignment extends NodeAssignment {
  /** The site and zone the node ran under when the assignment arrived (its state dir was `<dataDir>/<from.site>/<node>`). */
  readonly from: { readonly site: string; readonly zone: string };
  /** True once the state dir is where the assigned site wants it (moved, or nothing to move). */
  readonly moved: boolean;
}

const storedSchema = nodeAssignmentSchema.extend({
  from: z.object({ site: z.string().regex(ID_PATTERN), zone: z.string().regex(ID_PATTERN) }),
  moved: z.boolean(),
});

/** Where the node whose node.yaml says `site`/`id` keeps its assignment (ids hold no dot: the name is unambiguous). */
export function assignmentPath(dataDir: string, nodeYaml: { readonly site: string; readonly id: string }): string {
  return join(dataDir, `assignment.${nodeYaml.site}.${nodeYaml.id}.json`);
}

export function saveAssignment(dataDir: string, nodeYaml: { readonly site: string; readonly id: string }, a: StoredAssignment): void {
  const { site, zone, by, at, from, moved } = a;
  writeFileDurably(assignmentPath(dataDir, nodeYaml), `${JSON.stringify({ site, zone, by, at, from, moved }, null, 2)}\n`);
}

/**
 * The kept assignment, or undefined when there is none. An unreadable file is logged and ignored (the node runs
 * its node.yaml's identity; the hub's retained assignment, while it holds one, arrives again).
 */
export function loadAssignment(
  dataDir: string,
  nodeYaml: { readonly site: string; readonly id: string },
  logger: Logger,
): StoredAssignment | undefined {
  const path = assignmentPath(dataDir, nodeYaml);
  if (!existsSync(path)) return undefined;
  try {
    const parsed = storedSchema.safeParse(JSON.parse(readFileSync(path, 'utf8')));
    if (!parsed.success) throw new Error(parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; '));
    return parsed.data;
  } catch (err) {
    logger.warn(
      { path, err: describeError(err) },
      `identity: ${path} is unreadable (${describeError(err)}); running node.yaml's site and zone`,
    );
    return undefined;
  }
}
