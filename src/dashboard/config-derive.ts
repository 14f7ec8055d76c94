// The configuration screens' derivations (pure; config-derive.test.ts): a word, a shape and a tone for each
// node state, the table's filters and counts, the Apply dialog's target preview (the hub's selector rules:
// sites, zones, nodes, states, a glob) and its waves, and the provenance view's rows (each leaf of the
// effective config with the layer and file:line that set it), searchable.

import type { ActionSelector } from '../protocol/api.js';
import type { ConfigNodeRow, ConfigNodeState, ConfigProblem, LeafOrigin } from './config-types.js';

export const CONFIG_STATES: readonly ConfigNodeState[] = [
  'in-sync',
  'pending',
  'pending-restart',
  'failed',
  'offline',
  'unknown-node',
  'removed',
];

export type Tone = 'ok' | 'warn' | 'error' | 'unknown';

/** The word is the state itself; the shape and tone sit beside it (never colour alone). */
export const CONFIG_STATE_MARK: Record<ConfigNodeState, { readonly icon: string; readonly tone: Tone; readonly title: string }> = {
  'in-sync': { icon: '✓', tone: 'ok', title: 'in-sync: the node runs what the last good revision wants' },
  pending: { icon: '…', tone: 'warn', title: 'pending: a new config is published and the node has not reported it yet' },
  'pending-restart': {
    icon: '↻',
    tone: 'warn',
    title: 'pending-restart: applied, but some changed keys take effect only when the agent restarts',
  },
  failed: { icon: '✕', tone: 'error', title: 'failed: the node refused the config it was sent and keeps running its last good one' },
  offline: { icon: '○', tone: 'unknown', title: 'offline: the node is down; its retained config waits for it on the broker' },
  'unknown-node': { icon: '?', tone: 'warn', title: 'unknown-node: the hub hears this node but no repository file defines it' },
  removed: { icon: '–', tone: 'unknown', title: 'removed: the repository no longer defines this node; its config was cleared' },
};

export function isConfigState(s: string): s is ConfigNodeState {
  return (CONFIG_STATES as readonly string[]).includes(s);
}

/** The first 12 hex digits of a hash or commit; "–" for none. */
export function short(h: string | null | undefined): string {
  return h === null || h === undefined || h === '' ? '–' : h.slice(0, 12);
}

/** When the node's current state began as far as the hub knows: its last report, else the last publish. */
export function sinceOf(r: ConfigNodeRow): number | null {
  return r.reported?.at ?? r.published?.at ?? null;
}

export interface ConfigFilter {
  /** Empty: every state. */
  readonly states: readonly string[];
  /** '' : every site. */
  readonly site: string;
}

export function filterConfigNodes(rows: readonly ConfigNodeRow[], f: ConfigFilter): ConfigNodeRow[] {
  return rows.filter((r) => (f.states.length === 0 || f.states.includes(r.state)) && (f.site === '' || r.site === f.site));
}

export function countStates(rows: readonly ConfigNodeRow[]): Record<ConfigNodeState, number> {
  const out = Object.fromEntries(CONFIG_STATES.map((s) => [s, 0])) as Record<ConfigNodeState, number>;
  for (const r of rows) out[r.state]++;
  return out;
}

/** "N nodes in sync" / "2 of 3 nodes in sync, 1 failed" for the page's headline. */
export function syncHeadline(rows: readonly ConfigNodeRow[]): string {
  const defined = rows.filter((r) => r.state !== 'removed' && r.state !== 'unknown-node');
  const c = countStates(rows);
  if (defined.length === 0) return 'No node defined by the repository yet';
  if (c['in-sync'] === defined.length) return `All ${defined.length} ${defined.length === 1 ? 'node' : 'nodes'} in sync`;
  const rest = CONFIG_STATES.filter((s) => s !== 'in-sync' && c[s] > 0).map((s) => `${c[s]} ${s}`);
  return `${c['in-sync']} of ${defined.length} nodes in sync, ${rest.join(', ')}`;
}

/**
 * Why a node counts as drifted, in words: the node.yaml keys a hand edit set, or the unissued hash it runs; null
 * when it does not drift.
 */
export function driftLine(r: Pick<ConfigNodeRow, 'drift' | 'driftReason'>): string | null {
  if (!r.drift) return null;
  const why = r.driftReason;
  if (why === null || why === undefined) return 'runs a config the hub never issued';
  if (why.kind === 'hand-edit')
    return `hand edit of node.yaml: ${why.keys.join(', ')} (${why.keys.length === 1 ? 'differs' : 'differ'} from the repository; not applied)`;
  return `runs hash ${short(why.hash)}, which the hub never issued`;
}

export function problemLine(p: ConfigProblem): string {
  return `${p.file}:${p.line}:${p.col}: ${p.path}: ${p.message}`;
}

// ---- the Apply dialog: which nodes a selector takes, and in which waves ----

/** The hub's glob over "site/node" (src/hub/actions/selection.ts): `*` any run but "/", `?` one such character, `[a-c]`. */
export function globRegExp(glob: string): RegExp {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i] as string;
    if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else if (c === '[') {
      const end = glob.indexOf(']', i + 1);
      if (end < 0) re += '\\[';
      else {
        re += `[${glob.slice(i + 1, end).replace(/\\/g, '\\\\')}]`;
        i = end;
      }
    } else re += c.replace(/[.+^${}()|\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

/** Whether a selector names anything (an empty one means "every node" only with `all`). */
export function selectorIsEmpty(s: ActionSelector): boolean {
  return (
    (s.sites?.length ?? 0) === 0 &&
    (s.zones?.length ?? 0) === 0 &&
    (s.nodes?.length ?? 0) === 0 &&
    (s.states?.length ?? 0) === 0 &&
    (s.match ?? '') === ''
  );
}

/**
 * The nodes an apply with this target touches, as the hub picks them: nodes the last good revision defines
 * (a desired config), every criterion given must hold (sites, zones, "site/node" names, fleet states, a glob);
 * an empty selector takes them all. Sorted by site and node, as the hub's waves are.
 */
export function selectApplyNodes(rows: readonly ConfigNodeRow[], s: ActionSelector): ConfigNodeRow[] {
  const re = (s.match ?? '') === '' ? undefined : globRegExp(s.match as string);
  return rows
    .filter((r) => r.desired !== null)
    .filter(
      (r) =>
        ((s.sites?.length ?? 0) === 0 || (s.sites ?? []).includes(r.site)) &&
        ((s.zones?.length ?? 0) === 0 || (r.zone !== null && (s.zones ?? []).includes(r.zone))) &&
        ((s.nodes?.length ?? 0) === 0 || (s.nodes ?? []).includes(`${r.site}/${r.node}`)) &&
        ((s.states?.length ?? 0) === 0 || (s.states ?? []).includes(r.fleetState ?? 'offline')) &&
        (re === undefined || re.test(`${r.site}/${r.node}`)),
    )
    .sort((a, b) => (a.site < b.site ? -1 : a.site > b.site ? 1 : a.node < b.node ? -1 : a.node > b.node ? 1 : 0));
}

/**
 * The Apply dialog's waves field: "" one wave, "1, 5" the listed sizes then the rest, "each 10" waves of 10.
 * Returns the hub's `waves` value (undefined: one wave) or a sentence saying what is wrong.
 */
export function parseWaves(text: string): { waves: readonly number[] | { size: number } | undefined } | { error: string } {
  const t = text.trim();
  if (t === '') return { waves: undefined };
  const each = /^each\s+(\d+)$/i.exec(t);
  if (each !== null) {
    const size = Number(each[1]);
    return size >= 1 ? { waves: { size } } : { error: 'waves: "each N" needs N of at least 1' };
  }
  const parts = t.split(/[\s,]+/).filter((p) => p !== '');
  if (parts.every((p) => /^\d+$/.test(p) && Number(p) >= 1)) return { waves: parts.map(Number) };
  return { error: `waves: "${t}": write sizes like "1, 5" (then the rest), "each 10", or leave it empty for one wave` };
}

/** The hub's wave plan (ConfigReconciler.planWaves): listed sizes then the rest, or waves of `size`. */
export function planWaves<T>(nodes: readonly T[], waves: readonly number[] | { size: number } | undefined): T[][] {
  if (nodes.length === 0) return [];
  if (waves === undefined) return [[...nodes]];
  const out: T[][] = [];
  let at = 0;
  if (Array.isArray(waves)) {
    for (const size of waves as readonly number[]) {
      if (at >= nodes.length) break;
      out.push(nodes.slice(at, at + size));
      at += size;
    }
  } else {
    const size = (waves as { size: number }).size;
    while (at < nodes.length) {
      out.push(nodes.slice(at, at + size));
      at += size;
    }
  }
  if (at < nodes.length) out.push(nodes.slice(at));
  return out;
}

// ---- the provenance view ----

export interface LeafRow {
  /** fleet-config's path: `store.retention`, `collectors[0].type`. */
  readonly path: string;
  readonly value: unknown;
  /** Where it was set; null when the repository does not say (a value the renderer added). */
  readonly origin: LeafOrigin | null;
  /** Nesting depth, for the indent of the tree. */
  readonly depth: number;
}

function formatPath(path: readonly (string | number)[]): string {
  let out = '';
  for (const part of path) out += typeof part === 'number' ? `[${part}]` : out === '' ? part : `.${part}`;
  return out;
}

/** Every leaf of the effective config (empty lists and maps count as leaves), in the config's order, with its origin. */
export function leafRows(config: Readonly<Record<string, unknown>>, provenance: Readonly<Record<string, LeafOrigin>> | null): LeafRow[] {
  const out: LeafRow[] = [];
  const walk = (v: unknown, path: (string | number)[]) => {
    if (v !== null && typeof v === 'object') {
      const entries: [string | number, unknown][] = Array.isArray(v) ? v.map((x, i) => [i, x]) : Object.entries(v);
      if (entries.length > 0) {
        for (const [k, x] of entries) walk(x, [...path, k]);
        return;
      }
    }
    const p = formatPath(path);
    out.push({ path: p, value: v, origin: provenance?.[p] ?? null, depth: path.length - 1 });
  };
  walk(config, []);
  return out;
}

/** A leaf's value as YAML would show it: strings bare unless they need quotes, lists and maps as JSON. */
export function leafText(v: unknown): string {
  if (typeof v === 'string')
    return /^[\w./:@%+-][\w ./:@%+-]*$/.test(v) && !/^(true|false|null|~|\d+(\.\d+)?)$/i.test(v) ? v : JSON.stringify(v);
  return JSON.stringify(v) ?? String(v);
}

export function originText(o: LeafOrigin | null): string {
  return o === null ? '–' : `${o.layer} · ${o.file}:${o.line}`;
}

/** Rows whose path, value, layer or file contain every word of the query (case-insensitive). */
export function searchLeaves(rows: readonly LeafRow[], query: string): LeafRow[] {
  const words = query
    .toLowerCase()
    .split(/\s+/)
    .filter((w) => w !== '');
  if (words.length === 0) return [...rows];
  return rows.filter((r) => {
    const hay =
      `${r.path} ${leafText(r.value)} ${r.origin === null ? '' : `${r.origin.layer} ${r.origin.file}:${r.origin.line}`}`.toLowerCase();
    return words.every((w) => hay.includes(w));
  });
}

/** Files that set leaves, with how many each: the view's legend ("fleet.yaml 12, sites/north.yaml 2"). */
export function filesOf(rows: readonly LeafRow[]): { file: string; layer: string; leaves: number }[] {
  const m = new Map<string, { file: string; layer: string; leaves: number }>();
  for (const r of rows) {
    if (r.origin === null) continue;
    const e = m.get(r.origin.file) ?? { file: r.origin.file, layer: r.origin.layer, leaves: 0 };
    e.leaves++;
    m.set(r.origin.file, e);
  }
  return [...m.values()];
}
