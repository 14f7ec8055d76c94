// The awareness plane of one node: at most one frame per tick on its link (a pulse with the critical
// values that moved beyond their deadband or reached their max silence, an empty pulse as heartbeat,
// or an announce), and everything it hears folded into its fleet view and membership. Liveness rides
// on the frames; there is no other traffic in steady state. [FM-AWARE-1..6]

import type { Clock, Logger, TimerHandle } from '../kit/index.js';
import {
  type AwarenessFrame,
  type DataEntry,
  decodeAwarenessFrame,
  encodeAnnounce,
  encodeLeave,
  encodePulse,
  encodeWant,
  FIELDMESH_VERSION,
  MAX_HOPS,
  originIdOf,
  pulseValueOf,
  SEQ_MODULO,
  SESSION_MODULO,
  type SeriesDef,
} from '../protocol/index.js';
import type { FrameLink, LinkPeer } from '../transport/index.js';
import { type FleetSnapshot, FleetView } from './fleet-view.js';
import { type MemberState, Membership, type MembershipChange, type MembershipChangeKind } from './membership.js';
import { Relay } from './relay.js';

/** The critical set as the plane sees it: a sending state of its own (agent/critical-set.ts). */
export interface CriticalCursor {
  readonly birthNeeded: boolean;
  birthSeries(now: number): SeriesDef[];
  due(now: number): DataEntry[];
}

/** Suspects named in one pulse at most (see `suspectsForPulse`). */
export const MAX_SUSPECTS_PER_PULSE = 4;

export interface AwarenessIdentity {
  readonly site: string;
  readonly node: string;
  readonly zone: string;
}

export interface AwarenessPlaneOptions {
  readonly identity: AwarenessIdentity;
  /** The node's boot counter. */
  readonly epoch: number;
  /** When this boot started (ms since the Unix epoch) and the config hash, as the node's births carry them. [FM-FRAME-5] */
  readonly bootTime?: number;
  readonly configVersion?: string;
  /** A configured 16-bit origin id; derived from "site/node" when absent. */
  readonly origin?: number;
  readonly link: FrameLink;
  readonly critical: CriticalCursor;
  readonly clock: Clock;
  readonly logger: Logger;
  /** One frame per tick at most. */
  readonly tickMs: number;
  /** The longest the node stays silent on this plane; an empty pulse goes out then. Default one tick. */
  readonly heartbeatMs?: number;
  /** Hops a frame may travel beyond the first (0: the shared segment only). Default 0. */
  readonly radius?: number;
  /** Only frames of nodes in the same zone are kept and relayed. Default false (the whole fleet). */
  readonly zoneOnly?: boolean;
  /** Forward first-seen frames with hops left. Default true when radius > 0. */
  readonly relay?: boolean;
  /** Pulses after a change that carry the changed value again, so lost frames leave nothing stale. Default 2. */
  readonly repeat?: number;
  /** A full announce this often even when nobody asked (a safety net). Default 5 min. */
  readonly announceEveryMs?: number;
  readonly onEvent?: (change: MembershipChange) => void;
}

export interface AwarenessStats {
  readonly origin: number;
  readonly framesSent: Readonly<Record<AwarenessFrame['type'], number>>;
  readonly bytesSent: number;
  /** Frames read (first copies; duplicates and rejected frames are counted apart), and their bytes. */
  readonly framesReceived: number;
  readonly bytesReceived: number;
  readonly framesRejected: Readonly<Record<string, number>>;
  readonly duplicates: number;
  readonly relayed: number;
  readonly collisions: number;
  /** Membership changes since start, by kind: joined, suspected, refuted, failed (dead verdicts), left, isolated, ... */
  readonly changes: Readonly<Record<MembershipChangeKind, number>>;
  /** Stalls of this node's own event loop longer than a tick (it judged nobody for two ticks after each). */
  readonly stalls: number;
  /** Members by state, as this node sees them now (itself left out). */
  readonly members: Readonly<Record<MemberState, number>>;
  /** This node hears nobody. */
  readonly isolated: boolean;
  /** Other observers whose current pulses suspect this node. */
  readonly suspectedBy: number;
}

export class AwarenessPlane {
  private fleetView!: FleetView;
  private members!: Membership;
  private relay!: Relay;
  private origin: number;
  private salt = 0;
  private seq = 0;
  private timer: TimerHandle | undefined;
  private judgeTimer: TimerHandle | undefined;
  /** When the judging timer is due: it runs every quarter tick, so a clock reading far past it is a stall. */
  private judgeDueAt = Number.POSITIVE_INFINITY;
  private nextTickAt = 0;
  private lastSentAt = Number.NEGATIVE_INFINITY;
  private lastAnnounceAt = Number.NEGATIVE_INFINITY;
  /** Announces still to send at boot: two, so one lost frame does not cost a want round. */
  private bootAnnounces = 2;
  private announceWanted = true;
  /** Origins heard whose announce we lack: asked for again every half tick until it comes. */
  private readonly unreadable = new Set<number>();
  private readonly wants = new Set<number>();
  /** When each origin was last asked for, so a run of its unreadable pulses asks once per tick. */
  private readonly wantedAt = new Map<number, number>();
  private wantTimer: TimerHandle | undefined;
  private answerTimer: TimerHandle | undefined;
  private jitterState: number;
  private suspectCursor = 0;
  /** Changed values still to repeat: alias -> [value, pulses left]. */
  private readonly repeats = new Map<number, [DataEntry['value'], number]>();
  private stopped = true;
  private readonly counts = {
    framesSent: { pulse: 0, announce: 0, want: 0, leave: 0 },
    bytesSent: 0,
    framesReceived: 0,
    bytesReceived: 0,
    framesRejected: {} as Record<string, number>,
    duplicates: 0,
    relayed: 0,
    collisions: 0,
    changes: { joined: 0, suspected: 0, refuted: 0, failed: 0, left: 0, isolated: 0, reconnected: 0, reached: 0 } as Record<
      MembershipChangeKind,
      number
    >,
    stalls: 0,
  };

  constructor(private readonly o: AwarenessPlaneOptions) {
    this.origin = o.origin ?? originIdOf(o.identity.site, o.identity.node);
    this.jitterState = (this.origin * 2_654_435_761 + o.epoch) >>> 0 || 1;
    this.resetView();
    o.link.onFrame((frame, from) => this.onFrame(frame, from));
  }

  /** What this node knows of the fleet. */
  get fleet(): FleetView {
    return this.fleetView;
  }

  get membership(): Membership {
    return this.members;
  }

  /** A new, empty view for the current origin id (at start, and after moving off a colliding id). */
  private resetView(): void {
    this.members = new Membership({ self: this.origin, intervalMs: this.o.tickMs });
    this.members.onChange((change) => this.report(change));
    const { site, node, zone } = this.o.identity;
    this.fleetView = new FleetView({ self: { origin: this.origin, site, node, zone, epoch: this.o.epoch }, membership: this.members });
    this.relay = new Relay({ self: this.origin, clock: this.o.clock });
  }

  get originId(): number {
    return this.origin;
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.nextTickAt = this.o.clock.now();
    this.judgeDueAt = this.nextTickAt;
    this.tick();
    this.judge();
  }

  /** The membership verdicts are revisited four times per tick, between the node's own frames. */
  private judge(): void {
    if (this.stopped) return;
    const now = this.now();
    this.membership.tick(now);
    for (const origin of this.unreadable) this.want(origin, now);
    this.judgeDueAt = now + this.o.tickMs / 4;
    this.judgeTimer = this.o.clock.setTimeout(() => this.judge(), this.o.tickMs / 4);
  }

  /**
   * The time, read the one way every path of the plane reads it. A reading more than a tick past the judging
   * timer's due time means this node's event loop was stalled (SIGSTOP, swap, a long GC): whichever runs first
   * after it, the judging timer, the sending one, a frame read from the socket or a view asked for, tells the
   * membership before anything is judged from the silence, so the stall is never taken for the others'.
   * (Lifeguard's lesson: a slow node distrusts its own verdicts.) A clock stepped forward counts as a stall too.
   */
  private now(): number {
    const now = this.o.clock.now();
    if (this.stopped) return now;
    const lagMs = now - this.judgeDueAt;
    if (lagMs > this.o.tickMs && this.members.selfLag(lagMs, now)) {
      this.counts.stalls++;
      this.judgeDueAt = now;
      this.o.logger.warn(
        { lagMs: Math.round(lagMs) },
        `awareness: this node was stalled for ${(lagMs / 1000).toFixed(1)} s; it judges nobody for the next two ticks`,
      );
    }
    return now;
  }

  /** Stops ticking; a graceful stop tells the others with a leave frame, so it is not a failure. */
  async stop(graceful = true): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.timer !== undefined) this.o.clock.clearTimeout(this.timer);
    if (this.judgeTimer !== undefined) this.o.clock.clearTimeout(this.judgeTimer);
    if (this.wantTimer !== undefined) this.o.clock.clearTimeout(this.wantTimer);
    if (this.answerTimer !== undefined) this.o.clock.clearTimeout(this.answerTimer);
    if (graceful) this.send('leave', encodeLeave(this.header()));
  }

  snapshot(): FleetSnapshot {
    return this.fleet.snapshot(this.now());
  }

  stats(): AwarenessStats {
    const now = this.now();
    const members: Record<MemberState, number> = { alive: 0, suspect: 0, unreachable: 0, dead: 0, left: 0 };
    for (const m of this.members.view(now)) members[m.state]++;
    return {
      origin: this.origin,
      framesSent: { ...this.counts.framesSent },
      bytesSent: this.counts.bytesSent,
      framesReceived: this.counts.framesReceived,
      bytesReceived: this.counts.bytesReceived,
      framesRejected: { ...this.counts.framesRejected },
      duplicates: this.counts.duplicates,
      relayed: this.counts.relayed,
      collisions: this.counts.collisions,
      changes: { ...this.counts.changes },
      stalls: this.counts.stalls,
      members,
      isolated: this.members.isolatedSinceMs !== undefined,
      suspectedBy: this.members.suspectedBy(now),
    };
  }

  private get radius(): number {
    return Math.min(MAX_HOPS, this.o.radius ?? 0);
  }

  private header() {
    const h = { origin: this.origin, hops: this.radius, session: this.o.epoch % SESSION_MODULO, seq: this.seq };
    this.seq = (this.seq + 1) % SEQ_MODULO;
    return h;
  }

  private schedule(): void {
    if (this.stopped) return;
    this.nextTickAt += this.o.tickMs;
    const now = this.o.clock.now();
    // After a stall, tick at once and line up again rather than firing every missed tick.
    if (this.nextTickAt < now) this.nextTickAt = now;
    this.timer = this.o.clock.setTimeout(() => this.tick(), this.nextTickAt - now);
  }

  private tick(): void {
    if (this.stopped) return;
    const now = this.now();
    const { critical } = this.o;
    const announceEvery = this.o.announceEveryMs ?? 300_000;
    if (critical.birthNeeded || this.announceWanted || now - this.lastAnnounceAt >= announceEvery) {
      this.sendAnnounce(now);
    } else {
      const due = critical.due(now);
      const entries: DataEntry[] = [...due];
      for (const [alias, [value, left]] of this.repeats) {
        if (!due.some((e) => e.alias === alias)) entries.push({ alias, value });
        if (left <= 1) this.repeats.delete(alias);
        else this.repeats.set(alias, [value, left - 1]);
      }
      const repeat = this.o.repeat ?? 2;
      if (repeat > 0) for (const e of due) this.repeats.set(e.alias, [e.value, repeat]);
      const suspects = this.suspectsForPulse(now);
      if (entries.length > 0 || suspects.length > 0 || now - this.lastSentAt >= (this.o.heartbeatMs ?? this.o.tickMs)) {
        const decimals = this.decimalsByAlias;
        const pulse = {
          type: 'pulse' as const,
          ...this.header(),
          entries: entries.map((e) => ({ alias: e.alias, value: pulseValueOf(e.value, decimals.get(e.alias) ?? 0) })),
          suspects,
        };
        this.send('pulse', encodePulse(pulse));
        this.fleet.recordOwnPulse(pulse, now);
        this.lastSentAt = now;
      }
    }
    this.schedule();
  }

  /**
   * At most MAX_SUSPECTS_PER_PULSE suspects ride in one pulse, taken in turn: a partition makes every node
   * suspect half the fleet, and naming them all would multiply the frame's size while each verdict needs
   * only a quarter of the observers' confirmations.
   */
  private suspectsForPulse(now: number): number[] {
    const all = this.membership.suspects(now);
    if (all.length <= MAX_SUSPECTS_PER_PULSE) return all;
    const start = this.suspectCursor % all.length;
    this.suspectCursor += MAX_SUSPECTS_PER_PULSE;
    return [...all, ...all].slice(start, start + MAX_SUSPECTS_PER_PULSE);
  }

  /** A short pseudo-random delay, so the many nodes that heard the same thing do not answer at once. */
  private jitter(maxMs: number): number {
    this.jitterState = (Math.imul(this.jitterState, 1_664_525) + 1_013_904_223) >>> 0;
    return (this.jitterState / 2 ** 32) * maxMs;
  }

  /**
   * Asks for an origin's announce, soon (not at the next tick: a node that joins should be readable within
   * a fraction of a tick), with the wants of the next moments in the same frame, at most twice a tick per origin.
   */
  private want(origin: number, now: number): void {
    if (now - (this.wantedAt.get(origin) ?? Number.NEGATIVE_INFINITY) < this.o.tickMs / 2) return;
    this.wantedAt.set(origin, now);
    this.wants.add(origin);
    this.wantTimer ??= this.o.clock.setTimeout(
      () => {
        this.wantTimer = undefined;
        if (this.stopped || this.wants.size === 0) return;
        this.send('want', encodeWant({ ...this.header(), origins: [...this.wants] }));
        this.wants.clear();
      },
      20 + this.jitter(this.o.tickMs / 10),
    );
  }

  /** Someone lacks our announce: send it soon; wants that crossed an announce just sent are answered by it. */
  private answerWant(now: number): void {
    if (this.answerTimer !== undefined || now - this.lastAnnounceAt < this.o.tickMs / 20) return;
    // The next tick is close: the announce goes out as that tick's frame, costing no extra frame.
    if (this.nextTickAt - now <= this.o.tickMs / 4) {
      this.announceWanted = true;
      return;
    }
    this.answerTimer = this.o.clock.setTimeout(
      () => {
        this.answerTimer = undefined;
        if (!this.stopped) this.sendAnnounce(this.now());
      },
      20 + this.jitter(this.o.tickMs / 10),
    );
  }

  private decimalsByAlias = new Map<number, number>();

  private sendAnnounce(now: number): void {
    const series = this.o.critical.birthSeries(now);
    this.decimalsByAlias = new Map(series.map((s) => [s.alias, s.decimals]));
    const { site, node, zone } = this.o.identity;
    const h = this.header();
    const announce = {
      type: 'announce' as const,
      ...h,
      site,
      node,
      birth: {
        type: 'birth' as const,
        epoch: this.o.epoch,
        seq: h.seq,
        time: Math.round(now),
        zone,
        agentVersion: FIELDMESH_VERSION,
        tickMs: this.o.tickMs,
        heartbeatMs: this.o.heartbeatMs ?? this.o.tickMs,
        series,
        bootTime: this.o.bootTime ?? Math.round(now),
        configVersion: this.o.configVersion ?? '',
      },
    };
    this.send('announce', encodeAnnounce(announce));
    this.fleet.recordOwnAnnounce(announce, now);
    this.bootAnnounces = Math.max(0, this.bootAnnounces - 1);
    this.announceWanted = this.bootAnnounces > 0;
    this.repeats.clear();
    this.lastAnnounceAt = now;
    this.lastSentAt = now;
  }

  private send(type: AwarenessFrame['type'], bytes: Uint8Array): void {
    this.counts.framesSent[type]++;
    this.counts.bytesSent += bytes.length;
    this.o.link.send(bytes);
  }

  private report(change: MembershipChange): void {
    this.counts.changes[change.kind]++;
    // A member back after a verdict, or heard again after this node's isolation, may have moved meanwhile: ask for
    // its announce, which carries every value.
    if (((change.kind === 'joined' && change.rejoined) || change.kind === 'reached') && !this.stopped) {
      this.unreadable.add(change.origin);
      this.want(change.origin, change.atMs);
    }
    const name = (origin: number) => this.fleetView?.nameOf(origin) ?? `origin ${origin}`;
    switch (change.kind) {
      case 'isolated':
        this.o.logger.warn(
          { ...change, unreachable: change.unreachable.map(name) },
          `awareness: this node hears nobody: all ${change.unreachable.length} members silent for ${(change.silentMs / 1000).toFixed(1)} s; isolated (its own receive path is the likelier fault); they are unreachable, not dead`,
        );
        break;
      case 'reconnected':
        this.o.logger.warn(
          { ...change, heardName: name(change.heard) },
          `awareness: heard ${name(change.heard)} after ${(change.isolatedForMs / 1000).toFixed(1)} s isolated; no longer isolated`,
        );
        break;
      case 'reached':
        this.o.logger.debug({ ...change, name: name(change.origin) }, `${name(change.origin)} reached again`);
        break;
      default:
        this.o.logger.info({ ...change, name: name(change.origin) }, `${name(change.origin)} ${change.kind}`);
    }
    this.o.onEvent?.(change);
  }

  private onFrame(bytes: Uint8Array, from: LinkPeer): void {
    if (this.stopped) return;
    const now = this.now();
    const decoded = decodeAwarenessFrame(bytes);
    if (!decoded.ok) {
      const reason = decoded.error.reason;
      this.counts.framesRejected[reason] = (this.counts.framesRejected[reason] ?? 0) + 1;
      this.o.logger.warn(
        { from: from.address, reason, offset: decoded.error.offset },
        `awareness frame from ${from.address} rejected: ${decoded.error.message}`,
      );
      return;
    }
    const frame = decoded.frame;
    if (frame.origin === this.origin && frame.type === 'announce') this.checkCollision(frame);
    const verdict = this.relay.consider(bytes, frame, now);
    if (!verdict.deliver) {
      this.counts.duplicates++;
      return;
    }
    this.counts.framesReceived++;
    this.counts.bytesReceived += bytes.length;
    if (this.o.zoneOnly) {
      const zone = frame.type === 'announce' ? frame.birth.zone : this.fleet.zoneOf(frame.origin);
      if (zone !== undefined && zone !== this.o.identity.zone) return;
    }
    if (verdict.forward !== undefined && (this.o.relay ?? this.radius > 0)) {
      this.counts.relayed++;
      this.o.link.send(verdict.forward);
    }
    switch (frame.type) {
      case 'announce':
        this.fleet.applyAnnounce(frame, now);
        this.unreadable.delete(frame.origin);
        break;
      case 'pulse': {
        const result = this.fleet.applyPulse(frame, now);
        if (result.wantAnnounce) {
          this.unreadable.add(frame.origin);
          this.want(frame.origin, now);
        }
        break;
      }
      case 'want':
        if (frame.origins.includes(this.origin)) this.answerWant(now);
        break;
      case 'leave':
        this.fleet.applyLeave(frame, now);
        break;
    }
  }

  /** Another node announced our origin id: the one whose "site/node" sorts later takes another. */
  private checkCollision(frame: Extract<AwarenessFrame, { type: 'announce' }>): void {
    const { site, node } = this.o.identity;
    if (frame.site === site && frame.node === node) return;
    this.counts.collisions++;
    const mine = `${site}/${node}`;
    const theirs = `${frame.site}/${frame.node}`;
    if (mine > theirs) {
      this.salt++;
      const previous = this.origin;
      this.origin = originIdOf(site, node, this.salt);
      // Our view was keyed by the old id (its frames were taken for our own): start it again.
      this.resetView();
      this.o.logger.error(
        { previous, origin: this.origin, other: theirs },
        `awareness origin id ${previous} is also ${theirs}'s; ${mine} moves to ${this.origin} (set awareness.origin to choose one)`,
      );
      this.announceWanted = true;
    }
  }
}
