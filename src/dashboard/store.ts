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
  SiteInfo,
  ZoneSummary,
} from './types.js';
import { zoneFromMessage } from './zone-derive.js';

export type ConnState = 'connecting' | 'live' | 'reconnecting';

export interface Store {
  me: MeInfo | null;
  meError: string | null;
  nodes: Map<string, NodeInfo>;
  sites: Map<string, SiteInfo>;
  alerts: Map<string, AlertInfo>;
  console: ConsoleInfo | null;
  actions: Map<string, ActionInfo>;
  /** Zone consensus zones by id (GET /api/v1/zones, live `zone` messages); empty on a hub without zones. */
  zones: Map<string, ZoneSummary>;
  events: EventView[];
  conn: ConnState;
  /** Client time (Date.now()) of the last message or ping comment we know of. */
  lastMessageAt: number | null;
  /** The hub's clock minus ours, ms: ages are computed against the hub's time. */
  skewMs: number;
  /** Bumped when the console creates or expires a silence: silence lists reload. */
  silencesVersion: number;
}

export const store: Store = {
  me: null,
  meError: null,
  nodes: new Map(),
  sites: new Map(),
  alerts: new Map(),
  console: null,
  actions: new Map(),
  zones: new Map(),
  events: [],
  conn: 'connecting',
  lastMessageAt: null,
  skewMs: 0,
  silencesVersion: 0,
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

const zoneListeners = new Set<(z: ZoneSummary) => void>();
/** Every zone message as it arrives (the zone page refetches its detail). */
export function onZoneMessage(l: (z: ZoneSummary) => void): () => void {
  zoneListeners.add(l);
  return () => {
    zoneListeners.delete(l);
  };
}

const configListeners = new Set<(m: unknown) => void>();
/** Every live `config` message (a revision accepted or refused, an apply run's progress): the config screens refetch. */
export function onConfigMessage(l: (m: unknown) => void): () => void {
  configListeners.add(l);
  return () => {
    configListeners.delete(l);
  };
}

const registrationListeners = new Set<(m: unknown) => void>();
/** Every live `registration` message (a node asks to join, is approved or rejected): the registrations screens refetch. */
export function onRegistrationMessage(l: (m: unknown) => void): () => void {
  registrationListeners.add(l);
  return () => {
    registrationListeners.delete(l);
  };
}

const eventListeners = new Set<(e: EventView) => void>();
/** Every newly stored event as it arrives (config reports and service events refresh the node page's panels). */
export function onEventMessage(l: (e: EventView) => void): () => void {
  eventListeners.add(l);
  return () => {
    eventListeners.delete(l);
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

export async function refreshZones(): Promise<void> {
  try {
    const r = await api.get<{ data: { zones: ZoneSummary[] } }>('/api/v1/zones');
    store.zones.clear();
    for (const z of r.data.zones) store.zones.set(z.zone, z);
    changed();
  } catch {
    // A hub without zones (404) or a passing failure: the zone panels say nothing; the next poll retries.
  }
}

export async function loadConsoleInfo(): Promise<void> {
  try {
    store.console = await api.get<ConsoleInfo>('/api/v1/console');
    changed();
  } catch {
    // The map then shows the sites without the operator's title and site plan.
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
      // Every (re)connect starts with the whole state: nothing missed while away needs a fetch.
      const s = d as LiveSnapshot;
      applyNodes(s.nodes, true);
      store.sites.clear();
      for (const site of s.sites) putSite(site);
      applyAlerts(s.alerts, true);
      // Zones are not in the snapshot: fetched on every (re)connect, kept by `zone` messages after.
      void refreshZones();
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
      for (const l of eventListeners) l(d as EventView);
    },
    alert: (d) => putAlert(d as LiveAlertMessage),
    site: (d) => putSite(d as SiteInfo),
    action: (d) => {
      const a = d as ActionInfo;
      if (typeof a?.id === 'string') store.actions.set(a.id, a);
    },
    config: (d) => {
      for (const l of configListeners) l(d);
    },
    registration: (d) => {
      for (const l of registrationListeners) l(d);
    },
    zone: (d) => {
      const z = zoneFromMessage(d);
      if (z === undefined) return;
      store.zones.set(z.zone, z);
      for (const l of zoneListeners) l(z);
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
    store.conn = 'reconnecting';
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
    void refreshZones();
  }, POLL_INTERVAL_MS);
}
