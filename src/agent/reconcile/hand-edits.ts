// Hand edits of node.yaml on a node that runs a distributed config: node.yaml then only contributes its local keys
// (local-keys.ts), so any other key it sets differently from the running config is an edit that does not run. Which
// top-level keys differ, and a debounced watch of the file that re-reads it on every change.
// docs/config-as-code.md "Hand edits of node.yaml".

import { type FSWatcher, watch } from 'node:fs';
import { basename, dirname } from 'node:path';
import { type Clock, describeError, type Logger, type TimerHandle } from '../../kit/index.js';
import { canonicalJson, LOCAL_CONFIG_KEYS } from '../../protocol/index.js';
import type { AgentConfig } from '../config.js';

/** Changes to node.yaml closer together than this are read once: an editor's save is several writes and a rename. */
export const NODE_YAML_DEBOUNCE_MS = 250;

/**
 * Top-level keys that are never hand edits: `node` is the node's identity (checked on its own; the hub may
 * assign site and zone), and the local keys are node.yaml's to set.
 */
const NOT_COMPARED = new Set(['node']);

/** node.yaml as the node reads it again. */
export interface LocalConfigRead {
  /** What the file itself sets (its YAML as data, before defaults), to tell the keys it sets from defaults. */
  readonly raw: Readonly<Record<string, unknown>>;
  /** The file with the environment's overrides, parsed and validated as at start. */
  readonly config: AgentConfig;
}

/** node.yaml, for the node's reconciliation: where it is, and how to read it again. */
export interface LocalConfigFile {
  readonly path: string;
  /** Reads and validates the file again; throws (a FieldmeshError naming file, line and path) when it does not. */
  read(): LocalConfigRead;
}

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function at(root: unknown, path: readonly string[]): unknown {
  let v = root;
  for (const k of path) {
    if (!isObj(v)) return undefined;
    v = v[k];
  }
  return v;
}

function isLocal(path: readonly string[]): boolean {
  const dotted = path.join('.');
  return LOCAL_CONFIG_KEYS.some((k) => dotted === k || dotted.startsWith(`${k}.`));
}

/** Paths of the values a raw config sets: maps are walked, a list or a scalar is one value. */
function setPaths(value: unknown, path: string[], out: string[][]): void {
  if (isObj(value)) {
    for (const [k, v] of Object.entries(value)) setPaths(v, [...path, k], out);
    return;
  }
  if (value !== undefined && value !== null) out.push(path);
}

/**
 * The top-level keys (sorted) under which node.yaml sets a value that differs from the running distributed
 * config: for every value the file sets (`raw`; its local keys and `node` aside), the parsed value (`local`:
 * durations in ms, defaults filled in, lists whole) against the running one's at the same path.
 */
export function handEditedKeys(raw: Readonly<Record<string, unknown>>, local: AgentConfig, running: AgentConfig): string[] {
  const keys = new Set<string>();
  for (const [key, value] of Object.entries(raw)) {
    if (NOT_COMPARED.has(key) || isLocal([key])) continue;
    const paths: string[][] = [];
    setPaths(value, [key], paths);
    for (const path of paths) {
      if (isLocal(path)) continue;
      if (canonicalJson(at(local, path) ?? null) !== canonicalJson(at(running, path) ?? null)) {
        keys.add(key);
        break;
      }
    }
  }
  return [...keys].sort();
}

/**
 * Calls `onChange` once the file at `path` has stopped changing for `debounceMs` after a change (written in place,
 * replaced by a rename, removed). The folder is watched, not the file: an editor's save replaces the file's inode.
 * Returns the stop.
 */
export function watchLocalFile(
  path: string,
  onChange: () => void,
  deps: { readonly clock: Pick<Clock, 'setTimeout' | 'clearTimeout'>; readonly logger: Logger; readonly debounceMs?: number },
): () => void {
  const name = basename(path);
  let timer: TimerHandle | undefined;
  let watcher: FSWatcher | undefined;
  try {
    watcher = watch(dirname(path), { persistent: false }, (_event, file) => {
      if (file !== null && file !== name) return;
      if (timer !== undefined) deps.clock.clearTimeout(timer);
      timer = deps.clock.setTimeout(() => {
        timer = undefined;
        onChange();
      }, deps.debounceMs ?? NODE_YAML_DEBOUNCE_MS);
    });
    watcher.on('error', (err) => deps.logger.warn({ path, err: describeError(err) }, 'config: watching node.yaml failed'));
  } catch (err) {
    deps.logger.warn({ path, err: describeError(err) }, 'config: node.yaml cannot be watched; hand edits are seen at the next start only');
  }
  return () => {
    if (timer !== undefined) deps.clock.clearTimeout(timer);
    watcher?.close();
  };
}
