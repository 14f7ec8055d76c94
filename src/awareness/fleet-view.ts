// What one node knows of the fleet: every origin's announce (who, zone, alias table), the latest value of
// each critical series with when it arrived, and the membership state, built from awareness frames.
// [FM-AWARE-3]

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

export interface FleetNodeView {
  readonly origin: number;
  readonly site: string;
  readonly node: string;
  readonly zone: string;
  readonly epoch: number;
  readonly state: MemberState;
  readonly lastHeardAgeMs: number;
  readonly series: readonly FleetSeriesView[];
}

export interface FleetSnapshot {
  readonly self: number;
  readonly nodes: readonly FleetNodeView[];
  /** Origins heard whose announce this node lacks (it asked for them). */
  readonly unknownOrigins: readonly number[];
  readonly collisions: number;
}

export interface FleetViewOptions {
  readonly self: number;
  readonly membership: Membership;
}

export class FleetView {
  private readonly known = new Map<number, Known>();
  private readonly unknown = new Set<number>();
  private collisionCount = 0;

  constructor(private readonly o: FleetViewOptions) {}

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

  private intervalOf(origin: number): number {
    return this.known.get(origin)?.tickMs ?? 2_000;
  }

  snapshot(nowMs: number): FleetSnapshot {
    const members = new Map(this.o.membership.view(nowMs).map((m) => [m.origin, m]));
    const nodes: FleetNodeView[] = [];
    for (const [origin, k] of this.known) {
      const m = members.get(origin);
      nodes.push({
        origin,
        site: k.site,
        node: k.node,
        zone: k.zone,
        epoch: k.epoch,
        state: m?.state ?? 'alive',
        lastHeardAgeMs: nowMs - (m?.lastHeardMs ?? k.lastHeardMs),
        series: [...k.series.values()].map((s) => {
          const v = k.values.get(s.alias);
          return { name: s.name, labels: s.labels, unit: s.unit, value: v?.value ?? null, ageMs: nowMs - (v?.atMs ?? k.lastHeardMs) };
        }),
      });
    }
    nodes.sort((a, b) => `${a.site}/${a.node}`.localeCompare(`${b.site}/${b.node}`));
    return { self: this.o.self, nodes, unknownOrigins: [...this.unknown], collisions: this.collisionCount };
  }
}
