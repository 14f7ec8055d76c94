// The configuration repository renderer the hub runs (its port ConfigRepoRenderer, src/hub/config-repo/):
// src/fleet-config's parse, validate and render of every node, with the hub's own alert rule loader, so
// the hub refuses exactly what `fieldmesh config validate` refuses. The hub may not import fleet-config
// (it reads the agent's schema); this composition root passes it in.

import { type ConfigRepoProblem, fleetSitesAndZones, parseConfigRepo, validateConfigRepo } from '../fleet-config/index.js';
import type { ConfigRepoRender } from '../hub/index.js';
import { hubAlertFileValidator } from './config.js';

/**
 * Renders a revision's files: every node, the sites and consensus zones the hub watches, or every problem
 * (refused as a whole). Never throws.
 */
export function renderConfigRepoFiles(files: ReadonlyMap<string, string>, label: string): ConfigRepoRender {
  let problems: readonly ConfigRepoProblem[];
  try {
    const repo = parseConfigRepo(files, label);
    const validation = validateConfigRepo(repo, { validateAlertFile: hubAlertFileValidator });
    if (validation.problems.length === 0) {
      const { sites, zones } = fleetSitesAndZones(repo);
      return {
        ok: true,
        nodes: validation.nodes.map((n) => ({
          nodeId: n.nodeId,
          site: n.site,
          zone: n.zone,
          config: n.config,
          configHash: n.configHash,
          provenance: n.provenance,
        })),
        sites,
        zones,
      };
    }
    problems = validation.problems;
  } catch (err) {
    problems = [{ kind: 'syntax', file: label, line: 1, col: 1, path: '(root)', message: (err as Error).message }];
  }
  return { ok: false, problems: problems.map((p) => ({ ...p })) };
}
