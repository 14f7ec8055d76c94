// The hub's view of the zones (docs/consensus.md "The hub's view"): the zones of hub.yaml and of the
// configuration repository (a new set at run time: `setZones`), what their members say live on
// `<prefix>/+/+/zone/+` and durably as events (`detection`, `zone_*`, `pump_*`), the voters' state from the
// fleet, and the nodes' own evaluator over the detections held here, for display only (the nodes decide;
// the hub never votes). Rebuilt from the last 24 h of stored events at start, and for a zone added later.
// Rules [FM-HUB-ZONE-n] in docs/consensus.md.

import { type Clock, describeError, type Logger, silentLogger } from '../../kit/index.js';
import {
  canonicalJson,
  type Detection,
  evaluateZone,
  isCountedDetection,
  majorityOf,
  type RouteRejectReason,
  type ZoneEvaluation,
  type ZoneFrame,
  type ZoneTopicMessage,
} from '../../protocol/index.js';
import type { AlertSnapshot } from '../alerts/alert-engine.js';
import type { AlertZone } from '../alerts/fleet-series.js';
import type { NodeRecord } from '../fleet/fleet-state.js';
import type { ZoneMetrics, ZoneRejectReason } from '../hub-metrics.js';
import type { EventInput, HubStorage } from '../storage/storage.js';
import type { HubZone } from './hub-zone-config.js';
import type {
  DecisionView,
  HubPumpState,
  HubZoneView,
  PumpRunView,
  PumpView,
  VoterState,
  ZoneHistoryView,
  ZoneSummary,
} from './zone-views.js';

/** [FM-HUB-ZONE-3] At start, the state is rebuilt from the events stored in this last stretch. */
export const ZONE_REBUILD_MS = 24 * 3_600_000;
/** Detections older than this are forgotten (the view shows the last hour). */
export const ZONE_DETECTION_KEEP_MS = 3_600_000;
/** At most this many detections held per zone (the oldest go first). */
const MAX_DETECTIONS_PER_ZONE = 1_000;
/** Zone records kept per zone for the view. */
const MAX_DECISIONS_PER_ZONE = 200;
/** Shown in the view, newest first. */
const VIEW_LIMIT = 50;
/** A majority whose evidence the hub has not all heard yet is measured when it has, or after this. */
const LATENCY_WAIT_MS = 30_000;
/** Rows read per event kind at rebuild and for a history. */
const EVENTS_PER_KIND = 10_000;

const ZONE_RECORD_KINDS = [
  'vote',
  'vote-lapsed',
  'majority',
  'majority-lapsed',
  'isolated-fallback',
  'epoch',
  'vote-refused',
  'command',
] as const;
/** The pump records that say what a pump's state is. */
const PUMP_STATE_KINDS = ['started', 'stopped', 'fault', 'command', 'restored', 'runtime-limit'] as const;
const eventKind = (source: 'zone' | 'pump', kind: string) => `${source}_${kind}`.replaceAll('-', '_');

/** The events the monitor reads: the agent's kinds (`DETECTION_KIND`, `zone_<kind>`, `pump_<kind>`). */
export const ZONE_EVENT_KINDS: readonly string[] = [
  'detection',
  ...ZONE_RECORD_KINDS.map((k) => eventKind('zone', k)),
  ...PUMP_STATE_KINDS.map((k) => eventKind('pump', k)),
];

/** The node's zone record as its payload carries it (src/agent/zones/zone-engine.ts ZoneRecord). */
interface ZoneRecordPayload {
  readonly at: number;
  readonly node: string;
  readonly zone: string;
  readonly epoch: number;
  readonly kind: string;
  readonly detections?: readonly string[];
  readonly votes?: readonly { readonly voter: string; readonly seq: number; readonly time: number }[];
  readonly pumps?: readonly string[];
  readonly cause?: string;
  readonly reason?: string;
}

/** The node's pump record (src/agent/actuators/pump-controller.ts PumpRecord). */
interface PumpRecordPayload {
  readonly at: number;
  readonly zone: string;
  readonly pump: string;
  readonly kind: string;
  readonly by: string;
  readonly action?: string;
  readonly outcome: string;
  readonly detail: string;
}

interface HeldDetection {
  readonly d: Detection;
}

interface PumpTrack {
  state: HubPumpState;
  cause: string | null;
  /** When the state began (the owner's clock). */
  since: number | null;
  /** When the current run started, on the owner's clock as reported (running only). */
  runStart: number | null;
  /** The last run's runtime, ms (stopped). */
  lastRuntimeMs: number;
  lastStart: { at: number; cause: string; by: string } | null;
  lastStop: { at: number; reason: string; by: string } | null;
}

interface VoteTrack {
  readonly at: number;
  readonly epoch: number;
  readonly seq: number;
  readonly ttlMs: number | null;
  readonly evidence: readonly string[];
}

interface ZoneTrack {
  readonly zone: HubZone;
  /** Nodes that may speak for the zone: voters, camera nodes, pump owners, owners of pumps it activates. */
  readonly members: ReadonlySet<string>;
  epoch: number;
  readonly detections: Map<string, HeldDetection>;
  /** Zone records, oldest first. */
  readonly decisions: ZoneRecordPayload[];
  /** Per pump owner: whether its latest majority record holds (majority) or lapsed. */
  readonly majorityAt: Map<string, boolean>;
  lastDecisionAt: number | null;
  readonly votes: Map<string, VoteTrack>;
  readonly pumps: Map<string, PumpTrack>;
  pendingSince: number | undefined;
  lastSummary: string;
  readonly latencyWaiting: { readonly record: ZoneRecordPayload; readonly until: number }[];
}

/** A node as the monitor reads it from the fleet state. */
export type ZoneFleetNode = Readonly<Pick<NodeRecord, 'site' | 'node' | 'state' | 'lastHeard' | 'lastChanged'>>;

/** The fleet as the monitor reads it: voters' states. */
export interface ZoneFleetView {
  nodes(): readonly ZoneFleetNode[];
}

/** Fleet records by node id. */
type VoterIndex = Map<string, ZoneFleetNode[]>;

/** What a new set of zones changed: ids added, removed, and kept with a new definition. */
export interface ZoneSetChange {
  readonly added: readonly string[];
  readonly removed: readonly string[];
  readonly changed: readonly string[];
  /** Stored events replayed into the added zones. */
  readonly replayed: number;
}

export interface ZoneMonitorOptions {
  /** The zones watched from the start (hub.yaml's); `setZones` replaces them. */
  readonly zones: readonly HubZone[];
  readonly clock: Clock;
  readonly fleet: ZoneFleetView;
  readonly logger?: Logger;
  readonly metrics?: ZoneMetrics;
  /** Active alerts, for each zone's view (absent: none). */
  readonly alerts?: () => readonly AlertSnapshot[];
  /** A zone's summary changed (the live feed's `zone` message). */
  readonly onSummaryChanged?: (summary: ZoneSummary) => void;
}

const iso = (ms: number | null | undefined): string | null => (ms === null || ms === undefined ? null : new Date(ms).toISOString());

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A detection payload as the agent writes it; undefined when it is not one. */
function asDetection(v: unknown): Detection | undefined {
  if (!isObject(v)) return undefined;
  const { id, camera, node, confidence, time, box } = v;
  if (typeof id !== 'string' || typeof camera !== 'string' || typeof node !== 'string' || typeof v.class !== 'string') return undefined;
  if (typeof confidence !== 'number' || !(confidence >= 0 && confidence <= 1) || typeof time !== 'number' || !Number.isFinite(time))
    return undefined;
  const d: Detection = { id, camera, node, class: v.class, confidence, time };
  if (Array.isArray(box) && box.length === 4 && box.every((x) => typeof x === 'number'))
    return { ...d, box: box as unknown as readonly [number, number, number, number] };
  return d;
}

function asZoneRecord(v: unknown): ZoneRecordPayload | undefined {
  if (!isObject(v)) return undefined;
  if (typeof v.at !== 'number' || typeof v.zone !== 'string' || typeof v.kind !== 'string' || typeof v.epoch !== 'number') return undefined;
  return v as unknown as ZoneRecordPayload;
}

function asPumpRecord(v: unknown): PumpRecordPayload | undefined {
  if (!isObject(v)) return undefined;
  if (typeof v.at !== 'number' || typeof v.zone !== 'string' || typeof v.pump !== 'string' || typeof v.kind !== 'string') return undefined;
  return {
    ...(v as unknown as PumpRecordPayload),
    by: typeof v.by === 'string' ? v.by : '',
    detail: typeof v.detail === 'string' ? v.detail : '',
  };
}

function parsePayload(bytes: Uint8Array): unknown {
  try {
    return JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    return undefined;
  }
}

function newPump(): PumpTrack {
  return { state: 'unknown', cause: null, since: null, runStart: null, lastRuntimeMs: 0, lastStart: null, lastStop: null };
}

/** Nodes that may speak for a zone: voters, camera nodes, pump owners, owners of pumps it activates. */
function membersOf(zone: HubZone, pumpOwners: ReadonlyMap<string, readonly string[]>): Set<string> {
  return new Set([
    ...zone.voters,
    ...zone.cameras.map((c) => c.node),
    ...zone.pumps.map((p) => p.node),
    ...zone.policy.activates.flatMap((a) => pumpOwners.get(a) ?? []),
  ]);
}

export class ZoneMonitor {
  readonly #o: ZoneMonitorOptions;
  readonly #logger: Logger;
  readonly #zones = new Map<string, ZoneTrack>();
  #refreshQueued = false;
  /** While stored events are replayed into zones added at run time: those zones (the others have them already). */
  #replayOnly: ReadonlySet<string> | undefined;
  /** `setZones` calls run one after the other. */
  #setting: Promise<unknown> = Promise.resolve();

  constructor(options: ZoneMonitorOptions) {
    this.#o = options;
    this.#logger = (options.logger ?? silentLogger).child({ component: 'zones' });
    this.#install(options.zones);
  }

  /** The zone ids watched, hub.yaml's first in file order, then the repository's. */
  zoneIds(): string[] {
    return [...this.#zones.keys()];
  }

  /**
   * Watches a new set of zones (hub.yaml's and the configuration repository's, in that order). A zone that
   * stays keeps its state (epoch, detections, decisions, votes, pump states) and takes its new definition
   * (a pump, voter or camera it lost is forgotten); a removed zone is no longer watched (its frames are
   * refused as of an unknown zone); an added zone is rebuilt from the events `storage` holds of the last
   * 24 h, as at start, before any frame reaches it. Calls run in order.
   */
  setZones(zones: readonly HubZone[], storage?: Pick<HubStorage, 'queryEvents'>): Promise<ZoneSetChange> {
    const run = this.#setting.then(() => this.#setZones(zones, storage));
    this.#setting = run.catch(() => {});
    return run;
  }

  async #setZones(zones: readonly HubZone[], storage: Pick<HubStorage, 'queryEvents'> | undefined): Promise<ZoneSetChange> {
    const added = zones.filter((z) => !this.#zones.has(z.id)).map((z) => z.id);
    // Read before the new zones are watched: nothing is applied twice, live and replayed.
    const events = storage === undefined || added.length === 0 ? [] : await this.#storedEvents(storage);
    const removed = [...this.#zones.keys()].filter((id) => !zones.some((z) => z.id === id));
    const changed = zones
      .filter((z) => {
        const before = this.#zones.get(z.id)?.zone;
        return before !== undefined && canonicalJson(before) !== canonicalJson(z);
      })
      .map((z) => z.id);
    this.#install(zones);
    let replayed = 0;
    if (events.length > 0) {
      this.#replayOnly = new Set(added);
      try {
        for (const e of events) this.receiveEvent(e, false);
      } finally {
        this.#replayOnly = undefined;
      }
      replayed = events.length;
    }
    this.refresh();
    if (added.length + removed.length + changed.length > 0)
      this.#logger.info({ added, removed, changed, replayed, zones: this.zoneIds() }, 'zones watched changed');
    return { added, removed, changed, replayed };
  }

  /** Puts `zones` in place, in their order: a zone already watched keeps its state, pruned to its new definition. */
  #install(zones: readonly HubZone[]): void {
    const pumpOwners = new Map(zones.map((z) => [z.id, z.pumps.map((p) => p.node)]));
    const next = new Map<string, ZoneTrack>();
    for (const zone of zones) {
      const members = membersOf(zone, pumpOwners);
      const old = this.#zones.get(zone.id);
      if (old === undefined) {
        next.set(zone.id, {
          zone,
          members,
          epoch: 0,
          detections: new Map(),
          decisions: [],
          majorityAt: new Map(),
          lastDecisionAt: null,
          votes: new Map(),
          pumps: new Map(zone.pumps.map((p) => [p.id, newPump()])),
          pendingSince: undefined,
          lastSummary: '',
          latencyWaiting: [],
        });
        continue;
      }
      const cameras = new Set(zone.cameras.map((c) => `${c.node}\0${c.id}`));
      for (const [k, h] of old.detections) if (!cameras.has(`${h.d.node}\0${h.d.camera}`)) old.detections.delete(k);
      for (const voter of old.votes.keys()) if (!zone.voters.includes(voter)) old.votes.delete(voter);
      for (const node of old.majorityAt.keys()) if (!members.has(node)) old.majorityAt.delete(node);
      const pumps = new Map(zone.pumps.map((p) => [p.id, old.pumps.get(p.id) ?? newPump()]));
      next.set(zone.id, { ...old, zone, members, pumps });
    }
    this.#zones.clear();
    for (const [id, t] of next) this.#zones.set(id, t);
  }

  config(zone: string): HubZone | undefined {
    return this.#zones.get(zone)?.zone;
  }

  /**
   * [FM-HUB-ZONE-3] Reads the events stored in the last 24 h (detections, zone and pump records), oldest
   * first, into the state; nothing is counted in the metrics (those decisions were counted before).
   */
  async rebuild(storage: Pick<HubStorage, 'queryEvents'>): Promise<number> {
    if (this.#zones.size === 0) return 0;
    const events = await this.#storedEvents(storage);
    for (const e of events) this.receiveEvent(e, false);
    this.refresh();
    this.#logger.info({ events: events.length, zones: this.zoneIds() }, 'zones rebuilt from stored events');
    return events.length;
  }

  /** The zone events stored in the last 24 h, oldest first. */
  async #storedEvents(storage: Pick<HubStorage, 'queryEvents'>): Promise<EventInput[]> {
    const now = this.#o.clock.now();
    const events: EventInput[] = [];
    for (const kind of ZONE_EVENT_KINDS) {
      events.push(...(await storage.queryEvents({ kind, start: now - ZONE_REBUILD_MS, limit: EVENTS_PER_KIND })));
    }
    return events.sort((a, b) => a.time - b.time || a.receivedAt - b.receivedAt);
  }

  /**
   * [FM-HUB-ZONE-2] A message heard on `<prefix>/<site>/<node>/zone/<zone>`, decoded by the hub's frame router (which
   * refuses what does not decode or is of another zone than the topic's: `refuse`): the sender is the node the topic
   * names. A frame that names a zone the hub does not watch or comes from a node that may not say it is refused and
   * counted; nothing here throws.
   */
  receive(site: string, node: string, message: ZoneTopicMessage): void {
    // [FM-ZONE-SIGN-3] A node's certificate, retained on its zone topic: the nodes' business, not a zone frame.
    if (message.kind === 'control') return;
    this.#o.metrics?.framesReceived.inc();
    try {
      this.#applyFrame(site, node, message.frame);
    } catch (err) {
      this.#logger.error({ site, node, err: describeError(err) }, 'zone frame not applied');
    }
    this.#queueRefresh();
  }

  /**
   * A message on `<prefix>/<site>/<node>/zone/<zone>` the frame router refused: `other-zone` (a frame of another
   * zone than its topic's, [FM-ZONE-FRAME-11]), any decoding reason counts as `malformed`.
   */
  refuse(reason: RouteRejectReason, site: string, node: string, why: string): void {
    this.#reject(reason === 'other-zone' ? 'other-zone' : 'malformed', `${site}/${node}: ${why}`);
  }

  /**
   * [FM-HUB-ZONE-3] A stored event (newly stored: a resend absorbed by storage never comes here). Kinds
   * other than the zone ones are ignored. `live` false: a rebuild (no metrics, no latency).
   */
  receiveEvent(e: Pick<EventInput, 'site' | 'node' | 'kind' | 'payload' | 'time'>, live = true): void {
    if (!ZONE_EVENT_KINDS.includes(e.kind) || this.#zones.size === 0) return;
    const payload = parsePayload(e.payload);
    try {
      if (e.kind === 'detection') {
        const d = asDetection(payload);
        if (d === undefined) this.#reject('malformed', `${e.site}/${e.node}: a detection event with an unreadable payload`);
        else this.#detect(e.site, e.node, d, true);
      } else if (e.kind.startsWith('zone_')) {
        const r = asZoneRecord(payload);
        if (r === undefined) this.#reject('malformed', `${e.site}/${e.node}: a ${e.kind} event with an unreadable payload`);
        else this.#zoneRecord(e.site, e.node, r, live);
      } else {
        const r = asPumpRecord(payload);
        if (r === undefined) this.#reject('malformed', `${e.site}/${e.node}: a ${e.kind} event with an unreadable payload`);
        else this.#pumpRecord(e.site, e.node, r);
      }
    } catch (err) {
      this.#logger.error({ site: e.site, node: e.node, kind: e.kind, err: describeError(err) }, 'zone event not applied');
    }
    if (live) this.#queueRefresh();
  }

  /**
   * Recomputes what depends on time (pending detections, latencies waiting for evidence) and tells
   * `onSummaryChanged` of every zone whose summary changed. The hub calls it every second.
   */
  refresh(): void {
    const now = this.#o.clock.now();
    const voters = this.#voterIndex();
    for (const t of this.#zones.values()) {
      this.#prune(t, now);
      this.#trackPending(t, now);
      this.#measureWaiting(t, now, false);
      const summary = this.#summary(t, now, voters);
      const text = JSON.stringify(summary);
      if (text !== t.lastSummary) {
        t.lastSummary = text;
        this.#o.onSummaryChanged?.(summary);
      }
    }
  }

  summaries(): ZoneSummary[] {
    const now = this.#o.clock.now();
    const voters = this.#voterIndex();
    return [...this.#zones.values()].map((t) => this.#summary(t, now, voters));
  }

  /** The zone's full view; undefined for a zone the hub does not watch. */
  view(zone: string): HubZoneView | undefined {
    const t = this.#zones.get(zone);
    if (t === undefined) return undefined;
    const now = this.#o.clock.now();
    const index = this.#voterIndex();
    const { voters: _n, pumps: _p, ...summary } = this.#summary(t, now, index);
    const z = t.zone;
    const detections = this.#detectionsOf(t)
      .filter((d) => d.time >= now - ZONE_DETECTION_KEEP_MS)
      .sort((a, b) => b.time - a.time);
    const evaluation = this.#evaluate(t, now);
    const site = this.#site(t, index);
    return {
      ...summary,
      voters: z.voters.map((node) => {
        const r = this.#voterRecord(t, node, index);
        const v = t.votes.get(node);
        return {
          node,
          state: (r?.state ?? 'unknown') as VoterState,
          lastHeard: iso(r?.lastHeard),
          voting: v !== undefined && v.epoch === t.epoch && v.ttlMs !== null && now <= v.at + v.ttlMs,
          lastVote: v === undefined ? null : { at: iso(v.at) as string, epoch: v.epoch, seq: v.seq, evidence: [...v.evidence] },
        };
      }),
      cameras: z.cameras.map((c) => {
        let last: number | null = null;
        for (const d of detections) if (d.camera === c.id && d.node === c.node && (last === null || d.time > last)) last = d.time;
        return { camera: c.id, node: c.node, weight: c.weight, lastDetection: iso(last) };
      }),
      detections: detections.slice(0, VIEW_LIMIT).map((d) => ({
        id: d.id,
        camera: d.camera,
        node: d.node,
        class: d.class,
        confidence: d.confidence,
        time: iso(d.time) as string,
        ...(d.box === undefined ? {} : { box: d.box }),
      })),
      evaluation: {
        at: iso(evaluation.at) as string,
        fire: evaluation.fire,
        missing: [...evaluation.missing],
        evidence: {
          detections: [...evaluation.evidence.detections],
          cameras: evaluation.evidence.cameras.map((c) => ({ ...c })),
          distinctCameras: evaluation.evidence.distinctCameras,
          distinctNodes: evaluation.evidence.distinctNodes,
          score: evaluation.evidence.score,
        },
      },
      policy: {
        windowSeconds: z.policy.windowMs / 1_000,
        classes: [...z.policy.classes],
        minConfidence: z.policy.minConfidence,
        minCameras: z.policy.minCameras,
        minNodes: z.policy.minNodes,
        threshold: z.policy.threshold,
        cooldownSeconds: z.policy.cooldownMs / 1_000,
        activates: [...z.policy.activates],
        isolatedFallback: z.policy.isolatedFallback.enabled,
      },
      decisions: t.decisions
        .slice(-VIEW_LIMIT)
        .reverse()
        .map((r) => this.#decisionView(r)),
      pumps: z.pumps.map((p) => this.#pumpView(t, p.id, now)),
      alerts: (this.#o.alerts?.() ?? [])
        .filter((a) => a.alert.labels.zone === z.id && (a.alert.labels.site === undefined || site === '' || a.alert.labels.site === site))
        .map((a) => ({
          name: a.alert.labels.alertname ?? '',
          state: a.alert.state,
          severity: a.alert.labels.severity ?? '',
          activeAt: iso(a.alert.activeAt),
          summary: a.alert.annotations.summary ?? '',
        })),
    };
  }

  /** The zones as the alert rules, the fleet series and /metrics read them. */
  alertZones(): AlertZone[] {
    const now = this.#o.clock.now();
    const index = this.#voterIndex();
    return [...this.#zones.values()].map((t) => {
      const online = this.#votersOnline(t, index);
      const needed = majorityOf(t.zone.voters.length);
      return {
        site: this.#site(t, index),
        zone: t.zone.id,
        voters: t.zone.voters.length,
        votersOnline: online,
        majorityVisible: online >= needed,
        quorumLostSince: online >= needed ? undefined : this.#quorumLostSince(t, index),
        consensusPendingSince: t.pendingSince,
        pumps: t.zone.pumps.map((p) => {
          const view = this.#pumpView(t, p.id, now);
          return {
            pump: p.id,
            node: p.node,
            running: view.state === 'running',
            runtimeSeconds: view.runtimeSeconds,
            maxRuntimeSeconds: view.maxRuntimeSeconds,
          };
        }),
      };
    });
  }

  /**
   * Where a command for the zone can go, best first: the pump's owner, then the voters, camera nodes and
   * other pump owners; only nodes the hub holds online. [FM-HUB-ZONE-5]
   */
  commandTargets(zone: string, pump?: string): { site: string; node: string }[] {
    const t = this.#zones.get(zone);
    if (t === undefined) return [];
    const index = this.#voterIndex();
    const owner = pump === undefined ? [] : t.zone.pumps.filter((p) => p.id === pump).map((p) => p.node);
    const order = [...new Set([...owner, ...t.zone.voters, ...t.zone.cameras.map((c) => c.node), ...t.zone.pumps.map((p) => p.node)])];
    const out: { site: string; node: string }[] = [];
    for (const node of order) {
      const r = this.#voterRecord(t, node, index);
      if (r?.state === 'online') out.push({ site: r.site, node: r.node });
    }
    return out;
  }

  /** Pump runs and detections of the zone from stored events in [start, end]. */
  async history(
    zone: string,
    storage: Pick<HubStorage, 'queryEvents'>,
    startMs: number,
    endMs: number,
  ): Promise<ZoneHistoryView | undefined> {
    const t = this.#zones.get(zone);
    if (t === undefined) return undefined;
    const read = (kind: string) => storage.queryEvents({ kind, start: startMs, end: endMs, limit: EVENTS_PER_KIND });
    const [started, stopped, restored, detections] = await Promise.all([
      read('pump_started'),
      read('pump_stopped'),
      read('pump_restored'),
      read('detection'),
    ]);
    const pumpEvents = [...started, ...stopped, ...restored]
      .map((e) => ({ e, r: asPumpRecord(parsePayload(e.payload)) }))
      .filter((x): x is { e: EventInput; r: PumpRecordPayload } => x.r !== undefined && x.r.zone === zone)
      .filter((x) => t.zone.pumps.some((p) => p.id === x.r.pump && p.node === x.e.node))
      .sort((a, b) => a.r.at - b.r.at);
    const pumps = t.zone.pumps.map((p) => {
      const runs: PumpRunView[] = [];
      let open: { start: number; cause: string; by: string } | null = null;
      for (const { r } of pumpEvents.filter((x) => x.r.pump === p.id)) {
        if (r.kind === 'started') {
          if (open !== null) runs.push({ start: iso(open.start) as string, end: null, cause: open.cause, by: open.by, stopReason: null });
          open = { start: r.at, cause: r.action ?? '', by: r.by };
        } else if (r.kind === 'restored') {
          const m = /^resumed (\S+) run at (\d+) ms$/.exec(r.detail);
          if (m !== null && open === null) open = { start: r.at - Number(m[2]), cause: m[1] as string, by: 'restart' };
        } else if (r.kind === 'stopped') {
          const ran = /^ran (\d+) ms$/.exec(r.detail);
          const start = open?.start ?? Math.max(startMs, r.at - (ran === null ? 0 : Number(ran[1])));
          runs.push({
            start: iso(start) as string,
            end: iso(r.at) as string,
            cause: open?.cause ?? 'unknown',
            by: open?.by ?? 'unknown',
            stopReason: r.action ?? null,
          });
          open = null;
        }
      }
      if (open !== null) runs.push({ start: iso(open.start) as string, end: null, cause: open.cause, by: open.by, stopReason: null });
      return { pump: p.id, runs };
    });
    const cameras = new Set(t.zone.cameras.map((c) => `${c.node}\0${c.id}`));
    const seen = detections
      .map((e) => ({ e, d: asDetection(parsePayload(e.payload)) }))
      .filter(
        (x): x is { e: EventInput; d: Detection } =>
          x.d !== undefined && x.d.node === x.e.node && cameras.has(`${x.d.node}\0${x.d.camera}`),
      )
      .filter((x) => this.#siteMatches(t, x.e.site))
      .sort((a, b) => a.d.time - b.d.time)
      .map(({ d }) => ({ time: iso(d.time) as string, camera: d.camera, node: d.node, confidence: d.confidence }));
    return { zone, start: iso(startMs) as string, end: iso(endMs) as string, pumps, detections: seen };
  }

  // ---------- what comes in ----------

  #reject(reason: ZoneRejectReason, why: string): void {
    // A replay into zones added at run time: what it refuses was counted when it came in.
    if (this.#replayOnly !== undefined) return;
    this.#o.metrics?.framesRejected.inc({ reason });
    this.#logger.debug({ reason }, `zone frame refused: ${why}`);
  }

  #siteMatches(t: ZoneTrack, site: string): boolean {
    return t.zone.site === null || t.zone.site === site;
  }

  /** The zone a member may speak for; undefined (refused and counted) otherwise. */
  #memberZone(zone: string, site: string, node: string): ZoneTrack | undefined {
    if (this.#replayOnly !== undefined && !this.#replayOnly.has(zone)) return undefined;
    const t = this.#zones.get(zone);
    if (t === undefined) {
      this.#reject('unknown-zone', `${site}/${node} speaks of zone "${zone}", which this hub does not watch`);
      return undefined;
    }
    if (!this.#siteMatches(t, site) || !t.members.has(node)) {
      this.#reject('not-member', `${site}/${node} is no member of zone "${zone}"`);
      return undefined;
    }
    return t;
  }

  #applyFrame(site: string, node: string, f: ZoneFrame): void {
    if (f.type === 'detection') {
      this.#detect(site, node, f.detection, false, f.zone, f.epoch);
      return;
    }
    const zone = f.type === 'vote' ? f.vote.zone : f.zone;
    const t = this.#memberZone(zone, site, node);
    if (t === undefined) return;
    switch (f.type) {
      case 'vote': {
        const v = f.vote;
        if (v.voter !== node || !t.zone.voters.includes(node)) {
          this.#reject('not-member', `${site}/${node} sent a vote as ${v.voter}`);
          return;
        }
        this.#epoch(t, v.epoch);
        const last = t.votes.get(node);
        if (last === undefined || v.time >= last.at)
          t.votes.set(node, { at: v.time, epoch: v.epoch, seq: v.seq, ttlMs: v.ttlMs, evidence: [...v.evidence] });
        return;
      }
      case 'pumpState': {
        const p = t.zone.pumps.find((x) => x.id === f.pump);
        if (p === undefined || p.node !== node) {
          this.#reject('not-member', `${site}/${node} reported pump ${f.pump}, which it does not drive`);
          return;
        }
        this.#epoch(t, f.epoch);
        const track = t.pumps.get(p.id) ?? newPump();
        t.pumps.set(p.id, track);
        track.state = f.state;
        track.since = f.since;
        if (f.state === 'running') {
          track.cause = f.cause === '' ? null : f.cause;
          // The runtime carried across restarts counts: the run "started" that long before now.
          track.runStart = this.#o.clock.now() - f.runtimeMs;
        } else {
          track.cause = f.cause === '' ? null : f.cause;
          track.runStart = null;
          track.lastRuntimeMs = f.runtimeMs;
        }
        return;
      }
      default:
        // epoch, held, command: the epoch they carry is news; the rest is the members' business.
        this.#epoch(t, f.epoch);
    }
  }

  #epoch(t: ZoneTrack, epoch: number): void {
    if (Number.isSafeInteger(epoch) && epoch > t.epoch) t.epoch = epoch;
  }

  /**
   * A detection of `node`'s camera, for every zone that lists that camera on that node (only a camera's
   * own node speaks for it). `zone` given (a frame): that zone must be one the hub watches.
   */
  #detect(site: string, node: string, d: Detection, fromEvent: boolean, zone?: string, epoch?: number): void {
    if (zone !== undefined && this.#memberZone(zone, site, node) === undefined) return;
    if (d.node !== node) {
      this.#reject('not-member', `${site}/${node} sent a detection of ${d.node}'s camera ${d.camera}`);
      return;
    }
    let matched = false;
    for (const t of this.#zones.values()) {
      if (this.#replayOnly !== undefined && !this.#replayOnly.has(t.zone.id)) continue;
      if (!this.#siteMatches(t, site) || !t.zone.cameras.some((c) => c.id === d.camera && c.node === node)) continue;
      matched = true;
      if (zone === t.zone.id && epoch !== undefined) this.#epoch(t, epoch);
      const key = `${node}\0${d.id}`;
      if (!t.detections.has(key)) t.detections.set(key, { d });
    }
    if (!matched && !fromEvent && zone !== undefined)
      this.#reject('not-member', `${site}/${node} has no camera ${d.camera} in zone ${zone}`);
  }

  #zoneRecord(site: string, node: string, r: ZoneRecordPayload, live: boolean): void {
    const t = this.#memberZone(r.zone, site, node);
    if (t === undefined) return;
    const record: ZoneRecordPayload = { ...r, node };
    this.#epoch(t, r.epoch);
    t.decisions.push(record);
    t.decisions.sort((a, b) => a.at - b.at);
    if (t.decisions.length > MAX_DECISIONS_PER_ZONE) t.decisions.splice(0, t.decisions.length - MAX_DECISIONS_PER_ZONE);
    if (live) this.#o.metrics?.decisions.inc({ zone: t.zone.id, kind: r.kind });
    switch (r.kind) {
      case 'majority':
        t.majorityAt.set(node, true);
        t.lastDecisionAt = Math.max(t.lastDecisionAt ?? r.at, r.at);
        if (live) {
          t.latencyWaiting.push({ record, until: this.#o.clock.now() + LATENCY_WAIT_MS });
          this.#measureWaiting(t, this.#o.clock.now(), false);
        }
        break;
      case 'isolated-fallback':
        t.lastDecisionAt = Math.max(t.lastDecisionAt ?? r.at, r.at);
        break;
      case 'majority-lapsed':
        t.majorityAt.set(node, false);
        break;
      case 'vote': {
        const last = t.votes.get(node);
        if (t.zone.voters.includes(node) && (last === undefined || r.at > last.at))
          t.votes.set(node, { at: r.at, epoch: r.epoch, seq: 0, ttlMs: t.zone.policy.voteTtlMs, evidence: [...(r.detections ?? [])] });
        break;
      }
    }
  }

  #pumpRecord(site: string, node: string, r: PumpRecordPayload): void {
    const t = this.#memberZone(r.zone, site, node);
    if (t === undefined) return;
    const p = t.zone.pumps.find((x) => x.id === r.pump);
    if (p === undefined || p.node !== node) {
      this.#reject('not-member', `${site}/${node} recorded pump ${r.pump}, which it does not drive`);
      return;
    }
    const track = t.pumps.get(p.id) ?? newPump();
    t.pumps.set(p.id, track);
    switch (r.kind) {
      case 'started':
        track.state = 'running';
        track.cause = r.action ?? null;
        track.since = r.at;
        track.runStart = r.at;
        track.lastStart = { at: r.at, cause: r.action ?? '', by: r.by };
        break;
      case 'stopped': {
        const reason = r.action ?? '';
        const ran = /^ran (\d+) ms$/.exec(r.detail);
        track.state = reason === 'estop' ? 'estop' : 'stopped';
        track.cause = reason;
        track.since = r.at;
        track.runStart = null;
        if (ran !== null) track.lastRuntimeMs = Number(ran[1]);
        track.lastStop = { at: r.at, reason, by: r.by };
        break;
      }
      case 'fault':
        if (r.outcome === 'failed') {
          track.state = 'fault';
          track.cause = r.detail;
          track.since = r.at;
        } else if (track.state === 'fault') {
          track.state = 'stopped';
          track.since = r.at;
        }
        break;
      case 'command':
        if (r.outcome !== 'accepted') break;
        if (r.action === 'estop' && track.state !== 'running') {
          track.state = 'estop';
          track.cause = 'estop';
          track.since = r.at;
        } else if (r.action === 'clear' && track.state === 'estop') {
          track.state = 'stopped';
          track.since = r.at;
        }
        break;
      case 'restored': {
        const m = /^resumed (\S+) run at (\d+) ms$/.exec(r.detail);
        if (m !== null) {
          track.state = 'running';
          track.cause = m[1] as string;
          track.runStart = r.at - Number(m[2]);
          track.since = track.since ?? r.at;
        } else if (r.detail === 'emergency stop latched') {
          track.state = 'estop';
          track.since = r.at;
        } else if (r.detail === 'stopped') {
          track.state = 'stopped';
          track.since = r.at;
        }
        break;
      }
    }
  }

  // ---------- what is derived ----------

  #queueRefresh(): void {
    if (this.#refreshQueued) return;
    this.#refreshQueued = true;
    queueMicrotask(() => {
      this.#refreshQueued = false;
      this.refresh();
    });
  }

  #prune(t: ZoneTrack, now: number): void {
    const oldest = now - ZONE_DETECTION_KEEP_MS;
    for (const [k, h] of t.detections) if (h.d.time < oldest) t.detections.delete(k);
    if (t.detections.size > MAX_DETECTIONS_PER_ZONE) {
      const sorted = [...t.detections].sort((a, b) => a[1].d.time - b[1].d.time);
      for (const [k] of sorted.slice(0, t.detections.size - MAX_DETECTIONS_PER_ZONE)) t.detections.delete(k);
    }
  }

  #detectionsOf(t: ZoneTrack): Detection[] {
    return [...t.detections.values()].map((h) => h.d);
  }

  #evaluate(t: ZoneTrack, now: number): ZoneEvaluation {
    return evaluateZone(t.zone, this.#detectionsOf(t), now);
  }

  #running(t: ZoneTrack): number {
    let n = 0;
    for (const p of t.pumps.values()) if (p.state === 'running') n++;
    return n;
  }

  /**
   * [FM-HUB-ZONE-6] Detections are pending while counted detections are in the window (or the evaluator
   * says fire) and no majority holds, no pump runs, and no majority or fallback decision was made within the
   * window and cooldown before now. Pending starts at the oldest counted detection in the window.
   */
  #trackPending(t: ZoneTrack, now: number): void {
    const counted = this.#detectionsOf(t).filter((d) => isCountedDetection(t.zone, d, now));
    const { windowMs, cooldownMs } = t.zone.policy;
    const decided =
      [...t.majorityAt.values()].some(Boolean) ||
      this.#running(t) > 0 ||
      (t.lastDecisionAt !== null && t.lastDecisionAt >= now - windowMs - cooldownMs);
    if (counted.length === 0 || decided) {
      t.pendingSince = undefined;
      return;
    }
    if (t.pendingSince === undefined) t.pendingSince = Math.min(now, ...counted.map((d) => d.time));
  }

  /**
   * [FM-HUB-ZONE-7] Decision latency: among the majority's evidence, the detection whose arrival made the
   * evaluator say fire (earliest prefix by time that fires), to the majority record's time.
   */
  #measureWaiting(t: ZoneTrack, now: number, force: boolean): void {
    for (let i = t.latencyWaiting.length - 1; i >= 0; i--) {
      const w = t.latencyWaiting[i] as { record: ZoneRecordPayload; until: number };
      const ids = new Set(w.record.detections ?? []);
      const evidence = this.#detectionsOf(t)
        .filter((d) => ids.has(d.id))
        .sort((a, b) => a.time - b.time);
      const complete = evidence.length >= ids.size;
      if (!complete && now < w.until && !force) continue;
      t.latencyWaiting.splice(i, 1);
      for (let k = 0; k < evidence.length; k++) {
        const last = evidence[k] as Detection;
        if (!evaluateZone(t.zone, evidence.slice(0, k + 1), last.time).fire) continue;
        this.#o.metrics?.decisionLatency.observe(Math.max(0, w.record.at - last.time) / 1_000);
        break;
      }
    }
  }

  /** Fleet records by node id (a zone without a site finds its voters in any site). */
  #voterIndex(): VoterIndex {
    const index: VoterIndex = new Map();
    for (const r of this.#o.fleet.nodes()) {
      const list = index.get(r.node);
      if (list === undefined) index.set(r.node, [r]);
      else list.push(r);
    }
    return index;
  }

  #voterRecord(t: ZoneTrack, node: string, index: VoterIndex) {
    const all = (index.get(node) ?? []).filter((r) => this.#siteMatches(t, r.site));
    return all.find((r) => r.state === 'online') ?? all[0];
  }

  #votersOnline(t: ZoneTrack, index: VoterIndex): number {
    return t.zone.voters.filter((v) => this.#voterRecord(t, v, index)?.state === 'online').length;
  }

  /** When the voter whose loss took the majority away stopped being online (0: a voter never heard). */
  #quorumLostSince(t: ZoneTrack, index: VoterIndex): number {
    const n = t.zone.voters.length;
    const lost = t.zone.voters
      .map((v) => this.#voterRecord(t, v, index))
      .filter((r) => r?.state !== 'online')
      .map((r) => (r === undefined || r.state === 'unknown' ? 0 : r.lastChanged))
      .sort((a, b) => a - b);
    // The majority went with the (n - majority + 1)-th voter to go.
    return lost[n - majorityOf(n)] ?? 0;
  }

  #site(t: ZoneTrack, index: VoterIndex): string {
    if (t.zone.site !== null) return t.zone.site;
    for (const v of [...t.zone.voters, ...t.zone.pumps.map((p) => p.node)]) {
      const r = this.#voterRecord(t, v, index);
      if (r !== undefined) return r.site;
    }
    return '';
  }

  #summary(t: ZoneTrack, now: number, index: VoterIndex): ZoneSummary {
    const z = t.zone;
    const online = this.#votersOnline(t, index);
    const needed = majorityOf(z.voters.length);
    const detections = this.#detectionsOf(t);
    return {
      zone: z.id,
      site: z.site ?? (this.#site(t, index) || null),
      source: z.source ?? 'hub.yaml',
      epoch: t.epoch,
      voters: z.voters.length,
      votersOnline: online,
      majorityNeeded: needed,
      majorityVisible: online >= needed,
      fire: evaluateZone(z, detections, now).fire,
      detectionsInWindow: detections.filter((d) => d.time >= now - z.policy.windowMs && d.time <= now + z.policy.maxClockSkewMs).length,
      pumps: z.pumps.length,
      pumpsRunning: this.#running(t),
      lastDecisionAt: iso(t.lastDecisionAt),
      overlaps: [...z.overlaps],
      activates: [...z.policy.activates],
    };
  }

  #pumpView(t: ZoneTrack, pump: string, now: number): PumpView {
    const p = t.zone.pumps.find((x) => x.id === pump);
    const track = t.pumps.get(pump) ?? newPump();
    const runtimeMs = track.state === 'running' && track.runStart !== null ? Math.max(0, now - track.runStart) : track.lastRuntimeMs;
    const maxMs = p?.envelope.maxRuntimeMs ?? 0;
    return {
      pump,
      owner: p?.node ?? '',
      state: track.state,
      cause: track.cause,
      since: iso(track.since),
      runtimeSeconds: Math.round(runtimeMs) / 1_000,
      maxRuntimeSeconds: maxMs / 1_000,
      atMaxRuntime: p?.envelope.atMaxRuntime ?? 'stop',
      overRuntime: track.state === 'running' && runtimeMs > maxMs,
      lastStart: track.lastStart === null ? null : { ...track.lastStart, at: iso(track.lastStart.at) as string },
      lastStop: track.lastStop === null ? null : { ...track.lastStop, at: iso(track.lastStop.at) as string },
    };
  }

  #decisionView(r: ZoneRecordPayload): DecisionView {
    return {
      at: iso(r.at) as string,
      node: r.node,
      kind: r.kind,
      epoch: r.epoch,
      ...(typeof r.cause === 'string' ? { cause: r.cause } : {}),
      ...(typeof r.reason === 'string' ? { reason: r.reason } : {}),
      ...(Array.isArray(r.detections) ? { detections: [...r.detections] } : {}),
      ...(Array.isArray(r.votes) ? { votes: r.votes.map((v) => ({ voter: v.voter, seq: v.seq, time: iso(v.time) as string })) } : {}),
      ...(Array.isArray(r.pumps) ? { pumps: [...r.pumps] } : {}),
    };
  }
}
