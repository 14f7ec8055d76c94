// Small shared pieces: state and health badges (a word and a shape beside every colour), ages that tick,
// sortable table headers, inline error lines.

import type { ComponentChildren } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { formatAge, formatDuration } from '../format.js';
import { ageOf, hubNow } from '../store.js';
import type { Health, NodeStateName } from '../types.js';

let tickers = new Set<() => void>();
let tickTimer: ReturnType<typeof setInterval> | undefined;

/** Re-renders the caller every second: ages count up client-side between messages. */
export function useNow(): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const l = () => setNow(Date.now());
    tickers.add(l);
    if (tickTimer === undefined)
      tickTimer = setInterval(() => {
        for (const t of tickers) t();
      }, 1000);
    return () => {
      tickers.delete(l);
      if (tickers.size === 0 && tickTimer !== undefined) {
        clearInterval(tickTimer);
        tickTimer = undefined;
        tickers = new Set();
      }
    };
  }, []);
  return now;
}

const STATE_ICON: Record<NodeStateName, string> = { online: '●', stale: '◐', offline: '○', unknown: '?' };
const STATE_TITLE: Record<NodeStateName, string> = {
  online: 'online: heard within its heartbeat',
  stale: 'stale: silent longer than its heartbeat allows, not yet declared offline',
  offline: 'offline: its last will arrived or it has been silent too long',
  unknown: 'unknown: not heard since the hub started',
};

/**
 * A node's state; with `certificate` (the nodes API's, hub.yaml `pki`), an expired or revoked certificate is said
 * beside it: such a node is shut out by the broker, not merely offline (docs/pki.md "Expiry alerts").
 */
export function StateBadge({ state, certificate }: { state: NodeStateName; certificate?: string | null | undefined }) {
  const shut = certificate === 'expired' || certificate === 'revoked';
  return (
    <span class={`state ${state}`} title={STATE_TITLE[state]}>
      <span aria-hidden="true">{STATE_ICON[state]}</span> {state}
      {shut ? (
        <span class="certificate-state" data-certificate={certificate} title={`its certificate of the fleet CA is ${certificate}`}>
          {' '}
          · certificate {certificate}
        </span>
      ) : null}
    </span>
  );
}

const HEALTH_ICON: Record<Health, string> = { green: '✓', warn: '▲', error: '✕' };
export const HEALTH_WORD: Record<Health, string> = { green: 'OK', warn: 'warning', error: 'error' };

export function HealthBadge({ health }: { health: Health }) {
  return (
    <span class={`health ${health}`} data-health={health}>
      <span aria-hidden="true">{HEALTH_ICON[health]}</span> {HEALTH_WORD[health]}
    </span>
  );
}

/** "3 min ago" for an RFC 3339 time, ticking; the exact time on hover. */
export function Age({ time, prefix }: { time: string | null | undefined; prefix?: string }) {
  useNow();
  const ms = ageOf(time);
  return (
    <span class="age" title={time ?? 'never'}>
      {prefix}
      {formatAge(ms)}
    </span>
  );
}

/** "in 9 min" until an RFC 3339 time, ticking; "now" once it has passed. */
export function Until({ time }: { time: string }) {
  useNow();
  const ms = Date.parse(time) - hubNow();
  return (
    <span class="age" title={time}>
      {ms > 1000 ? `in ${formatDuration(ms)}` : 'now'}
    </span>
  );
}

/**
 * A health reason's text without the age the hub wrote into it ("bess-02 offline for 4 min"): that age
 * is as of the answer, so the console shows a ticking one from `since` instead.
 */
export function reasonText(text: string): string {
  return text.replace(/ for \d+(\.\d+)? ?(ms|s|sec|min|m|h|d)( \d+ ?(s|min|m|h))?/, '');
}

/** "12 min" since an RFC 3339 time, ticking. */
export function Since({ time }: { time: string | null | undefined }) {
  useNow();
  return (
    <span class="age" title={time ?? ''}>
      {formatDuration(ageOf(time))}
    </span>
  );
}

export function ErrorLine({ error }: { error: string | null | undefined }) {
  if (error === null || error === undefined || error === '') return null;
  return (
    <p class="error-line" role="alert">
      <span aria-hidden="true">✕ </span>
      {error}
    </p>
  );
}

export function Empty({ children }: { children: ComponentChildren }) {
  return <p class="empty">{children}</p>;
}

export interface Sort<K extends string> {
  readonly key: K;
  readonly dir: 1 | -1;
}

export function SortHeader<K extends string>(props: { label: string; k: K; sort: Sort<K>; onSort: (s: Sort<K>) => void; num?: boolean }) {
  const active = props.sort.key === props.k;
  return (
    <th class={props.num ? 'num' : undefined} aria-sort={active ? (props.sort.dir === 1 ? 'ascending' : 'descending') : 'none'}>
      <button type="button" class="sort" onClick={() => props.onSort({ key: props.k, dir: active ? (props.sort.dir === 1 ? -1 : 1) : 1 })}>
        {props.label}
        <span aria-hidden="true" class="sort-mark">
          {active ? (props.sort.dir === 1 ? '▲' : '▼') : ''}
        </span>
      </button>
    </th>
  );
}
