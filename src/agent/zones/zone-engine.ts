// The zone engine: what one node does for the zones it belongs to (voter, camera node, pump owner, node of
// a zone another activates). Transport-agnostic and clock-driven: the host calls `tick()` every tickMs
// and hands it what the link hears; the agent, the simulator and the tests run the same code.
// Rules [FM-ZONE-ENGINE-n] in docs/consensus.md ("The zone engine").

import { type Clock, FieldmeshError } from '../../kit/index.js';
import { evaluateIsolatedFallback, evaluateZone } from '../../protocol/consensus/evaluate.js';
import type { ActuationCause, Detection, Vote, VoteRefusal, ZoneConfig, ZoneEvaluation } from '../../protocol/consensus/types.js';
import { majorityOf, VoteCaster, ZoneVotes, type ZoneVotesSnapshot } from '../../protocol/consensus/votes.js';
import { zoneConfigHash } from '../../protocol/consensus/zone-config.js';
import type { ZoneSignatureRefusal } from '../../protocol/consensus/zone-signature.js';
import type { PumpAction, PumpController, PumpDemand, PumpStateName, PumpStateView } from '../actuators/pump-controller.js';
import { detectionKey, messageEpoch, messageZone, type ZoneLink, type ZoneMessage, type ZoneStateStore } from './zone-messages.js';

/**
 * What the engine asks of a pump it owns: the envelope (`PumpController`) satisfies it. Its answers come
 * back as promises; the engine never waits on them to go on counting.
 */
export type ZonePumpPort = Pick<PumpController, 'demand' | 'command' | 'observeEpoch' | 'state'>;

/** One decision or notable event, with its evidence, for the audit and the status views. */
export interface ZoneRecord {
  readonly at: number;
  readonly node: string;
  readonly zone: string;
  readonly epoch: number;
  readonly kind:
    | 'vote' // this voter started voting (or re-voted in a new epoch)
    | 'vote-lapsed' // this voter's evidence ended and its last vote lapsed; cooldown starts
    | 'majority' // a certificate holds at this pump owner
    | 'majority-lapsed'
    | 'isolated-fallback'
    | 'epoch' // adopted a newer epoch (or elected one)
    | 'vote-refused'
    | 'command';
  /** Detection ids, with camera weights and confidences when this node evaluated. */
  readonly detections?: readonly string[];
  readonly evaluation?: Pick<ZoneEvaluation, 'evidence' | 'fire'>;
  /** Votes behind a majority: voter, boot, seq, time, ttl. */
  readonly votes?: readonly Pick<Vote, 'voter' | 'boot' | 'seq' | 'time' | 'ttlMs'>[];
  readonly pumps?: readonly string[];
  readonly cause?: ActuationCause;
  readonly reason?: string;
  readonly from?: string;
}

export interface ZoneEngineOptions {
  /** This node's id, as zones and the transport name it. */
  readonly node: string;
  /** Every zone this node knows (the ones it belongs to, and those that activate them). */
  readonly zones: readonly ZoneConfig[];
  readonly link: ZoneLink;
  readonly clock: Pick<Clock, 'now'>;
  /** The node's boot counter (greater on every start). */
  readonly boot: number;
  /** How often the host calls `tick()`. */
  readonly tickMs: number;
  readonly store: ZoneStateStore;
  /** The pumps this node drives (its own `ZonePump.node === node`). */
  readonly pumps?: readonly ZonePumpPort[];
  /** The zone's voters this node can reach now (its link's view), itself included when a voter. [FM-ZONE-FALLBACK] */
  readonly reachableVoters?: (zone: string) => readonly string[];
  readonly onRecord?: (r: ZoneRecord) => void;
  /** A pump operation that threw (the envelope returns refusals as values; this is a broken invariant). */
  readonly onError?: (error: unknown) => void;
}

interface OwnedPump {
  readonly port: ZonePumpPort;
  readonly id: string;
  readonly zone: string;
  /** The state last sent in a pump-state message. */
  announced: string | undefined;
  /** Ticks left to repeat the last announced state (the frame is lossy). */
  repeats: number;
  /** Operations on the pump, in order. */
  queue: Promise<void>;
}

/** [FM-ZONE-ENGINE-4] `elect` and `command` on a zone this node takes no part in: a caller's mistake, answered 404 by the API. */
function unknownZone(zone: string, known: readonly string[]): FieldmeshError {
  return new FieldmeshError(
    'FM_ZONE_UNKNOWN',
    `this node takes no part in zone "${zone}" (its zones: ${known.length === 0 ? 'none' : known.join(', ')})`,
    { details: { zone } },
  );
}

/** How long a voter counts as "heard recently" in `status`. */
const HEARD_TICKS = 5;
/** How many ticks an elected epoch is re-announced (the epoch frame is lossy too). */
const ELECT_ANNOUNCE_TICKS = 3;
const RECENT_RECORDS = 20;
/**
 * [FM-ZONE-ENGINE-7] An operator's command to another node's pump is sent, then repeated on each of the
 * next ticks until the owner's pump state shows its effect or this many repeats are spent: the link is
 * lossy, and the owner executes each command id once. At 10 % loss, one of 10^5 commands is lost.
 */
const COMMAND_REPEATS = 4;
/** [FM-ZONE-ENGINE-8] How many ticks after a change a pump's state is said again (the frame is lossy). */
const PUMP_STATE_REPEATS = 2;
/** Command ids remembered per node, to execute a repeated (or twice-delivered) command once. */
const SEEN_COMMAND_IDS = 1_024;

/** The pump state that shows a command took effect. */
function effectOf(action: PumpAction): (state: string) => boolean {
  switch (action) {
    case 'estop':
      return (state) => state === 'estop';
    case 'stop':
      return (state) => state === 'stopped' || state === 'estop';
    case 'clear':
      return (state) => state !== 'estop';
    case 'start':
    case 'test':
      return (state) => state === 'running';
  }
}

interface PendingCommand {
  readonly message: Extract<ZoneMessage, { type: 'command' }>;
  readonly done: (state: string) => boolean;
  repeatsLeft: number;
}

interface OwnDetection {
  readonly detection: Detection;
  readonly key: number;
  readonly acked: Set<string>;
}

interface ZoneState {
  readonly zone: ZoneConfig;
  readonly hash: string;
  epoch: number;
  /** Held detections by `detectionKey`. */
  readonly held: Map<number, Detection>;
  /** This node's own detections still to be acknowledged by every other voter. */
  readonly own: Map<number, OwnDetection>;
  /** A detection of another node was heard since the last `held` message. */
  ackDue: boolean;
  /** Ticks left to announce the epoch (after `elect` or hearing an older one). */
  announce: number;
  readonly caster: VoteCaster | undefined;
  lastVote: Vote | undefined;
  cooldownUntil: number;
  /** The counter, when this node owns pumps this zone drives (its own or ones it activates). */
  readonly votes: ZoneVotes | undefined;
  /** Lease last demanded per pump, so a renewal demands again only when the lease moves. */
  readonly demanded: Map<string, number>;
  majority: boolean;
  readonly lastHeard: Map<string, number>;
  /** `boot/seq/epoch` of the vote last accepted per voter. */
  readonly accepted: Map<string, string>;
  readonly records: ZoneRecord[];
  readonly refusals: Map<VoteRefusal | ZoneSignatureRefusal, number>;
  /** When a signature refusal was last recorded, by sender and reason (recorded once per vote lifetime). */
  readonly refusalRecorded: Map<string, number>;
  lastEvaluation: ZoneEvaluation | undefined;
  fallback: boolean;
}

export interface ZoneStatus {
  readonly zone: string;
  readonly epoch: number;
  readonly voters: readonly { readonly id: string; readonly heardRecently: boolean; readonly lastHeard: number | null }[];
  readonly majorityNeeded: number;
  readonly majorityVisible: boolean;
  readonly detections: readonly Detection[];
  readonly evaluation: ZoneEvaluation | undefined;
  readonly voting: boolean;
  readonly decisions: readonly ZoneRecord[];
  readonly pumps: readonly {
    readonly id: string;
    readonly owner: string;
    readonly running: boolean;
    /** The owner's state: its envelope's on the owner, the last pump-state frame heard elsewhere ('unknown' before one). */
    readonly state: PumpStateName | 'unknown';
    /** When that state began (the owner's clock), null when unknown. */
    readonly since: number | null;
    readonly cause: ActuationCause | null;
    /** The envelope's full view, on the pump's owner. */
    readonly view?: PumpStateView;
  }[];
  /** Refused votes by reason, and with `zoneSecurity.signing: required` refused frames by signature reason. */
  readonly refusals: Readonly<Partial<Record<VoteRefusal | ZoneSignatureRefusal, number>>>;
}

export class ZoneEngine {
  readonly #o: ZoneEngineOptions;
  readonly #zones = new Map<string, ZoneState>();
  readonly #pumps: readonly OwnedPump[];
  /** Remote pumps' last known state (from pump-state messages). */
  readonly #remotePumps = new Map<string, { running: boolean; state: PumpStateName; since: number; cause: ActuationCause | null }>();
  /** Commands to other nodes' pumps still repeated, by id. [FM-ZONE-ENGINE-7] */
  readonly #pendingCommands = new Map<string, PendingCommand>();
  /** `zone/pump/id` of commands executed here, so a repeat runs once. */
  readonly #seenCommands = new Set<string>();

  constructor(options: ZoneEngineOptions) {
    this.#o = options;
    this.#pumps = (options.pumps ?? []).map((port) => {
      const view = port.state();
      return { port, id: view.pump, zone: view.zone, announced: undefined, repeats: 0, queue: Promise.resolve() };
    });
    const ownedZones = new Set(this.#pumps.map((p) => p.zone));
    for (const zone of options.zones) {
      const me = options.node;
      const drives = ownedZones.has(zone.id) || zone.policy.activates.some((a) => ownedZones.has(a));
      const member = drives || zone.voters.includes(me) || zone.cameras.some((c) => c.node === me) || zone.pumps.some((p) => p.node === me);
      if (!member) continue;
      const hash = zoneConfigHash(zone);
      const stored = options.store.load(zone.id);
      const epoch = stored?.epoch ?? 0;
      let votes: ZoneVotes | undefined;
      if (drives) {
        votes = new ZoneVotes(zone, hash, epoch);
        if (stored?.votes !== undefined) votes.restore(stored.votes as ZoneVotesSnapshot);
      }
      this.#zones.set(zone.id, {
        zone,
        hash,
        epoch: Math.max(epoch, votes?.epoch ?? 0),
        held: new Map(),
        own: new Map(),
        ackDue: false,
        announce: 0,
        caster: zone.voters.includes(me)
          ? new VoteCaster({ zone, configHash: hash, voter: me, boot: options.boot, tickMs: options.tickMs })
          : undefined,
        lastVote: undefined,
        cooldownUntil: Number.NEGATIVE_INFINITY,
        votes,
        demanded: new Map(),
        majority: false,
        lastHeard: new Map(),
        accepted: new Map(),
        records: [],
        refusals: new Map(),
        refusalRecorded: new Map(),
        lastEvaluation: undefined,
        fallback: false,
      });
    }
    for (const pump of this.#pumps) {
      for (const s of this.#zones.values()) if (this.#drivenBy(s.zone).includes(pump)) this.#enqueue(pump, s.zone.id, () => undefined);
    }
  }

  /** Resolves when every pump operation queued so far has been done (tests, the simulator, shutdown). */
  async idle(): Promise<void> {
    for (;;) {
      const queues = this.#pumps.map((p) => p.queue);
      await Promise.all(queues);
      if (this.#pumps.every((p, i) => p.queue === queues[i])) return;
    }
  }

  /** The zones this node takes part in. */
  zones(): string[] {
    return [...this.#zones.keys()];
  }

  epoch(zone: string): number | undefined {
    return this.#zones.get(zone)?.epoch;
  }

  /**
   * A detection of one of this node's cameras: held, shared with the zone at once, re-sent every tick
   * until every other voter acknowledged it or it left the window. [FM-ZONE-ENGINE-2]
   */
  detect(d: Detection): void {
    const now = this.#o.clock.now();
    for (const s of this.#zones.values()) {
      const camera = s.zone.cameras.find((c) => c.id === d.camera);
      if (camera === undefined || camera.node !== d.node || d.node !== this.#o.node) continue;
      const key = detectionKey(d);
      if (s.held.has(key)) continue;
      s.held.set(key, d);
      s.own.set(key, { detection: d, key, acked: new Set() });
      this.#o.link.send({ type: 'detection', zone: s.zone.id, epoch: s.epoch, detection: d });
      this.#vote(s, now);
      this.#fallback(s, now);
    }
  }

  /** A message the link heard from `sender` (the transport's identity of the sending node). */
  receive(m: ZoneMessage, sender: string): void {
    const s = this.#zones.get(messageZone(m));
    if (s === undefined || sender === this.#o.node) return;
    const now = this.#o.clock.now();
    s.lastHeard.set(sender, now);
    const epoch = messageEpoch(m);
    if (Number.isSafeInteger(epoch) && epoch > s.epoch) this.#adopt(s, epoch, now, sender);
    else if (epoch < s.epoch) s.announce = Math.max(s.announce, 1); // [FM-ZONE-ENGINE-4] tell it the newer one
    switch (m.type) {
      case 'detection': {
        const d = m.detection;
        const camera = s.zone.cameras.find((c) => c.id === d.camera);
        // Only the camera's own node may speak for it; the sender is the transport's word.
        if (camera === undefined || camera.node !== d.node || d.node !== sender) return;
        if (d.time < now - s.zone.policy.windowMs - s.zone.policy.maxClockSkewMs) return;
        s.ackDue = true;
        const key = detectionKey(d);
        if (s.held.has(key)) return;
        s.held.set(key, d);
        this.#vote(s, now);
        return;
      }
      case 'held': {
        const keys = new Set(m.keys);
        for (const o of s.own.values()) if (keys.has(o.key)) o.acked.add(sender);
        return;
      }
      case 'vote':
        this.#count(s, m.vote, sender, now);
        return;
      case 'epoch':
        return;
      case 'pumpState':
        this.#remotePumps.set(`${m.zone}\0${m.pump}`, {
          running: m.state === 'running',
          state: m.state,
          since: m.since,
          cause: m.state === 'running' ? (m.cause as ActuationCause) : null,
        });
        for (const [id, c] of this.#pendingCommands) {
          if (c.message.zone === m.zone && c.message.pump === m.pump && c.done(m.state)) this.#pendingCommands.delete(id);
        }
        return;
      case 'command': {
        const pump = this.#pumps.find((p) => p.id === m.pump && p.zone === m.zone);
        if (pump === undefined) return;
        // [FM-ZONE-ENGINE-7] Senders repeat commands: each id runs once.
        const key = `${m.zone}\0${m.pump}\0${m.id}`;
        if (this.#seenCommands.has(key)) return;
        this.#seenCommands.add(key);
        if (this.#seenCommands.size > SEEN_COMMAND_IDS) this.#seenCommands.delete(this.#seenCommands.values().next().value as string);
        this.#command(s, pump, m, sender);
        return;
      }
    }
  }

  /**
   * [FM-ZONE-SIGN-4] A frame of `zone` the link refused before the engine (signature, certificate, identity):
   * counted with the zone's vote refusals, recorded once per vote lifetime per sender and reason.
   */
  refuse(zone: string, reason: ZoneSignatureRefusal, sender: string): void {
    const s = this.#zones.get(zone);
    if (s === undefined) return;
    const now = this.#o.clock.now();
    s.refusals.set(reason, (s.refusals.get(reason) ?? 0) + 1);
    const key = `${sender}\0${reason}`;
    if (now - (s.refusalRecorded.get(key) ?? Number.NEGATIVE_INFINITY) < s.zone.policy.voteTtlMs) return;
    s.refusalRecorded.set(key, now);
    this.#record(s, { at: now, kind: 'vote-refused', reason, from: sender });
  }

  /** The periodic work: re-send unacknowledged detections, acknowledge, vote and renew, count, fallback. */
  tick(): void {
    const now = this.#o.clock.now();
    for (const s of this.#zones.values()) {
      const { windowMs, maxClockSkewMs } = s.zone.policy;
      const oldest = now - windowMs - maxClockSkewMs;
      for (const [key, d] of s.held) if (d.time < oldest) s.held.delete(key);
      const others = s.zone.voters.filter((v) => v !== this.#o.node);
      for (const [key, o] of s.own) {
        if (!s.held.has(key) || others.every((v) => o.acked.has(v))) s.own.delete(key);
        else this.#o.link.send({ type: 'detection', zone: s.zone.id, epoch: s.epoch, detection: o.detection });
      }
      if (s.ackDue) {
        s.ackDue = false;
        const keys = [...s.held].filter(([, d]) => d.node !== this.#o.node).map(([k]) => k);
        this.#o.link.send({ type: 'held', zone: s.zone.id, epoch: s.epoch, keys });
      }
      if (s.announce > 0) {
        s.announce--;
        this.#o.link.send({ type: 'epoch', zone: s.zone.id, epoch: s.epoch, by: this.#o.node, reason: 'adopted' });
      }
      this.#vote(s, now, true);
      this.#fallback(s, now);
      this.#actuate(s, now);
    }
    for (const pump of this.#pumps) this.#announcePump(pump);
    for (const [id, c] of this.#pendingCommands) {
      this.#o.link.send(c.message);
      if (--c.repeatsLeft <= 0) this.#pendingCommands.delete(id);
    }
  }

  /**
   * An operator forces a new epoch: one above the highest seen, persisted, announced; votes of older
   * epochs stop counting at once here and wherever it arrives. [FM-ZONE-ENGINE-4]
   */
  elect(zone: string): number {
    const s = this.#zones.get(zone);
    if (s === undefined) throw unknownZone(zone, this.zones());
    const now = this.#o.clock.now();
    this.#adopt(s, s.epoch + 1, now, this.#o.node);
    s.announce = ELECT_ANNOUNCE_TICKS;
    this.#o.link.send({ type: 'epoch', zone, epoch: s.epoch, by: this.#o.node, reason: 'elect' });
    s.announce--;
    return s.epoch;
  }

  /** An operator's command to a pump of `zone`: applied here when this node owns it, else sent to its owner. */
  command(zone: string, pump: string, action: PumpAction, by: string, id: string): void {
    const s = this.#zones.get(zone);
    if (s === undefined) throw unknownZone(zone, this.zones());
    const m = { type: 'command', zone, epoch: s.epoch, pump, action, by, id, time: Math.round(this.#o.clock.now()) } as const;
    const own = this.#pumps.find((p) => p.id === pump && p.zone === zone);
    if (own === undefined) {
      this.#o.link.send(m);
      this.#pendingCommands.set(id, { message: m, done: effectOf(action), repeatsLeft: COMMAND_REPEATS });
    } else this.#command(s, own, m, this.#o.node);
  }

  /**
   * [FM-ZONE-REACH] The zone's voters this node can reach: those its link (the awareness plane) holds
   * live, and those heard on the zone link within the last few ticks, itself included when a voter. The
   * union errs towards "reachable", so the isolated fallback never starts on a link that merely went quiet.
   */
  #reachable(s: ZoneState, now: number): Set<string> {
    const recent = now - HEARD_TICKS * this.#o.tickMs;
    const out = new Set<string>(this.#o.reachableVoters?.(s.zone.id) ?? []);
    for (const v of s.zone.voters) {
      if (v === this.#o.node || (s.lastHeard.get(v) ?? Number.NEGATIVE_INFINITY) >= recent) out.add(v);
    }
    return out;
  }

  status(zone: string): ZoneStatus | undefined {
    const s = this.#zones.get(zone);
    if (s === undefined) return undefined;
    const now = this.#o.clock.now();
    const recent = now - HEARD_TICKS * this.#o.tickMs;
    const voters = s.zone.voters.map((id) => {
      const last = id === this.#o.node ? now : (s.lastHeard.get(id) ?? null);
      return { id, heardRecently: last !== null && last >= recent, lastHeard: last };
    });
    const reachable = this.#reachable(s, now).size;
    return {
      zone,
      epoch: s.epoch,
      voters,
      majorityNeeded: majorityOf(s.zone.voters.length),
      majorityVisible: reachable >= majorityOf(s.zone.voters.length),
      detections: [...s.held.values()].sort((a, b) => a.time - b.time),
      evaluation: s.lastEvaluation,
      voting: s.lastVote !== undefined && now <= s.lastVote.time + s.lastVote.ttlMs,
      decisions: [...s.records],
      pumps: s.zone.pumps.map((p) => {
        const own = this.#pumps.find((x) => x.id === p.id && x.zone === zone)?.port.state();
        const remote = this.#remotePumps.get(`${zone}\0${p.id}`);
        return {
          id: p.id,
          owner: p.node,
          running: own ? own.state === 'running' : (remote?.running ?? false),
          state: own ? own.state : (remote?.state ?? 'unknown'),
          since: own ? own.since : (remote?.since ?? null),
          cause: own ? own.cause : (remote?.cause ?? null),
          ...(own ? { view: own } : {}),
        };
      }),
      refusals: Object.fromEntries(s.refusals),
    };
  }

  /** The pumps a zone's certificate drives here: its own (cause majority) and those it activates (overlap). */
  #drivenBy(zone: ZoneConfig): OwnedPump[] {
    return this.#pumps.filter((p) => p.zone === zone.id || zone.policy.activates.includes(p.zone));
  }

  #adopt(s: ZoneState, epoch: number, now: number, from: string): void {
    s.epoch = epoch;
    s.votes?.observeEpoch(epoch);
    // [FM-ZONE-ENGINE-4] Persisted before anything acts on the new epoch.
    this.#o.store.save(s.zone.id, { epoch, ...(s.votes ? { votes: s.votes.snapshot() } : {}) });
    for (const pump of this.#drivenBy(s.zone)) this.#enqueue(pump, s.zone.id, () => undefined);
    s.majority = false;
    s.demanded.clear();
    this.#record(s, { at: now, kind: 'epoch', from, reason: `epoch ${epoch}` });
    this.#vote(s, now);
  }

  /** [FM-ZONE-ENGINE-3] A voter evaluates what it holds and casts or renews while it says fire. */
  #vote(s: ZoneState, now: number, repeat = false): void {
    if (s.caster === undefined) return;
    const evaluation = evaluateZone(s.zone, [...s.held.values()], now);
    s.lastEvaluation = evaluation;
    const last = s.lastVote;
    const live = last !== undefined && last.epoch === s.epoch && now <= last.time + last.ttlMs;
    if (!evaluation.fire) {
      if (last !== undefined && !live) {
        s.cooldownUntil = last.time + last.ttlMs + s.zone.policy.cooldownMs;
        s.lastVote = undefined;
        this.#record(s, { at: now, kind: 'vote-lapsed', reason: `cooldown until ${s.cooldownUntil}` });
      }
      return;
    }
    if (now < s.cooldownUntil) return;
    if (!s.caster.needsRenewal(now, last, s.epoch)) {
      // [FM-ZONE-ENGINE-3] The live vote goes again every tick: a lost frame costs one tick, not a renewal period.
      if (repeat && last !== undefined) this.#o.link.send({ type: 'vote', vote: last });
      return;
    }
    const vote = s.caster.cast(now, s.epoch, evaluation.evidence.detections);
    s.lastVote = vote;
    if (!live) this.#record(s, { at: now, kind: 'vote', detections: vote.evidence, evaluation });
    this.#o.link.send({ type: 'vote', vote });
    this.#countEverywhere(vote, now);
  }

  /** Its own vote goes to every counter of its zone here, as a received one would. */
  #countEverywhere(vote: Vote, now: number): void {
    const s = this.#zones.get(vote.zone);
    if (s !== undefined) this.#count(s, vote, this.#o.node, now);
  }

  /** [FM-ZONE-ENGINE-5] A pump owner counts a vote and actuates on the certificate. */
  #count(s: ZoneState, vote: Vote, sender: string, now: number): void {
    if (s.votes === undefined) return;
    // A repeat of the vote last accepted from this voter is not offered again (it would count as a replay).
    const mark = `${vote.boot}/${vote.seq}/${vote.epoch}`;
    if (s.accepted.get(vote.voter) === mark && sender === vote.voter) return;
    const result = s.votes.offer(vote, sender, now);
    if (!result.accepted) {
      s.refusals.set(result.reason, (s.refusals.get(result.reason) ?? 0) + 1);
      if (result.reason !== 'replayed') this.#record(s, { at: now, kind: 'vote-refused', reason: result.reason, from: sender });
      return;
    }
    s.accepted.set(vote.voter, mark);
    if (vote.epoch > s.epoch) this.#adopt(s, vote.epoch, now, sender);
    this.#o.store.save(s.zone.id, { epoch: s.epoch, votes: s.votes.snapshot() });
    this.#actuate(s, now);
  }

  #actuate(s: ZoneState, now: number): void {
    if (s.votes === undefined) return;
    const cert = s.votes.certificate(now);
    if (!cert.majority || cert.lapsesAt === undefined) {
      if (s.majority) this.#record(s, { at: now, kind: 'majority-lapsed' });
      s.majority = false;
      return;
    }
    const pumps = this.#drivenBy(s.zone);
    const evidence = [...new Set(cert.votes.flatMap((v) => v.evidence))].sort();
    if (!s.majority) {
      s.majority = true;
      this.#record(s, {
        at: now,
        kind: 'majority',
        detections: evidence,
        votes: cert.votes.map(({ voter, boot, seq, time, ttlMs }) => ({ voter, boot, seq, time, ttlMs })),
        pumps: pumps.map((p) => p.id),
      });
    }
    for (const pump of pumps) {
      if ((s.demanded.get(pump.id) ?? Number.NEGATIVE_INFINITY) >= cert.lapsesAt) continue;
      s.demanded.set(pump.id, cert.lapsesAt);
      const cause = pump.zone === s.zone.id ? 'majority' : 'overlap';
      const demand: PumpDemand = {
        cause,
        zone: s.zone.id,
        epoch: s.votes.epoch,
        leaseUntil: cert.lapsesAt,
        evidence: [...cert.votes.map((v) => `vote:${v.voter}`), ...evidence],
      };
      this.#enqueue(pump, s.zone.id, () => pump.port.demand(demand));
    }
  }

  /**
   * [FM-ZONE-FALLBACK] Opt-in: a pump owner that sees fewer than a majority of the zone's voters starts
   * its own pumps when its own cameras give the configured strong evidence. Labelled, never a majority.
   */
  #fallback(s: ZoneState, now: number): void {
    const fb = s.zone.policy.isolatedFallback;
    const pumps = this.#pumps.filter((p) => p.zone === s.zone.id);
    if (!fb.enabled || pumps.length === 0 || this.#o.reachableVoters === undefined) return;
    const reachable = this.#reachable(s, now).size;
    if (reachable >= majorityOf(s.zone.voters.length)) {
      s.fallback = false;
      return;
    }
    const policy = s.zone.policy;
    // [FM-ZONE-FALLBACK] The evaluator's own rules on this node's own cameras (a detection claiming one of
    // them from another node never counts).
    const own = evaluateIsolatedFallback(s.zone, this.#o.node, s.held.values(), now);
    const ids = [...own.detections];
    if (!own.fire) {
      s.fallback = false;
      return;
    }
    if (!s.fallback) {
      s.fallback = true;
      this.#record(s, {
        at: now,
        kind: 'isolated-fallback',
        detections: ids.sort(),
        pumps: pumps.map((p) => p.id),
        reason: `${reachable} voters reachable`,
      });
    }
    for (const pump of pumps) {
      this.#enqueue(pump, s.zone.id, () =>
        pump.port.demand({
          cause: 'isolated-fallback',
          zone: s.zone.id,
          epoch: s.epoch,
          leaseUntil: now + policy.voteTtlMs,
          evidence: ids,
        }),
      );
    }
  }

  #command(s: ZoneState, pump: OwnedPump, m: Extract<ZoneMessage, { type: 'command' }>, from: string): void {
    const { action, by, epoch, id } = m;
    this.#enqueue(pump, pump.zone, () =>
      pump.port.command({ action, by, epoch, id }).then((outcome) => {
        const result = outcome.accepted ? `accepted (${outcome.result})` : `refused (${outcome.reason})`;
        this.#record(s, {
          at: this.#o.clock.now(),
          kind: 'command',
          pumps: [pump.id],
          reason: `${action} by ${by} (${id}) in epoch ${epoch}: ${result}`,
          from,
        });
      }),
    );
  }

  /** A pump's state goes to the zone when it changed since last said (checked every tick). */
  #announcePump(pump: OwnedPump): void {
    const s = this.#zones.get(pump.zone);
    const view = pump.port.state();
    const said = `${view.state}/${view.cause}`;
    if (s === undefined) return;
    // [FM-ZONE-ENGINE-8] A change is said at once and on the next PUMP_STATE_REPEATS ticks.
    if (pump.announced !== said) {
      pump.announced = said;
      pump.repeats = PUMP_STATE_REPEATS;
    } else if (pump.repeats > 0) pump.repeats--;
    else return;
    this.#o.link.send({
      type: 'pumpState',
      zone: s.zone.id,
      pump: pump.id,
      state: view.state,
      cause: view.cause ?? view.lastStop?.reason ?? '',
      epoch: s.epoch,
      since: Math.round(view.since),
      runtimeMs: Math.round(view.runtimeMs),
      ...(view.leaseUntil === null ? {} : { leaseUntil: Math.round(view.leaseUntil) }),
    });
  }

  /**
   * [FM-ZONE-ENGINE-6] Every operation on a pump goes through one queue per pump, and each is preceded by
   * the newest epoch this engine knows of its zone at the moment it runs: a demand computed before a newer
   * epoch arrived (frames come in bursts, the envelope answers later) reaches the envelope after that epoch
   * and is refused there as stale, with the envelope's own audit and counter.
   */
  #enqueue(pump: OwnedPump, zone: string, op: () => Promise<unknown> | undefined): void {
    pump.queue = pump.queue
      .then(async () => {
        await pump.port.observeEpoch(this.#zones.get(zone)?.epoch ?? 0, zone);
        await op();
      })
      .catch((error: unknown) => this.#o.onError?.(error));
  }

  #record(s: ZoneState, r: Omit<ZoneRecord, 'node' | 'zone' | 'epoch'>): void {
    const record: ZoneRecord = { node: this.#o.node, zone: s.zone.id, epoch: s.epoch, ...r };
    s.records.push(record);
    if (s.records.length > RECENT_RECORDS) s.records.shift();
    this.#o.onRecord?.(record);
  }
}
