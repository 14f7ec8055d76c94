// Which node.yaml settings a running node applies live and which wait for a restart: one table, read by
// `fieldmesh config plan` (src/fleet-config/plan.ts) and by the node's live apply (src/agent/reconcile/).
// docs/config-as-code.md "diff and plan".

/** How a node takes a changed setting: at once while running, or at its next start. */
export type ApplyMode = 'live' | 'restart';

/**
 * The settings a running node applies live, as config paths: a path listed here and every path below it
 * (`collectors[2].url`, `critical[0].deadband`, `store.retention`). Everything else needs a restart.
 * Deadbands, min intervals and max silences are inside `critical`.
 */
export const LIVE_KEYS: readonly string[] = ['collectors', 'critical', 'zones', 'services', 'store.retention', 'log.level'];

/** `collectors[2].url` -> ['collectors', 2, 'url']; `(root)` -> []. Identity selectors (`[name=x]`) count as one step. */
function pathParts(path: string): string[] {
  if (path === '(root)' || path === '') return [];
  const out: string[] = [];
  for (const m of path.matchAll(/([^.[\]]+)|\[([^\]]*)\]/g)) out.push(m[1] ?? `[${m[2]}]`);
  return out;
}

/** Whether a changed setting (a config path, as diff and provenance spell it) applies live or needs a restart. */
export function liveOrRestart(path: string): ApplyMode {
  const parts = pathParts(path);
  for (const key of LIVE_KEYS) {
    const live = pathParts(key);
    if (live.length <= parts.length && live.every((p, i) => parts[i] === p)) return 'live';
  }
  return 'restart';
}
