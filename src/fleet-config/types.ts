// The shapes the configuration repository hands to its users (CLI, hub, nodes): layers, provenance,
// problems and rendered nodes. See docs/config-as-code.md.

import type { AgentConfig } from '../agent/index.js';

/** The layers in merge order: fleet, zone, site, node (later wins). */
export type LayerName = 'fleet' | 'zone' | 'site' | 'node';
export const LAYER_ORDER: readonly LayerName[] = ['fleet', 'zone', 'site', 'node'];

/** How a list of a later layer meets the list of an earlier one (YAML tags `!replace`, `!append`, `!merge`). */
export type ListMode = 'replace' | 'append' | 'merge';

/** Where a value was set: its layer, the file (relative to the repository root), line and column (1-based). */
export interface Provenance {
  readonly layer: LayerName;
  readonly file: string;
  readonly line: number;
  readonly col: number;
}

/** What kind of mistake a problem is; tests and tools match on it, people read the message. */
export type ConfigRepoProblemKind =
  | 'syntax'
  | 'schema'
  | 'unknown-key'
  | 'list-merge'
  | 'identity'
  | 'duplicate-node'
  | 'zone'
  | 'alerts'
  | 'site';

/** One problem of a repository, printed as `file:line:col: path: message`. */
export interface ConfigRepoProblem {
  readonly kind: ConfigRepoProblemKind;
  readonly file: string;
  readonly line: number;
  readonly col: number;
  /** The config path the problem is about (`collectors[0].url`), `(root)` for the whole file. */
  readonly path: string;
  readonly message: string;
  /** The node whose merged config showed the problem, for problems found while validating one node. */
  readonly node?: string;
}

/** A site's metadata for the hub (hub.yaml `sites:` shape), from `sites/<site>.yaml` or `site-config-<site>/site.yaml`. */
export interface SiteMetadata {
  readonly id: string;
  readonly name?: string;
  readonly lat?: number;
  readonly lon?: number;
  readonly address?: string;
}

/** A Prometheus rule file of the repository, for the hub to load with its own rule-file loader. */
export interface AlertRuleFile {
  /** Path relative to the repository root. */
  readonly file: string;
  readonly text: string;
}

/** One node's effective configuration. */
export interface RenderedNode {
  readonly nodeId: string;
  readonly site: string;
  readonly zone: string;
  /** The merged config as node.yaml would hold it (before zod defaults). */
  readonly config: Readonly<Record<string, unknown>>;
  /** The zod-parsed form (defaults filled in, durations in ms); undefined when the config is invalid. */
  readonly parsed: AgentConfig | undefined;
  /** Every leaf's provenance, keyed by path (`collectors[1].url`, `store.retention`). */
  readonly provenance: Readonly<Record<string, Provenance>>;
  /** SHA-256 (hex) of the canonical JSON of `config`: what the hub distributes and the node reports. */
  readonly configHash: string;
  /** This node's problems (merge, schema), each mapped back to the file that set the offending value. */
  readonly problems: readonly ConfigRepoProblem[];
}
