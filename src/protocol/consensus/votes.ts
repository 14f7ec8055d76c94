// Votes and the majority of a zone: which votes count, the majority certificate and its lease, epochs and
// fencing, and the voter's side (casting and renewing). Pure and browser-safe: no clock, no I/O; callers
// pass `now`. Clauses [FM-ZONE-VOTE], [FM-ZONE-MAJORITY], [FM-ZONE-LEASE], [FM-ZONE-EPOCH],
// [FM-ZONE-RENEW] and [FM-ZONE-SEED] are in docs/consensus.md.

import type { Vote, VoteRefusal, ZoneConfig } from './types.js';

/** Every refusal reason, in the order `ZoneVotes.offer` checks them. [FM-ZONE-VOTE] */
export const VOTE_REFUSALS: readonly VoteRefusal[] = [
  'malformed',
  'not-a-voter',
  'forged',
  'config-mismatch',
  'stale-epoch',
  'future',
  'expired',
  'replayed',
];

/** The most detection ids a vote carries as evidence (types.ts, `Vote.evidence`). */
export const MAX_VOTE_EVIDENCE = 32;

/**
 * [FM-ZONE-MAJORITY] The strict majority of `voterCount` configured voters: floor(n/2)+1. Two disjoint
 * sets of voters cannot both hold it, so two sides of a partition cannot both actuate.
 */
export function majorityOf(voterCount: number): number {
  if (!Number.isSafeInteger(voterCount) || voterCount < 1) throw new RangeError(`a zone has at least one voter, not ${voterCount}`);
  return Math.floor(voterCount / 2) + 1;
}

/**
 * [FM-ZONE-SEED] The wildfire guide's rule, `active >= max(2, int(total * 0.51))`. UNSAFE: kept only so
 * tests and the simulator can show it failing. With 4 voters split 2/2, 5 split 2/3 or 10 split 5/5,
 * both sides "have quorum" (int(4 x 0.51) = 2, int(5 x 0.51) = 2, int(10 x 0.51) = 5). Never actuate on it.
 */
export function seedHasQuorum(active: number, total: number): boolean {
  return active >= Math.max(2, Math.trunc(total * 0.51));
}

export type OfferResult = { readonly accepted: true } | { readonly accepted: false; readonly reason: VoteRefusal };

/** A zone's majority as one node sees it at one instant. [FM-ZONE-MAJORITY] [FM-ZONE-LEASE] */
export interface MajorityCertificate {
  /** Whether `votes` hold a strict majority of the zone's configured voters. */
  readonly majority: boolean;
  /** floor(n/2)+1 of the configured voters. */
  readonly needed: number;
  /** The valid votes, one per voter (its latest), sorted by voter. */
  readonly votes: readonly Vote[];
  /**
   * With a majority: the last instant (ms, the holder's clock) at which, with no new vote, a majority of
   * these votes is still unexpired (the `needed`-th latest expiry, `time + ttlMs`). The certificate has
   * lapsed once `now > lapsesAt`, as a vote has expired once `now > time + ttlMs`. Undefined without a
   * majority.
   */
  readonly lapsesAt: number | undefined;
}

/** What a holder persists so a restart neither lowers its epoch nor accepts a replay. [FM-ZONE-EPOCH] */
export interface ZoneVotesSnapshot {
  readonly zone: string;
  readonly epoch: number;
  /** The highest (boot, seq) accepted from each voter. */
  readonly marks: readonly { readonly voter: string; readonly boot: number; readonly seq: number }[];
  /** The latest accepted vote of each voter (any still-held vote; restored only if it would count). */
  readonly votes: readonly Vote[];
}

function isCount(n: unknown): n is number {
  return typeof n === 'number' && Number.isSafeInteger(n) && n >= 0;
}

/** (boot, seq) of `a` strictly after (boot, seq) of `b`. */
function isAfter(a: { boot: number; seq: number }, b: { boot: number; seq: number }): boolean {
  return a.boot > b.boot || (a.boot === b.boot && a.seq > b.seq);
}

function expiryOf(vote: Vote): number {
  return vote.time + vote.ttlMs;
}

/**
 * One zone's votes as one node holds them (the actuator counts with it; voters and the hub may too, for
 * display). Keeps the zone's epoch, the latest accepted vote of each voter and the (boot, seq) high-water
 * mark of each voter. [FM-ZONE-VOTE] [FM-ZONE-EPOCH]
 */
export class ZoneVotes {
  readonly zone: ZoneConfig;
  readonly configHash: string;
  readonly #voters: ReadonlySet<string>;
  #epoch: number;
  readonly #marks = new Map<string, { boot: number; seq: number }>();
  readonly #latest = new Map<string, Vote>();
  readonly #refusals: Record<VoteRefusal, number>;

  /** `configHash`: this node's own `zoneConfigHash(zone)`; votes under another configuration do not count. */
  constructor(zone: ZoneConfig, configHash: string, epoch = 0) {
    if (!isCount(epoch)) throw new RangeError(`epoch ${epoch} is not a non-negative integer`);
    this.#voters = new Set(zone.voters);
    majorityOf(this.#voters.size);
    this.zone = zone;
    this.configHash = configHash;
    this.#epoch = epoch;
    this.#refusals = Object.fromEntries(VOTE_REFUSALS.map((r) => [r, 0])) as Record<VoteRefusal, number>;
  }

  /** The zone's current epoch at this node: the highest it has seen. Never goes back. */
  get epoch(): number {
    return this.#epoch;
  }

  /**
   * [FM-ZONE-EPOCH] Adopts `epoch` when it is higher than the current one and drops every held vote of an
   * older epoch at once. Returns whether it adopted (the caller then persists the snapshot before acting
   * on anything). A lower or equal epoch changes nothing.
   */
  observeEpoch(epoch: number): boolean {
    if (!isCount(epoch)) throw new RangeError(`epoch ${epoch} is not a non-negative integer`);
    if (epoch <= this.#epoch) return false;
    this.#epoch = epoch;
    for (const [voter, vote] of this.#latest) if (vote.epoch < epoch) this.#latest.delete(voter);
    return true;
  }

  /**
   * Offers a vote delivered by `sender` (the transport's identity of the node that sent it, the origin
   * for a relayed frame) at `now` (this node's clock). [FM-ZONE-VOTE] The checks, in this order, the first
   * that fails giving the refusal:
   * 1. `malformed`: another zone, a field that is not a non-negative integer (epoch, boot, seq, time),
   *    `ttlMs` not in 1..policy.voteTtlMs (a voter cannot grant itself a longer lease than the zone's
   *    policy), evidence that is not at most 32 strings;
   * 2. `not-a-voter`: the voter is not one of the zone's configured voters;
   * 3. `forged`: `sender !== vote.voter`;
   * 4. `config-mismatch`: `vote.configHash` is not this node's hash of the zone;
   * 5. `stale-epoch`: `vote.epoch` is below the current epoch. A vote of a higher epoch first makes this
   *    node adopt it (as `observeEpoch`; the vote is authenticated by checks 2 to 4), then goes on;
   * 6. `future`: `vote.time > now + policy.maxClockSkewMs`;
   * 7. `expired`: `now > vote.time + vote.ttlMs`;
   * 8. `replayed`: its (boot, seq) is not greater than the last accepted from this voter (a duplicate, a
   *    replay or a reorder).
   * An accepted vote becomes the voter's latest and raises its high-water mark. Every refusal is counted.
   */
  offer(vote: Vote, sender: string, now: number): OfferResult {
    const reason = this.#check(vote, sender, now);
    if (reason !== undefined) {
      this.#refusals[reason]++;
      return { accepted: false, reason };
    }
    this.#marks.set(vote.voter, { boot: vote.boot, seq: vote.seq });
    this.#latest.set(vote.voter, vote);
    return { accepted: true };
  }

  #check(vote: Vote, sender: string, now: number): VoteRefusal | undefined {
    const policy = this.zone.policy;
    if (
      vote === null ||
      typeof vote !== 'object' ||
      vote.zone !== this.zone.id ||
      typeof vote.voter !== 'string' ||
      typeof vote.configHash !== 'string' ||
      !isCount(vote.epoch) ||
      !isCount(vote.boot) ||
      !isCount(vote.seq) ||
      !isCount(vote.time) ||
      !isCount(vote.ttlMs) ||
      vote.ttlMs < 1 ||
      vote.ttlMs > policy.voteTtlMs ||
      !Array.isArray(vote.evidence) ||
      vote.evidence.length > MAX_VOTE_EVIDENCE ||
      !vote.evidence.every((e) => typeof e === 'string')
    )
      return 'malformed';
    if (!this.#voters.has(vote.voter)) return 'not-a-voter';
    if (sender !== vote.voter) return 'forged';
    if (vote.configHash !== this.configHash) return 'config-mismatch';
    if (vote.epoch < this.#epoch) return 'stale-epoch';
    this.observeEpoch(vote.epoch);
    if (vote.time > now + policy.maxClockSkewMs) return 'future';
    if (now > expiryOf(vote)) return 'expired';
    const mark = this.#marks.get(vote.voter);
    if (mark !== undefined && !isAfter(vote, mark)) return 'replayed';
    return undefined;
  }

  /** Refused offers by reason since this holder was made (not persisted). */
  refusals(): Record<VoteRefusal, number> {
    return { ...this.#refusals };
  }

  /**
   * The votes that count at `now`: of the current epoch, neither expired nor from the future, one per
   * voter (its latest accepted; a voter's older votes never count beside or instead of it), sorted by voter.
   */
  valid(now: number): Vote[] {
    const skew = this.zone.policy.maxClockSkewMs;
    const out: Vote[] = [];
    for (const vote of this.#latest.values()) {
      if (vote.epoch === this.#epoch && now <= expiryOf(vote) && vote.time <= now + skew) out.push(vote);
    }
    return out.sort((a, b) => (a.voter < b.voter ? -1 : a.voter > b.voter ? 1 : 0));
  }

  /** [FM-ZONE-MAJORITY] [FM-ZONE-LEASE] Whether the valid votes hold a majority, and until when. */
  certificate(now: number): MajorityCertificate {
    const votes = this.valid(now);
    const needed = majorityOf(this.#voters.size);
    if (votes.length < needed) return { majority: false, needed, votes, lapsesAt: undefined };
    const expiries = votes.map(expiryOf).sort((a, b) => b - a);
    return { majority: true, needed, votes, lapsesAt: expiries[needed - 1] };
  }

  /** What to persist: the epoch, the high-water marks and the held votes. [FM-ZONE-EPOCH] */
  snapshot(): ZoneVotesSnapshot {
    const marks = [...this.#marks].map(([voter, m]) => ({ voter, boot: m.boot, seq: m.seq }));
    return { zone: this.zone.id, epoch: this.#epoch, marks, votes: [...this.#latest.values()] };
  }

  /**
   * Merges a persisted snapshot in: the epoch becomes the higher of the two, each voter's mark the higher
   * of the two, and a held vote comes back only if it is still the voter's latest, of the (new) current
   * epoch and under this node's configuration hash. So restoring never lowers the epoch or a mark, even
   * from an old snapshot. What restoring cannot give back is what was never persisted: the caller writes
   * the snapshot after `observeEpoch` returns true and after each accepted vote, before acting on the
   * certificate; a snapshot written late lets votes of an epoch it had left count again after a restart,
   * until a frame of the newer epoch arrives. Throws RangeError for another zone's snapshot.
   */
  restore(snapshot: ZoneVotesSnapshot): void {
    if (snapshot.zone !== this.zone.id) throw new RangeError(`snapshot of zone ${snapshot.zone} restored into zone ${this.zone.id}`);
    this.observeEpoch(snapshot.epoch);
    for (const m of snapshot.marks) {
      if (!isCount(m.boot) || !isCount(m.seq)) throw new RangeError(`snapshot mark of ${m.voter} is not (boot, seq) integers`);
      const held = this.#marks.get(m.voter);
      if (held === undefined || isAfter(m, held)) this.#marks.set(m.voter, { boot: m.boot, seq: m.seq });
    }
    for (const vote of snapshot.votes) {
      const mark = this.#marks.get(vote.voter);
      const current = this.#latest.get(vote.voter);
      if (
        this.#voters.has(vote.voter) &&
        vote.zone === this.zone.id &&
        vote.configHash === this.configHash &&
        vote.epoch === this.#epoch &&
        mark !== undefined &&
        !isAfter(vote, mark) &&
        (current === undefined || isAfter(vote, current))
      )
        this.#latest.set(vote.voter, vote);
    }
  }
}

export interface VoteCasterOptions {
  readonly zone: ZoneConfig;
  /** The voter's own `zoneConfigHash(zone)`. */
  readonly configHash: string;
  /** This node's id as the zone's `voters` and the transport name it. */
  readonly voter: string;
  /** The node's boot counter (persisted, greater on every start), so (boot, seq) grows across restarts. */
  readonly boot: number;
  /** How often the voter evaluates (its tick); widens the renewal margin to 3 ticks when ttl/3 is less. */
  readonly tickMs?: number;
}

/** A voter's side: casts the zone's votes with a strictly increasing (boot, seq). [FM-ZONE-RENEW] */
export class VoteCaster {
  readonly #options: VoteCasterOptions;
  #seq = 0;

  constructor(options: VoteCasterOptions) {
    if (!isCount(options.boot)) throw new RangeError(`boot ${options.boot} is not a non-negative integer`);
    this.#options = options;
  }

  /**
   * [FM-ZONE-RENEW] How long before a vote lapses its renewal is cast: a third of the ttl, and at least
   * 3 ticks, capped at the ttl (then the voter renews every tick). The voter sends one frame a tick, its
   * latest vote; at the first tick inside the margin more than 2 ticks are left, so the renewal still
   * lands before the old vote lapses when its first frame is lost and the next tick's gets through. Needs
   * `voteTtlMs` of at least 3 ticks: with less, one lost frame can lapse a vote whatever the rule.
   */
  get renewMarginMs(): number {
    const ttl = this.#options.zone.policy.voteTtlMs;
    return Math.min(ttl, Math.max(Math.ceil(ttl / 3), 3 * (this.#options.tickMs ?? 0)));
  }

  /** A new vote at `now` in `epoch`; `evidence` (detection ids) is sorted and cut to 32. */
  cast(now: number, epoch: number, evidence: readonly string[]): Vote {
    const { zone, configHash, voter, boot } = this.#options;
    this.#seq++;
    return {
      zone: zone.id,
      epoch,
      voter,
      configHash,
      boot,
      seq: this.#seq,
      time: Math.round(now),
      ttlMs: zone.policy.voteTtlMs,
      evidence: [...new Set(evidence)].sort().slice(0, MAX_VOTE_EVIDENCE),
    };
  }

  /**
   * [FM-ZONE-RENEW] Whether the voter, still seeing fire, casts a new vote at `now`: when it has none, when
   * `epoch` (the zone's current one, if given) is newer than the last vote's, or when at most
   * `renewMarginMs` of the last vote is left.
   */
  needsRenewal(now: number, last: Vote | undefined, epoch?: number): boolean {
    if (last === undefined) return true;
    if (epoch !== undefined && epoch > last.epoch) return true;
    return expiryOf(last) - now <= this.renewMarginMs;
  }
}
