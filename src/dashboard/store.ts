// The console's one store: what the hub told us (nodes, sites, alerts, overview, actions), kept fresh by
// the live feed (/api/v1/live) with slow polls as a safety net, and the hub's clock as we estimate it.

import { useEffect, useState } from 'preact/hooks';
import { ApiError, api, setCsrfToken } from './api.js';
import type {
  ActionInfo,
  AlertInfo,
  ConsoleInfo,
  EventView,
  LiveAlertMessage,
  LiveSnapshot,
  MeInfo,
  NodeInfo,
  OverviewInfo,
  SiteInfo,
} from './types.js';

export type ConnState = 'connecting' | 'live' | 'reconnecting';

export interface Store {
  me: MeInfo | null;
  meError: string | null;
  nodes: Map<string, NodeInfo>;
  sites: Map<string, SiteInfo>;
  alerts: Map<string, AlertInfo>;
  overview: OverviewInfo | null;
  console: ConsoleInfo | null;
  actions: Map<string, ActionInfo>;
  events: EventView[];
  conn: ConnState;
  /** Client time (Date.now()) of the last message or ping comment we know of. */
  lastMessageAt: number | null;
  /** The hub's clock minus ours, ms: ages are computed against the hub's time. */
  skewMs: number;
  /** Bumped when the console creates or expires a silence: silence lists reload. */
  silencesVersion: number;
  /** Which optional routes this hub has (false once it answered 404). */
  has: { overview: boolean; console: boolean };
}

export const store: Store = {
  me: null,
  meError: null,
  nodes: new Map(),
  sites: new Map(),
  alerts: new Map(),
  overview: null,
  console: null,
  actions: new Map(),
  events: [],
  conn: 'connecting',
  lastMessageAt: null,
  skewMs: 0,
  silencesVersion: 0,
  has: { overview: true, console: true },
};

const MAX_EVENTS = 100;
/** Polls repair anything a dropped live message missed; the feed does the real work. */
const POLL_INTERVAL_MS = 30_000;

export function nodeKey(site: string, node: string): string {
  return `${site}/${node}`;
}

/** The hub's "now", ms since the epoch. */
export function hubNow(): number {
  return Date.now() + store.skewMs;
}

/** Age of an RFC 3339 time against the hub's clock; null for a missing time. */
export function ageOf(time: string | null | undefined): number | null {
  if (time === null || time === undefined) return null;
  const t = Date.parse(time);
  return Number.isFinite(t) ? Math.max(0, hubNow() - t) : null;
}

let skewSamples = 0;
function noteSkew(serverNowMs: number): void {
  const sample = serverNowMs - Date.now();
  // The first few samples set it; later ones only nudge it (network delay jitters each one).
  store.skewMs = skewSamples < 3 ? sample : store.skewMs * 0.8 + sample * 0.2;
  skewSamples++;
}

function noteNodeClock(n: NodeInfo): void {
  if (n.lastHeard !== null && n.lastHeardAgeMs !== null && n.lastHeardAgeMs !== undefined) {
    const t = Date.parse(n.lastHeard);
    if (Number.isFinite(t)) noteSkew(t + n.lastHeardAgeMs);
  }
}

// ---- change notification: many messages per frame, one render ----

const listeners = new Set<() => void>();
let scheduled = false;
let version = 0;

export function changed(): void {
  version++;
  if (scheduled) return;
  scheduled = true;
  const run = () => {
    scheduled = false;
    for (const l of [...listeners]) l();
  };
  if (typeof requestAnimationFrame === 'function' && document.visibilityState === 'visible') requestAnimationFrame(run);
  else setTimeout(run, 50);
}

/** Re-renders the calling component whenever the store changes. */
export function useStore(): Store {
  const [, setV] = useState(version);
  useEffect(() => {
    const l = () => setV(version);
    listeners.add(l);
    return () => {
      listeners.delete(l);
    };
  }, []);
  return store;
}

const nodeListeners = new Set<(n: NodeInfo) => void>();
/** Every node message as it arrives (charts append live values). */
export function onNodeMessage(l: (n: NodeInfo) => void): () => void {
  nodeListeners.add(l);
  return () => {
    nodeListeners.delete(l);
  };
}

// ---- applying what the hub says ----

function putNode(n: NodeInfo): void {
  const key = nodeKey(n.site, n.node);
  const old = store.nodes.get(key);
  // A node message may come without values; keep the ones we had.
  store.nodes.set(key, n.values === undefined && old?.values !== undefined ? { ...n, values: old.values } : n);
  noteNodeClock(n);
}

export function applyNodes(nodes: readonly NodeInfo[], replace: boolean): void {
  if (replace) store.nodes.clear();
  for (const n of nodes) putNode(n);
  changed();
}

function putAlert(a: LiveAlertMessage): void {
  if (typeof a?.fingerprint !== 'string') return;
  // The store holds what needs attention: pending and firing. `removed`: the hub no longer lists it.
  if (a.state === 'resolved' || a.removed === true) store.alerts.delete(a.fingerprint);
  else store.alerts.set(a.fingerprint, a);
}

export function applyAlerts(alerts: readonly AlertInfo[], replace: boolean): void {
  if (replace) store.alerts.clear();
  for (const a of alerts) putAlert(a);
  changed();
}

function putSite(s: SiteInfo): void {
  if (typeof s?.site !== 'string') return;
  store.sites.set(s.site, { ...store.sites.get(s.site), ...s });
}

export function putAction(a: ActionInfo): void {
  if (typeof a?.id !== 'string') return;
  store.actions.set(a.id, a);
  changed();
}

// ---- loading ----

export async function loadMe(): Promise<void> {
  try {
    const me = await api.get<MeInfo>('/api/v1/auth/me');
    store.me = me;
    setCsrfToken(me.csrfToken);
  } catch (err) {
    // A hub without console auth has no /me: everyone may do everything, as before.
    if (err instanceof ApiError && err.status === 404) store.me = { user: null, role: 'admin', kind: 'none', demo: false };
    else store.meError = err instanceof Error ? err.message : String(err);
  }
  changed();
}

async function optional<T>(flag: keyof Store['has'], url: string): Promise<T | undefined> {
  if (!store.has[flag]) return undefined;
  try {
    return await api.get<T>(url);
  } catch (err) {
    if (err instanceof ApiError && (err.status === 404 || err.status === 405)) store.has[flag] = false;
    return undefined;
  }
}

export async function refreshSites(): Promise<void> {
  try {
    const r = await api.get<{ sites: SiteInfo[] }>('/api/v1/sites');
    const seen = new Set<string>();
    for (const s of r.sites) {
      putSite(s);
      seen.add(s.site);
    }
    for (const k of [...store.sites.keys()]) if (!seen.has(k)) store.sites.delete(k);
    changed();
  } catch {
    // The live feed and the next poll will do.
  }
}

export async function refreshAlerts(): Promise<void> {
  try {
    const r = await api.get<{ data: { alerts: AlertInfo[] } }>('/api/v1/alerts');
    applyAlerts(r.data.alerts, true);
  } catch {
    // As above.
  }
}

export async function refreshOverview(): Promise<void> {
  const o = await optional<OverviewInfo>('overview', '/api/v1/overview');
  if (o !== undefined) {
    store.overview = o;
    if (typeof o.generatedAt === 'string') noteSkew(Date.parse(o.generatedAt));
    changed();
  }
}

export async function loadConsoleInfo(): Promise<void> {
  const c = await optional<ConsoleInfo>('console', '/api/v1/console');
  if (c !== undefined) {
    store.console = c;
    changed();
  }
}

export async function refreshActions(): Promise<void> {
  try {
    const r = await api.get<{ actions: ActionInfo[] } | ActionInfo[]>('/api/v1/actions');
    const list = Array.isArray(r) ? r : (r.actions ?? []);
    for (const a of list) store.actions.set(a.id, a);
    changed();
  } catch {
    // The actions page says so when it matters.
  }
}

// ---- the live feed ----

let source: EventSource | undefined;

function parse(data: string): unknown {
  try {
    return JSON.parse(data);
  } catch {
    return undefined;
  }
}

function seen(): void {
  store.lastMessageAt = Date.now();
  if (store.conn !== 'live') store.conn = 'live';
}

function handlers(): Record<string, (data: unknown) => void> {
  return {
    snapshot: (d) => {
      const s = d as Partial<LiveSnapshot> & { overview?: OverviewInfo; actions?: ActionInfo[] };
      if (Array.isArray(s.nodes)) applyNodes(s.nodes, true);
      if (Array.isArray(s.sites)) {
        store.sites.clear();
        for (const site of s.sites) putSite(site);
      }
      if (Array.isArray(s.alerts)) applyAlerts(s.alerts, true);
      if (s.overview !== undefined) store.overview = s.overview;
      if (Array.isArray(s.actions)) for (const a of s.actions) store.actions.set(a.id, a);
      // A (re)connect may have missed changes: fetch what the snapshot does not carry.
      if (!Array.isArray(s.sites)) void refreshSites();
      if (!Array.isArray(s.alerts)) void refreshAlerts();
      if (s.overview === undefined) void refreshOverview();
    },
    node: (d) => {
      const n = d as NodeInfo;
      if (typeof n?.site !== 'string') return;
      putNode(n);
      for (const l of nodeListeners) l(n);
    },
    event: (d) => {
      store.events.unshift(d as EventView);
      if (store.events.length > MAX_EVENTS) store.events.length = MAX_EVENTS;
    },
    alert: (d) => putAlert(d as LiveAlertMessage),
    site: (d) => putSite(d as SiteInfo),
    overview: (d) => {
      store.overview = d as OverviewInfo;
    },
    action: (d) => {
      const a = d as ActionInfo;
      if (typeof a?.id === 'string') store.actions.set(a.id, a);
    },
  };
}

export function connectLive(): void {
  if (source !== undefined) return;
  source = new EventSource('/api/v1/live');
  source.onopen = () => {
    seen();
    changed();
  };
  source.onerror = () => {
    // EventSource reconnects by itself (the hub asks for 2 s); a 401 closes it for good.
    store.conn = source?.readyState === EventSource.CLOSED ? 'reconnecting' : 'reconnecting';
    if (source?.readyState === EventSource.CLOSED) {
      source = undefined;
      setTimeout(() => {
        void loadMe().then(connectLive);
      }, 5_000);
    }
    changed();
  };
  for (const [type, fn] of Object.entries(handlers())) {
    source.addEventListener(type, (e) => {
      seen();
      const data = parse((e as MessageEvent<string>).data);
      if (data !== undefined) fn(data);
      changed();
    });
  }
}

let polling: ReturnType<typeof setInterval> | undefined;

export function startPolling(): void {
  if (polling !== undefined) return;
  polling = setInterval(() => {
    if (document.visibilityState !== 'visible') return;
    void refreshSites();
    void refreshAlerts();
    void refreshOverview();
  }, POLL_INTERVAL_MS);
}
