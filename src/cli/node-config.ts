// `fieldmesh node`'s config at start and its standalone reconciliation: which config it runs (node.yaml, or
// the last good distributed config with node.yaml's local keys), and how it renders itself from a repository
// clone (fleet-config's loadConfigRepo + renderValidConfigRepo; the agent does not import fleet-config, so
// the CLI, its composition root, passes this renderer in). docs/config-as-code.md "Reconciliation on the node".

import type { AgentConfig, ConfigSource, RenderSelf } from '../agent/index.js';
import { loadConfigRepo, renderValidConfigRepo } from '../fleet-config/index.js';
import { FieldmeshError } from '../kit/index.js';
import { desiredConfigOf } from '../protocol/index.js';

/** `--config-source` values. */
export const CONFIG_SOURCES: readonly ConfigSource[] = ['hub', 'repo', 'file'];

/** Renders the node `local.node` from the repository at `dir` (the whole repository must validate). */
export function repoRenderer(local: Pick<AgentConfig, 'node'>): RenderSelf {
  return (dir, commit) => {
    const nodes = renderValidConfigRepo(loadConfigRepo(dir));
    const self = nodes.find((n) => n.nodeId === local.node.id);
    if (self === undefined) {
      throw new FieldmeshError(
        'FM_FLEET_CONFIG_NODE_UNKNOWN',
        `no node "${local.node.id}" in ${dir} (nodes: ${nodes.map((n) => n.nodeId).join(', ') || 'none'})`,
        {
          details: { node: local.node.id },
        },
      );
    }
    return desiredConfigOf(self.config, {
      commit,
      source: commit === null ? `dir:${dir}` : `git:${dir}`,
      issuedAt: Date.now(),
    });
  };
}
