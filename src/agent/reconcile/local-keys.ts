// The node's own keys in a distributed config: identity must match, and the keys only the device can know
// (broker URL and credentials, TLS files, dataDir, HTTP address, command tokens, how it reconciles) come
// from its own node.yaml, never from the hub. [FM-CONFIG-DIST] LOCAL_CONFIG_KEYS.

import { FieldmeshError } from '../../kit/index.js';
import { LOCAL_CONFIG_KEYS } from '../../protocol/index.js';
import type { AgentConfig } from '../config.js';

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
    const own = getPath(local, path);
    if (own !== undefined) setPath(config, path, structuredClone(own));
  }
  return { config, ignored };
}
