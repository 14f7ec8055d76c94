// A node that hears nobody on the emulated radio (manual clock): its receive path cut while it still sends, cut
// off both ways, its peers dying together; against the ordinary cases: one peer really dies, a partition into
// halves, a lossy channel for half an hour. Isolated means unreachable, never dead, and no judgement sent.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CriticalSet } from '../agent/index.js';
import { AwarenessPlane, type MembershipChange } from '../awareness/index.js';
import { ManualClock, silentLogger } from '../kit/index.js';
import { createSharedRadio } from './medium.js';

const TICK_MS = 2_000;

interface SimMember {
  readonly name: string;
  readonly plane: AwarenessPlane;
  readonly changes: MembershipChange[];
}

/** `n` nodes on one radio channel, started a fraction of a tick apart, run for `warmupMs`. */
function radioFleet(n: number, options: { loss?: number; seed?: number; warmupMs?: number } = {}) {
  const clock = new ManualClock();
  const names = Array.from({ length: n }, (_, i) => `n${i}`);
  const radio = createSharedRadio({ clock, seed: options.seed ?? 1, nodes: names, loss: options.loss ?? 0 });
  const members: SimMember[] = names.map((name, i) => {
    const changes: MembershipChange[] = [];
    const plane = new AwarenessPlane({
      identity: { site: 'farm', node: name, zone: 'z' },
      epoch: 1,
      link: radio.link(name),
      critical: new CriticalSet([]).cursor(),
      clock,
      logger: silentLogger,
      tickMs: TICK_MS,
      onEvent: (change) => changes.push({ ...change, atMs: clock.now() }),
    });
    clock.setTimeout(() => plane.start(), (i * TICK_MS) / n);
    return { name, plane, changes };
  });
  clock.advance(options.warmupMs ?? 20_000);
  for (const m of members) {
    const held = m.plane.stats().members;
    assert.equal(held.alive + held.suspect, n - 1, `${m.name} holds everyone after the warm-up`);
  }
  /** The frames of every other node no longer reach `victim` (its receive path), or reach it again. */
  const deafen = (victim: SimMember, loss: number) => {
    for (const other of names) if (other !== victim.name) radio.setLoss(loss, { from: other, to: victim.name });
  };
  const kill = (victim: SimMember) => {
    void victim.plane.stop(false);
    radio.down(victim.name);
  };
  const since = (m: SimMember, atMs: number) => m.changes.filter((c) => c.atMs >= atMs);
  return { clock, radio, members, deafen, kill, since };
}

const kinds = (changes: readonly MembershipChange[]) => changes.map((c) => c.kind);

test('isolation: a node whose receive path is cut (it still sends) says it is isolated, holds the others unreachable, convicts nobody', () => {
  const { clock, members, deafen, since } = radioFleet(8);
  const [victim, ...others] = members as [SimMember, ...SimMember[]];
  const cutAt = clock.now();
  deafen(victim, 1);
  clock.advance(60_000);
  assert.deepEqual(kinds(since(victim, cutAt)), ['isolated'], 'one change: no suspicion before, no verdict after');
  const isolated = since(victim, cutAt)[0] as Extract<MembershipChange, { kind: 'isolated' }>;
  const afterMs = isolated.atMs - cutAt;
  assert.ok(afterMs >= 3_000 && afterMs <= 5_500, `isolated ${afterMs} ms after the cut: once every member missed 2.5 ticks`);
  assert.equal(isolated.unreachable.length, 7);
  const view = victim.plane.snapshot();
  assert.equal(view.isolated, true);
  assert.deepEqual(
    view.nodes.map((n) => [n.node, n.state]),
    members.map((m) => [m.name, m === victim ? 'isolated' : 'unreachable']),
  );
  assert.equal(victim.plane.stats().members.unreachable, 7);
  assert.equal(victim.plane.stats().members.dead, 0);
  for (const o of others) {
    assert.deepEqual(kinds(since(o, cutAt)), [], `${o.name} suspected nobody: it hears everyone, the victim included`);
    const seen = o.plane.snapshot().nodes.find((n) => n.node === victim.name);
    assert.equal(seen?.state, 'alive');
    assert.equal(seen?.isolated, true, `${o.name} knows from the victim's pulses that it hears nobody`);
    assert.equal(seen?.suspicionsRaised, 0, 'no suspicion ever came from the victim');
  }

  const healedAt = clock.now();
  deafen(victim, 0);
  clock.advance(10_000);
  const back = since(victim, healedAt);
  assert.equal(back[0]?.kind, 'reconnected');
  assert.ok((back[0]?.atMs as number) - healedAt <= TICK_MS, 'the first frame after the heal ends the isolation');
  assert.deepEqual(kinds(back.slice(1)).sort(), Array(7).fill('reached'), 'each member reached again, none judged');
  assert.equal(victim.plane.snapshot().isolated, false);
  assert.equal(victim.plane.stats().members.alive, 7);
  for (const o of others) assert.equal(o.plane.snapshot().nodes.find((n) => n.node === victim.name)?.isolated, false);
});

test('isolation: the ordinary case, one peer really dies: every survivor convicts it, nobody is isolated', () => {
  const { clock, members, kill, since } = radioFleet(8, { loss: 0.1, seed: 3 });
  const [victim, ...survivors] = members as [SimMember, ...SimMember[]];
  const killedAt = clock.now();
  kill(victim);
  clock.advance(30_000);
  for (const s of survivors) {
    const failed = since(s, killedAt).filter((c) => c.kind === 'failed');
    assert.deepEqual(
      failed.map((c) => c.origin),
      [victim.plane.originId],
      `${s.name} convicted the victim and only it`,
    );
    assert.ok((failed[0]?.atMs as number) - killedAt <= 8_000, `${s.name} within 8 s`);
    assert.equal(s.plane.stats().changes.isolated, 0);
  }
});

test('isolation: cut off both ways, the node is isolated and the others, who cannot hear it, convict it', () => {
  const { clock, radio, members, since } = radioFleet(6);
  const [victim, ...others] = members as [SimMember, ...SimMember[]];
  const cutAt = clock.now();
  radio.partition([victim.name]);
  clock.advance(30_000);
  assert.deepEqual(kinds(since(victim, cutAt)), ['isolated']);
  for (const o of others) {
    assert.deepEqual(
      since(o, cutAt)
        .filter((c) => c.kind === 'failed')
        .map((c) => c.origin),
      [victim.plane.originId],
    );
    assert.equal(o.plane.stats().changes.isolated, 0);
  }
});

test('isolation: a partition into halves isolates nobody; each side convicts the other', () => {
  const { clock, radio, members, since } = radioFleet(8);
  const cutAt = clock.now();
  radio.partition(members.slice(0, 4).map((m) => m.name));
  clock.advance(30_000);
  for (const m of members) {
    assert.equal(m.plane.stats().changes.isolated, 0, `${m.name} hears its own side`);
    assert.equal(since(m, cutAt).filter((c) => c.kind === 'failed').length, 4);
  }
});

test("isolation, its limit: when every peer dies at once the survivor cannot tell; with a single peer, the silence is the peer's", () => {
  const three = radioFleet(3);
  const [survivor, ...peers] = three.members as [SimMember, ...SimMember[]];
  const at = three.clock.now();
  for (const p of peers) three.kill(p);
  three.clock.advance(60_000);
  assert.deepEqual(kinds(three.since(survivor, at)), ['isolated'], 'unreachable, never dead: its own ears are the likelier fault');

  const two = radioFleet(2);
  const [alone, peer] = two.members as [SimMember, SimMember];
  const killedAt = two.clock.now();
  two.kill(peer);
  two.clock.advance(30_000);
  const failed = two.since(alone, killedAt).find((c) => c.kind === 'failed');
  assert.ok(failed, 'one silent peer is that peer: dead after the unconfirmed timeout');
  assert.ok(failed.atMs - killedAt >= 10 * TICK_MS - TICK_MS && failed.atMs - killedAt <= 10 * TICK_MS + TICK_MS);
  assert.equal(alone.plane.stats().changes.isolated, 0);
});

test('isolation: 30 simulated minutes at 10 % loss per receiver, five nodes: nobody ever calls itself isolated', () => {
  const { clock, members } = radioFleet(5, { loss: 0.1, seed: 11 });
  clock.advance(30 * 60_000);
  for (const m of members) {
    assert.equal(m.plane.stats().changes.isolated, 0, m.name);
    assert.equal(m.plane.stats().changes.failed, 0, m.name);
    assert.ok(m.plane.stats().changes.suspected > 0, `${m.name}: the loss does exercise the detector`);
  }
});
