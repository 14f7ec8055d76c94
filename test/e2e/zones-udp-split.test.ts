// Zone consensus split in two on a real UDP segment (root: network namespaces, test/kit/netns.ts): four brokerless
// `fieldmesh node` processes, two per side of one bridged segment, the awareness plane and the zone datagrams on
// multicast there. Cut in two (one side's ports on a bridge of their own: neither side hears the other, while the
// test still reaches every node's API), each side sees fire on its two cameras and votes, and each side owns a
// pump of the 4-voter zone: 2 votes never make 3 of 4, so nothing starts, and each node says it sees no majority
// ([FM-ZONE-REACH]: the awareness plane no longer holds the other side). Joined again, the majority forms across
// the former sides and both pumps start. Listed in docs/consensus.md, "What the tests prove".
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { createNetnsSegment, type NetnsSegment } from '../kit/netns.js';
import { nodeFleet } from '../kit/node-api.js';
import { waitFor } from '../kit/wait.js';
import { startZoneFleet, viewOf, type ZoneFleet } from '../kit/zone-fleet.js';

const VOTE_TTL_MS = 1_500;
/** Ticks of 200 ms (zone-fleet's default): votes renewed about every second, the awareness verdict within 2 s. */
const POLICY = {
  window: '30s',
  minCameras: 2,
  minNodes: 2,
  threshold: 1,
  voteTtl: `${VOTE_TTL_MS}ms`,
  maxClockSkew: '500ms',
  cooldown: '1s',
};
const SIDES: Readonly<Record<'a' | 'b', readonly string[]>> = { a: ['a1', 'a2'], b: ['b1', 'b2'] };
const VOTERS: readonly string[] = [...SIDES.a, ...SIDES.b];

let segment: NetnsSegment | undefined;
let fleet: ZoneFleet | undefined;
after(async () => {
  await fleet?.stop();
  segment?.close();
});

test('e2e zones over UDP in network namespaces: a 2/2 split of four voters starts no pump on either side and sees no majority; joined, the majority forms and both pumps start', async (t) => {
  segment = createNetnsSegment(VOTERS.length);
  const seg = segment;
  fleet = await startZoneFleet({
    nodes: VOTERS,
    udp: { group: '239.255.71.10', port: 18872, hosts: seg.hosts.map((h) => ({ address: h.address, wrapper: seg.wrapper(h) })) },
    zones: [
      {
        id: 'split',
        voters: VOTERS, // a majority is 3 of 4
        cameras: VOTERS.map((n) => ({ id: `${n}-cam`, node: n })),
        pumps: [
          { id: 'pump-a', node: 'a1', driver: { type: 'sim' } },
          { id: 'pump-b', node: 'b1', driver: { type: 'sim' } },
        ],
        policy: POLICY,
      },
    ],
  });
  const f = fleet;
  const sideOf = (n: string) => (SIDES.a.includes(n) ? SIDES.a : SIDES.b);
  const alive = async (n: string) =>
    (await nodeFleet(f.node(n).url)).data.nodes
      .filter((m) => !m.self && (m.state === 'alive' || m.state === 'suspect'))
      .map((m) => m.node)
      .sort();

  // One segment: every node holds the three others alive, and a quiet zone sees its majority through the plane.
  for (const n of VOTERS) {
    await waitFor(async () => (await alive(n)).length === 3, { timeoutMs: 20_000, intervalMs: 50, what: `${n} holding the others alive` });
    const s = await f.until(n, 'split', (x) => x.majorityVisible, `${n} sees its majority before the split`);
    assert.deepEqual([s.majorityNeeded, s.voting, s.evaluation?.fire ?? false], [3, false, false]);
  }

  seg.split(seg.hosts.slice(SIDES.a.length));
  // Taken once the bridges are cut: frames of the ~tens of ms the cut takes may still have crossed.
  const splitAt = Date.now();
  // Each side judges the other lost (no confirmation from a third observer: the unconfirmed verdict, 10 ticks).
  for (const n of VOTERS) {
    const partner = sideOf(n).filter((x) => x !== n);
    await waitFor(async () => JSON.stringify(await alive(n)) === JSON.stringify(partner), {
      timeoutMs: 10_000,
      intervalMs: 50,
      what: `${n} holding only ${partner} alive`,
    });
    const s = await f.until(n, 'split', (x) => !x.majorityVisible, `${n} sees no majority`);
    assert.equal(s.majorityNeeded, 3);
  }

  // Fire on both sides: each side's two cameras on two nodes satisfy the policy on their own.
  for (const n of VOTERS) await f.detect(n, `${n}-cam`, 0.9);
  const votingSince = new Map<string, number>();
  for (const n of VOTERS) {
    const s = await f.until(n, 'split', (x) => x.voting, `${n} votes`);
    votingSince.set(n, s.decisions.find((d) => d.kind === 'vote')?.at as number);
  }
  const since = Math.max(...votingSince.values());
  // Every voter keeps hearing its partner's renewals on the zone link for three vote lifetimes, and never the other
  // side since the split (a pump owner says its pump's state three times at boot): its two votes never make 3 of 4, and it
  // says so.
  for (const n of VOTERS) {
    const partner = sideOf(n).find((x) => x !== n) as string;
    const others = VOTERS.filter((x) => !sideOf(n).includes(x));
    const s = await f.until(
      n,
      'split',
      (x) => (x.voters.find((v) => v.id === partner)?.lastHeard ?? 0) >= since + 3 * VOTE_TTL_MS,
      `${n} hears ${partner} for three vote lifetimes of voting`,
      10_000,
    );
    const heardAcross = s.voters.filter((v) => others.includes(v.id) && v.lastHeard !== null && v.lastHeard >= splitAt);
    assert.deepEqual(heardAcross, [], `${n} never heard the other side since the split`);
    assert.deepEqual([s.evaluation?.fire, s.voting, s.majorityNeeded, s.majorityVisible], [true, true, 3, false], n);
    assert.deepEqual(
      s.pumps.map((p) => [p.id, p.running]),
      [
        ['pump-a', false],
        ['pump-b', false],
      ],
      n,
    );
    assert.deepEqual(s.refusals, {}, `${n}: no vote refused`);
  }
  for (const n of ['a1', 'b1']) {
    const s = await f.status(n, 'split');
    assert.deepEqual(
      s.decisions.filter((d) => d.kind === 'majority').map((d) => d.at),
      [],
      `${n}: no majority`,
    );
    assert.deepEqual(f.audit(n, ['zone_majority', 'pump_started']), [], `${n}: no majority, no start during the split`);
  }

  // Heal: one segment again. The other side's votes arrive and each owner holds 3 (then 4) of 4.
  const healedAt = Date.now();
  seg.join();
  for (const [owner, pump] of [
    ['a1', 'pump-a'],
    ['b1', 'pump-b'],
  ] as const) {
    const s = await f.until(owner, 'split', (x) => x.pumps.find((p) => p.id === pump)?.running === true, `${pump} runs`, 15_000);
    const v = viewOf(s.pumps.find((p) => p.id === pump));
    assert.deepEqual([v.cause, v.lastStart?.by], ['majority', 'zone:split@0']);
    assert.ok((v.lastStart?.at as number) > healedAt, 'started after the join');
    t.diagnostic(`${pump} started ${(v.lastStart?.at as number) - healedAt} ms after the join`);
    const audit = await f.auditUntil(owner, (a) => a.some((e) => e.kind === 'zone_majority'), 'the majority');
    const votes = audit.find((e) => e.kind === 'zone_majority')?.payload.votes as { voter: string }[];
    const distinct = new Set(votes.map((x) => x.voter));
    assert.ok(distinct.size >= 3, `3 of 4 voters: ${[...distinct]}`);
    assert.ok(
      [...distinct].some((x) => SIDES.a.includes(x)) && [...distinct].some((x) => SIDES.b.includes(x)),
      `votes of both former sides: ${[...distinct]}`,
    );
  }
  for (const n of VOTERS) {
    const s = await f.until(n, 'split', (x) => x.majorityVisible, `${n} sees the majority again`);
    assert.deepEqual([s.evaluation?.fire, s.voting], [true, true], n);
    await waitFor(async () => (await alive(n)).length === 3, {
      timeoutMs: 10_000,
      intervalMs: 50,
      what: `${n} holding all three alive again`,
    });
  }

  await f.stop();
  fleet = undefined;
  seg.close();
  segment = undefined;
});
