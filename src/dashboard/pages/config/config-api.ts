// The configuration screens' calls and their live refresh: the summary and node table (GET /api/v1/config,
// /api/v1/config/nodes), one node's detail, refetched whenever the live feed says something changed (a
// `config` message: a revision accepted or refused, an apply's progress; a `config_applied` /
// `config_rejected` event; a node's state), at most every 300 ms, with a slow poll as a safety net.

import { useEffect, useRef, useState } from 'preact/hooks';
import { api, describeError, seg } from '../../api.js';
import type { ApplyRun, ConfigLiveMessage, ConfigNodeDetail, ConfigNodeRow, ConfigSummary } from '../../config-types.js';
import { onConfigMessage, onEventMessage, onNodeMessage } from '../../store.js';

const DEBOUNCE_MS = 300;
const POLL_MS = 15_000;

export const configApi = {
  summary: () => api.get<{ data: ConfigSummary }>('/api/v1/config').then((r) => r.data),
  nodes: () => api.get<{ data: { nodes: ConfigNodeRow[] } }>('/api/v1/config/nodes').then((r) => r.data.nodes),
  node: (site: string, node: string) =>
    api.get<{ data: ConfigNodeDetail }>(`/api/v1/config/nodes/${seg(site)}/${seg(node)}`).then((r) => r.data),
  sync: () => api.post<{ data: ConfigSummary }>('/api/v1/config/sync').then((r) => r.data),
};

/** Runs `load` now, again (debounced) on every live change that may touch configuration, and every 15 s. */
export function useLiveLoad<T>(load: () => Promise<T>, deps: readonly unknown[], onRun?: (run: ApplyRun) => void) {
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState<string | null>(null);
  const timer = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);
  const runRef = useRef(onRun);
  runRef.current = onRun;
  useEffect(() => {
    let alive = true;
    const now = () =>
      load().then(
        (d) => {
          if (!alive) return;
          setData(d);
          setError(null);
        },
        (err: unknown) => alive && setError(describeError(err)),
      );
    const soon = () => {
      if (timer.current !== undefined) return;
      timer.current = setTimeout(() => {
        timer.current = undefined;
        void now();
      }, DEBOUNCE_MS);
    };
    void now();
    const states = new Map<string, string>();
    const offs = [
      onConfigMessage((m) => {
        const msg = m as ConfigLiveMessage;
        if (msg?.event === 'apply' && msg.run !== undefined) runRef.current?.(msg.run);
        soon();
      }),
      onEventMessage((e) => {
        if (e.kind === 'config_applied' || e.kind === 'config_rejected' || e.kind === 'config_hand_edit') soon();
      }),
      // A node going offline or coming back changes its config state; value updates do not.
      onNodeMessage((n) => {
        const k = `${n.site}/${n.node}`;
        if (states.get(k) !== n.state) {
          if (states.has(k)) soon();
          states.set(k, n.state);
        }
      }),
    ];
    const poll = setInterval(() => {
      if (document.visibilityState === 'visible') void now();
    }, POLL_MS);
    return () => {
      alive = false;
      for (const off of offs) off();
      clearInterval(poll);
      if (timer.current !== undefined) clearTimeout(timer.current);
      timer.current = undefined;
    };
  }, deps);
  return { data, error, reload: () => load().then(setData, (err: unknown) => setError(describeError(err))) };
}
