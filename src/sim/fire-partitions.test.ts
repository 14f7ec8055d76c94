// The zone consensus proof in npm test: random partition schedules over every zone size, and every
// two-sided split of small zones, judged by the simulator's oracle.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { majorityOf, type ZoneConfig } from '../protocol/index.js';
import { buildFireSchedule, type FireSchedule, judgeFireSchedule, runFirePartitions } from './fire-partitions.js';

test('fire-partitions: 60 random schedules over zones of 2, 3, 4, 5 and 10 voters actuate only on a true majority', async () => {
  const { safety, failures } = await runFirePartitions({ schedules: 60, seed: 7 });
  assert.deepEqual(failures, []);
  assert.equal(safety.schedules, 60);
  assert.deepEqual(safety.zoneSizes, { 2: 12, 3: 12, 4: 12, 5: 12, 10: 12 });
  assert.equal(safety.actuationsWithoutMajority, 0);
  assert.equal(safety.staleCommandsAccepted, 0);
  assert.equal(safety.staleDecisionsAccepted, 0);
  assert.equal(safety.runtimeLimitViolations, 0);
  assert.equal(safety.minOffViolations, 0);
  assert.equal(safety.missedFires, 0);
  // The schedules exercise what they claim to: pumps start, elections and stale commands happen.
  assert.ok((safety.pumpStarts.majority ?? 0) > 30, `majority starts: ${safety.pumpStarts.majority}`);
  assert.ok((safety.pumpStarts.overlap ?? 0) > 0);
  assert.ok(safety.elections > 10 && safety.staleCommandsInjected > 5);
  assert.ok(safety.firesWithMajoritySide > 60);
  // The seed's rule, judged on the same schedules, runs pumps without a majority.
  assert.ok(safety.seedRule.unsafeActuations > 0, 'the seed rule shows unsafe actuations');
  assert.equal(safety.seedRule.unsafeBySize['3'], 0, 'for 3 voters the seed rule is a majority');
});

test('fire-partitions: the same seed gives the same report', async () => {
  const a = await runFirePartitions({ schedules: 5, seed: 3 });
  const b = await runFirePartitions({ schedules: 5, seed: 3 });
  assert.deepEqual(a, b);
});

/** Every split of `size` voters into two sides (the pump owner v01 on side A), fire on every camera of both sides. */
function splitSchedule(size: number, sideA: readonly string[]): FireSchedule {
  const base = buildFireSchedule(1, 0, size);
  const a = base.zones[0] as ZoneConfig;
  const zone: ZoneConfig = {
    ...a,
    pumps: [
      {
        id: 'a-pump1',
        node: 'v01',
        envelope: { maxRuntimeMs: 600_000, atMaxRuntime: 'stop', minOffMs: 5_000, onLeaseLapse: 'stop', onRestart: 'stop' },
      },
    ],
    overlaps: [],
    policy: { ...a.policy, activates: [], isolatedFallback: { ...a.policy.isolatedFallback, enabled: false } },
  };
  const sideB = zone.voters.filter((v) => !sideA.includes(v));
  return {
    zones: [zone],
    nodes: zone.voters,
    fires: [
      {
        zone: 'a',
        from: 1_000,
        to: 20_000,
        everyMs: 2_000,
        cameras: zone.cameras.map((c) => ({ id: c.id, node: c.node, confidence: 0.95, offset: 0 })),
      },
    ],
    faults: [{ at: 0, kind: 'partition', sides: [sideA, sideB] }],
    loss: 0,
    delayMs: [5, 5],
    durationMs: 20_000,
  };
}

/** Side A of every split: all of them up to 5 voters; for 10, one per size of side A (2^9 would take minutes). */
function sidesOf(size: number): string[][] {
  const others = Array.from({ length: size - 1 }, (_, i) => `v${String(i + 2).padStart(2, '0')}`);
  if (size === 10) return Array.from({ length: size }, (_, k) => ['v01', ...others.slice(0, k)]);
  return Array.from({ length: 1 << others.length }, (_, mask) => ['v01', ...others.filter((_, i) => (mask >> i) & 1)]);
}

test('fire-partitions: every two-sided split of 2 to 5 voters, and every side size of 10, with fire on both sides runs the pump only on the majority side', async () => {
  let splits = 0;
  let seedUnsafe = 0;
  for (const size of [2, 3, 4, 5, 10]) {
    for (const [mask, sideA] of sidesOf(size).entries()) {
      const outcome = await judgeFireSchedule(splitSchedule(size, sideA), 1, mask);
      const started = (outcome.starts.majority ?? 0) > 0;
      const hasMajority = sideA.length >= majorityOf(size);
      // A side needs two cameras on two nodes: a lone node never sees "fire" under minNodes 2.
      assert.equal(started, hasMajority && sideA.length >= 2, `${size} voters, pump side ${sideA.join(',')}`);
      assert.equal(outcome.actuationsWithoutMajority, 0);
      assert.deepEqual(outcome.failures, []);
      seedUnsafe += outcome.seedUnsafe;
      splits++;
    }
  }
  assert.equal(splits, 2 + 4 + 8 + 16 + 10);
  // 2/2 of 4, 2/3 of 5, 5/5 of 10: the seed's rule runs the minority side's pump.
  assert.ok(seedUnsafe >= 3, `seed rule unsafe actuations over the splits: ${seedUnsafe}`);
});
