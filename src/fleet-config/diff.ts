// What changes per node between two renders of the configuration repository: every changed leaf with
// its old and new value and the file (layer) that set the new one, nodes added and removed, and whether
// each change applies live or needs a restart (live-keys.ts). Lists whose items have an identity key
// (collectors by name, critical by match, ...) are compared item by item by that key, so removing one
// collector does not show every later one as changed. docs/config-as-code.md "diff and plan".

import { type ApplyMode, HTTP_COLLECTOR_TYPES, liveOrRestart } from './live-keys.js';
import { identityKeyOf } from './merge.js';
import { formatPath } from './tree.js';
import type { Provenance, RenderedNode } from './types.js';

/** One changed leaf of a node's effective config. */
export interface LeafChange {
  /** The leaf's path, list items with an identity key named by it: `collectors[name=detector].topics[0]`. */
  readonly path: string;
  readonly change: 'added' | 'removed' | 'changed';
  /** The old value (absent when added). */
  readonly from?: unknown;
  /** The new value (absent when removed). */
  readonly to?: unknown;
  /** Where the new value was set (for a removed leaf: where the old one was). */
  readonly setBy?: Provenance;
  readonly apply: ApplyMode;
}

export interface NodeDiff {
  readonly nodeId: string;
  readonly status: 'added' | 'removed' | 'changed' | 'unchanged';
  readonly site: string;
  readonly zone: string;
  readonly fromHash?: string;
  readonly toHash?: string;
  /** The changed leaves (for an added or removed node: none; its whole config is new or gone). */
  readonly changes: readonly LeafChange[];
  /** True when at least one change needs a restart. */
  readonly restart: boolean;
}

interface Leaf {
  readonly value: unknown;
  /** The path by list index, as provenance is keyed. */
  readonly indexPath: string;
}

function isMap(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Every leaf (scalar, empty list, empty map) of a config by its display path. An item of a list with an
 * identity key that carries that key is named `[key=value]`; other items by their index.
 */
export function flattenConfig(config: unknown): Map<string, Leaf> {
  const out = new Map<string, Leaf>();
  const walk = (value: unknown, display: string, index: (string | number)[]) => {
    if (Array.isArray(value)) {
      if (value.length === 0) {
        out.set(display, { value: [], indexPath: formatPath(index) });
        return;
      }
      const idKey = identityKeyOf(index);
      const seen = new Set<string>();
      value.forEach((item, i) => {
        const id = idKey !== undefined && isMap(item) ? item[idKey] : undefined;
        const name = typeof id === 'string' || typeof id === 'number' ? `${idKey}=${id}` : undefined;
        const seg = name !== undefined && !seen.has(name) ? `[${name}]` : `[${i}]`;
        if (name !== undefined) seen.add(name);
        walk(item, `${display}${seg}`, [...index, i]);
      });
      return;
    }
    if (isMap(value)) {
      const keys = Object.keys(value);
      if (keys.length === 0 && index.length > 0) {
        out.set(display, { value: {}, indexPath: formatPath(index) });
        return;
      }
      for (const k of keys) walk(value[k], display === '' ? k : `${display}.${k}`, [...index, k]);
      return;
    }
    out.set(display === '' ? '(root)' : display, { value, indexPath: formatPath(index) });
  };
  walk(config, '', []);
  return out;
}

function same(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/** The changed leaves between two effective configs, in the order of the new config (removed ones last). */
export function diffConfig(
  from: Readonly<Record<string, unknown>>,
  to: Readonly<Record<string, unknown>>,
  fromProvenance: Readonly<Record<string, Provenance>> = {},
  toProvenance: Readonly<Record<string, Provenance>> = {},
): LeafChange[] {
  const a = flattenConfig(from);
  const b = flattenConfig(to);
  const out: LeafChange[] = [];
  const setBy = (prov: Readonly<Record<string, Provenance>>, leaf: Leaf) => {
    const p = prov[leaf.indexPath];
    return p === undefined ? {} : { setBy: p };
  };
  for (const [path, leaf] of b) {
    const old = a.get(path);
    if (old === undefined) out.push({ path, change: 'added', to: leaf.value, ...setBy(toProvenance, leaf), apply: liveOrRestart(path) });
    else if (!same(old.value, leaf.value))
      out.push({ path, change: 'changed', from: old.value, to: leaf.value, ...setBy(toProvenance, leaf), apply: liveOrRestart(path) });
  }
  for (const [path, leaf] of a) {
    if (!b.has(path)) out.push({ path, change: 'removed', from: leaf.value, ...setBy(fromProvenance, leaf), apply: liveOrRestart(path) });
  }
  // The node's rule: a change touching a collector that serves HTTP routes (http_push, influx) makes the
  // whole `collectors` key wait for a restart.
  const touchesHttp = out.some((c) => {
    if (!c.path.startsWith('collectors')) return false;
    const leaf = b.get(c.path) ?? a.get(c.path);
    const index = /^collectors\[(\d+)\]/.exec(leaf?.indexPath ?? '')?.[1];
    if (index === undefined) return true;
    const typeIn = (config: Readonly<Record<string, unknown>>) =>
      ((config.collectors as readonly { type?: unknown }[] | undefined)?.[Number(index)]?.type as string | undefined) ?? '';
    return HTTP_COLLECTOR_TYPES.has(typeIn(from)) || HTTP_COLLECTOR_TYPES.has(typeIn(to));
  });
  return touchesHttp ? out.map((c) => (c.path.startsWith('collectors') ? { ...c, apply: 'restart' as const } : c)) : out;
}

/** Per node, what changes from one render of the repository to another; nodes sorted by id. */
export function diffRenderedNodes(from: readonly RenderedNode[], to: readonly RenderedNode[]): NodeDiff[] {
  const before = new Map(from.map((n) => [n.nodeId, n]));
  const after = new Map(to.map((n) => [n.nodeId, n]));
  const ids = [...new Set([...before.keys(), ...after.keys()])].sort();
  return ids.map((nodeId): NodeDiff => {
    const a = before.get(nodeId);
    const b = after.get(nodeId);
    if (a === undefined) {
      const n = b as RenderedNode;
      return { nodeId, status: 'added', site: n.site, zone: n.zone, toHash: n.configHash, changes: [], restart: true };
    }
    if (b === undefined)
      return { nodeId, status: 'removed', site: a.site, zone: a.zone, fromHash: a.configHash, changes: [], restart: false };
    const changes = a.configHash === b.configHash ? [] : diffConfig(a.config, b.config, a.provenance, b.provenance);
    return {
      nodeId,
      status: changes.length === 0 ? 'unchanged' : 'changed',
      site: b.site,
      zone: b.zone,
      fromHash: a.configHash,
      toHash: b.configHash,
      changes,
      restart: changes.some((c) => c.apply === 'restart'),
    };
  });
}

/** A value as diff prints it: strings bare unless empty or spaced, the rest as JSON. */
export function formatValue(v: unknown): string {
  if (v === undefined) return '(none)';
  if (typeof v === 'string') return v === '' || /\s/.test(v) ? JSON.stringify(v) : v;
  return JSON.stringify(v);
}
