// The node's own keys in a distributed config: identity must match, and the keys only the device can know
// (broker URL and credentials, TLS files, dataDir, HTTP address, command tokens, how it reconciles) come
// from its own node.yaml, never from the hub. [FM-CONFIG-DIST] LOCAL_CONFIG_KEYS. A secret's `_file` key in a
// distributed config names a file on this node, read here before the schema sees the config.

import { readFileSync } from 'node:fs';
import { FieldmeshError, resolveSecretFiles, SECRET_FILE_SUFFIX } from '../../kit/index.js';
import { LOCAL_CONFIG_KEYS } from '../../protocol/index.js';
import { type AgentConfig, agentConfigSchema } from '../config.js';

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function getPath(root: unknown, path: readonly string[]): unknown {
  let at: unknown = root;
  for (const k of path) {
    if (!isObj(at)) return undefined;
    at = at[k];
  }
  return at;
}

function deletePath(root: Obj, path: readonly string[]): boolean {
  let at: unknown = root;
  for (const k of path.slice(0, -1)) {
    if (!isObj(at)) return false;
    at = at[k];
  }
  const last = path[path.length - 1] as string;
  if (!isObj(at) || !(last in at)) return false;
  delete at[last];
  return true;
}

function setPath(root: Obj, path: readonly string[], value: unknown): void {
  let at: Obj = root;
  for (const k of path.slice(0, -1)) {
    const next = at[k];
    if (!isObj(next)) at[k] = {};
    at = at[k] as Obj;
  }
  at[path[path.length - 1] as string] = value;
}

/** Throws FM_CONFIG_IDENTITY_MISMATCH when `distributed` names another node or site than `local`. */
export function checkConfigIdentity(distributed: Readonly<Obj>, local: Pick<AgentConfig, 'node'>): void {
  const node = distributed.node;
  const id = isObj(node) ? node.id : undefined;
  const site = isObj(node) ? node.site : undefined;
  if (id !== local.node.id || site !== local.node.site) {
    throw new FieldmeshError(
      'FM_CONFIG_IDENTITY_MISMATCH',
      `config is for ${JSON.stringify(site ?? null)}/${JSON.stringify(id ?? null)}, this node is "${local.node.site}"/"${local.node.id}"`,
      { details: { expected: { site: local.node.site, id: local.node.id }, got: { site: site ?? null, id: id ?? null } } },
    );
  }
}

/**
 * `distributed` with every local key replaced by the node's own value from `local` (its node.yaml with
 * environment overrides, parsed): a key the node does not set stays unset (its default). Returns the merged
 * raw config and the local keys the distributed config tried to set (ignored: a warning in the report).
 */
export function mergeLocalKeys(distributed: Readonly<Obj>, local: AgentConfig): { config: Obj; ignored: string[] } {
  const config = structuredClone(distributed) as Obj;
  const ignored: string[] = [];
  for (const key of LOCAL_CONFIG_KEYS) {
    const path = key.split('.');
    if (deletePath(config, path)) ignored.push(key);
    // Its `_file` form (mqtt.password_file) is the node's own as well.
    const fileKey = `${key}${SECRET_FILE_SUFFIX}`;
    if (deletePath(config, fileKey.split('.'))) ignored.push(fileKey);
    const own = getPath(local, path);
    if (own !== undefined) setPath(config, path, structuredClone(own));
  }
  return { config, ignored };
}

/** A config problem as the node's report carries it: the dotted path (`collectors.0.token_file`) and why. */
export interface DistributedConfigProblem {
  readonly path: string;
  readonly message: string;
}

/**
 * A distributed config as this node runs it: its local keys from `local` (mergeLocalKeys), the files its
 * secrets' `_file` keys name read from this node's disk, validated by agentConfigSchema. Every problem at once.
 */
export function parseDistributedConfig(
  distributed: Readonly<Obj>,
  local: AgentConfig,
): { success: true; data: AgentConfig; ignored: string[] } | { success: false; problems: DistributedConfigProblem[] } {
  const { config, ignored } = mergeLocalKeys(distributed, local);
  const files = resolveSecretFiles(config, { read: (path) => readFileSync(path, 'utf8') });
  const problems: DistributedConfigProblem[] = files.problems.map((p) => ({ path: p.path.map(String).join('.'), message: p.message }));
  const parsed = agentConfigSchema.safeParse(files.value);
  if (!parsed.success)
    problems.push(...parsed.error.issues.map((i) => ({ path: i.path.map(String).join('.') || '(root)', message: i.message })));
  return parsed.success && problems.length === 0 ? { success: true, data: parsed.data, ignored } : { success: false, problems };
}
