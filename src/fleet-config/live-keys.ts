// Which node.yaml settings a running node applies live and which wait for a restart: one table, read by
// `fieldmesh config plan` (src/fleet-config/plan.ts) and by the node's live apply (src/agent/reconcile/).
// docs/config-as-code.md "diff and plan".

import { LIVE_KEYS as AGENT_LIVE_KEYS, HTTP_COLLECTOR_TYPES } from '../agent/index.js';

/** How a node takes a changed setting: at once while running, or at its next start. */
export type ApplyMode = 'live' | 'restart';

/**
 * The settings a running node applies live, as config paths: a path listed here and every path below it
 * (`collectors[2].url`, `critical[0].deadband`). Everything else needs a restart. Deadbands, min intervals
 * and max silences are inside `critical`. The node's own table (src/agent/reconcile/apply-config.ts), so
 * the plan says what the node then does.
 */
export const LIVE_KEYS: readonly string[] = AGENT_LIVE_KEYS;

/**
 * Collector types that serve routes on the node's HTTP server: a change that adds, changes or removes one
 * makes the whole `collectors` key wait for a restart (the node's rule).
 */
export { HTTP_COLLECTOR_TYPES };

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
