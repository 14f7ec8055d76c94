// The zone engine on a manual clock and an in-memory link: real evaluator, votes and pump envelopes.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, test } from 'node:test';
import { isFieldmeshError, ManualClock } from '../../kit/index.js';
import type { Detection, ZoneConfig, ZonePolicy } from '../../protocol/consensus/types.js';
import { zoneConfigHash } from '../../protocol/consensus/zone-config.js';
import { PumpController } from '../actuators/pump-controller.js';
import { createSimPumpDriver, type SimPumpDriver } from '../actuators/sim-pump-driver.js';
import { ZoneEngine, type ZoneRecord } from './zone-engine.js';
import { MemoryZoneStateStore, type ZoneMessage } from './zone-messages.js';

const TICK_MS = 1_000;

const POLICY: ZonePolicy = {
  windowMs: 60_000,
  classes: ['fire'],
  minConfidence: 0.5,
  minCameras: 2,
  minNodes: 2,
  threshold: 1,
  cooldownMs: 60_000,
  activates: [],
  voteTtlMs: 6_000,
  maxClockSkewMs: 2_000,
  isolatedFallback: { enabled: false, minCameras: 3, minConfidence: 0.9 },
};

const ENVELOPE = { maxRuntimeMs: 600_000, atMaxRuntime: 'stop', minOffMs: 10_000, onLeaseLapse: 'stop', onRestart: 'stop' } as const;

/** A zone whose voters are n1..nN, camera c<i>a and c<i>b on each node, one pump on `pumpNode`. */
function zoneOf(id: string, voters: number, pumpNode = 'n1', policy: Partial<ZonePolicy> = {}): ZoneConfig {
  const nodes = Array.from({ length: voters }, (_, i) => `n${i + 1}`);
  return {
    id,
    voters: nodes,
    cameras: nodes.flatMap((n) => [`${id}-${n}a`, `${id}-${n}b`].map((c) => ({ id: c, node: n, weight: 1 }))),
    pumps: [{ id: `${id}-pump`, node: pumpNode, envelope: ENVELOPE }],
    overlaps: [],
    policy: { ...POLICY, ...policy },
  };
}

interface Cluster {
  readonly clock: ManualClock;
  readonly engines: Map<string, ZoneEngine>;
  readonly pumps: Map<string, { controller: PumpController; driver: SimPumpDriver }>;
  readonly records: ZoneRecord[];
  /** Nodes of different sides hear nothing of each other. */
  split(sides: readonly (readonly string[])[]): void;
  detect(node: string, camera: string, confidence?: number): void;
  step(ticks?: number): Promise<void>;
  running(pump: string): boolean;
  /** Every message sent, in order. */
  readonly sent: { from: string; m: ZoneMessage }[];
  /** When set, a message it returns true for is lost (no node hears it). */
  lose: ((from: string, m: ZoneMessage) => boolean) | undefined;
}

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

async function cluster(zones: readonly ZoneConfig[]): Promise<Cluster> {
  const clock = new ManualClock();
  const dir = mkdtempSync(join(tmpdir(), 'fm-zone-engine-'));
  dirs.push(dir);
  const nodes = [...new Set(zones.flatMap((z) => [...z.voters, ...z.cameras.map((c) => c.node), ...z.pumps.map((p) => p.node)]))];
  const queue: { from: string; m: ZoneMessage }[] = [];
  const sent: { from: string; m: ZoneMessage }[] = [];
  let side = new Map<string, number>();
  const records: ZoneRecord[] = [];
  const engines = new Map<string, ZoneEngine>();
  const pumps = new Map<string, { controller: PumpController; driver: SimPumpDriver }>();
  for (const zone of zones) {
    for (const pump of zone.pumps) {
      const driver = createSimPumpDriver();
      const controller = await PumpController.open({ zone: zone.id, pump, driver, statePath: join(dir, `${pump.id}.json`), clock });
      pumps.set(pump.id, { controller, driver });
    }
  }
  let seq = 0;
  for (const node of nodes) {
    const own = zones.flatMap((z) => z.pumps.filter((p) => p.node === node).map((p) => pumps.get(p.id)?.controller as PumpController));
    engines.set(
      node,
      new ZoneEngine({
        node,
        zones,
        clock,
        boot: 1,
        tickMs: TICK_MS,
        store: new MemoryZoneStateStore(),
        pumps: own,
        link: {
          send: (m) => {
            sent.push({ from: node, m });
            if (!c.lose?.(node, m)) queue.push({ from: node, m });
          },
        },
        onRecord: (r) => records.push(r),
      }),
    );
  }
  const flush = async () => {
    for (let rounds = 0; rounds < 20; rounds++) {
      while (queue.length > 0) {
        const { from, m } = queue.shift() as { from: string; m: ZoneMessage };
        for (const [to, engine] of engines) {
          if (to !== from && (side.get(to) ?? 0) === (side.get(from) ?? 0)) engine.receive(m, from);
        }
      }
      await Promise.all([...engines.values()].map((e) => e.idle()));
      await Promise.all([...pumps.values()].map((p) => p.controller.idle()));
      if (queue.length === 0) return;
    }
  };
  const c: Cluster = {
    clock,
    engines,
    pumps,
    records,
    sent,
    lose: undefined,
    split(sides) {
      side = new Map(sides.flatMap((s, i) => s.map((n) => [n, i + 1] as const)));
    },
    detect(node, camera, confidence = 0.9) {
      const d: Detection = { id: `d${++seq}`, camera, node, class: 'fire', confidence, time: clock.now() };
      engines.get(node)?.detect(d);
    },
    async step(ticks = 1) {
      for (let i = 0; i < ticks; i++) {
        await flush();
        clock.advance(TICK_MS);
        for (const e of engines.values()) e.tick();
        await flush();
      }
    },
    running: (pump) => pumps.get(pump)?.driver.running ?? false,
  };
  return c;
}

test('zone engine: two cameras on two nodes start the pump on a majority of the configured voters', async () => {
  const zone = zoneOf('north', 3, 'n3');
  const c = await cluster([zone]);
  c.detect('n1', 'north-n1a');
  await c.step();
  assert.equal(c.running('north-pump'), false, 'one camera is not enough');
  c.detect('n2', 'north-n2a');
  await c.step();
  assert.equal(c.running('north-pump'), true);
  const majority = c.records.find((r) => r.kind === 'majority' && r.node === 'n3');
  assert.ok(majority, 'the pump owner records the majority with its votes');
  assert.ok((majority.votes?.length ?? 0) >= 2);
  assert.equal(c.pumps.get('north-pump')?.controller.state().cause, 'majority');
  // Every voter acknowledged every detection: nothing is re-sent after that.
  assert.deepEqual(
    c.engines
      .get('n2')
      ?.status('north')
      ?.voters.map((v) => v.heardRecently),
    [true, true, true],
  );
});

test('zone engine: many cameras of one node never start the pump when the policy asks for two nodes', async () => {
  const zone = { ...zoneOf('north', 3, 'n3'), cameras: ['a', 'b', 'c', 'd'].map((x) => ({ id: `cam-${x}`, node: 'n1', weight: 1 })) };
  const c = await cluster([zone]);
  for (const x of ['a', 'b', 'c', 'd']) c.detect('n1', `cam-${x}`, 0.99);
  await c.step(10);
  assert.equal(c.running('north-pump'), false);
  assert.equal(c.records.filter((r) => r.kind === 'vote').length, 0, 'no voter votes');
  assert.deepEqual(c.engines.get('n1')?.status('north')?.evaluation?.fire, false);
});

test('zone engine: a 2/2 split of 4 voters with fire on both sides starts no pump', async () => {
  const zone = zoneOf('west', 4, 'n1');
  const c = await cluster([zone]);
  c.split([
    ['n1', 'n2'],
    ['n3', 'n4'],
  ]);
  c.detect('n1', 'west-n1a');
  c.detect('n2', 'west-n2a');
  c.detect('n3', 'west-n3a');
  c.detect('n4', 'west-n4a');
  await c.step(20);
  assert.equal(c.running('west-pump'), false);
  assert.ok(c.records.filter((r) => r.kind === 'vote').length >= 4, 'every voter votes on its own side');
  assert.equal(c.engines.get('n1')?.status('west')?.majorityVisible, false);
  // Heal: the votes of the other side arrive and the pump starts.
  c.split([]);
  await c.step(3);
  assert.equal(c.running('west-pump'), true);
});

test('zone engine: after elect, a vote of the old epoch is refused as stale and the voters re-vote', async () => {
  const zone = zoneOf('east', 3, 'n3');
  const c = await cluster([zone]);
  const n3 = c.engines.get('n3') as ZoneEngine;
  const old = {
    zone: 'east',
    epoch: 0,
    voter: 'n1',
    configHash: 'x',
    boot: 1,
    seq: 1,
    time: c.clock.now(),
    ttlMs: POLICY.voteTtlMs,
    evidence: [],
  };
  assert.equal(c.engines.get('n1')?.elect('east'), 1);
  await c.step();
  assert.equal(n3.epoch('east'), 1, 'the epoch reached the pump owner');
  assert.equal(c.pumps.get('east-pump')?.controller.state().epoch, 1, 'and fenced its pump');
  n3.receive({ type: 'vote', vote: { ...old, configHash: zoneConfigHash(zone) } }, 'n1');
  assert.equal(n3.status('east')?.refusals['stale-epoch'], 1);
  // The voters still vote in the new epoch and the pump starts there.
  c.detect('n1', 'east-n1a');
  c.detect('n2', 'east-n2a');
  await c.step(2);
  assert.equal(c.running('east-pump'), true);
  assert.equal(c.pumps.get('east-pump')?.controller.state().lastStart?.by, 'zone:east@1');
  // An operator command of the old epoch is refused by the envelope.
  n3.receive(
    { type: 'command', zone: 'east', epoch: 0, pump: 'east-pump', action: 'stop', by: 'old-operator', id: 'cmd-1', time: c.clock.now() },
    'n2',
  );
  await c.step();
  assert.equal(c.running('east-pump'), true);
  assert.ok(c.records.some((r) => r.kind === 'command' && r.reason?.includes('refused (stale-epoch)')));
});

test('zone engine: elect and command on a zone the node takes no part in throw FM_ZONE_UNKNOWN naming its zones', async () => {
  const c = await cluster([zoneOf('east', 3, 'n3')]);
  const n1 = c.engines.get('n1') as ZoneEngine;
  const unknown = (err: unknown) => {
    assert.ok(isFieldmeshError(err, 'FM_ZONE_UNKNOWN'), String(err));
    assert.match(err.message, /zone "west" \(its zones: east\)/);
    return true;
  };
  assert.throws(() => n1.elect('west'), unknown);
  assert.throws(() => n1.command('west', 'east-pump', 'stop', 'olga', 'cmd-1'), unknown);
  assert.equal(n1.epoch('east'), 0, 'nothing moved');
});

test('zone engine: a fire confirmed in one zone activates its overlapping zone', async () => {
  const a = zoneOf('a', 3, 'n1', { activates: ['b'] });
  const b = { ...zoneOf('b', 3, 'n2'), overlaps: ['a'] };
  const c = await cluster([a, b]);
  c.detect('n1', 'a-n1a');
  c.detect('n3', 'a-n3b');
  await c.step(2);
  assert.equal(c.running('a-pump'), true);
  assert.equal(c.running('b-pump'), true);
  assert.equal(c.pumps.get('b-pump')?.controller.state().cause, 'overlap');
  assert.equal(c.engines.get('n1')?.status('b')?.evaluation?.fire, false, 'zone b itself saw nothing');
});

test('zone engine: a pump starts only while renewed votes hold; the lease lapses when the fire leaves the window', async () => {
  const zone = zoneOf('south', 3, 'n1', { windowMs: 10_000 });
  const c = await cluster([zone]);
  c.detect('n1', 'south-n1a');
  c.detect('n2', 'south-n2a');
  await c.step(1);
  assert.equal(c.running('south-pump'), true);
  await c.step(8);
  assert.equal(c.running('south-pump'), true, 'renewals extend the lease');
  await c.step(12);
  assert.equal(c.running('south-pump'), false, 'the lease lapsed after the detections left the window (onLeaseLapse: stop)');
  assert.ok(c.records.some((r) => r.kind === 'vote-lapsed'));
});

test('zone engine: the isolated fallback starts its own pumps on strong local evidence, labelled', async () => {
  const zone = zoneOf('ranch', 3, 'n1', { isolatedFallback: { enabled: true, minCameras: 2, minConfidence: 0.9 } });
  const c = await cluster([zone]);
  // Rebuild n1's engine with a reachability view that sees only itself.
  c.split([['n1'], ['n2', 'n3']]);
  const fb = new ZoneEngine({
    node: 'n1',
    zones: [zone],
    clock: c.clock,
    boot: 2,
    tickMs: TICK_MS,
    store: new MemoryZoneStateStore(),
    pumps: [c.pumps.get('ranch-pump')?.controller as PumpController],
    link: { send: () => {} },
    reachableVoters: () => ['n1'],
    onRecord: (r) => c.records.push(r),
  });
  c.engines.set('n1', fb);
  // Another node (not a voter: hearing a voter would make it reachable) claiming n1's own cameras: never
  // evidence for n1's fallback.
  for (const camera of ['ranch-n1a', 'ranch-n1b']) {
    const detection = { id: `forged-${camera}`, camera, node: 'x9', class: 'fire', confidence: 0.99, time: c.clock.now() };
    fb.receive({ type: 'detection', zone: 'ranch', epoch: 0, detection }, 'x9');
  }
  await c.step();
  assert.equal(c.running('ranch-pump'), false, "detections of n1's cameras from n2 do not count");
  c.detect('n1', 'ranch-n1a', 0.8);
  c.detect('n1', 'ranch-n1b', 0.8);
  await c.step();
  assert.equal(c.running('ranch-pump'), false, 'below the fallback confidence');
  c.detect('n1', 'ranch-n1a', 0.95);
  c.detect('n1', 'ranch-n1b', 0.95);
  await c.step();
  assert.equal(c.running('ranch-pump'), true);
  assert.equal(c.pumps.get('ranch-pump')?.controller.state().cause, 'isolated-fallback');
  assert.ok(c.records.some((r) => r.kind === 'isolated-fallback'));
  assert.ok(!c.records.some((r) => r.kind === 'majority'));
});

test('zone engine: a quiet zone knows its reachable voters from the link view, and a voter heard on the zone link counts too [FM-ZONE-REACH]', () => {
  const zone = zoneOf('quiet', 3, 'n1', { isolatedFallback: { enabled: true, minCameras: 1, minConfidence: 0.5 } });
  const clock = new ManualClock(1_000_000);
  const engine = (reachable?: readonly string[]) =>
    new ZoneEngine({
      node: 'n1',
      zones: [zone],
      clock,
      boot: 1,
      tickMs: TICK_MS,
      store: new MemoryZoneStateStore(),
      link: { send: () => {} },
      ...(reachable !== undefined ? { reachableVoters: () => reachable } : {}),
    });
  // No frame at all: without a link view only itself counts; with one, the voters it holds live.
  assert.equal(engine().status('quiet')?.majorityVisible, false);
  assert.equal(engine(['n1']).status('quiet')?.majorityVisible, false);
  assert.equal(engine(['n1', 'n3']).status('quiet')?.majorityVisible, true);
  // The link view sees only n1, but n2 was just heard on the zone link: reachable, a majority is visible.
  const e = engine(['n1']);
  e.receive({ type: 'epoch', zone: 'quiet', epoch: 0, by: 'n2', reason: 'adopted' }, 'n2');
  assert.equal(e.status('quiet')?.majorityVisible, true);
  // ... until it has been silent for five ticks.
  clock.advance(6 * TICK_MS);
  assert.equal(e.status('quiet')?.majorityVisible, false);
});

test("zone engine: a command to another node's pump is repeated until the owner's state shows it, and runs once [FM-ZONE-ENGINE-7]", async () => {
  const zone = zoneOf('east', 3, 'n3');
  const c = await cluster([zone]);
  c.detect('n1', 'east-n1a');
  c.detect('n2', 'east-n2a');
  await c.step(2);
  assert.equal(c.running('east-pump'), true);
  // The first two copies of the operator's emergency stop are lost on the link.
  let lost = 0;
  c.lose = (_from, m) => m.type === 'command' && lost++ < 2;
  c.engines.get('n1')?.command('east', 'east-pump', 'estop', 'api:olga', 'cmd-1');
  await c.step(4);
  assert.equal(c.pumps.get('east-pump')?.controller.state().state, 'estop');
  assert.equal(c.running('east-pump'), false);
  const executed = c.records.filter((r) => r.kind === 'command' && r.node === 'n3' && r.reason?.includes('cmd-1'));
  assert.equal(executed.length, 1, 'the owner executes the id once, however many copies arrive');
  // The other nodes see the latch, not just "not running".
  assert.equal(c.engines.get('n1')?.status('east')?.pumps[0]?.state, 'estop');
  assert.equal(c.engines.get('n1')?.status('east')?.pumps[0]?.running, false);
  const copies = () => c.sent.filter((x) => x.from === 'n1' && x.m.type === 'command').length;
  // Sent and repeated once (both lost); the second repeat arrives; the owner announces its estop on its next
  // tick, after the sender's third repeat of that tick: four copies, then the owner's state ends the repeats.
  assert.equal(copies(), 4);
  await c.step(5);
  assert.equal(copies(), 4);
  // With every copy lost, the sender gives up after its repeats.
  c.lose = (_from, m) => m.type === 'command';
  c.engines.get('n1')?.command('east', 'east-pump', 'clear', 'api:olga', 'cmd-2');
  await c.step(8);
  assert.equal(copies(), 4 + 1 + 4);
  assert.equal(c.pumps.get('east-pump')?.controller.state().state, 'estop', 'a command never heard changes nothing');
});
