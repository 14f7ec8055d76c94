// The hub's picture of the fleet: every node's lifecycle state, session and latest values. Pure: no I/O,
// time comes from the injected clock and from the receive times the caller passes in.

import type { Clock } from '../../kit/index.js';
import {
  type BirthFrame,
  type DeathFrame,
  type DeathReason,
  type DigestEntry,
  type EventFrame,
  type NodeChannel,
  type NodeStateName,
  type RawDataFrame,
  type RebirthReason,
  type SeriesDef,
  SessionDecoder,
  type WireFrame,
  type WireValue,
} from '../../protocol/index.js';
import type { StoredNode } from '../storage/storage.js';

/** Why a frame was refused; the same names label `fieldmesh_frames_rejected_total{reason}`. */
export type RejectReason =
  | 'truncated'
  | 'malformed'
  | 'oversized'
  | 'version'
  | 'unknown-topic'
  | 'gap'
  | 'unknown-alias'
  | 'bad-delta'
  | 'no-session';

export const REJECT_REASONS: readonly RejectReason[] = [
  'truncated',
  'malformed',
  'oversized',
  'version',
  'unknown-topic',
  'gap',
  'unknown-alias',
  'bad-delta',
  'no-session',
];

/**
 * Why the hub asks a node to re-announce. `bad-delta` travels on the wire as `gap` (the protocol has no
 * separate reason: either way the hub lost track of the node's values) but is counted apart.
 */
export type RebirthCause = 'unknown-node' | 'gap' | 'unknown-alias' | 'bad-delta';

export interface RebirthRequest {
  readonly cause: RebirthCause;
  readonly reason: RebirthReason;
}

export interface NodeCounters {
  frames: number;
  samples: number;
  /** Gaps detected (a broken session counts once until the next birth). */
  gaps: number;
  rebirthsRequested: number;
  rejected: Partial<Record<RejectReason, number>>;
}

/** The latest value of one series of a node. */
export interface SeriesValue {
  readonly def: SeriesDef;
  readonly value: WireValue;
  /** Sample time (node clock), ms since the Unix epoch. */
  readonly time: number;
}

/** One node as the hub sees it. Read through `FleetState`; only the fleet state mutates it. */
export interface NodeRecord {
  /** "site/node". */
  readonly key: string;
  readonly site: string;
  readonly node: string;
  zone: string;
  state: NodeStateName;
  /** Session epoch of the current birth (or the last one known from storage). */
  epoch: number | undefined;
  /** Time of the current birth (node clock). */
  birthTime: number | undefined;
  agentVersion: string | undefined;
  /** When the node's current session started (node clock), from its birth; unknown before one. [FM-FRAME-5] */
  bootTime: number | undefined;
  /**
   * The same instant on the hub's clock: receipt of the birth minus the uptime the birth states (its time
   * minus its boot time, both node clock), so uptime needs no synchronised clocks.
   */
  bootTimeHub: number | undefined;
  /** The node's config hash from its birth ("" when it names none). [FM-FRAME-5] */
  configVersion: string | undefined;
  tickMs: number | undefined;
  heartbeatMs: number | undefined;
  /** Hub receive time of the last frame from the node, ms since the Unix epoch. */
  lastHeard: number | undefined;
  /** Hub time of the last state change. */
  lastChanged: number;
  readonly decoder: SessionDecoder;
  /** Latest values by alias; replaced on every birth. */
  readonly values: Map<number, SeriesValue>;
  readonly counters: NodeCounters;
  /**
   * Monotonic time of the last rebirth request, for rate limiting; moved to when the broker took it once the
   * publisher says so (`rebirthSettled`).
   */
  lastRebirthAt: number | undefined;
  /** A request is on its way to the broker (`rebirthQueued` .. `rebirthSettled`): no other is asked meanwhile. */
  rebirthInFlight: boolean;
  /** Requests since the node's last birth: each one unanswered doubles the wait before the next. */
  rebirthsUnanswered: number;
}

interface FleetEventBase {
  readonly site: string;
  readonly node: string;
  /** Hub time of the change. */
  readonly at: number;
}

/** What changed in the fleet; named in the past tense. */
export type FleetEvent =
  | (FleetEventBase & { readonly type: 'nodeWentOnline'; readonly previous: NodeStateName })
  | (FleetEventBase & { readonly type: 'nodeWentStale'; readonly previous: NodeStateName })
  | (FleetEventBase & { readonly type: 'nodeWentOffline'; readonly previous: NodeStateName; readonly reason: DeathReason })
  | (FleetEventBase & { readonly type: 'valuesChanged'; readonly count: number });

export type FleetEventType = FleetEvent['type'];

/** A value to keep in history. */
export interface FleetSample {
  readonly def: SeriesDef;
  readonly time: number;
  readonly value: WireValue;
}

/** What became of one frame. */
export interface FrameOutcome {
  readonly site: string;
  readonly node: string;
  readonly zone: string;
  /** The frame changed the fleet state (values, session or liveness). */
  readonly applied: boolean;
  readonly rejected?: RejectReason;
  /** Accepted but without effect: a duplicate, or a frame of an older session. */
  readonly ignored?: 'duplicate' | 'old-epoch';
  readonly samples: readonly FleetSample[];
  readonly rebirth?: RebirthRequest;
  readonly events: readonly FleetEvent[];
  /** Receive time minus sample time, one per sample the frame carried. [FM-FRAME-7] */
  readonly sampleAgesMs?: readonly number[];
  /** The event of an event frame, for whoever keeps events. */
  readonly event?: EventFrame;
}

/** What storage remembers of a node across hub restarts. */
export type KnownNode = StoredNode;

export interface FleetStateOptions {
  readonly clock: Clock;
  /** A node is stale when silent for more than this many heartbeats. */
  readonly staleAfterHeartbeats: number;
  /** At most one rebirth request per node within this many ms. */
  readonly rebirthMinIntervalMs: number;
}

export interface FrameSource {
  readonly site: string;
  readonly node: string;
  readonly channel: NodeChannel;
}

const WIRE_REASON: Record<RebirthCause, RebirthReason> = {
  'unknown-node': 'unknown-node',
  gap: 'gap',
  'unknown-alias': 'unknown-alias',
  'bad-delta': 'gap',
};

/**
 * The longest wait between two rebirth requests a node leaves unanswered (the interval doubles from
 * `rebirthMinIntervalMs` up to this). A minute: a birth that has not come by then was lost with the request or
 * the node is busy with something else; asking more often only queues more requests behind the first.
 */
export const REBIRTH_RETRY_MAX_MS = 60_000;

export function nodeKey(site: string, node: string): string {
  return `${site}/${node}`;
}

export class FleetState {
  private readonly records = new Map<string, NodeRecord>();
  private readonly clock: Clock;
  private readonly staleAfterHeartbeats: number;
  private readonly rebirthMinIntervalMs: number;
  private changed = false;

  constructor(options: FleetStateOptions) {
    this.clock = options.clock;
    this.staleAfterHeartbeats = options.staleAfterHeartbeats;
    this.rebirthMinIntervalMs = options.rebirthMinIntervalMs;
  }

  /** Every node, sorted by site then node. */
  nodes(): readonly Readonly<NodeRecord>[] {
    return [...this.records.values()].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  get(site: string, node: string): Readonly<NodeRecord> | undefined {
    return this.records.get(nodeKey(site, node));
  }

  /** By "site/node". */
  getByKey(key: string): Readonly<NodeRecord> | undefined {
    return this.records.get(key);
  }

  get size(): number {
    return this.records.size;
  }

  /** Milliseconds since the node was last heard, or undefined when never. */
  lastHeardAgeMs(record: Readonly<NodeRecord>, now = this.clock.now()): number | undefined {
    return record.lastHeard === undefined ? undefined : Math.max(0, now - record.lastHeard);
  }

  /** Counts of nodes by state. */
  countByState(): Record<NodeStateName, number> {
    const counts: Record<NodeStateName, number> = { unknown: 0, online: 0, stale: 0, offline: 0 };
    for (const r of this.records.values()) counts[r.state]++;
    return counts;
  }

  /**
   * Adds a node remembered from before a hub restart. Without a session the hub cannot vouch for it:
   * a node last seen online or stale comes back as `unknown`; one seen going offline stays `offline`.
   */
  restore(known: KnownNode): void {
    const key = nodeKey(known.site, known.node);
    if (this.records.has(key)) return;
    const record = this.create(known.site, known.node, known.zone);
    record.state = known.state === 'offline' ? 'offline' : 'unknown';
    record.epoch = known.epoch;
    record.agentVersion = known.agentVersion;
    record.tickMs = known.tickMs;
    record.heartbeatMs = known.heartbeatMs;
    record.lastHeard = known.lastHeard;
    record.lastChanged = known.lastChanged;
    record.bootTime = known.bootTime;
    record.bootTimeHub = known.bootTimeHub;
    record.configVersion = known.configVersion;
  }

  /** Applies one decoded frame received on a node topic at hub time `receivedAt`. Never throws. */
  applyFrame(source: FrameSource, frame: WireFrame, receivedAt: number = this.clock.now()): FrameOutcome {
    const known = this.records.get(nodeKey(source.site, source.node));
    if (frame.type !== source.channel) {
      // A frame on the wrong channel (a digest on .../data) is not news about the node.
      if (known) known.counters.rejected.malformed = (known.counters.rejected.malformed ?? 0) + 1;
      return {
        site: source.site,
        node: source.node,
        zone: known?.zone ?? '',
        applied: false,
        rejected: 'malformed',
        samples: [],
        events: [],
      };
    }
    const record = known ?? this.create(source.site, source.node, '');
    switch (frame.type) {
      case 'birth':
        return this.applyBirth(record, frame, receivedAt);
      case 'data':
        return this.applyData(record, frame, receivedAt);
      case 'death':
        return this.applyDeath(record, frame, receivedAt);
      case 'event':
        return this.applyEvent(record, frame, receivedAt);
      case 'history':
      case 'reply':
        // History is the durable plane: the hub stores it and acknowledges it; it never touches live state.
        // Replies answer the hub's queries (hub/node-commands.ts): an answer is not news about the node either.
        return { ...this.base(record), applied: false, samples: [], events: [] };
    }
  }

  /** Marks online nodes stale when silent for more than staleAfterHeartbeats x heartbeatMs. */
  sweep(now: number = this.clock.now()): FleetEvent[] {
    const events: FleetEvent[] = [];
    for (const r of this.records.values()) {
      if (r.state !== 'online' || r.heartbeatMs === undefined || r.lastHeard === undefined) continue;
      if (now - r.lastHeard > this.staleAfterHeartbeats * r.heartbeatMs) {
        events.push(this.transition(r, 'stale', now) as FleetEvent);
      }
    }
    return events;
  }

  /** Entries for a digest frame. */
  digestEntries(now: number = this.clock.now()): DigestEntry[] {
    return this.nodes().map((r) => ({ node: r.key, state: r.state, lastHeardAgeMs: Math.round(this.lastHeardAgeMs(r, now) ?? 0) }));
  }

  /** True when a node changed state (or was born) since the last call; resets the flag. */
  takeChanged(): boolean {
    const changed = this.changed;
    this.changed = false;
    return changed;
  }

  private create(site: string, node: string, zone: string): NodeRecord {
    const record: NodeRecord = {
      key: nodeKey(site, node),
      site,
      node,
      zone,
      state: 'unknown',
      epoch: undefined,
      birthTime: undefined,
      agentVersion: undefined,
      bootTime: undefined,
      bootTimeHub: undefined,
      configVersion: undefined,
      tickMs: undefined,
      heartbeatMs: undefined,
      lastHeard: undefined,
      lastChanged: this.clock.now(),
      decoder: new SessionDecoder(),
      values: new Map(),
      counters: { frames: 0, samples: 0, gaps: 0, rebirthsRequested: 0, rejected: {} },
      lastRebirthAt: undefined,
      rebirthInFlight: false,
      rebirthsUnanswered: 0,
    };
    this.records.set(record.key, record);
    this.changed = true;
    return record;
  }

  private applyBirth(r: NodeRecord, b: BirthFrame, receivedAt: number): FrameOutcome {
    r.counters.frames++;
    // [FM-SESSION-1] Epochs only grow: a birth of an older boot is a late delivery, not news.
    if (r.epoch !== undefined && b.epoch < r.epoch) return this.ignore(r, 'old-epoch');
    r.decoder.applyBirth(b);
    // Whatever asked for it, the node answered: a later gap waits rebirthMinInterval again, not a backed-off interval.
    r.rebirthsUnanswered = 0;
    r.epoch = b.epoch;
    r.birthTime = b.time;
    r.zone = b.zone;
    r.agentVersion = b.agentVersion;
    r.bootTime = b.bootTime;
    r.bootTimeHub = receivedAt - Math.max(0, b.time - b.bootTime);
    r.configVersion = b.configVersion;
    r.tickMs = b.tickMs;
    r.heartbeatMs = b.heartbeatMs;
    r.lastHeard = receivedAt;
    r.values.clear();
    const samples: FleetSample[] = [];
    for (const def of b.series) {
      // [FM-FRAME-5] Each value at the time it was sampled, never at the birth's.
      const time = def.time ?? b.time;
      r.values.set(def.alias, { def, value: def.value, time });
      samples.push({ def, time, value: def.value });
    }
    r.counters.samples += samples.length;
    this.changed = true;
    const events: FleetEvent[] = [];
    const went = this.transition(r, 'online', receivedAt);
    if (went) events.push(went);
    events.push({ type: 'valuesChanged', site: r.site, node: r.node, at: receivedAt, count: samples.length });
    return { ...this.base(r), applied: true, samples, events, sampleAgesMs: samples.map((s) => receivedAt - s.time) };
  }

  private applyData(r: NodeRecord, f: RawDataFrame, receivedAt: number): FrameOutcome {
    r.counters.frames++;
    const wasBroken = r.decoder.birth !== undefined && r.decoder.awaitingBirth;
    const result = r.decoder.applyData(f);
    switch (result.kind) {
      case 'applied': {
        const events = this.heard(r, receivedAt);
        const samples: FleetSample[] = [];
        for (const e of result.frame.entries) {
          const def = r.decoder.series(e.alias);
          if (def === undefined) continue;
          // [FM-FRAME-7] At the time the value was sampled: a live copy never lands on another sample's time.
          r.values.set(e.alias, { def, value: e.value, time: e.time });
          samples.push({ def, time: e.time, value: e.value });
        }
        r.counters.samples += samples.length;
        if (samples.length > 0) events.push({ type: 'valuesChanged', site: r.site, node: r.node, at: receivedAt, count: samples.length });
        return { ...this.base(r), applied: true, samples, events, sampleAgesMs: samples.map((s) => receivedAt - s.time) };
      }
      case 'stale':
        return this.ignore(r, 'duplicate');
      case 'wrong-epoch':
        if (r.epoch !== undefined && f.epoch < r.epoch) return this.ignore(r, 'old-epoch');
        // A newer boot whose birth we missed: the node is alive, but its values cannot be read.
        r.lastHeard = receivedAt;
        return this.reject(r, 'no-session', [], 'unknown-node');
      case 'no-session':
        r.lastHeard = receivedAt;
        return this.reject(r, 'no-session', [], 'unknown-node');
      case 'gap': {
        if (!wasBroken) r.counters.gaps++;
        return this.reject(r, 'gap', this.heard(r, receivedAt), 'gap');
      }
      case 'unknown-alias':
        return this.reject(r, 'unknown-alias', this.heard(r, receivedAt), 'unknown-alias');
      case 'bad-delta':
        return this.reject(r, 'bad-delta', this.heard(r, receivedAt), 'bad-delta');
    }
  }

  private applyDeath(r: NodeRecord, d: DeathFrame, receivedAt: number): FrameOutcome {
    r.counters.frames++;
    // A will delivered late, after the node already restarted with a newer epoch, says nothing. [FM-SESSION-1]
    if (r.epoch !== undefined && d.epoch < r.epoch) return this.ignore(r, 'old-epoch');
    r.epoch = d.epoch;
    const went = this.transition(r, 'offline', receivedAt, d.reason);
    return { ...this.base(r), applied: true, samples: [], events: went ? [went] : [] };
  }

  private applyEvent(r: NodeRecord, e: EventFrame, receivedAt: number): FrameOutcome {
    r.counters.frames++;
    if (r.epoch !== undefined && e.epoch < r.epoch) return this.ignore(r, 'old-epoch');
    if (r.decoder.birth === undefined || e.epoch !== r.decoder.epoch) {
      // Events need no alias table, so they are kept; the node is asked to announce itself.
      r.lastHeard = receivedAt;
      const rebirth = this.maybeRebirth(r, 'unknown-node');
      return { ...this.base(r), applied: true, samples: [], events: [], event: e, ...(rebirth ? { rebirth } : {}) };
    }
    return { ...this.base(r), applied: true, samples: [], events: this.heard(r, receivedAt), event: e };
  }

  /** A frame of the current session: the node is alive; stale or offline nodes come back online. */
  private heard(r: NodeRecord, receivedAt: number): FleetEvent[] {
    r.lastHeard = receivedAt;
    if (r.state === 'online') return [];
    const went = this.transition(r, 'online', receivedAt);
    return went ? [went] : [];
  }

  private transition(r: NodeRecord, to: NodeStateName, at: number, reason: DeathReason = 'lost'): FleetEvent | undefined {
    const previous = r.state;
    if (previous === to) return undefined;
    r.state = to;
    r.lastChanged = at;
    this.changed = true;
    const base = { site: r.site, node: r.node, at, previous };
    switch (to) {
      case 'online':
        return { type: 'nodeWentOnline', ...base };
      case 'stale':
        return { type: 'nodeWentStale', ...base };
      case 'offline':
        return { type: 'nodeWentOffline', ...base, reason };
      case 'unknown':
        return undefined;
    }
  }

  /**
   * The publisher of the request `applyFrame` returned has handed it to the transport: until it settles, no other
   * request is asked of the node. A hub behind on its broker link publishes requests late (they wait behind its
   * acks); asking again meanwhile only queues another birth to come, each a reset and more work. [FM-SESSION-5]
   */
  rebirthQueued(site: string, node: string): void {
    const r = this.records.get(nodeKey(site, node));
    if (r !== undefined) r.rebirthInFlight = true;
  }

  /**
   * The request left the hub (`delivered`: the broker took it, QoS 1) or failed. A delivered request is timed from
   * now: the node's birth can only come after it.
   */
  rebirthSettled(site: string, node: string, delivered: boolean): void {
    const r = this.records.get(nodeKey(site, node));
    if (r === undefined) return;
    r.rebirthInFlight = false;
    if (delivered) r.lastRebirthAt = this.clock.monotonic();
  }

  /**
   * [FM-SESSION-5] At most one request per node per `rebirthMinInterval`, none while one is on its way to the
   * broker, and each further one the node leaves unanswered (no birth since) waits twice as long as the last, up
   * to REBIRTH_RETRY_MAX_MS: a broken session asks once, not once per interval until the birth arrives.
   */
  private maybeRebirth(r: NodeRecord, cause: RebirthCause): RebirthRequest | undefined {
    if (r.rebirthInFlight) return undefined;
    const now = this.clock.monotonic();
    if (r.lastRebirthAt !== undefined && now - r.lastRebirthAt < this.rebirthRetryMs(r)) return undefined;
    r.lastRebirthAt = now;
    r.rebirthsUnanswered++;
    r.counters.rebirthsRequested++;
    return { cause, reason: WIRE_REASON[cause] };
  }

  private rebirthRetryMs(r: NodeRecord): number {
    const base = this.rebirthMinIntervalMs;
    return Math.min(base * 2 ** Math.max(0, r.rebirthsUnanswered - 1), Math.max(base, REBIRTH_RETRY_MAX_MS));
  }

  private base(r: NodeRecord): { site: string; node: string; zone: string } {
    return { site: r.site, node: r.node, zone: r.zone };
  }

  private ignore(r: NodeRecord, why: 'duplicate' | 'old-epoch'): FrameOutcome {
    return { ...this.base(r), applied: false, ignored: why, samples: [], events: [] };
  }

  private reject(r: NodeRecord, reason: RejectReason, events: FleetEvent[], cause?: RebirthCause): FrameOutcome {
    r.counters.rejected[reason] = (r.counters.rejected[reason] ?? 0) + 1;
    const rebirth = cause === undefined ? undefined : this.maybeRebirth(r, cause);
    return { ...this.base(r), applied: false, rejected: reason, samples: [], events, ...(rebirth ? { rebirth } : {}) };
  }
}
