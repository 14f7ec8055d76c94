// The identity a node runs under: its node.yaml's, or the hub's assignment it keeps [FM-ASSIGN-4]. Applied
// at start before anything reads the identity (the CLI calls resolveAssignedIdentity before the startup config
// and createAgent): the site and zone replace node.yaml's, and when the site changed the state dir
// (`<dataDir>/<site>/<node>`: store, outbox, boot counter, config/) moves to the new site's path first, once,
// so the outbox kept while pending drains under the new identity.

import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, renameSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Logger } from '../../kit/index.js';
import type { NodeIdentityStatus } from '../../protocol/index.js';
import type { AgentConfig } from '../config.js';
import { loadAssignment, type StoredAssignment, saveAssignment } from './assignment-store.js';

/** `config` with the assignment's site and zone (unchanged without one). */
export function withAssignment(config: AgentConfig, a: Pick<StoredAssignment, 'site' | 'zone'> | undefined): AgentConfig {
  if (a === undefined) return config;
  return { ...config, node: { ...config.node, site: a.site, zone: a.zone } };
}

/** The identity for GET /api/v1/config. */
export function identityStatus(
  nodeYaml: AgentConfig['node'],
  running: AgentConfig['node'],
  a: StoredAssignment | undefined,
): NodeIdentityStatus {
  return {
    site: running.site,
    zone: running.zone,
    node: running.id,
    assigned: a === undefined ? null : { site: a.site, zone: a.zone, by: a.by, at: a.at },
    nodeYaml: { site: nodeYaml.site, zone: nodeYaml.zone },
  };
}

function fsyncDir(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * Moves `<dataDir>/<fromSite>/<node>` to `<dataDir>/<toSite>/<node>`. A directory already at the target (the
 * node ran under that site before) is kept aside as `<node>.replaced-<ms>`, never merged nor deleted. Nothing
 * to move (no state dir under the old site): nothing done. One rename, so a crash leaves it in one place.
 */
export function moveStateDir(dataDir: string, node: string, fromSite: string, toSite: string, logger: Logger, now = Date.now()): void {
  if (fromSite === toSite) return;
  const from = join(dataDir, fromSite, node);
  const to = join(dataDir, toSite, node);
  if (!existsSync(from)) return;
  mkdirSync(dirname(to), { recursive: true });
  if (existsSync(to)) {
    const aside = `${to}.replaced-${now}`;
    renameSync(to, aside);
    logger.warn({ to, aside }, `identity: ${to} existed already (this node ran under site ${toSite} before); kept as ${aside}`);
  }
  renameSync(from, to);
  fsyncDir(dirname(to));
  fsyncDir(dirname(from));
  logger.info({ from, to }, `identity: state dir moved from ${from} to ${to} (store, outbox, boot counter)`);
}

/**
 * node.yaml's config (`local`, parsed) with the kept assignment applied: the config to run, and the assignment.
 * Finishes a state dir move an earlier run left undone (kept with `moved: false`, then the dir moved, then
 * `moved: true`).
 */
export function resolveAssignedIdentity(
  local: AgentConfig,
  logger: Logger,
): { config: AgentConfig; assigned: StoredAssignment | undefined } {
  const assigned = loadAssignment(local.dataDir, local.node, logger);
  if (assigned === undefined) return { config: local, assigned };
  if (!assigned.moved) {
    moveStateDir(local.dataDir, local.node.id, assigned.from.site, assigned.site, logger);
    saveAssignment(local.dataDir, local.node, { ...assigned, moved: true });
  }
  logger.info(
    {
      site: assigned.site,
      zone: assigned.zone,
      by: assigned.by,
      at: assigned.at,
      nodeYaml: { site: local.node.site, zone: local.node.zone },
    },
    `identity assigned by the hub: site ${assigned.site} zone ${assigned.zone} (node.yaml says site ${local.node.site} zone ${local.node.zone})`,
  );
  return { config: withAssignment(local, assigned), assigned: { ...assigned, moved: true } };
}
