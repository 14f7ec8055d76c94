// The layered merge: maps merge deeply, scalars replace, lists follow their tag: `!replace` (default),
// `!append` (earlier items, then these), `!merge` (items matched by their identity key and merged
// deeply; `{name: x, $delete: true}` removes x). Every problem names the file, line and path.

import { formatPath, type ListTree, type MapTree, type Tree } from './tree.js';
import type { ConfigRepoProblem } from './types.js';

/** The key that identifies an item of a list, by the list's own key: collectors and services by name, ... */
export const LIST_IDENTITY_KEYS: Readonly<Record<string, string>> = {
  collectors: 'name',
  services: 'name',
  cameras: 'id',
  pumps: 'id',
  zones: 'id',
  critical: 'match',
};

export const DELETE_KEY = '$delete';

type Path = (string | number)[];

/** The identity key of the list at `path` (its last named segment), or undefined when it has none. */
export function identityKeyOf(path: readonly (string | number)[]): string | undefined {
  for (let i = path.length - 1; i >= 0; i--) {
    const part = path[i];
    if (typeof part === 'string') return LIST_IDENTITY_KEYS[part];
  }
  return undefined;
}

/**
 * Merges `over` onto `base` (either may be a whole file's tree or a sub-tree at `path`); problems are
 * appended to `problems`. With no base, `over` is still normalised: its `!merge` lists checked, its
 * `$delete` items dropped.
 */
export function mergeTrees(base: Tree | undefined, over: Tree, path: Path, problems: ConfigRepoProblem[]): Tree {
  if (over.kind === 'map') {
    const entries = new Map<string, Tree>(base?.kind === 'map' ? base.entries : []);
    const keys = new Map(base?.kind === 'map' ? base.keys : []);
    for (const [k, v] of over.entries) {
      entries.set(k, mergeTrees(entries.get(k), v, [...path, k], problems));
      const keyAt = over.keys.get(k);
      if (keyAt !== undefined) keys.set(k, keyAt);
    }
    return { kind: 'map', entries, keys, at: over.at };
  }
  if (over.kind === 'scalar') return over;
  return mergeList(base?.kind === 'list' ? base : undefined, over, path, problems);
}

function problem(problems: ConfigRepoProblem[], tree: Tree, path: Path, message: string): void {
  problems.push({ kind: 'list-merge', file: tree.at.file, line: tree.at.line, col: tree.at.col, path: formatPath(path), message });
}

function isDeleteItem(item: Tree): item is MapTree {
  return item.kind === 'map' && item.entries.has(DELETE_KEY);
}

function mergeList(base: ListTree | undefined, over: ListTree, path: Path, problems: ConfigRepoProblem[]): ListTree {
  if (over.mode !== 'merge') {
    const own: Tree[] = [];
    over.items.forEach((item, i) => {
      if (isDeleteItem(item))
        problem(problems, item, [...path, i], `${DELETE_KEY} works only in a !merge list; this list is !${over.mode}`);
      else own.push(item);
    });
    const kept = over.mode === 'append' && base !== undefined ? [...base.items] : [];
    const items = [...kept, ...own.map((item, i) => mergeTrees(undefined, item, [...path, kept.length + i], problems))];
    return { kind: 'list', items, mode: over.mode, at: over.at };
  }
  const key = identityKeyOf(path);
  if (key === undefined) {
    problem(
      problems,
      over,
      path,
      `!merge needs items with an identity key, and this list has none (${Object.entries(LIST_IDENTITY_KEYS)
        .map(([list, k]) => `${list} by ${k}`)
        .join(', ')}); use !replace or !append`,
    );
    return {
      kind: 'list',
      items: over.items.map((item, i) => mergeTrees(undefined, item, [...path, i], problems)),
      mode: 'replace',
      at: over.at,
    };
  }
  const identity = (item: Tree, at: Path, which: string): string | undefined => {
    const id = item.kind === 'map' ? item.entries.get(key) : undefined;
    if (id?.kind === 'scalar' && id.value !== null && id.value !== '') return String(id.value);
    problem(problems, item, at, `an item of a !merge list needs its ${key} (${which}); add ${key}: to it`);
    return undefined;
  };
  // Items with their identity (undefined: missing, reported); a later item merges into the first of its id.
  let items: { id: string | undefined; tree: Tree }[] = (base?.items ?? []).map((tree, i) => ({
    id: identity(tree, [...path, i], 'an earlier layer gives one without it'),
    tree,
  }));
  over.items.forEach((item, i) => {
    const id = identity(item, [...path, i], 'this item has none');
    if (id === undefined) return;
    if (isDeleteItem(item)) {
      const flag = item.entries.get(DELETE_KEY);
      if (flag?.kind !== 'scalar' || flag.value !== true) {
        problem(problems, flag ?? item, [...path, i, DELETE_KEY], `${DELETE_KEY} takes true`);
        return;
      }
      const extra = [...item.entries.keys()].filter((k) => k !== key && k !== DELETE_KEY);
      if (extra.length > 0)
        problem(problems, item, [...path, i], `an item with ${DELETE_KEY} holds only its ${key}, not ${extra.join(', ')}`);
      items = items.filter((e) => e.id !== id);
      return;
    }
    const found = items.findIndex((e) => e.id === id);
    if (found >= 0) items[found] = { id, tree: mergeTrees(items[found]?.tree, item, [...path, found], problems) };
    else items.push({ id, tree: mergeTrees(undefined, item, [...path, items.length], problems) });
  });
  return { kind: 'list', items: items.map((e) => e.tree), mode: 'merge', at: over.at };
}

/** Merges layers in order (earliest first). */
export function mergeLayers(layers: readonly Tree[], problems: ConfigRepoProblem[]): Tree | undefined {
  let out: Tree | undefined;
  for (const layer of layers) out = mergeTrees(out, layer, [], problems);
  return out;
}
