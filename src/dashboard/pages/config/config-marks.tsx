// Small pieces of the configuration screens: a node's config state as a word and a shape beside its colour,
// and a ticking age for the hub's ms times.

import { useNow } from '../../components/ui.js';
import { MarkBadge } from '../../components/zone-marks.js';
import { CONFIG_STATE_MARK } from '../../config-derive.js';
import type { ConfigNodeState } from '../../config-types.js';
import { formatAge } from '../../format.js';
import { hubNow } from '../../store.js';

export function ConfigStateBadge({ state }: { state: ConfigNodeState }) {
  const m = CONFIG_STATE_MARK[state];
  return <MarkBadge mark={{ cls: m.tone, icon: m.icon, word: state }} state={state} testid="config-state" title={m.title} />;
}

/** "3 s ago" for a time in ms since the epoch, against the hub's clock, ticking. */
export function AgoMs({ at }: { at: number | null | undefined }) {
  useNow();
  if (at === null || at === undefined) return <span class="age">never</span>;
  return (
    <span class="age" title={new Date(at).toISOString()}>
      {formatAge(Math.max(0, hubNow() - at))}
    </span>
  );
}
