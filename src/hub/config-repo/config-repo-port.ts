// What the hub needs from the configuration repository's renderer (src/fleet-config), as a port: the hub
// may not import fleet-config (it reads the agent's schema), so the composition root (src/cli/hub.ts, or a
// test) passes `renderConfigRepoFiles` from src/cli/hub-config-repo.ts in HubOverrides.configRepoRenderer.

import type { ConfigLeafOrigin, ConfigRepoProblemView } from '../../protocol/config-api.js';

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

/** A revision rendered: every node (valid), or every problem (refused as a whole). */
export type ConfigRepoRender =
  | { readonly ok: true; readonly nodes: readonly RenderedNodeConfig[] }
  | { readonly ok: false; readonly problems: readonly ConfigRepoProblemView[] };

/** Renders a repository's files (path relative to its root -> text); never throws for a bad repository. */
export type ConfigRepoRenderer = (files: ReadonlyMap<string, string>, label: string) => ConfigRepoRender;

export function formatConfigProblem(p: ConfigRepoProblemView): string {
  return `${p.file}:${p.line}:${p.col}: ${p.path}: ${p.message}`;
}
