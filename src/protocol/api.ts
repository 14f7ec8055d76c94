// JSON shapes of the hub's HTTP API (/api/v1) and live feed: the contract between the hub and its
// clients (CLI, dashboard, scripts). The hub builds them; src/client reads them.

import type { EventPriority, NodeStateName } from './frames.js';

export interface NodeValueView {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  /** A number, null for "no value", or "NaN" / "+Inf" / "-Inf" as Prometheus writes them. */
  readonly value: number | string | null;
  readonly unit: string;
  /** RFC 3339 time at which the node sampled the value (the scrape, or the sample's own timestamp). [FM-FRAME-7] */
  readonly time: string;
  /** Hub time minus `time`: how old the value is, collection and transit included (and any clock skew). */
  readonly ageMs: number;
}

export interface NodeView {
  readonly site: string;
  readonly zone: string;
  readonly node: string;
  readonly state: NodeStateName;
  readonly epoch: number | null;
  readonly agentVersion: string | null;
  /** RFC 3339 start of the node's current session (this boot), by the node's clock, from its birth; null before one. */
  readonly bootTime?: string | null;
  /**
   * How long the node has been up, ms: the uptime its last birth stated plus the hub time since that birth
   * arrived (no clock sync needed); null when offline or before a birth.
   */
  readonly uptimeMs?: number | null;
  /** A short stable hash of the node's effective configuration (12 hex digits), from its birth; null before one. */
  readonly configVersion?: string | null;
  /** RFC 3339 time of the last frame from the node itself (a will does not count). */
  readonly lastHeard: string | null;
  readonly lastHeardAgeMs: number | null;
  /** When the node entered its current state. */
  readonly since: string | null;
  readonly heartbeatMs: number | null;
  readonly series: number;
  readonly values?: readonly NodeValueView[];
  /** Outbox rows the node still has to send, as its last history frame reported; null when never reported. */
  readonly backlogRows?: number | null;
  /** RFC 3339 time of the oldest of those rows; null when nothing is pending or never reported. */
  readonly backlogOldest?: string | null;
  /** What those rows will cost on the wire, bytes (the node's estimate); null when never reported. */
  readonly backlogBytes?: number | null;
  /**
   * The node's certificate as the hub's fleet CA (hub.yaml `pki`) knows it: valid (one in force), expired (none in
   * force, the newest expired), revoked (the newest revoked); null when the CA never issued it one; absent without `pki`.
   */
  readonly certificate?: NodeCertificateState | null;
}

/** The state of a node's certificate at the hub's fleet CA (docs/pki.md "Expiry alerts"). */
export type NodeCertificateState = 'valid' | 'expired' | 'revoked';

/**
 * Where the hub took a site's or a zone's definition from: hub.yaml (`sites:`, `zones:`), or the last good
 * revision of the configuration repository (docs/config-as-code.md "What the hub takes from the repository").
 * hub.yaml wins for an id both define.
 */
export type DefinitionSource = 'hub.yaml' | 'repository';

export interface SiteView {
  readonly site: string;
  /** The worst state of any node: offline > stale > unknown > online. */
  readonly worst: NodeStateName;
  readonly counts: Readonly<Record<NodeStateName, number>>;
  /** Node ids of the site. */
  readonly nodes: readonly string[];
  /** From hub.yaml `sites[]` or the repository's site file (the id when not configured). */
  readonly name: string;
  /** WGS 84 degrees; null when neither gives any (the console lists the site beside the map). */
  readonly lat: number | null;
  readonly lon: number | null;
  readonly address: string | null;
  /** True when hub.yaml `sites` or the repository describes the site (a configured site may have no node yet). */
  readonly configured: boolean;
  /** Where its name and position come from; null for a site only its nodes announce. */
  readonly source: DefinitionSource | null;
  /** docs/console.md "Health: green, warn, error". */
  readonly health: SiteHealth;
  /** Why the site is not green, worst first; empty when green. */
  readonly reasons: readonly HealthReason[];
  /** RFC 3339 hub time the health last changed (as far as this hub run saw it). */
  readonly since: string | null;
  /** RFC 3339: the newest last heard of the site's nodes; null when none was ever heard. */
  readonly lastHeard: string | null;
  readonly lastHeardAgeMs: number | null;
  /** Firing alerts of the site (label `site`) that no silence mutes and no alert inhibits; acknowledged ones included. */
  readonly openAlerts: number;
  /** RFC 3339 time of the oldest sample any node of the site still has to send; null when none. */
  readonly backlogOldest: string | null;
  /** Configured zones first (even empty), then zones seen on nodes. */
  readonly zones: ReadonlyArray<{ readonly id: string; readonly name: string; readonly nodes: readonly string[] }>;
}

/** An event as GET /api/v1/events and the live feed's `event` messages carry it. */
export interface EventView {
  readonly site: string;
  readonly node: string;
  readonly id: string;
  /** The node's outbox seq of the event (events lane). */
  readonly seq: number;
  readonly epoch: number;
  /** RFC 3339 event time (the node's clock). */
  readonly time: string;
  readonly priority: EventPriority;
  readonly kind: string;
  /** The payload parsed as JSON when it is UTF-8 JSON, else its bytes in base64. */
  readonly payload: unknown;
  readonly payloadEncoding: 'json' | 'base64';
  /** RFC 3339 hub time of receipt. */
  readonly receivedAt: string;
}

/**
 * A backfill request: answered by POST /api/v1/nodes/:site/:node/backfill (202) and listed in the
 * completeness report while outstanding. [FM-DURABLE-6]
 */
export interface BackfillView {
  readonly id: string;
  readonly site: string;
  readonly node: string;
  /** RFC 3339 range, both ends inclusive. */
  readonly from: string;
  readonly to: string;
  /** Selectors; empty means the node's critical series. */
  readonly series: readonly string[];
  /** `dropped`: asked by the hub for a range the node reported dropped; `operator`: asked over the API. */
  readonly origin: 'dropped' | 'operator';
  readonly state: 'outstanding' | 'done';
  /** RFC 3339 hub times: made, last published (null before the first time), reported done. */
  readonly requestedAt: string;
  readonly lastSentAt: string | null;
  /** Times published. */
  readonly attempts: number;
  readonly doneAt: string | null;
}

/** GET /api/v1/nodes/:site/:node/completeness: what the hub holds of a node over a window. */
export interface CompletenessView {
  readonly site: string;
  readonly node: string;
  /** RFC 3339 window [start, end). */
  readonly start: string;
  readonly end: string;
  readonly complete: boolean;
  /** Covered fraction of the window, 0..1, averaged over the node's series. */
  readonly ratio: number;
  readonly backlog: {
    readonly pendingRows: number | null;
    readonly oldestPending: string | null;
    readonly pendingBytes: number | null;
    readonly reportedAt: string | null;
  };
  /** Holes in the hub's coverage, per series. */
  readonly missing: ReadonlyArray<{ readonly series: string; readonly from: string; readonly to: string }>;
  /** Ranges the node reported dropped at its outbox's disk cap, overlapping the window, not yet repaired. */
  readonly dropped: ReadonlyArray<{ readonly from: string; readonly to: string; readonly rows: number }>;
  /** Dropped ranges overlapping the window that a finished backfill request repaired (`request` is its id). */
  readonly repaired: ReadonlyArray<{ readonly from: string; readonly to: string; readonly rows: number; readonly request: string }>;
  /** Backfill requests to the node overlapping the window, not yet reported done. */
  readonly repairs: readonly BackfillView[];
}

/**
 * Which nodes a bulk action acts on (POST /api/v1/actions/preview). Every given criterion must hold
 * (AND); a list criterion holds when the node matches any of its entries. A selector without any
 * criterion is refused unless `all` is true, so nobody acts on the whole fleet by accident.
 */
export interface ActionSelector {
  readonly sites?: readonly string[];
  readonly zones?: readonly string[];
  /** "site/node" names. */
  readonly nodes?: readonly string[];
  readonly states?: readonly NodeStateName[];
  /** A glob over "site/node": `*` any run of characters but "/", `?` one such character, `[a-c]` one of; e.g. "farm-[12]/bess-0?" or "farm-1/bess-*". */
  readonly match?: string;
  /** True: an empty selector means every node. */
  readonly all?: boolean;
}

/** The bulk actions the hub knows. */
export const ACTION_NAMES = ['ping', 'rebirth', 'ack-alerts', 'silence-alerts'] as const;
export type ActionName = (typeof ACTION_NAMES)[number];

/** A bulk action's parameters, as the preview echoes them with defaults filled in. */
export interface ActionParams {
  /** Why: the acknowledgement's or the silence's comment (required for silence-alerts). */
  readonly comment?: string;
  /** How long a silence lasts, Prometheus style ("2h", "1h30m"); silence-alerts only (default "2h"). */
  readonly duration?: string;
  /** How long each target may take before it counts as failed ("10s"; default "15s"). */
  readonly timeout?: string;
}

/** One node of a preview: what will happen to it (`plan`), or why nothing will (`skip`). */
export interface ActionPreviewTarget {
  readonly site: string;
  readonly node: string;
  readonly zone: string;
  readonly state: NodeStateName;
  /** e.g. "send ping", "request rebirth", "acknowledge 2 alerts: LowSOC, NodeDown", "silence for 2h (new silence site=x node=y)". */
  readonly plan: string;
  /** Why the node will be skipped ("offline: ping would time out", "no active alerts"); null when it will be acted on. */
  readonly skip: string | null;
}

/** POST /api/v1/actions/preview: the exact targets a run of this preview will act on. */
export interface ActionPreview {
  readonly previewId: string;
  readonly action: ActionName;
  readonly params: ActionParams;
  /** Sorted by site, then node. */
  readonly targets: readonly ActionPreviewTarget[];
  readonly counts: { readonly act: number; readonly skip: number };
  /** RFC 3339: after this, POST /api/v1/actions with this previewId answers 404. */
  readonly expiresAt: string;
}

export type ActionTargetStatus = 'pending' | 'running' | 'ok' | 'failed' | 'skipped';

export interface ActionTargetView {
  readonly site: string;
  readonly node: string;
  readonly status: ActionTargetStatus;
  /** What happened ("pong in 42 ms", "timed out after 15s") or why skipped; null while pending. */
  readonly detail: string | null;
  /** A ping's round trip, ms. */
  readonly rttMs?: number;
  /** RFC 3339 hub time of the last status change; null while pending. */
  readonly at: string | null;
}

/** A bulk action run: POST /api/v1/actions (202), GET /api/v1/actions[/:id], live `action` messages. */
export interface ActionView {
  readonly id: string;
  readonly previewId: string;
  readonly action: ActionName;
  readonly params: ActionParams;
  /** Who ran it; null when the hub has no login (auth off). */
  readonly createdBy: string | null;
  readonly createdAt: string;
  readonly finishedAt: string | null;
  readonly state: 'running' | 'done';
  /** `pending` counts the targets waiting and those running. */
  readonly counts: { readonly pending: number; readonly ok: number; readonly failed: number; readonly skipped: number };
  /** In the preview's order. */
  readonly targets: readonly ActionTargetView[];
}

/** A site's health: the console's pin colour. */
export type SiteHealth = 'green' | 'warn' | 'error';

/** What made a site warn or error (docs/console.md "Health: green, warn, error"). */
export type HealthReasonCode =
  | 'node-offline'
  | 'node-stale'
  | 'node-unknown'
  | 'all-unknown'
  | 'no-nodes'
  | 'alert-critical'
  | 'alert-warning'
  | 'backlog-old'
  | 'data-stale';

export interface HealthReason {
  readonly code: HealthReasonCode;
  /** What this reason alone makes the site. */
  readonly level: 'warn' | 'error';
  /** Short, for people: "bess-02 offline for 4 min". The age in it is as of the answer; `since` stays right. */
  readonly text: string;
  /** RFC 3339: when the condition's clock starts (entered the state, alert fired, oldest backlog sample, last heard). */
  readonly since: string | null;
  /** The node concerned, when one is. */
  readonly node?: string;
  /** The alert's fingerprint, for alert reasons. */
  readonly alert?: string;
  /** True for an alert someone acknowledged: it still counts, someone is on it. */
  readonly acknowledged?: boolean;
}

/** An alert as GET /api/v1/alerts and the live feed's `alert` messages carry it (docs/alerts.md). */
export interface AlertView {
  readonly labels: Readonly<Record<string, string>>;
  readonly annotations: Readonly<Record<string, string>>;
  readonly state: 'pending' | 'firing' | 'resolved';
  /** RFC 3339: when the condition started holding. */
  readonly activeAt: string;
  /** The expression's value at the last evaluation that saw it, as Prometheus writes sample values. */
  readonly value: string;
  readonly fingerprint: string;
  /** The rule's id ("<group>/<alert>", "builtin/NodeDown"). */
  readonly rule: string;
  /** RFC 3339: when it started firing; null while pending. */
  readonly firedAt: string | null;
  /** RFC 3339: when it resolved; null while active. */
  readonly resolvedAt: string | null;
  readonly ack: { readonly by: string; readonly at: string; readonly comment: string } | null;
  /** True while an active silence matches it: it notifies nobody. */
  readonly silenced: boolean;
  readonly silencedBy: readonly string[];
  /**
   * True while a firing alert inhibits it under hub.yaml `alerts.inhibitRules` (Alertmanager's
   * inhibit_rules): it notifies nobody. Never true for a resolved alert.
   */
  readonly inhibited: boolean;
  /** Fingerprints of the firing alerts that inhibit it, sorted. */
  readonly inhibitedBy: readonly string[];
  readonly generatorURL: string;
}

/**
 * The live feed's `alert` message: the alert after a change (state, acknowledgement, silencing).
 * `removed: true` when the hub no longer lists it (a pending alert whose condition cleared, a resolved
 * one forgotten after 15 min): drop it.
 */
export type LiveAlertMessage = AlertView & { readonly removed?: true };

/** GET /api/v1/sites/:site: the site, its nodes with values and its active (pending, firing) alerts. */
export interface SiteDetailView extends SiteView {
  readonly nodeViews: readonly NodeView[];
  readonly alerts: readonly AlertView[];
}

/** GET /api/v1/overview and the live feed's `overview` message: "is everything OK?". */
export interface OverviewView {
  /** RFC 3339 hub time of the answer. */
  readonly generatedAt: string;
  /** hub.yaml console.title. */
  readonly title: string;
  readonly sites: { readonly green: number; readonly warn: number; readonly error: number; readonly total: number };
  readonly nodes: {
    readonly online: number;
    readonly stale: number;
    readonly offline: number;
    readonly unknown: number;
    readonly total: number;
  };
  /**
   * `firing` and `pending`: neither silenced nor inhibited (acknowledged included); `acknowledged`:
   * firing, not muted, acknowledged; `silenced`: pending or firing and muted by a silence; `inhibited`:
   * pending or firing, not silenced, and inhibited by a firing alert. Each alert counts in one of
   * firing, pending, silenced, inhibited.
   */
  readonly alerts: {
    readonly firing: number;
    readonly pending: number;
    readonly acknowledged: number;
    readonly silenced: number;
    readonly inhibited: number;
  };
  /** Sites that are not green, error before warn, longest in that health first; at most 5. */
  readonly worstSites: readonly SiteView[];
}

/** GET /api/v1/console: what the console's map needs, from hub.yaml (works without internet). */
export interface ConsoleView {
  readonly title: string;
  readonly map: {
    /** URL of the operator's site-plan image (GET /api/v1/console/map-image); null when none. */
    readonly image: string | null;
    /** Where the image sits, degrees; null when not configured. */
    readonly bounds: { readonly north: number; readonly south: number; readonly east: number; readonly west: number } | null;
  };
  /** Every site the hub knows (configured first); lat/lon null for a site without coordinates. */
  readonly sites: ReadonlyArray<{ readonly id: string; readonly name: string; readonly lat: number | null; readonly lon: number | null }>;
}

/** The live feed's first message (`snapshot`), and again after a reconnect. */
export interface LiveSnapshot {
  readonly nodes: readonly NodeView[];
  readonly sites: readonly SiteView[];
  /** Pending and firing alerts. */
  readonly alerts: readonly AlertView[];
}
