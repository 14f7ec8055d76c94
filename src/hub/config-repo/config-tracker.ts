// Every node's configuration as the hub sees it: what the repository's last good revision wants (desired),
// what the hub has published retained for it, every hash it ever published (to tell a hand edit from an old
// config), and what the node last reported through its outbox (`config_applied` / `config_rejected`
// events). From those and the fleet state, each node's state: in-sync, pending, failed, pending-restart,
// offline, unknown-node (online at the hub, in no repository file) or removed, and drift with its reason (the
// node runs a hash the hub never issued, or its node.yaml sets keys differently from the distributed config it
// runs: hand edits, from its `config_hand_edit` and `config_applied` reports). Pure state: no timers, no I/O.
// docs/config-as-code.md "Reconciliation at the hub".

import {
  CONFIG_NODE_STATES,
  type ConfigDriftReason,
  type ConfigNodeState,
  type ConfigReport,
  type NodeConfigView,
  type PublishedConfig,
} from '../../protocol/config-api.js';
import type { NodeStateName } from '../../protocol/index.js';
import type { RenderedNodeConfig } from './config-repo-port.js';

export { CONFIG_NODE_STATES, type ConfigNodeState } from '../../protocol/config-api.js';

/** Hashes remembered per node as "previously desired" (older ones fall off). */
export const HISTORY_PER_NODE = 50;

export type { ConfigReport, NodeConfigView, PublishedConfig } from '../../protocol/config-api.js';

interface Entry {
  site: string;
  node: string;
  zone: string | null;
  desired: RenderedNodeConfig | undefined;
  desiredCommit: string | null;
  published: PublishedConfig | undefined;
  history: string[];
  reported: ConfigReport | undefined;
  /** The node's newest word on hand edits of its node.yaml (a `config_hand_edit` or `config_applied` report). */
  handEdit: HandEditReport | undefined;
  removed: boolean;
}

/** A node's report of the keys its node.yaml sets differently from the distributed config it runs. */
export interface HandEditReport {
  readonly hash: string;
  readonly commit: string | null;
  readonly keys: readonly string[];
  /** The event's time (the node's clock), ms. */
  readonly at: number;
}

/** What the tracker keeps across a hub restart (config-repo-state.json). */
export interface TrackerSnapshot {
  readonly nodes: readonly {
    readonly site: string;
    readonly node: string;
    readonly published: PublishedConfig | null;
    readonly history: readonly string[];
    readonly removed: boolean;
  }[];
}

const key = (site: string, node: string) => `${site}/${node}`;

function strings(v: unknown): string[] {
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
}

/** A `config_applied` / `config_rejected` event payload as a report; undefined when unreadable. */
export function parseConfigReport(kind: string, payload: unknown, at: number): ConfigReport | undefined {
  if (typeof payload !== 'object' || payload === null) return undefined;
  const p = payload as Record<string, unknown>;
  if (typeof p.hash !== 'string') return undefined;
  const commit = typeof p.commit === 'string' ? p.commit : null;
  if (kind === 'config_applied') {
    return {
      kind: 'applied',
      hash: p.hash,
      commit,
      at,
      applied: strings(p.applied),
      pendingRestart: strings(p.pendingRestart),
      // Absent from agents older than hand-edit reports: they say nothing about node.yaml.
      ...(Array.isArray(p.handEdited) ? { handEdited: strings(p.handEdited) } : {}),
    };
  }
  if (kind === 'config_rejected') {
    const problems = Array.isArray(p.problems)
      ? p.problems
          .filter((x): x is { path: unknown; message: unknown } => typeof x === 'object' && x !== null)
          .map((x) => ({ path: String(x.path), message: String(x.message) }))
      : undefined;
    return {
      kind: 'rejected',
      hash: p.hash,
      commit,
      at,
      applied: [],
      pendingRestart: [],
      stage: typeof p.stage === 'string' ? p.stage : 'unknown',
      error: typeof p.error === 'string' ? p.error : '',
      ...(problems === undefined ? {} : { problems }),
    };
  }
  return undefined;
}

/** A `config_hand_edit` event payload as a report; undefined when unreadable. */
export function parseHandEditReport(payload: unknown, at: number): HandEditReport | undefined {
  if (typeof payload !== 'object' || payload === null) return undefined;
  const p = payload as Record<string, unknown>;
  if (typeof p.hash !== 'string' || !Array.isArray(p.handEdited)) return undefined;
  return { hash: p.hash, commit: typeof p.commit === 'string' ? p.commit : null, keys: strings(p.handEdited), at };
}

export class ConfigTracker {
  readonly #entries = new Map<string, Entry>();

  #entry(site: string, node: string): Entry {
    const k = key(site, node);
    let e = this.#entries.get(k);
    if (e === undefined) {
      e = {
        site,
        node,
        zone: null,
        desired: undefined,
        desiredCommit: null,
        published: undefined,
        history: [],
        reported: undefined,
        handEdit: undefined,
        removed: false,
      };
      this.#entries.set(k, e);
    }
    return e;
  }

  /** Restores what was published (and ever published) before a restart. */
  restore(snapshot: TrackerSnapshot): void {
    for (const n of snapshot.nodes) {
      const e = this.#entry(n.site, n.node);
      e.published = n.published ?? undefined;
      e.history = [...n.history].slice(-HISTORY_PER_NODE);
      e.removed = n.removed;
    }
  }

  snapshot(): TrackerSnapshot {
    return {
      nodes: [...this.#entries.values()]
        .filter((e) => e.published !== undefined || e.history.length > 0 || e.removed)
        .map((e) => ({ site: e.site, node: e.node, published: e.published ?? null, history: e.history, removed: e.removed })),
    };
  }

  /**
   * A new valid revision: every node's desired config. Returns the nodes whose desired hash differs from
   * what is published (to publish), and the nodes the revision no longer defines that still have a
   * published config (to clear).
   */
  setRevision(
    nodes: readonly RenderedNodeConfig[],
    commit: string | null,
  ): { changed: RenderedNodeConfig[]; removed: { site: string; node: string }[] } {
    const present = new Set<string>();
    const changed: RenderedNodeConfig[] = [];
    for (const n of nodes) {
      present.add(key(n.site, n.nodeId));
      const e = this.#entry(n.site, n.nodeId);
      e.desired = n;
      e.desiredCommit = commit;
      e.zone = n.zone;
      e.removed = false;
      if (e.published?.hash !== n.configHash) changed.push(n);
    }
    const removed: { site: string; node: string }[] = [];
    for (const [k, e] of this.#entries) {
      if (present.has(k)) continue;
      if (e.desired !== undefined) {
        e.desired = undefined;
        e.removed = true;
      }
      // A node the revision no longer defines, with a config still retained for it (also one restored after a restart).
      if (e.published !== undefined) {
        e.removed = true;
        removed.push({ site: e.site, node: e.node });
      }
    }
    return { changed, removed };
  }

  /** The hub published `hash` retained for the node. */
  markPublished(site: string, node: string, hash: string, commit: string | null, at: number): void {
    const e = this.#entry(site, node);
    e.published = { hash, commit, at };
    e.history = [...e.history.filter((h) => h !== hash), hash].slice(-HISTORY_PER_NODE);
  }

  /** The hub cleared the node's retained config (the repository no longer defines it). */
  markCleared(site: string, node: string): void {
    const e = this.#entry(site, node);
    e.published = undefined;
    e.removed = true;
  }

  /** A node's report; an older report than the one held (by event time) is ignored. */
  receiveReport(site: string, node: string, report: ConfigReport): boolean {
    const e = this.#entry(site, node);
    if (e.reported !== undefined && e.reported.at > report.at) return false;
    e.reported = report;
    if (report.kind === 'applied' && report.handEdited !== undefined)
      this.receiveHandEdit(site, node, { hash: report.hash, commit: report.commit, keys: report.handEdited, at: report.at });
    return true;
  }

  /** A node's word on hand edits of its node.yaml; an older one than the one held (by event time) is ignored. */
  receiveHandEdit(site: string, node: string, report: HandEditReport): boolean {
    const e = this.#entry(site, node);
    if (e.handEdit !== undefined && e.handEdit.at > report.at) return false;
    e.handEdit = report;
    return true;
  }

  desired(site: string, node: string): RenderedNodeConfig | undefined {
    return this.#entries.get(key(site, node))?.desired;
  }

  /** Every node with a desired config (of the last good revision). */
  desiredNodes(): RenderedNodeConfig[] {
    return [...this.#entries.values()].flatMap((e) => (e.desired === undefined ? [] : [e.desired]));
  }

  #state(e: Entry, fleetState: NodeStateName | undefined): ConfigNodeState {
    if (e.desired === undefined) {
      if (e.removed) return 'removed';
      return 'unknown-node';
    }
    const r = e.reported;
    if (r !== undefined && r.hash === e.desired.configHash) {
      if (r.kind === 'rejected') return 'failed';
      return r.pendingRestart.length > 0 ? 'pending-restart' : 'in-sync';
    }
    if (fleetState === undefined || fleetState === 'offline') return 'offline';
    return 'pending';
  }

  /** A hash the hub never issued first (what runs is not the repository's), then hand edits of node.yaml. */
  #driftReason(e: Entry): ConfigDriftReason | null {
    const r = e.reported;
    if (
      r !== undefined &&
      r.kind === 'applied' &&
      r.hash !== e.desired?.configHash &&
      r.hash !== e.published?.hash &&
      !e.history.includes(r.hash)
    )
      return { kind: 'unissued-hash', hash: r.hash };
    const h = e.handEdit;
    if (h !== undefined && h.keys.length > 0) return { kind: 'hand-edit', keys: h.keys, at: h.at };
    return null;
  }

  /**
   * Every node the repository defines, removed, or that the fleet knows without a repository file
   * (`unknown-node`, only while not offline), sorted by site and node.
   */
  views(fleetNodes: readonly { site: string; node: string; zone: string; state: NodeStateName }[]): NodeConfigView[] {
    const fleetByKey = new Map(fleetNodes.map((n) => [key(n.site, n.node), n]));
    const keys = new Set(this.#entries.keys());
    for (const n of fleetNodes) if (n.state !== 'offline') keys.add(key(n.site, n.node));
    const out: NodeConfigView[] = [];
    for (const k of keys) {
      const f = fleetByKey.get(k);
      const e = this.#entries.get(k) ?? {
        site: f?.site ?? '',
        node: f?.node ?? '',
        zone: f?.zone ?? null,
        desired: undefined,
        desiredCommit: null,
        published: undefined,
        history: [],
        reported: undefined,
        handEdit: undefined,
        removed: false,
      };
      // A node known only from an old report and gone from the fleet: nothing to show.
      if (e.desired === undefined && !e.removed && (f === undefined || f.state === 'offline')) continue;
      const driftReason = this.#driftReason(e);
      out.push({
        site: e.site,
        node: e.node,
        zone: e.zone ?? f?.zone ?? null,
        state: this.#state(e, f?.state),
        drift: driftReason !== null,
        driftReason,
        desired: e.desired === undefined ? null : { hash: e.desired.configHash, commit: e.desiredCommit },
        published: e.published ?? null,
        reported: e.reported ?? null,
        fleetState: f?.state ?? null,
      });
    }
    return out.sort((a, b) => (a.site < b.site ? -1 : a.site > b.site ? 1 : a.node < b.node ? -1 : a.node > b.node ? 1 : 0));
  }
}

/** Counts per state (every state present, 0 when none) and the drifted nodes. */
export function summarizeConfigStates(views: readonly NodeConfigView[]): { states: Record<ConfigNodeState, number>; drift: number } {
  const states = Object.fromEntries(CONFIG_NODE_STATES.map((s) => [s, 0])) as Record<ConfigNodeState, number>;
  let drift = 0;
  for (const v of views) {
    states[v.state]++;
    if (v.drift) drift++;
  }
  return { states, drift };
}
