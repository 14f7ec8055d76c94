// What one node knows of the fleet: every origin's announce (who, zone, alias table), the latest value of
// each critical series with when it arrived, and the membership state, built from awareness frames; and the
// node itself, as its own frames tell the others. [FM-AWARE-3]

import type { AnnounceFrame, LeaveFrame, PulseFrame, SeriesDef, WireValue } from '../protocol/index.js';
import { SESSION_MODULO, wireValueOf } from '../protocol/index.js';
import type { MemberState, Membership, MembershipChange } from './membership.js';

interface Known {
  readonly site: string;
  readonly node: string;
  readonly zone: string;
  readonly epoch: number;
  readonly tickMs: number;
  readonly series: ReadonlyMap<number, SeriesDef>;
  readonly values: Map<number, { value: WireValue; atMs: number }>;
  lastHeardMs: number;
}

export interface FleetSeriesView {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly unit: string;
  readonly value: WireValue;
  /** Since the value arrived, ms. */
  readonly ageMs: number;
}

/** A member's state as this node sees it; the node itself is `alive`, or `isolated` while it hears nobody. */
export type FleetNodeState = MemberState | 'isolated';

export interface FleetNodeView {
  readonly origin: number;
  readonly site: string;
  readonly node: string;
  readonly zone: string;
  readonly epoch: number;
  /** This entry is the node that answers. */
  readonly self: boolean;
  readonly state: FleetNodeState;
  /** Since the member's last frame; for the node itself, since its own last frame went out. */
  readonly lastHeardAgeMs: number;
  /** The member's latest pulse says it hears nobody (for the node itself: it is isolated). */
  readonly isolated: boolean;
  /** Suspicions this node heard the member raise in its pulses (0 for the node itself). */
  readonly suspicionsRaised: number;
  /** For the node itself, the values as it last sent them. */
  readonly series: readonly FleetSeriesView[];
}

export interface FleetSnapshot {
  readonly self: number;
  /** This node hears nobody: the others are unreachable from here, not known dead. */
  readonly isolated: boolean;
  /** Every member, this node included (marked `self`), by site and node name. */
  readonly nodes: readonly FleetNodeView[];
  /** Origins heard whose announce this node lacks (it asked for them). */
  readonly unknownOrigins: readonly number[];
  readonly collisions: number;
}

export interface FleetViewOptions {
  /** The node itself: listed in the snapshot with the values of its own frames. */
  readonly self: { readonly origin: number; readonly site: string; readonly node: string; readonly zone: string; readonly epoch: number };
  readonly membership: Membership;
}

export class FleetView {
  private readonly known = new Map<number, Known>();
  /** The node itself, from its own announces and pulses as they went out. */
  private own: Known;
  private readonly unknown = new Set<number>();
  private collisionCount = 0;

  constructor(private readonly o: FleetViewOptions) {
    const { site, node, zone, epoch } = o.self;
    this.own = { site, node, zone, epoch, tickMs: 0, series: new Map(), values: new Map(), lastHeardMs: Number.NaN };
  }

  get collisions(): number {
    return this.collisionCount;
  }

  nameOf(origin: number): string | undefined {
    const k = this.known.get(origin);
    return k === undefined ? undefined : `${k.site}/${k.node}`;
  }

  zoneOf(origin: number): string | undefined {
    return this.known.get(origin)?.zone;
  }

  /** The values held of an origin by alias, or undefined before its announce. */
  valuesOf(origin: number): ReadonlyMap<number, WireValue> | undefined {
    const k = this.known.get(origin);
    if (k === undefined) return undefined;
    return new Map([...k.values].map(([alias, v]) => [alias, v.value]));
  }

  applyAnnounce(frame: AnnounceFrame, nowMs: number): readonly MembershipChange[] {
    const previous = this.known.get(frame.origin);
    if (previous !== undefined && (previous.site !== frame.site || previous.node !== frame.node)) this.collisionCount++;
    const series = new Map(frame.birth.series.map((s) => [s.alias, s]));
    const values = new Map(frame.birth.series.map((s) => [s.alias, { value: s.value, atMs: nowMs }]));
    this.known.set(frame.origin, {
      site: frame.site,
      node: frame.node,
      zone: frame.birth.zone,
      epoch: frame.birth.epoch,
      tickMs: frame.birth.heartbeatMs > 0 ? frame.birth.heartbeatMs : frame.birth.tickMs,
      series,
      values,
      lastHeardMs: nowMs,
    });
    this.unknown.delete(frame.origin);
    return this.o.membership.heard(frame.origin, nowMs, this.intervalOf(frame.origin), frame.birth.epoch);
  }

  /**
   * Applies a pulse. A pulse of an origin whose announce is missing, or of another session than the
   * announce held, cannot be read: `wantAnnounce` asks the caller to send a want. Liveness counts either way.
   */
  applyPulse(frame: PulseFrame, nowMs: number): { applied: boolean; wantAnnounce: boolean; changes: readonly MembershipChange[] } {
    const k = this.known.get(frame.origin);
    const readable = k !== undefined && k.epoch % SESSION_MODULO === frame.session;
    const changes = this.o.membership.heard(frame.origin, nowMs, this.intervalOf(frame.origin), readable ? k.epoch : undefined);
    this.o.membership.suspicions(frame.origin, frame.suspects, nowMs);
    if (!readable) {
      this.unknown.add(frame.origin);
      return { applied: false, wantAnnounce: true, changes };
    }
    k.lastHeardMs = nowMs;
    for (const e of frame.entries) {
      const def = k.series.get(e.alias);
      if (def === undefined) return { applied: false, wantAnnounce: true, changes };
      k.values.set(e.alias, { value: wireValueOf(e.value, def.decimals), atMs: nowMs });
    }
    // Unchanged values are confirmed as of this pulse: the origin would have sent them had they moved.
    for (const v of k.values.values()) v.atMs = Math.max(v.atMs, nowMs);
    return { applied: true, wantAnnounce: false, changes };
  }

  applyLeave(frame: LeaveFrame, nowMs: number): readonly MembershipChange[] {
    return this.o.membership.leave(frame.origin, nowMs);
  }

  /** This node's own announce, as it went out: the alias table and values of its own entry. */
  recordOwnAnnounce(frame: AnnounceFrame, nowMs: number): void {
    const { site, node } = this.o.self;
    this.own = {
      site,
      node,
      zone: frame.birth.zone,
      epoch: frame.birth.epoch,
      tickMs: frame.birth.tickMs,
      series: new Map(frame.birth.series.map((s) => [s.alias, s])),
      values: new Map(frame.birth.series.map((s) => [s.alias, { value: s.value, atMs: nowMs }])),
      lastHeardMs: nowMs,
    };
  }

  /** This node's own pulse, as it went out. */
  recordOwnPulse(frame: Pick<PulseFrame, 'entries'>, nowMs: number): void {
    this.own.lastHeardMs = nowMs;
    for (const e of frame.entries) {
      const def = this.own.series.get(e.alias);
      if (def !== undefined) this.own.values.set(e.alias, { value: wireValueOf(e.value, def.decimals), atMs: nowMs });
    }
  }

  private intervalOf(origin: number): number {
    return this.known.get(origin)?.tickMs ?? 2_000;
  }

  snapshot(nowMs: number): FleetSnapshot {
    const members = new Map(this.o.membership.view(nowMs).map((m) => [m.origin, m]));
    const isolated = this.o.membership.isolatedSinceMs !== undefined;
    const entry = (origin: number, k: Known, lastHeardMs: number) => ({
      origin,
      site: k.site,
      node: k.node,
      zone: k.zone,
      epoch: k.epoch,
      lastHeardAgeMs: Number.isFinite(lastHeardMs) ? nowMs - lastHeardMs : 0,
      series: [...k.series.values()].map((s) => {
        const v = k.values.get(s.alias);
        return { name: s.name, labels: s.labels, unit: s.unit, value: v?.value ?? null, ageMs: nowMs - (v?.atMs ?? k.lastHeardMs) };
      }),
    });
    const own = this.o.self.origin;
    const nodes: FleetNodeView[] = [
      { ...entry(own, this.own, this.own.lastHeardMs), self: true, state: isolated ? 'isolated' : 'alive', isolated, suspicionsRaised: 0 },
    ];
    for (const [origin, k] of this.known) {
      const m = members.get(origin);
      nodes.push({
        ...entry(origin, k, m?.lastHeardMs ?? k.lastHeardMs),
        self: false,
        state: m?.state ?? 'alive',
        isolated: m?.isolated ?? false,
        suspicionsRaised: m?.suspicionsRaised ?? 0,
      });
    }
    nodes.sort((a, b) => `${a.site}/${a.node}`.localeCompare(`${b.site}/${b.node}`));
    return { self: own, isolated, nodes, unknownOrigins: [...this.unknown], collisions: this.collisionCount };
  }
}
