// The node page's services panel from what the hub holds (pure; service-derive.test.ts): each service's up
// value (`fieldmesh_service_up{service}`, a critical series in the node's live values [FM-SERVICE-UP]) and
// its latest `service_*` events (the node's outbox, stored by the hub: GET /api/v1/events). The events give
// the state word, since, restarts, pid and the last exit; the live up value says whether it runs now.

import type { EventView, NodeValueView } from '../protocol/api.js';

export const SERVICE_EVENT_KINDS = ['service_started', 'service_exited', 'service_failed', 'service_healthy', 'service_unhealthy'] as const;
export const SERVICE_UP_SERIES = 'fieldmesh_service_up';

/** The supervisor's states (docs/services.md "States"), and `up`/`down` when only the live value is known. */
export type ServiceWord = 'running' | 'healthy' | 'unhealthy' | 'backoff' | 'stopped' | 'failed' | 'up' | 'down';

export interface ServiceRow {
  readonly name: string;
  readonly state: ServiceWord;
  readonly tone: 'ok' | 'warn' | 'error' | 'unknown';
  readonly icon: string;
  /** The live `fieldmesh_service_up`: true 1, false 0, null when the hub has no value. */
  readonly up: boolean | null;
  /** RFC 3339 time of the event that began the state; null when only the live value is known. */
  readonly since: string | null;
  /** Starts after the first in the agent's life, from the latest `service_started`; null when unknown. */
  readonly restarts: number | null;
  readonly pid: number | null;
  /** The last exit or health result in words ("exit code 3", "HTTP 503"); null when none. */
  readonly detail: string | null;
  /** Every `service_*` event of this service the hub gave, newest first (the "Logs" view). */
  readonly events: readonly EventView[];
}

const MARK: Record<ServiceWord, { icon: string; tone: ServiceRow['tone'] }> = {
  running: { icon: '●', tone: 'ok' },
  healthy: { icon: '✓', tone: 'ok' },
  up: { icon: '●', tone: 'ok' },
  unhealthy: { icon: '▲', tone: 'warn' },
  backoff: { icon: '↻', tone: 'warn' },
  stopped: { icon: '○', tone: 'unknown' },
  down: { icon: '○', tone: 'warn' },
  failed: { icon: '✕', tone: 'error' },
};

function payloadOf(e: EventView): Record<string, unknown> {
  return e.payload !== null && typeof e.payload === 'object' ? (e.payload as Record<string, unknown>) : {};
}

function num(v: unknown): number | null {
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

/** What one event says the service is now. */
function wordOf(e: EventView): ServiceWord | undefined {
  const p = payloadOf(e);
  switch (e.kind) {
    case 'service_started':
      return 'running';
    case 'service_healthy':
      return 'healthy';
    case 'service_unhealthy':
      return 'unhealthy';
    case 'service_exited':
      return p.restartInMs === null || p.restartInMs === undefined ? 'stopped' : 'backoff';
    case 'service_failed':
      return p.restart === true ? 'backoff' : 'failed';
    default:
      return undefined;
  }
}

/** One line for an event, as the "Logs" view lists them. */
export function serviceEventText(e: EventView): string {
  const p = payloadOf(e);
  const by = typeof p.by === 'string' ? ` by ${p.by}` : '';
  switch (e.kind) {
    case 'service_started':
      return `started (pid ${p.pid ?? '?'}, ${p.cause ?? 'start'}${by}), restarts ${p.restarts ?? '?'}`;
    case 'service_exited': {
      const how =
        p.error != null ? `could not start: ${p.error}` : p.signal != null ? `killed by ${p.signal}` : `exit code ${p.code ?? '?'}`;
      const next = num(p.restartInMs);
      return `exited: ${how}${p.expected === true ? ' (asked to stop)' : ''}${next === null ? '' : `, restarts in ${Math.round(next)} ms`}`;
    }
    case 'service_failed':
      return `failed: ${p.reason ?? p.error ?? 'exit'}${p.restart === true ? ', restarting' : ''}`;
    case 'service_healthy':
      return `healthy (${p.detail ?? 'check passed'})`;
    case 'service_unhealthy':
      return `unhealthy: ${p.detail ?? '?'} (${p.failures ?? '?'} failures${p.restarting === true ? ', restarting' : ''})`;
    default:
      return e.kind;
  }
}

function detailOf(e: EventView): string | null {
  const p = payloadOf(e);
  if (e.kind === 'service_exited' || e.kind === 'service_failed') {
    if (typeof p.reason === 'string') return p.reason;
    if (p.error != null) return `could not start: ${String(p.error)}`;
    if (p.signal != null) return `killed by ${String(p.signal)}`;
    return `exit code ${String(p.code ?? '?')}`;
  }
  if (e.kind === 'service_healthy' || e.kind === 'service_unhealthy') return typeof p.detail === 'string' ? p.detail : null;
  return null;
}

const byTimeDesc = (a: EventView, b: EventView) => (a.time < b.time ? 1 : a.time > b.time ? -1 : b.seq - a.seq);

/**
 * Every service the hub knows of on the node: from its live `fieldmesh_service_up` values and its stored
 * `service_*` events (any order), sorted by name. A service whose events say it runs while the live value
 * is 0 (or the reverse) shows the events' word: they are newer than the last sample only by the link's delay,
 * and the panel shows the up value beside it.
 */
export function deriveServices(values: readonly NodeValueView[], events: readonly EventView[]): ServiceRow[] {
  const up = new Map<string, boolean>();
  for (const v of values) {
    if (v.name !== SERVICE_UP_SERIES) continue;
    const name = v.labels.service;
    if (name === undefined) continue;
    up.set(name, v.value === 1);
  }
  const bySvc = new Map<string, EventView[]>();
  for (const e of events) {
    if (!(SERVICE_EVENT_KINDS as readonly string[]).includes(e.kind)) continue;
    const name = payloadOf(e).service;
    if (typeof name !== 'string') continue;
    const list = bySvc.get(name) ?? [];
    if (!list.some((x) => x.id === e.id)) list.push(e);
    bySvc.set(name, list);
  }
  const names = [...new Set([...up.keys(), ...bySvc.keys()])].sort();
  return names.map((name) => {
    const evs = (bySvc.get(name) ?? []).sort(byTimeDesc);
    const latest = evs[0];
    const lastStart = evs.find((e) => e.kind === 'service_started');
    const isUp = up.get(name) ?? null;
    const state: ServiceWord = latest === undefined ? (isUp === true ? 'up' : 'down') : (wordOf(latest) ?? 'up');
    const lastDetail = evs.find((e) => detailOf(e) !== null);
    return {
      name,
      state,
      ...MARK[state],
      up: isUp,
      since: latest?.time ?? null,
      restarts: lastStart === undefined ? null : num(payloadOf(lastStart).restarts),
      pid:
        state === 'stopped' || state === 'failed' || state === 'backoff' || lastStart === undefined ? null : num(payloadOf(lastStart).pid),
      detail: lastDetail === undefined ? null : detailOf(lastDetail),
      events: evs,
    };
  });
}
