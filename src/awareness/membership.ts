// Membership: which origins of the fleet are alive as this node sees them, judged from the awareness frames it
// hears (liveness rides on them; there is no probe traffic) and from the suspects lists other nodes' pulses carry.
// Pure logic: time comes in as arguments, nothing runs unless called.

/**
 * alive: heard recently enough. suspect: silent longer than its rhythm explains. unreachable: silent while this node
 * hears nobody at all (it is isolated), so the silence says nothing of the member. dead: silent long and confirmed
 * by other observers, or silent very long. left: said goodbye with a leave frame. This node itself is never judged.
 */
export type MemberState = 'alive' | 'suspect' | 'unreachable' | 'dead' | 'left';

/** A state change, in the order it happened; `kind` is the event's past-tense name. */
export type MembershipChange =
  | {
      readonly kind: 'joined';
      readonly origin: number;
      readonly atMs: number;
      /** The epoch (boot counter) the caller gave with the frame, if it knew it. */
      readonly epoch: number | undefined;
      /** The origin was known before: heard again after dead or left, or back with another epoch. */
      readonly rejoined: boolean;
    }
  | { readonly kind: 'suspected'; readonly origin: number; readonly atMs: number; readonly silentMs: number; readonly phi: number }
  | { readonly kind: 'refuted'; readonly origin: number; readonly atMs: number; readonly suspectedForMs: number }
  | {
      readonly kind: 'failed';
      readonly origin: number;
      readonly atMs: number;
      /** Since the last frame this node heard from the origin (or since its own stall ended, if later). */
      readonly silentMs: number;
      /** Other observers whose pulses suspected the origin when the verdict fell. */
      readonly confirmations: number;
    }
  | { readonly kind: 'left'; readonly origin: number; readonly atMs: number }
  | {
      readonly kind: 'isolated';
      /** This node itself: the change is about its own ears. */
      readonly origin: number;
      readonly atMs: number;
      /** Since the last frame this node heard from any member (or since its own stall ended, if later). */
      readonly silentMs: number;
      /** The members it held alive or suspect, now unreachable. */
      readonly unreachable: readonly number[];
    }
  | {
      readonly kind: 'reconnected';
      /** This node itself. */
      readonly origin: number;
      readonly atMs: number;
      readonly isolatedForMs: number;
      /** The origin whose frame ended the isolation. */
      readonly heard: number;
    }
  /** An unreachable member heard again. */
  | { readonly kind: 'reached'; readonly origin: number; readonly atMs: number; readonly unreachableForMs: number };

export type MembershipChangeKind = MembershipChange['kind'];

/** One origin as this node sees it. */
export interface MemberView {
  readonly origin: number;
  readonly state: MemberState;
  readonly epoch: number | undefined;
  /** The origin's announced tick. */
  readonly intervalMs: number;
  readonly lastHeardMs: number;
  readonly ageMs: number;
  /** Suspicion level now: 0 right after a frame; 8 means a one-in-10^8 chance that a live origin is this late. */
  readonly phi: number;
  /** Time of the last state change. */
  readonly since: number;
  /** Other observers whose current pulses suspect the origin. */
  readonly confirmations: number;
  /** The origin's latest pulse says that it hears nobody (it is isolated): its judgement counts for nothing. */
  readonly isolated: boolean;
  /** Suspicions this node heard the origin raise (a name new in its pulses), since it was first heard. */
  readonly suspicionsRaised: number;
}

export interface MembershipOptions {
  /** This node's origin id: never judged, and left out of suspects lists. */
  readonly self: number;
  /** This node's own tick: its stall threshold and grace are counted in it. Default `DEFAULT_INTERVAL_MS`. */
  readonly intervalMs?: number;
  /** Phi from which an origin is suspect. Default `PHI_THRESHOLD`. */
  readonly phiThreshold?: number;
  /** Inter-arrival times kept per origin. Default `PHI_WINDOW`. */
  readonly window?: number;
  /** Floor of the inter-arrival standard deviation, in intervals of the origin. Default `MIN_STD_DEV_INTERVALS`. */
  readonly minStdDevIntervals?: number;
  /** Silence, in intervals of the origin, from which it is suspect whatever its phi. Default `SUSPECT_AFTER_INTERVALS`. */
  readonly suspectAfterIntervals?: number;
  /** Silence, in intervals, for a dead verdict with enough confirmations. Default `DEAD_AFTER_INTERVALS`. */
  readonly deadAfterIntervals?: number;
  /** Silence, in intervals, for a dead verdict with no confirmation at all. Default `MAX_SUSPICION_INTERVALS`. */
  readonly maxSuspicionIntervals?: number;
  /** Least other observers that must suspect an origin for the shortest verdict. Default `CONFIRMATIONS`. */
  readonly confirmations?: number;
  /** Share of the reporting observers that must suspect it, when that is more. Default `CONFIRMATION_RATIO`. */
  readonly confirmationRatio?: number;
  /** An observer's suspicion lapses when not repeated for this many of its intervals. Default 2.5. */
  readonly confirmationExpiryIntervals?: number;
  /** How far, in intervals, other observers' pulses may move the start of an origin's silence. Default `VOUCH_MAX_INTERVALS`. */
  readonly vouchMaxIntervals?: number;
  /**
   * Suspects named in one pulse at most. `suspects()` takes them in turn beyond it, and a received list this long
   * may be cut short: what it leaves out is neither withdrawn nor vouched for. Default `MAX_SUSPECTS_PER_PULSE`.
   */
  readonly maxSuspectsPerPulse?: number;
  /** Own stall, in own intervals, from which this node distrusts its judgement. Default 1. */
  readonly selfLagIntervals?: number;
  /** After such a stall, no suspect nor dead verdict for this many own intervals. Default 2. */
  readonly graceIntervals?: number;
  /** Members expected to beat (alive, or unreachable) that must all fall silent for this node to call itself isolated. Default `ISOLATION_MIN_MEMBERS`. */
  readonly isolationMinMembers?: number;
  /**
   * A new suspicion of a member needs a frame from another member heard this many of its intervals after its own last
   * frame. Default `EVIDENCE_INTERVALS`.
   */
  readonly evidenceIntervals?: number;
}

export const DEFAULT_INTERVAL_MS = 2_000;
/**
 * Akka's and Cassandra's default (`phi_convict_threshold` 8). It only raises a suspicion, which costs two bytes
 * in the next pulse; the dead verdict has its own, stricter rule.
 */
export const PHI_THRESHOLD = 8;
/** 48 inter-arrival times: about 100 s at a 2 s tick, enough to see a 10 % loss rate (about 5 gaps). */
export const PHI_WINDOW = 48;
/**
 * A regular sender on a clean link deviates by a few ms; without a floor one late frame would be a 100-sigma
 * event. A quarter interval puts phi 8 at 2.4 intervals of silence (two frames missed) on a clean link and one
 * missed frame at phi ~4.5.
 */
export const MIN_STD_DEV_INTERVALS = 0.25;
/**
 * Two frames missed and half an interval more. Phi reaches its threshold about there on a clean link and later on a
 * lossy one (3 intervals at 10 % loss); the cap makes "not suspected" mean "heard within 2.5 intervals" for every
 * observer, which is what lets others' pulses vouch for an origin (see `suspicions`).
 */
export const SUSPECT_AFTER_INTERVALS = 2.5;
/**
 * 7.5 s at a 2 s tick. A node stalled 5 s at a random point of its tick is silent up to 7 s for every observer,
 * so the verdict must wait past 7 s and let the frames after the stall arrive; a kill is still convicted within
 * 8 s (measured: p99 7.7 s at 50 nodes and 10 % loss, judging every quarter interval).
 */
export const DEAD_AFTER_INTERVALS = 3.75;
/**
 * The unconfirmed verdict, for an observer no other can help. Lifeguard's max is 6 x its base suspicion timeout
 * (memberlist's SuspicionMaxTimeoutMult); 6 intervals would be too short: a receiver losing 10 % of the frames
 * misses 6 in a row once per million, some 100 times a day in a 50-node fleet. 10 make it 10^-10.
 */
export const MAX_SUSPICION_INTERVALS = 10;
export const CONFIRMATIONS = 2;
/**
 * With 10 % independent loss per receiver, 0.1 % of the receivers miss any given 3 frames: in a 50-node fleet
 * some 3 receivers lose the same origin at once tens of times a day, so 2 confirmations alone would convict live
 * nodes daily. A true death silences every receiver; asking a quarter of the reporting observers (12 of 48) costs
 * a fraction of a second.
 */
export const CONFIRMATION_RATIO = 0.25;
/** Tolerates one lost pulse of the observer (and its jitter) before its suspicion lapses. */
export const CONFIRMATION_EXPIRY_INTERVALS = 2.5;
/** Covers this node missing up to 5 frames of an origin in a row, while bounding what a wrong vouch can delay. */
export const VOUCH_MAX_INTERVALS = 6;
export const MAX_SUSPECTS_PER_PULSE = 4;
export const SELF_LAG_INTERVALS = 1;
export const GRACE_INTERVALS = 2;
/**
 * One silent member is that member's business; all of them silent at once is far likelier this node's own receive
 * path (its radio, its socket, a cut cable) than every member dying in the same few seconds. With a single member the
 * two cannot be told apart, so isolation needs two.
 */
export const ISOLATION_MIN_MEMBERS = 2;
/**
 * A silent member is suspected only on evidence that this node's ears worked when the member should have been heard:
 * a frame from another member that arrived at least 1.75 of the member's intervals after its last frame (it had
 * missed a beat by then). Without that, the silence may be this node's own receive path (its radio, its socket, a cut
 * cable), and the suspicion waits: for such a frame, or for every member to reach the suspicion cap, which makes the
 * node isolated. Why 1.75: when the receive path goes, the members' last frames lie within one interval of each
 * other, plus however late a busy host sent its last pulse; the first to reach phi 8 (about 2.3 intervals on a
 * regular rhythm) is held back as long as it was less than 0.75 interval late. (A window of "every member silent for
 * one interval", the rule before, held back only 0.3 interval of lateness: a loaded CI machine showed the false
 * suspicion.) For a member that died, the others' frames between 1.75 and 2.3 intervals after its last are the
 * evidence: with random phases the suspicion waits only when none of them beat in that window, with phases in step
 * never. With a single member there is no other to hear, and nothing is held back.
 */
export const EVIDENCE_INTERVALS = 1.75;
/** Latency allowed between an observer's judgement and its pulse's arrival here (relays on a slow radio). */
const VOUCH_LATENCY_MS = 200;
/** After a leave, frames without a new epoch are stragglers of the old session for this long. */
const LEFT_QUIET_INTERVALS = 1;

interface Member {
  readonly origin: number;
  state: MemberState;
  since: number;
  epoch: number | undefined;
  intervalMs: number;
  lastHeardMs: number;
  /** Where silence counts from: the last frame, or the end of this node's own stall if that is later. */
  baselineMs: number;
  /** Arrival the next inter-arrival sample counts from; undefined skips one sample (after a stall). */
  sampleFromMs: number | undefined;
  readonly samples: Float64Array;
  sampleCount: number;
  sampleNext: number;
  sum: number;
  sumSquares: number;
  suspectedAtMs: number;
  /** The origin was alive at least until then, by an observer's pulse that did not name it. */
  vouchedMs: number;
  /** The same, by an observer that named it and then stopped: it heard the origin again. */
  withdrawnMs: number;
  /** Suspicions this node heard the origin raise in its pulses. */
  suspicionsRaised: number;
}

/** What one observer's pulses say: when the last came, and each origin it names with when it began and last did. */
interface Report {
  atMs: number;
  readonly suspects: Map<number, { readonly sinceMs: number; lastMs: number }>;
  /** When this node itself was last named by the observer. */
  selfMs: number;
  /** The pulse named its own sender: it hears nobody, and its list judges nobody (neither names nor vouches). */
  readonly isolated: boolean;
}

const NO_CHANGES: readonly MembershipChange[] = Object.freeze([]);

/** Judged from its silence: alive, suspect, or unreachable (alive when this node last could tell). */
function isLive(state: MemberState): boolean {
  return state === 'alive' || state === 'suspect' || state === 'unreachable';
}

/**
 * Failure detection for one node, SWIM-like in its suspicion and confirmation and Lifeguard-like in its
 * self-distrust, over frames the fleet sends anyway:
 *
 * - Suspect: phi-accrual (Hayashibara et al.) over the origin's inter-arrival times, or silence of
 *   `suspectAfterIntervals`, whichever comes first.
 * - Dead: the origin's silence reaches `deadAfterIntervals` while enough other observers suspect it (the larger of
 *   `confirmations` and `confirmationRatio` of the observers reporting), or a timeout that shrinks from
 *   `maxSuspicionIntervals` toward that as confirmations arrive (Lifeguard's formula). Silence here is corroborated:
 *   when other observers' pulses show the origin alive after this node's last frame of it (they heard what this
 *   node lost), silence counts from then. A confirmed verdict also waits for a confirmation that arrives after it
 *   is due, so a node back from a stall just before is vouched for by the observers that heard it.
 * - After its own stall (`selfLag`) the node gives no verdict for a grace period and counts silence from the end
 *   of the stall.
 * - Evidence: a member is newly suspected only when another member was heard `evidenceIntervals` of its intervals
 *   after its last frame (this node's ears worked when it should have been heard).
 * - Isolation: when every member it expects to hear (at least `isolationMinMembers`) has been silent for
 *   `suspectAfterIntervals`, it calls itself
 *   isolated: they become unreachable (not suspect, never dead), its pulses name only itself (the signal "I hear
 *   nobody", which others do not count as a judgement), until any frame arrives. Silence then counts from that frame.
 */
export class Membership {
  readonly self: number;
  private readonly intervalMs: number;
  private readonly phiThreshold: number;
  private readonly window: number;
  private readonly minStdDevIntervals: number;
  private readonly suspectAfterIntervals: number;
  private readonly deadAfterIntervals: number;
  private readonly maxSuspicionIntervals: number;
  private readonly minConfirmations: number;
  private readonly confirmationRatio: number;
  private readonly expiryIntervals: number;
  private readonly vouchMaxIntervals: number;
  private readonly maxSuspects: number;
  private readonly selfLagMs: number;
  private readonly graceMs: number;
  private readonly members = new Map<number, Member>();
  private readonly reports = new Map<number, Report>();
  private readonly listeners = new Set<(change: MembershipChange) => void>();
  private readonly isolationMinMembers: number;
  private readonly evidenceIntervals: number;
  private graceUntilMs = Number.NEGATIVE_INFINITY;
  private isolatedAtMs: number | undefined;
  private suspectsCursor = 0;

  constructor(options: MembershipOptions) {
    const {
      self,
      intervalMs = DEFAULT_INTERVAL_MS,
      phiThreshold = PHI_THRESHOLD,
      window = PHI_WINDOW,
      minStdDevIntervals = MIN_STD_DEV_INTERVALS,
      suspectAfterIntervals = SUSPECT_AFTER_INTERVALS,
      deadAfterIntervals = DEAD_AFTER_INTERVALS,
      maxSuspicionIntervals = MAX_SUSPICION_INTERVALS,
      confirmations = CONFIRMATIONS,
      confirmationRatio = CONFIRMATION_RATIO,
      confirmationExpiryIntervals = CONFIRMATION_EXPIRY_INTERVALS,
      vouchMaxIntervals = VOUCH_MAX_INTERVALS,
      maxSuspectsPerPulse = MAX_SUSPECTS_PER_PULSE,
      selfLagIntervals = SELF_LAG_INTERVALS,
      graceIntervals = GRACE_INTERVALS,
      isolationMinMembers = ISOLATION_MIN_MEMBERS,
      evidenceIntervals = EVIDENCE_INTERVALS,
    } = options;
    if (!Number.isInteger(self) || self < 0 || self > 0xffff) throw new RangeError(`membership: self ${self} is not a 16-bit origin id`);
    const positive = {
      intervalMs,
      phiThreshold,
      minStdDevIntervals,
      suspectAfterIntervals,
      deadAfterIntervals,
      confirmationExpiryIntervals,
      selfLagIntervals,
      evidenceIntervals,
    };
    for (const [name, value] of Object.entries(positive)) {
      if (!(value > 0) || !Number.isFinite(value)) throw new RangeError(`membership: ${name} ${value} must be a positive number`);
    }
    if (!Number.isInteger(window) || window < 2) throw new RangeError(`membership: window ${window} must be an integer of at least 2`);
    if (!(maxSuspicionIntervals >= deadAfterIntervals) || !Number.isFinite(maxSuspicionIntervals)) {
      throw new RangeError(`membership: maxSuspicionIntervals ${maxSuspicionIntervals} must be finite and at least deadAfterIntervals`);
    }
    if (!Number.isInteger(confirmations) || confirmations < 1)
      throw new RangeError(`membership: confirmations ${confirmations} must be >= 1`);
    if (!(confirmationRatio >= 0 && confirmationRatio <= 1))
      throw new RangeError(`membership: confirmationRatio ${confirmationRatio} outside 0..1`);
    if (!(vouchMaxIntervals >= 0)) throw new RangeError(`membership: vouchMaxIntervals ${vouchMaxIntervals} must be >= 0`);
    if (!(maxSuspectsPerPulse >= 1)) throw new RangeError(`membership: maxSuspectsPerPulse ${maxSuspectsPerPulse} must be >= 1`);
    if (!(graceIntervals >= 0)) throw new RangeError(`membership: graceIntervals ${graceIntervals} must be >= 0`);
    if (!Number.isInteger(isolationMinMembers) || isolationMinMembers < 2)
      throw new RangeError(`membership: isolationMinMembers ${isolationMinMembers} must be an integer of at least 2`);
    if (!(evidenceIntervals >= 1 && evidenceIntervals <= suspectAfterIntervals))
      throw new RangeError(
        `membership: evidenceIntervals ${evidenceIntervals} must lie between 1 and suspectAfterIntervals ${suspectAfterIntervals}`,
      );
    this.self = self;
    this.intervalMs = intervalMs;
    this.phiThreshold = phiThreshold;
    this.window = window;
    this.minStdDevIntervals = minStdDevIntervals;
    this.suspectAfterIntervals = suspectAfterIntervals;
    this.deadAfterIntervals = deadAfterIntervals;
    this.maxSuspicionIntervals = maxSuspicionIntervals;
    this.minConfirmations = confirmations;
    this.confirmationRatio = confirmationRatio;
    this.expiryIntervals = confirmationExpiryIntervals;
    this.vouchMaxIntervals = vouchMaxIntervals;
    this.maxSuspects = maxSuspectsPerPulse;
    this.selfLagMs = selfLagIntervals * intervalMs;
    this.graceMs = graceIntervals * intervalMs;
    this.isolationMinMembers = isolationMinMembers;
    this.evidenceIntervals = evidenceIntervals;
  }

  /** Calls `listener` with every change as it happens (the same changes the methods return). Returns the unsubscribe. */
  onChange(listener: (change: MembershipChange) => void): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  /**
   * A frame of any type from `origin` arrived at `nowMs`. `intervalMs` is the origin's announced tick (its
   * heartbeat rhythm); `epoch` its boot counter when the caller knows it (the announce of the frame's session).
   * Returns `joined` (first frame, back after dead or left, or another epoch) or `refuted` (it was suspect).
   */
  heard(origin: number, nowMs: number, intervalMs: number, epoch?: number): readonly MembershipChange[] {
    if (origin === this.self) return NO_CHANGES;
    if (!(intervalMs > 0) || !Number.isFinite(intervalMs))
      throw new RangeError(`membership: interval ${intervalMs} of origin ${origin} must be positive`);
    // Any frame at all ends an isolation: this node hears again.
    const changes = this.reconnect(origin, nowMs);
    const m = this.members.get(origin);
    if (m === undefined) {
      this.members.set(origin, this.createMember(origin, nowMs, intervalMs, epoch));
      changes.push({ kind: 'joined', origin, atMs: nowMs, epoch, rejoined: false });
      return this.emit(changes);
    }
    const otherEpoch = epoch !== undefined && m.epoch !== undefined && epoch !== m.epoch;
    // Relays may deliver a frame sent before the leave after it; only a new epoch is a new life that soon.
    if (m.state === 'left' && !otherEpoch && nowMs - m.since < LEFT_QUIET_INTERVALS * m.intervalMs) return this.emit(changes);
    if (m.state === 'dead' || m.state === 'left' || otherEpoch) {
      const next = this.createMember(origin, nowMs, intervalMs, epoch ?? m.epoch);
      next.suspicionsRaised = m.suspicionsRaised;
      this.members.set(origin, next);
      changes.push({ kind: 'joined', origin, atMs: nowMs, epoch: next.epoch, rejoined: true });
      return this.emit(changes);
    }
    if (epoch !== undefined) m.epoch = epoch;
    if (Math.abs(intervalMs - m.intervalMs) > m.intervalMs / 4) this.reseed(m, intervalMs);
    // Frames less than half an interval apart (an announce next to a pulse) are one beat of the rhythm; frames
    // read in a burst after this node's own stall say nothing of it.
    if (m.sampleFromMs === undefined || nowMs < this.graceUntilMs) m.sampleFromMs = nowMs;
    else if (nowMs - m.sampleFromMs >= m.intervalMs / 2) {
      this.addSample(m, nowMs - m.sampleFromMs);
      m.sampleFromMs = nowMs;
    }
    m.lastHeardMs = Math.max(m.lastHeardMs, nowMs);
    m.baselineMs = Math.max(m.baselineMs, nowMs);
    if (m.state === 'suspect') changes.push({ kind: 'refuted', origin, atMs: nowMs, suspectedForMs: nowMs - m.suspectedAtMs });
    else if (m.state === 'unreachable') changes.push({ kind: 'reached', origin, atMs: nowMs, unreachableForMs: nowMs - m.since });
    else return this.emit(changes);
    m.state = 'alive';
    m.since = nowMs;
    return this.emit(changes);
  }

  /** `origin` said goodbye: left at once, never a failure. */
  leave(origin: number, nowMs: number): readonly MembershipChange[] {
    if (origin === this.self) return NO_CHANGES;
    const changes = this.reconnect(origin, nowMs);
    const m = this.members.get(origin);
    if (m !== undefined && m.state !== 'left') {
      m.state = 'left';
      m.since = nowMs;
      this.reports.delete(origin);
      changes.push({ kind: 'left', origin, atMs: nowMs });
    }
    return changes.length === 0 ? NO_CHANGES : this.emit(changes);
  }

  /**
   * The suspects list of a pulse from `observer`. Call it for every pulse, an empty list included: a pulse that
   * does not name an origin withdraws the observer's suspicion of it, and says the observer heard it within
   * `suspectAfterIntervals` (every observer suspects by then), which is evidence this node may have missed. A list
   * of `maxSuspectsPerPulse` names may have been cut short: what it leaves out counts for nothing. A list that
   * names the observer itself says it hears nobody: it withdraws its suspicions and vouches for nobody, and the
   * observer is no reporter until its pulses judge again.
   */
  suspicions(observer: number, suspects: readonly number[], nowMs: number): void {
    if (observer === this.self) return;
    const previous = this.reports.get(observer);
    const atMs = Math.max(nowMs, previous?.atMs ?? nowMs);
    if (suspects.includes(observer)) {
      this.reports.set(observer, { atMs, suspects: new Map(), selfMs: Number.NEGATIVE_INFINITY, isolated: true });
      return;
    }
    const complete = suspects.length < this.maxSuspects;
    const expiryMs = this.expiryMs(observer);
    const report: Report = { atMs, suspects: new Map(), selfMs: Number.NEGATIVE_INFINITY, isolated: false };
    if (previous !== undefined && nowMs - previous.atMs <= expiryMs) {
      if (!complete) {
        report.selfMs = previous.selfMs;
        for (const [origin, s] of previous.suspects) if (nowMs - s.lastMs <= expiryMs) report.suspects.set(origin, s);
      }
    }
    const source = this.members.get(observer);
    for (const origin of suspects) {
      const before = previous?.suspects.get(origin);
      const continuing = before !== undefined && nowMs - before.lastMs <= expiryMs;
      if (!continuing && source !== undefined) source.suspicionsRaised++;
      if (origin === this.self) report.selfMs = nowMs;
      if (origin === this.self) continue;
      report.suspects.set(origin, { sinceMs: continuing ? before.sinceMs : nowMs, lastMs: nowMs });
    }
    this.reports.set(observer, report);
    if (!complete) return;
    for (const m of this.members.values()) {
      if (m.origin === observer || report.suspects.has(m.origin) || !isLive(m.state)) continue;
      const aliveMs = nowMs - this.suspectAfterIntervals * m.intervalMs - VOUCH_LATENCY_MS;
      const before = previous?.suspects.get(m.origin);
      // A withdrawal after a short suspicion means the observer heard the origin again. One after a long one is
      // more likely the end of its listing a dead origin, or an observer that forgot it: no stronger than a vouch.
      const withdrawn =
        before !== undefined && nowMs - before.lastMs <= expiryMs && nowMs - before.sinceMs < 2 * this.deadAfterIntervals * m.intervalMs;
      if (withdrawn) m.withdrawnMs = Math.max(m.withdrawnMs, aliveMs);
      else m.vouchedMs = Math.max(m.vouchedMs, aliveMs);
    }
  }

  /**
   * This node's own event loop was blocked for `lagMs` (a timer fired that late), ending about `nowMs`. Past
   * `selfLagIntervals`, the node distrusts itself as Lifeguard does: no suspect nor dead verdict for a grace period,
   * and the silence of others counts from the end of the stall (what they sent meanwhile is still queued, or was
   * lost by this node, not by them). Returns whether the lag counted as a stall.
   */
  selfLag(lagMs: number, nowMs: number): boolean {
    if (!(lagMs >= this.selfLagMs)) return false;
    this.graceUntilMs = Math.max(this.graceUntilMs, nowMs + this.graceMs);
    for (const m of this.members.values()) {
      if (!isLive(m.state)) continue;
      m.baselineMs = Math.max(m.baselineMs, nowMs);
      m.sampleFromMs = undefined;
    }
    return true;
  }

  /** True while this node distrusts its own judgement after a stall. */
  inGrace(nowMs: number): boolean {
    return nowMs < this.graceUntilMs;
  }

  /** Since when this node hears nobody (it is isolated), or undefined. */
  get isolatedSinceMs(): number | undefined {
    return this.isolatedAtMs;
  }

  /**
   * Evaluates every origin at `nowMs`; returns (and emits) the suspect and dead verdicts, and isolation. Call it
   * every eighth to quarter of an interval: a verdict falls at the first call after it is due.
   */
  tick(nowMs: number): readonly MembershipChange[] {
    if (nowMs < this.graceUntilMs || this.isolatedAtMs !== undefined) return NO_CHANGES;
    if (this.hearsNobody(nowMs)) return this.emit([this.isolate(nowMs)]);
    const heard = this.latestHeard();
    const changes: MembershipChange[] = [];
    for (const m of this.members.values()) {
      if (!isLive(m.state)) continue;
      const silentMs = nowMs - m.baselineMs;
      if (m.state !== 'suspect') {
        // No other member heard since it missed a beat: the silence may be this node's own ears.
        const otherMs = heard.first?.origin === m.origin ? heard.secondMs : (heard.first?.ms ?? Number.NEGATIVE_INFINITY);
        if (heard.others > 0 && otherMs < m.baselineMs + this.evidenceIntervals * m.intervalMs) continue;
        const phi = this.phiOf(m, silentMs);
        if (phi < this.phiThreshold && silentMs < this.suspectAfterIntervals * m.intervalMs) continue;
        m.state = 'suspect';
        m.since = nowMs;
        m.suspectedAtMs = nowMs;
        changes.push({ kind: 'suspected', origin: m.origin, atMs: nowMs, silentMs, phi });
      }
      const { confirmations, reporters, latestOnsetMs, latestNamedMs } = this.confirmationsOf(m, nowMs);
      const dueMs = this.corroboratedBaselineMs(m, latestOnsetMs) + this.timeoutOf(m, confirmations, reporters);
      // A confirmation must also arrive after the verdict is due: a node back from a stall just before then is
      // heard by most observers, whose next pulses vouch for it instead.
      if (nowMs < dueMs || (confirmations > 0 && latestNamedMs < dueMs)) continue;
      m.state = 'dead';
      m.since = nowMs;
      changes.push({ kind: 'failed', origin: m.origin, atMs: nowMs, silentMs, confirmations });
    }
    return changes.length === 0 ? NO_CHANGES : this.emit(changes);
  }

  /**
   * The origins to name in this node's next pulse, evaluated at `nowMs` first (so "not named" means "heard within
   * `suspectAfterIntervals`"): those it suspects, then those it declared dead in the last `maxSuspicionIntervals`
   * (observers still deciding get its confirmation). At most `maxSuspectsPerPulse`, taken in turn beyond that.
   * Empty during its own grace: its judgement is not worth sending. Isolated, only itself: "I hear nobody".
   */
  suspects(nowMs: number): number[] {
    this.tick(nowMs);
    if (nowMs < this.graceUntilMs) return [];
    if (this.isolatedAtMs !== undefined) return [this.self];
    const suspect: number[] = [];
    const dead: number[] = [];
    for (const m of this.members.values()) {
      if (m.state === 'suspect') suspect.push(m.origin);
      else if (m.state === 'dead' && nowMs - m.since < this.maxSuspicionIntervals * m.intervalMs) dead.push(m.origin);
    }
    const all = [...suspect.sort((a, b) => a - b), ...dead.sort((a, b) => a - b)];
    if (all.length <= this.maxSuspects) return all;
    const start = this.suspectsCursor % all.length;
    this.suspectsCursor = start + this.maxSuspects;
    return [...all, ...all].slice(start, start + this.maxSuspects);
  }

  /** How many other observers' current pulses name this node: a cue to send a frame soon and refute them. */
  suspectedBy(nowMs: number): number {
    let count = 0;
    for (const [observer, report] of this.reports) if (nowMs - report.selfMs <= this.expiryMs(observer)) count++;
    return count;
  }

  state(origin: number): MemberState | undefined {
    return this.members.get(origin)?.state;
  }

  /** Every origin heard, in ascending id order. */
  view(nowMs: number): MemberView[] {
    const out: MemberView[] = [];
    for (const m of this.members.values()) {
      const live = m.state === 'alive' || m.state === 'suspect';
      const report = this.reports.get(m.origin);
      out.push({
        origin: m.origin,
        state: m.state,
        epoch: m.epoch,
        intervalMs: m.intervalMs,
        lastHeardMs: m.lastHeardMs,
        ageMs: nowMs - m.lastHeardMs,
        phi: live ? this.phiOf(m, nowMs - m.baselineMs) : 0,
        since: m.since,
        confirmations: live ? this.confirmationsOf(m, nowMs).confirmations : 0,
        isolated: report?.isolated === true && nowMs - report.atMs <= this.expiryMs(m.origin),
        suspicionsRaised: m.suspicionsRaised,
      });
    }
    return out.sort((a, b) => a.origin - b.origin);
  }

  // ---------- isolation ----------

  /**
   * Whether every member this node holds live has been silent for `suspectAfterIntervals` of its own, at least
   * `isolationMinMembers` of them expected to beat (not already suspect).
   */
  private hearsNobody(nowMs: number): boolean {
    let expected = 0;
    for (const m of this.members.values()) {
      if (!isLive(m.state)) continue;
      if (nowMs - m.baselineMs < this.suspectAfterIntervals * m.intervalMs) return false;
      if (m.state !== 'suspect') expected++;
    }
    return expected >= this.isolationMinMembers;
  }

  /**
   * The latest silence baseline among live members (and whose), the next latest, and how many live members not
   * suspect there are less one (the others that could give evidence about one of them): what the evidence rule
   * compares a member's baseline with.
   */
  private latestHeard(): { first: { origin: number; ms: number } | undefined; secondMs: number; others: number } {
    let first: { origin: number; ms: number } | undefined;
    let secondMs = Number.NEGATIVE_INFINITY;
    let live = 0;
    for (const m of this.members.values()) {
      if (!isLive(m.state)) continue;
      if (m.state !== 'suspect') live++;
      if (first === undefined || m.baselineMs > first.ms) {
        secondMs = first?.ms ?? Number.NEGATIVE_INFINITY;
        first = { origin: m.origin, ms: m.baselineMs };
      } else if (m.baselineMs > secondMs) secondMs = m.baselineMs;
    }
    return { first, secondMs, others: Math.max(0, live - 1) };
  }

  /** This node hears nobody: every live member becomes unreachable, and nobody is judged until a frame arrives. */
  private isolate(nowMs: number): MembershipChange {
    const unreachable: number[] = [];
    let lastMs = Number.NEGATIVE_INFINITY;
    for (const m of this.members.values()) {
      if (!isLive(m.state)) continue;
      lastMs = Math.max(lastMs, m.baselineMs);
      m.state = 'unreachable';
      m.since = nowMs;
      m.sampleFromMs = undefined;
      unreachable.push(m.origin);
    }
    this.isolatedAtMs = nowMs;
    return { kind: 'isolated', origin: this.self, atMs: nowMs, silentMs: nowMs - lastMs, unreachable: unreachable.sort((a, b) => a - b) };
  }

  /**
   * A frame from `origin` while isolated: this node hears again. The members still unreachable are judged from now
   * on, their silence counted from this frame (what they sent before was lost by this node, not by them).
   */
  private reconnect(origin: number, nowMs: number): MembershipChange[] {
    if (this.isolatedAtMs === undefined) return [];
    const isolatedForMs = nowMs - this.isolatedAtMs;
    this.isolatedAtMs = undefined;
    for (const m of this.members.values()) if (m.state === 'unreachable') m.baselineMs = Math.max(m.baselineMs, nowMs);
    return [{ kind: 'reconnected', origin: this.self, atMs: nowMs, isolatedForMs, heard: origin }];
  }

  // ---------- detector ----------

  private createMember(origin: number, nowMs: number, intervalMs: number, epoch: number | undefined): Member {
    const m: Member = {
      origin,
      state: 'alive',
      since: nowMs,
      epoch,
      intervalMs,
      lastHeardMs: nowMs,
      baselineMs: nowMs,
      sampleFromMs: nowMs,
      samples: new Float64Array(this.window),
      sampleCount: 0,
      sampleNext: 0,
      sum: 0,
      sumSquares: 0,
      suspectedAtMs: nowMs,
      vouchedMs: Number.NEGATIVE_INFINITY,
      withdrawnMs: Number.NEGATIVE_INFINITY,
      suspicionsRaised: 0,
    };
    this.reseed(m, intervalMs);
    return m;
  }

  /**
   * Bootstraps the window from the announced interval, as Akka's `first-heartbeat-estimate` does: two samples at
   * the interval -/+ a quarter (mean the interval, deviation a quarter of it) until real ones push them out.
   */
  private reseed(m: Member, intervalMs: number): void {
    m.intervalMs = intervalMs;
    m.sampleCount = 0;
    m.sampleNext = 0;
    m.sum = 0;
    m.sumSquares = 0;
    this.addSample(m, intervalMs * 0.75);
    this.addSample(m, intervalMs * 1.25);
  }

  private addSample(m: Member, sampleMs: number): void {
    if (m.sampleCount === this.window) {
      const old = m.samples[m.sampleNext] as number;
      m.sum -= old;
      m.sumSquares -= old * old;
    } else m.sampleCount++;
    m.samples[m.sampleNext] = sampleMs;
    m.sampleNext = (m.sampleNext + 1) % this.window;
    m.sum += sampleMs;
    m.sumSquares += sampleMs * sampleMs;
  }

  /**
   * Phi of Hayashibara et al.: -log10 of the probability that a live origin stays silent this long, the
   * inter-arrival times taken as normal (mean and deviation of the window, the deviation floored), through the
   * logistic approximation of the normal tail that Akka's PhiAccrualFailureDetector uses.
   */
  private phiOf(m: Member, silentMs: number): number {
    const mean = m.sum / m.sampleCount;
    const variance = Math.max(0, m.sumSquares / m.sampleCount - mean * mean);
    const std = Math.max(Math.sqrt(variance), this.minStdDevIntervals * m.intervalMs);
    const y = (silentMs - mean) / std;
    const e = Math.exp(-y * (1.5976 + 0.070566 * y * y));
    const phi = silentMs > mean ? -Math.log10(e / (1 + e)) : -Math.log10(1 - 1 / (1 + e));
    return Number.isFinite(phi) ? Math.max(0, phi) : Number.MAX_VALUE;
  }

  // ---------- verdict ----------

  private expiryMs(observer: number): number {
    return this.expiryIntervals * (this.members.get(observer)?.intervalMs ?? this.intervalMs);
  }

  /**
   * Other observers with a current pulse (reporters), how many of them name `m` now, and the latest start of such
   * a suspicion. An observer this node holds dead or left does not count.
   */
  private confirmationsOf(
    m: Member,
    nowMs: number,
  ): { confirmations: number; reporters: number; latestOnsetMs: number; latestNamedMs: number } {
    let confirmations = 0;
    let reporters = 0;
    let latestOnsetMs = Number.NEGATIVE_INFINITY;
    let latestNamedMs = Number.NEGATIVE_INFINITY;
    for (const [observer, report] of this.reports) {
      const expiryMs = this.expiryMs(observer);
      if (observer === m.origin || report.isolated || nowMs - report.atMs > expiryMs) continue;
      const state = this.members.get(observer)?.state;
      if (state === 'dead' || state === 'left') continue;
      reporters++;
      const named = report.suspects.get(m.origin);
      if (named === undefined || nowMs - named.lastMs > expiryMs) continue;
      confirmations++;
      latestOnsetMs = Math.max(latestOnsetMs, named.sinceMs);
      latestNamedMs = Math.max(latestNamedMs, named.lastMs);
    }
    return { confirmations, reporters, latestOnsetMs, latestNamedMs };
  }

  /**
   * Where the origin's silence starts once others' pulses are counted. Each vouch says "alive at least until t";
   * an origin sends on a regular beat, so t moves up to the first beat after it (a quarter interval of jitter
   * allowed) counted from the last frame this node heard. That is how a node that lost the origin's last frame
   * before a stall still counts the same silence as everybody else. A plain vouch may come from an observer that
   * never heard the origin (out of its radius), so it moves the start no later than the latest confirmer began to
   * suspect, less `suspectAfterIntervals`; a withdrawal is first-hand. Either moves it at most `vouchMaxIntervals`.
   */
  private corroboratedBaselineMs(m: Member, latestOnsetMs: number): number {
    const T = m.intervalMs;
    const beat = (t: number) => (t > m.lastHeardMs + T / 4 ? m.lastHeardMs + Math.ceil((t - m.lastHeardMs - T / 4) / T) * T : t);
    const vouched = Math.min(beat(m.vouchedMs), latestOnsetMs - this.suspectAfterIntervals * T);
    const aliveMs = Math.max(vouched, beat(m.withdrawnMs));
    return Math.max(m.baselineMs, Math.min(aliveMs, m.baselineMs + this.vouchMaxIntervals * T));
  }

  /**
   * The silence after which `m` is dead, given its confirmations: `deadAfter` once enough observers agree,
   * `maxSuspicion` with none, shrinking in between as Lifeguard's suspicion timeout does:
   * max - (max - min) * log(C + 1) / log(K + 1). With no other observer reporting, `maxSuspicion`.
   */
  private timeoutOf(m: Member, confirmations: number, reporters: number): number {
    const min = this.deadAfterIntervals * m.intervalMs;
    const max = this.maxSuspicionIntervals * m.intervalMs;
    const required = Math.min(reporters, Math.max(this.minConfirmations, Math.ceil(this.confirmationRatio * reporters)));
    if (required === 0) return max;
    if (confirmations >= required) return min;
    return max - ((max - min) * Math.log(confirmations + 1)) / Math.log(required + 1);
  }

  private emit(changes: MembershipChange[]): readonly MembershipChange[] {
    if (changes.length === 0) return NO_CHANGES;
    for (const change of changes) for (const listener of this.listeners) listener(change);
    return changes;
  }
}
