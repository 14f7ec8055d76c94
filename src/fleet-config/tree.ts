// A configuration file read into a positioned tree: every map, list and scalar knows the layer, file,
// line and column it came from, and every list its merge mode (`!replace` default, `!append`, `!merge`).
// YAML syntax errors, unknown tags and non-string keys become problems, never exceptions.

import { type Document, isAlias, isMap, isScalar, isSeq, LineCounter, type Node, parseDocument } from 'yaml';
import type { ConfigRepoProblem, LayerName, ListMode, Provenance } from './types.js';

export type Tree = MapTree | ListTree | ScalarTree;

export interface MapTree {
  readonly kind: 'map';
  readonly entries: ReadonlyMap<string, Tree>;
  /** Where the map's value starts; `keys` holds where each key is written. */
  readonly at: Provenance;
  readonly keys: ReadonlyMap<string, Provenance>;
}

export interface ListTree {
  readonly kind: 'list';
  readonly items: readonly Tree[];
  readonly mode: ListMode;
  readonly at: Provenance;
}

export interface ScalarTree {
  readonly kind: 'scalar';
  readonly value: string | number | boolean | null;
  readonly at: Provenance;
}

const LIST_TAGS: Readonly<Record<string, ListMode>> = { '!replace': 'replace', '!append': 'append', '!merge': 'merge' };

/** Formats a path as the schemas do: `collectors[2].url`, `(root)` for the whole file. */
export function formatPath(path: readonly (string | number)[]): string {
  let out = '';
  for (const part of path) out += typeof part === 'number' ? `[${part}]` : out === '' ? part : `.${part}`;
  return out === '' ? '(root)' : out;
}

export interface ParsedFile {
  /** The file's tree; undefined when the file is empty or could not be parsed. */
  readonly tree: Tree | undefined;
  readonly problems: readonly ConfigRepoProblem[];
}

/** Parses one YAML file of the repository into a tree; `file` is its path relative to the repository. */
export function parseConfigFile(text: string, file: string, layer: LayerName): ParsedFile {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const problems: ConfigRepoProblem[] = [];
  const pos = (offset: number): Provenance => {
    const { line, col } = lineCounter.linePos(offset);
    return { layer, file, line, col };
  };
  for (const err of doc.errors) {
    const at = pos(err.pos[0]);
    problems.push({ kind: 'syntax', file, line: at.line, col: at.col, path: '(root)', message: err.message.split('\n')[0] ?? err.message });
  }
  if (problems.length > 0) return { tree: undefined, problems };
  if (doc.contents === null) return { tree: undefined, problems };
  const tree = toTree(doc, doc.contents as Node, [], pos, problems, file);
  return { tree, problems };
}

function toTree(
  doc: Document,
  node: Node,
  path: (string | number)[],
  pos: (offset: number) => Provenance,
  problems: ConfigRepoProblem[],
  file: string,
): Tree {
  const at = pos(node.range?.[0] ?? 0);
  const problem = (message: string, where: Provenance = at) =>
    problems.push({ kind: 'syntax', file, line: where.line, col: where.col, path: formatPath(path), message });
  if (isAlias(node)) {
    const target = node.resolve(doc);
    if (target === undefined) {
      problem(`alias *${node.source} names no anchor`);
      return { kind: 'scalar', value: null, at };
    }
    return toTree(doc, target as Node, path, pos, problems, file);
  }
  const tag = node.tag;
  const listMode = tag === undefined ? undefined : LIST_TAGS[tag];
  if (tag !== undefined && !tag.startsWith('tag:yaml.org,2002:')) {
    if (listMode === undefined) problem(`unknown tag ${tag}; lists take !replace, !append or !merge`);
    else if (!isSeq(node)) problem(`${tag} applies to a list, not to ${isMap(node) ? 'a mapping' : 'a scalar'}`);
  }
  if (isMap(node)) {
    const entries = new Map<string, Tree>();
    const keys = new Map<string, Provenance>();
    for (const pair of node.items) {
      const keyNode = pair.key as Node | null;
      const keyAt = pos(keyNode?.range?.[0] ?? node.range?.[0] ?? 0);
      const key = isScalar(keyNode) ? keyNode.value : undefined;
      if (typeof key !== 'string' && typeof key !== 'number') {
        problem('a key must be a plain string', keyAt);
        continue;
      }
      const name = String(key);
      keys.set(name, keyAt);
      const value = pair.value as Node | null;
      entries.set(
        name,
        value === null ? { kind: 'scalar', value: null, at: keyAt } : toTree(doc, value, [...path, name], pos, problems, file),
      );
    }
    return { kind: 'map', entries, keys, at };
  }
  if (isSeq(node)) {
    const items = node.items.map((item, i) =>
      item === null ? ({ kind: 'scalar', value: null, at } as Tree) : toTree(doc, item as Node, [...path, i], pos, problems, file),
    );
    return { kind: 'list', items, mode: listMode ?? 'replace', at };
  }
  if (isScalar(node)) {
    const v = node.value;
    if (v === null || typeof v === 'string' || typeof v === 'boolean') return { kind: 'scalar', value: v, at };
    if (typeof v === 'number') return { kind: 'scalar', value: v, at };
    return { kind: 'scalar', value: String(v), at };
  }
  problem('unsupported YAML node');
  return { kind: 'scalar', value: null, at };
}

/** The tree as plain data (what node.yaml would hold). */
export function toPlain(tree: Tree): unknown {
  if (tree.kind === 'scalar') return tree.value;
  if (tree.kind === 'list') return tree.items.map(toPlain);
  const out: Record<string, unknown> = {};
  for (const [k, v] of tree.entries) out[k] = toPlain(v);
  return out;
}

/** Every leaf (scalar, empty list, empty map) with its path and provenance, in document order. */
export function leaves(tree: Tree, path: (string | number)[] = []): { path: (string | number)[]; at: Provenance; tree: Tree }[] {
  if (tree.kind === 'scalar') return [{ path, at: tree.at, tree }];
  if (tree.kind === 'list') {
    if (tree.items.length === 0) return [{ path, at: tree.at, tree }];
    return tree.items.flatMap((item, i) => leaves(item, [...path, i]));
  }
  if (tree.entries.size === 0) return [{ path, at: tree.at, tree }];
  return [...tree.entries].flatMap(([k, v]) => leaves(v, [...path, k]));
}

/** A map tree without some keys (site metadata, `consensus:`, ...). */
export function withoutKeys(tree: MapTree, drop: readonly string[]): MapTree {
  const entries = new Map([...tree.entries].filter(([k]) => !drop.includes(k)));
  const keys = new Map([...tree.keys].filter(([k]) => !drop.includes(k)));
  return { kind: 'map', entries, keys, at: tree.at };
}
