// Votes and the majority: the exhaustive split proof, the model-checked property test, replays, pauses,
// epochs, the lease and the renewal rule.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { ManualClock } from '../../kit/index.js';
import type { Vote, VoteRefusal, ZoneConfig } from './types.js';
import { majorityOf, seedHasQuorum, VOTE_REFUSALS, VoteCaster, ZoneVotes } from './votes.js';

const TTL_MS = 30_000;
const SKEW_MS = 2_000;
const HASH = 'cfg-a';
const T0 = new ManualClock().now();

function zoneOf(n: number, overrides: Partial<ZoneConfig['policy']> = {}): ZoneConfig {
  return {
    id: 'north',
    voters: Array.from({ length: n }, (_, i) => `v${i}`),
    cameras: [],
    pumps: [],
    overlaps: [],
    policy: {
      windowMs: 60_000,
      classes: ['fire'],
      minConfidence: 0.5,
      minCameras: 2,
      minNodes: 2,
      threshold: 1,
      cooldownMs: 0,
      activates: [],
      voteTtlMs: TTL_MS,
      maxClockSkewMs: SKEW_MS,
      isolatedFallback: { enabled: false, minCameras: 3, minConfidence: 0.9 },
      ...overrides,
    },
  };
}

function voteOf(voter: string, over: Partial<Vote> = {}): Vote {
  return { zone: 'north', epoch: 0, voter, configHash: HASH, boot: 1, seq: 1, time: T0, ttlMs: TTL_MS, evidence: [], ...over };
}

test('votes: the majority is floor(n/2)+1 of the configured voters', () => {
  assert.deepEqual(
    [1, 2, 3, 4, 5, 6, 10].map((n) => majorityOf(n)),
    [1, 2, 2, 3, 3, 4, 6],
  );
  assert.throws(() => majorityOf(0), RangeError);
});

// The safety proof: every split of every zone size, every voter on each side voting.
test('votes: of every split of 1, 2, 3, 4, 5 and 10 voters at most one side holds a majority; the seed rule lets both sides actuate', () => {
  const unsafeSeedSplits: Record<number, number> = {};
  for (const n of [1, 2, 3, 4, 5, 10]) {
    const zone = zoneOf(n);
    let unsafe = 0;
    for (let mask = 0; mask < 2 ** n; mask++) {
      const sides = [zone.voters.filter((_, i) => (mask >> i) & 1), zone.voters.filter((_, i) => !((mask >> i) & 1))];
      const majorities = sides.map((side) => {
        const holder = new ZoneVotes(zone, HASH);
        for (const voter of side) assert.ok(holder.offer(voteOf(voter), voter, T0 + 1).accepted);
        const cert = holder.certificate(T0 + 1);
        assert.equal(cert.votes.length, side.length);
        assert.equal(cert.majority, side.length >= Math.floor(n / 2) + 1, `n=${n} side of ${side.length}`);
        return cert.majority;
      });
      assert.ok(!(majorities[0] && majorities[1]), `n=${n} mask=${mask}: both sides hold a majority`);
      if (sides.every((side) => seedHasQuorum(side.length, n))) unsafe++;
    }
    unsafeSeedSplits[n] = unsafe;
  }
  // Subsets whose both halves pass the seed's rule: C(4,2) = 6 (2/2), C(5,2) + C(5,3) = 20 (2/3),
  // C(10,5) = 252 (5/5): 3, 10 and 126 partitions.
  assert.deepEqual(unsafeSeedSplits, { 1: 0, 2: 0, 3: 0, 4: 6, 5: 20, 10: 252 });
  assert.ok(seedHasQuorum(2, 4) && seedHasQuorum(5, 10) && seedHasQuorum(2, 5));
});

test('votes: each refusal is given for its fault, in the documented order, and counted', () => {
  const zone = zoneOf(3);
  const holder = new ZoneVotes(zone, HASH, 2);
  const now = T0 + 10_000;
  const cases: [Vote, string, VoteRefusal][] = [
    [voteOf('v0', { zone: 'south', epoch: 2 }), 'v0', 'malformed'],
    [voteOf('v0', { epoch: 2, ttlMs: 0 }), 'v0', 'malformed'],
    [voteOf('v0', { epoch: 2, ttlMs: TTL_MS + 1 }), 'v0', 'malformed'],
    [voteOf('v0', { epoch: 2, time: Number.NaN }), 'v0', 'malformed'],
    [voteOf('v0', { epoch: 2, seq: 1.5 }), 'v0', 'malformed'],
    [voteOf('v0', { epoch: 2, evidence: Array.from({ length: 33 }, (_, i) => `d${i}`) }), 'v0', 'malformed'],
    [voteOf('x9', { epoch: 2 }), 'x9', 'not-a-voter'],
    [voteOf('x9', { epoch: 2 }), 'v0', 'not-a-voter'],
    [voteOf('v0', { epoch: 2 }), 'v1', 'forged'],
    [voteOf('v0', { epoch: 2, configHash: 'cfg-b' }), 'v1', 'forged'],
    [voteOf('v0', { epoch: 2, configHash: 'cfg-b' }), 'v0', 'config-mismatch'],
    [voteOf('v0', { epoch: 1, configHash: 'cfg-b' }), 'v0', 'config-mismatch'],
    [voteOf('v0', { epoch: 1 }), 'v0', 'stale-epoch'],
    [voteOf('v0', { epoch: 1, time: now + SKEW_MS + 1 }), 'v0', 'stale-epoch'],
    [voteOf('v0', { epoch: 2, time: now + SKEW_MS + 1 }), 'v0', 'future'],
    [voteOf('v0', { epoch: 2, time: now - TTL_MS - 1 }), 'v0', 'expired'],
  ];
  for (const [vote, sender, reason] of cases) assert.deepEqual(holder.offer(vote, sender, now), { accepted: false, reason }, reason);
  assert.deepEqual(holder.offer(voteOf('v0', { epoch: 2, time: now + SKEW_MS }), 'v0', now), { accepted: true });
  assert.deepEqual(holder.offer(voteOf('v0', { epoch: 2, time: now - TTL_MS }), 'v0', now), { accepted: false, reason: 'replayed' });
  assert.deepEqual(holder.refusals(), {
    malformed: 6,
    'not-a-voter': 2,
    forged: 2,
    'config-mismatch': 2,
    'stale-epoch': 2,
    future: 1,
    expired: 1,
    replayed: 1,
  });
  assert.equal(holder.epoch, 2);
});

test('votes: a vote of a higher epoch makes the holder adopt it and drops every older vote at once', () => {
  const zone = zoneOf(3);
  const holder = new ZoneVotes(zone, HASH);
  const now = T0 + 1_000;
  assert.ok(holder.offer(voteOf('v0'), 'v0', now).accepted);
  assert.ok(holder.offer(voteOf('v1'), 'v1', now).accepted);
  assert.equal(holder.certificate(now).majority, true);
  // An expired vote of epoch 1 still proves epoch 1 exists (it is authenticated): adopted, then refused.
  assert.deepEqual(holder.offer(voteOf('v2', { epoch: 1, time: now - TTL_MS - 5 }), 'v2', now), { accepted: false, reason: 'expired' });
  assert.equal(holder.epoch, 1);
  assert.deepEqual(holder.certificate(now), { majority: false, needed: 2, votes: [], lapsesAt: undefined });
  // The old votes never come back, whatever is offered later.
  assert.equal(holder.offer(voteOf('v0', { seq: 2 }), 'v0', now).accepted, false);
  assert.equal(holder.observeEpoch(0), false);
  assert.equal(holder.epoch, 1);
  // A forged or misconfigured vote of a higher epoch moves nothing.
  holder.offer(voteOf('v0', { epoch: 9, seq: 3 }), 'v1', now);
  holder.offer(voteOf('v0', { epoch: 9, seq: 3, configHash: 'cfg-b' }), 'v0', now);
  holder.offer(voteOf('x9', { epoch: 9 }), 'x9', now);
  assert.equal(holder.epoch, 1);
  assert.ok(holder.offer(voteOf('v0', { epoch: 1, seq: 4 }), 'v0', now).accepted);
  assert.ok(holder.offer(voteOf('v1', { epoch: 1, seq: 2 }), 'v1', now).accepted);
  assert.equal(holder.certificate(now).majority, true);
});

test('votes: the lease ends at the majority-th latest expiry', () => {
  const holder = new ZoneVotes(zoneOf(5), HASH);
  const times = [T0, T0 + 4_000, T0 + 1_000, T0 + 3_000, T0 + 2_000];
  for (const [i, time] of times.entries()) assert.ok(holder.offer(voteOf(`v${i}`, { time }), `v${i}`, T0 + 5_000).accepted);
  const cert = holder.certificate(T0 + 5_000);
  assert.equal(cert.needed, 3);
  assert.equal(cert.lapsesAt, T0 + 2_000 + TTL_MS);
  assert.equal(holder.certificate(T0 + 2_000 + TTL_MS).majority, true);
  assert.equal(holder.certificate(T0 + 2_000 + TTL_MS + 1).majority, false);
  assert.equal(holder.certificate(T0 + 2_000 + TTL_MS + 1).votes.length, 2);
});

test('votes: a voter counts once, through two boots and many seqs', () => {
  const zone = zoneOf(3);
  const holder = new ZoneVotes(zone, HASH);
  const now = T0 + 1_000;
  const first = new VoteCaster({ zone, configHash: HASH, voter: 'v0', boot: 1 });
  const second = new VoteCaster({ zone, configHash: HASH, voter: 'v0', boot: 2 });
  for (let i = 0; i < 3; i++) assert.ok(holder.offer(first.cast(now, 0, []), 'v0', now).accepted);
  assert.ok(holder.offer(second.cast(now, 0, []), 'v0', now).accepted);
  // The first boot's later votes are now older than the second boot's: refused.
  assert.deepEqual(holder.offer(first.cast(now, 0, []), 'v0', now), { accepted: false, reason: 'replayed' });
  const cert = holder.certificate(now);
  assert.equal(cert.votes.length, 1);
  assert.equal(cert.majority, false);
  assert.deepEqual([cert.votes[0]?.boot, cert.votes[0]?.seq], [2, 1]);
  // v0 cannot speak for v1 either.
  assert.deepEqual(holder.offer(voteOf('v1'), 'v0', now), { accepted: false, reason: 'forged' });
  assert.equal(holder.certificate(now).majority, false);
});

test('votes: a paused voter that comes back with votes cast before its pause cannot make a certificate', () => {
  const zone = zoneOf(3);
  const holder = new ZoneVotes(zone, HASH);
  const clock = new ManualClock();
  const casters = ['v0', 'v1'].map((voter) => new VoteCaster({ zone, configHash: HASH, voter, boot: 1 }));
  const [v0, v1] = casters as [VoteCaster, VoteCaster];
  // v0 casts two votes before its pause; only the first was delivered, the second is held in a queue.
  const sent = v0.cast(clock.now(), 0, ['d1']);
  const queued = v0.cast(clock.now() + 1_000, 0, ['d1']);
  assert.ok(holder.offer(sent, 'v0', clock.now()).accepted);
  assert.ok(holder.offer(v1.cast(clock.now(), 0, ['d2']), 'v1', clock.now()).accepted);
  assert.equal(holder.certificate(clock.now()).majority, true);
  // v0 pauses past its ttl; v1 stopped seeing fire (its vote lapses). v0 comes back and flushes its queue.
  clock.advance(TTL_MS + 5_000);
  assert.deepEqual(holder.offer(queued, 'v0', clock.now()), { accepted: false, reason: 'expired' });
  assert.deepEqual(holder.offer(sent, 'v0', clock.now()), { accepted: false, reason: 'expired' });
  assert.equal(holder.certificate(clock.now()).majority, false);
  // Within the ttl a pre-pause vote is a replay; after an election it is stale, whatever its time.
  const holder2 = new ZoneVotes(zone, HASH);
  const a = v0.cast(clock.now(), 0, []);
  const b = v0.cast(clock.now(), 0, []);
  assert.ok(holder2.offer(b, 'v0', clock.now()).accepted);
  assert.deepEqual(holder2.offer(a, 'v0', clock.now()), { accepted: false, reason: 'replayed' });
  assert.deepEqual(holder2.offer(b, 'v0', clock.now()), { accepted: false, reason: 'replayed' });
  holder2.observeEpoch(1);
  assert.deepEqual(holder2.offer(v0.cast(clock.now(), 0, []), 'v0', clock.now()), { accepted: false, reason: 'stale-epoch' });
  assert.ok(holder2.offer(v1.cast(clock.now(), 0, []), 'v1', clock.now()).accepted === false);
  assert.equal(holder2.certificate(clock.now()).majority, false);
});

test('votes: a restored holder keeps its epoch, refuses replays and never goes back to an older snapshot', () => {
  const zone = zoneOf(3);
  const holder = new ZoneVotes(zone, HASH);
  const now = T0 + 1_000;
  holder.observeEpoch(3);
  const early = holder.snapshot();
  const replayable = voteOf('v0', { epoch: 3, seq: 7 });
  assert.ok(holder.offer(replayable, 'v0', now).accepted);
  assert.ok(holder.offer(voteOf('v1', { epoch: 3, seq: 2 }), 'v1', now).accepted);
  const saved = JSON.parse(JSON.stringify(holder.snapshot()));

  const restarted = new ZoneVotes(zone, HASH);
  restarted.restore(saved);
  assert.equal(restarted.epoch, 3);
  assert.equal(restarted.certificate(now).majority, true);
  assert.deepEqual(restarted.offer(replayable, 'v0', now), { accepted: false, reason: 'replayed' });
  assert.deepEqual(restarted.offer(voteOf('v0', { epoch: 2, seq: 8 }), 'v0', now), { accepted: false, reason: 'stale-epoch' });
  restarted.restore(early);
  assert.equal(restarted.epoch, 3);
  assert.deepEqual(restarted.offer(replayable, 'v0', now), { accepted: false, reason: 'replayed' });

  // Under another configuration the held votes do not come back; the marks and the epoch do.
  const reconfigured = new ZoneVotes(zone, 'cfg-b');
  reconfigured.restore(saved);
  assert.equal(reconfigured.epoch, 3);
  assert.deepEqual(reconfigured.certificate(now).votes, []);
  assert.deepEqual(reconfigured.offer({ ...replayable, configHash: 'cfg-b' }, 'v0', now), { accepted: false, reason: 'replayed' });
  assert.throws(() => new ZoneVotes({ ...zone, id: 'south' }, HASH).restore(saved), RangeError);
});

const DELIVERY_MS = 100;

/**
 * Ticks a single voter that renews by `renew` for 10 ttls. Each tick it sends one frame, its latest vote
 * (the awareness plane repeats it until a newer one replaces it), and every other frame is lost (`phase`
 * picks which), the worst one lost frame per tick does; a frame arrives DELIVERY_MS after it is sent.
 * Returns the first instant (ms after start) the actuator held no majority.
 */
function firstGap(
  ttl: number,
  tick: number,
  phase: number,
  renew: (caster: VoteCaster, t: number, last: Vote | undefined) => boolean,
): number | undefined {
  const zone = zoneOf(1, { voteTtlMs: ttl });
  const caster = new VoteCaster({ zone, configHash: HASH, voter: 'v0', boot: 1, tickMs: tick });
  const holder = new ZoneVotes(zone, HASH);
  let last: Vote | undefined;
  for (let k = 0, t = T0; t < T0 + 10 * ttl; k++, t += tick) {
    if (renew(caster, t, last)) last = caster.cast(t, 0, ['d1']);
    const delivered = k % 2 !== phase || k === 0;
    // The actuator checks its lease on its own timers, at any instant: just before the frame lands, as it
    // lands, and just before the next tick.
    if (k > 0 && !holder.certificate(t + DELIVERY_MS - 1).majority) return t + DELIVERY_MS - 1 - T0;
    if (delivered && last !== undefined) holder.offer(last, 'v0', t + DELIVERY_MS);
    for (const at of [t + DELIVERY_MS, t + tick - 1]) if (!holder.certificate(at).majority) return at - T0;
  }
  return undefined;
}

test('votes: a voter renewing by its rule never leaves the actuator without its vote with one frame in two lost', () => {
  for (const [ttl, tick] of [
    [30_000, 1_000],
    [9_000, 1_000],
    [6_000, 2_000],
    [4_000, 500],
    [10_000, 2_000],
    [3_000, 1_000],
  ] as const) {
    for (const phase of [0, 1]) {
      assert.equal(
        firstGap(ttl, tick, phase, (caster, t, last) => caster.needsRenewal(t, last)),
        undefined,
        `ttl ${ttl} tick ${tick} phase ${phase}`,
      );
    }
  }
  // Renewing only when one tick is left loses the vote as soon as that renewal's frame is lost.
  assert.equal(
    firstGap(30_000, 1_000, 1, (_, t, last) => last === undefined || last.time + last.ttlMs - t <= 1_000),
    30_099,
  );
  const zone = zoneOf(1, { voteTtlMs: 30_000 });
  const caster = new VoteCaster({ zone, configHash: HASH, voter: 'v0', boot: 1, tickMs: 1_000 });
  const last = caster.cast(T0, 0, []);
  assert.equal(caster.renewMarginMs, 10_000);
  assert.equal(caster.needsRenewal(T0 + 19_999, last), false);
  assert.equal(caster.needsRenewal(T0 + 20_000, last), true);
  assert.equal(caster.needsRenewal(T0 + 1, last, 1), true, 'a newer epoch needs a new vote at once');
  assert.equal(caster.needsRenewal(T0, undefined), true);
  assert.equal(new VoteCaster({ zone, configHash: HASH, voter: 'v0', boot: 1, tickMs: 5_000 }).renewMarginMs, 15_000);
});

test('votes: a caster numbers its votes strictly and cuts the evidence to 32 sorted ids', () => {
  const zone = zoneOf(3);
  const caster = new VoteCaster({ zone, configHash: HASH, voter: 'v2', boot: 4 });
  const ids = Array.from({ length: 40 }, (_, i) => `d${String(i).padStart(2, '0')}`).reverse();
  const a = caster.cast(T0, 5, ids);
  const b = caster.cast(T0, 5, ['d1', 'd1']);
  assert.deepEqual(
    { ...a, evidence: a.evidence.length },
    {
      zone: 'north',
      epoch: 5,
      voter: 'v2',
      configHash: HASH,
      boot: 4,
      seq: 1,
      time: T0,
      ttlMs: TTL_MS,
      evidence: 32,
    },
  );
  assert.equal(a.evidence[0], 'd00');
  assert.equal(b.seq, 2);
  assert.deepEqual(b.evidence, ['d1']);
});

// ---------- the model-checked property ----------

const VOTE_KINDS = [
  'valid',
  'valid',
  'valid',
  'replay',
  'reorder',
  'duplicate',
  'expired',
  'future',
  'forged',
  'wrong-hash',
  'older-epoch',
  'newer-epoch',
  'non-voter',
  'malformed',
  'reboot',
] as const;

const opArb = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      op: fc.constant('vote' as const),
      kind: fc.constantFrom(...VOTE_KINDS),
      voter: fc.nat(9),
      pick: fc.nat(),
      offset: fc.integer({ min: -TTL_MS, max: SKEW_MS }),
    }),
  },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: TTL_MS }) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('epoch' as const), delta: fc.integer({ min: -1, max: 1 }) }) },
);

interface Model {
  epoch: number;
  marks: Map<string, { boot: number; seq: number }>;
  latest: Map<string, Vote>;
}

/** The rules of docs/consensus.md written as one predicate, not as the ordered checks of votes.ts. */
function modelOffer(model: Model, zone: ZoneConfig, vote: Vote, sender: string, now: number): boolean {
  const { voteTtlMs, maxClockSkewMs } = zone.policy;
  const authentic =
    vote.zone === zone.id &&
    vote.ttlMs >= 1 &&
    vote.ttlMs <= voteTtlMs &&
    zone.voters.includes(vote.voter) &&
    sender === vote.voter &&
    vote.configHash === HASH;
  if (authentic && vote.epoch > model.epoch) {
    model.epoch = vote.epoch;
  }
  const mark = model.marks.get(vote.voter);
  const ok =
    authentic &&
    vote.epoch === model.epoch &&
    vote.time <= now + maxClockSkewMs &&
    now <= vote.time + vote.ttlMs &&
    (mark === undefined || vote.boot > mark.boot || (vote.boot === mark.boot && vote.seq > mark.seq));
  if (ok) {
    model.marks.set(vote.voter, { boot: vote.boot, seq: vote.seq });
    model.latest.set(vote.voter, vote);
  }
  return ok;
}

function modelMajority(model: Model, zone: ZoneConfig, now: number): boolean {
  let counted = 0;
  for (const vote of model.latest.values()) if (vote.epoch === model.epoch && now <= vote.time + vote.ttlMs) counted++;
  return counted >= Math.floor(zone.voters.length / 2) + 1;
}

test('votes: the certificate holds exactly when the model finds a majority of valid current-epoch votes, whatever is offered', () => {
  fc.assert(
    fc.property(fc.constantFrom(1, 2, 3, 4, 5, 10), fc.array(opArb, { maxLength: 120 }), (n, ops) => {
      const zone = zoneOf(n);
      const holder = new ZoneVotes(zone, HASH);
      const model: Model = { epoch: 0, marks: new Map(), latest: new Map() };
      const boots = zone.voters.map(() => 1);
      const casters = zone.voters.map((voter) => new VoteCaster({ zone, configHash: HASH, voter, boot: 1 }));
      const offered: Vote[] = [];
      const acceptedKeys = new Set<string>();
      const highest = new Map<string, { boot: number; seq: number }>();
      const returned = Object.fromEntries(VOTE_REFUSALS.map((r) => [r, 0])) as Record<VoteRefusal, number>;
      let maxEpochSeen = 0;
      let now = T0;

      const offer = (vote: Vote, sender: string): void => {
        const key = `${vote.voter}/${vote.boot}/${vote.seq}`;
        const top = highest.get(vote.voter);
        const older = top !== undefined && !(vote.boot > top.boot || (vote.boot === top.boot && vote.seq > top.seq));
        const expected = modelOffer(model, zone, vote, sender, now);
        const result = holder.offer(vote, sender, now);
        assert.equal(result.accepted, expected, `offer of ${key} (sender ${sender}) at +${now - T0}`);
        if (result.accepted) {
          // A replayed or reordered vote is never accepted.
          assert.ok(!acceptedKeys.has(key), `replay of ${key} accepted`);
          assert.ok(!older, `reorder of ${key} accepted`);
          acceptedKeys.add(key);
          highest.set(vote.voter, { boot: vote.boot, seq: vote.seq });
        } else returned[result.reason]++;
        offered.push(vote);
        maxEpochSeen = Math.max(maxEpochSeen, model.epoch);
      };

      for (const o of ops) {
        if (o.op === 'advance') now += o.ms;
        else if (o.op === 'epoch') {
          const target = Math.max(0, holder.epoch + o.delta);
          assert.equal(holder.observeEpoch(target), target > model.epoch);
          model.epoch = Math.max(model.epoch, target);
          for (const [voter, vote] of model.latest) if (vote.epoch < model.epoch) model.latest.delete(voter);
          maxEpochSeen = Math.max(maxEpochSeen, target);
        } else {
          const i = o.voter % n;
          const voter = zone.voters[i] as string;
          const caster = casters[i] as VoteCaster;
          const cast = (over: Partial<Vote> = {}): Vote => ({ ...caster.cast(now + o.offset, holder.epoch, [`d${o.pick % 5}`]), ...over });
          switch (o.kind) {
            case 'valid':
              offer(cast(), voter);
              break;
            case 'reboot': {
              boots[i] = (boots[i] as number) + 1;
              casters[i] = new VoteCaster({ zone, configHash: HASH, voter, boot: boots[i] as number });
              offer((casters[i] as VoteCaster).cast(now, holder.epoch, []), voter);
              break;
            }
            case 'replay':
            case 'duplicate': {
              const old = offered[o.pick % Math.max(1, offered.length)];
              if (old !== undefined) offer(old, old.voter);
              break;
            }
            case 'reorder': {
              const first = cast();
              const second = cast();
              offer(second, voter);
              offer(first, voter);
              break;
            }
            case 'expired':
              offer(cast({ time: now - TTL_MS - 1 - (o.pick % 1_000) }), voter);
              break;
            case 'future':
              offer(cast({ time: now + SKEW_MS + 1 + (o.pick % 1_000) }), voter);
              break;
            case 'forged':
              offer(cast(), n > 1 ? (zone.voters[(i + 1) % n] as string) : 'x9');
              break;
            case 'wrong-hash':
              offer(cast({ configHash: 'cfg-b' }), voter);
              break;
            case 'older-epoch':
              offer(cast({ epoch: Math.max(0, holder.epoch - 1 - (o.pick % 2)) }), voter);
              break;
            case 'newer-epoch':
              offer(cast({ epoch: holder.epoch + 1 + (o.pick % 2) }), voter);
              break;
            case 'non-voter':
              offer(voteOf('x9', { time: now, seq: o.pick }), 'x9');
              break;
            case 'malformed':
              offer(cast(o.pick % 2 === 0 ? { ttlMs: 0 } : { zone: 'south' }), voter);
              break;
          }
        }
        assert.equal(holder.epoch, model.epoch);
        const cert = holder.certificate(now);
        assert.equal(cert.majority, modelMajority(model, zone, now), `majority at +${now - T0}`);
        // No vote of an older epoch counts after a newer one was seen; each voter counts once.
        assert.ok(cert.votes.every((v) => v.epoch === maxEpochSeen));
        assert.equal(new Set(cert.votes.map((v) => v.voter)).size, cert.votes.length);
        assert.ok(cert.votes.every((v) => acceptedKeys.has(`${v.voter}/${v.boot}/${v.seq}`) && now <= v.time + v.ttlMs));
        if (cert.majority) {
          const lapse = cert.lapsesAt as number;
          assert.equal(holder.certificate(lapse).majority, true);
          assert.equal(holder.certificate(lapse + 1).majority, false);
        }
      }
      // The refusal counters add up to the refused offers, reason by reason.
      assert.deepEqual(holder.refusals(), returned);
      const refused = Object.values(returned).reduce((a, b) => a + b, 0);
      assert.equal(refused, offered.length - acceptedKeys.size);
    }),
    { numRuns: 400 },
  );
});
