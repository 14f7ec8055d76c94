// What the hub needs from the configuration repository's renderer (src/fleet-config), as a port: the hub
// may not import fleet-config (it reads the agent's schema), so the composition root (src/cli/hub.ts, or a
// test) passes `renderConfigRepoFiles` from src/cli/hub-config-repo.ts in HubOverrides.configRepoRenderer.

import type { ConfigLeafOrigin, ConfigRepoProblemView } from '../../protocol/config-api.js';
import type { HubZone } from '../zones/hub-zone-config.js';

export type { ConfigLeafOrigin, ConfigRepoProblemView } from '../../protocol/config-api.js';

/** One node's effective config in a valid revision. */
export interface RenderedNodeConfig {
  readonly nodeId: string;
  readonly site: string;
  readonly zone: string;
  readonly config: Readonly<Record<string, unknown>>;
  /** configHashOf(config) (src/protocol/config-hash.ts). */
  readonly configHash: string;
  readonly provenance: Readonly<Record<string, ConfigLeafOrigin>>;
}

/** A site as the repository describes it (`sites/<site>.yaml`, `site-config-<site>/site.yaml`): hub.yaml `sites:` without zone names. */
export interface RepoSiteConfig {
  readonly id: string;
  readonly name?: string;
  /** WGS 84 degrees; both or neither. */
  readonly lat?: number;
  readonly lon?: number;
  readonly address?: string;
}

/**
 * A revision rendered: every node, and the sites and consensus zones the hub watches (absent: none), when
 * valid; or every problem (refused as a whole).
 */
export type ConfigRepoRender =
  | {
      readonly ok: true;
      readonly nodes: readonly RenderedNodeConfig[];
      readonly sites?: readonly RepoSiteConfig[];
      /** Each consensus zone as hub.yaml `zones:` parses to, with the site of its voters. */
      readonly zones?: readonly HubZone[];
    }
  | { readonly ok: false; readonly problems: readonly ConfigRepoProblemView[] };

/** Renders a repository's files (path relative to its root -> text); never throws for a bad repository. */
export type ConfigRepoRenderer = (files: ReadonlyMap<string, string>, label: string) => ConfigRepoRender;

export function formatConfigProblem(p: ConfigRepoProblemView): string {
  return `${p.file}:${p.line}:${p.col}: ${p.path}: ${p.message}`;
}
