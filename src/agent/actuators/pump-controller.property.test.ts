// Properties of the safety envelope over random sequences of demands, operator commands, epochs, clock
// advances and restarts (a restart is a new controller on the same state file), checked against what the
// simulated pump really did.

import assert from 'node:assert/strict';
import { it } from 'node:test';
import fc from 'fast-check';
import type { PumpEnvelope } from '../../protocol/consensus/types.js';
import type { PumpAction } from './pump-controller.js';
import { createRig } from './pump-controller-test-kit.js';

/** The harness advances time in steps this long and lets the controller act after each: its check granularity. */
const STEP_MS = 250;

type Step =
  | {
      readonly kind: 'demand';
      readonly leaseMs: number;
      readonly epochDelta: number;
      readonly cause: 'majority' | 'overlap' | 'isolated-fallback';
    }
  | { readonly kind: 'command'; readonly action: PumpAction; readonly epochDelta: number }
  | { readonly kind: 'epoch'; readonly delta: number }
  | { readonly kind: 'advance'; readonly ms: number }
  | { readonly kind: 'restart' };

const stepArb: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('demand' as const),
      leaseMs: fc.integer({ min: -1000, max: 30_000 }),
      epochDelta: fc.integer({ min: -2, max: 1 }),
      cause: fc.constantFrom('majority' as const, 'overlap' as const, 'isolated-fallback' as const),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('command' as const),
      action: fc.constantFrom<PumpAction>('start', 'stop', 'estop', 'clear', 'test'),
      epochDelta: fc.integer({ min: -1, max: 0 }),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('epoch' as const), delta: fc.integer({ min: 0, max: 1 }) }) },
  { weight: 5, arbitrary: fc.record({ kind: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: 40_000 }) }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'restart' as const }) },
);

const envelopeArb: fc.Arbitrary<PumpEnvelope> = fc.record({
  maxRuntimeMs: fc.integer({ min: 2_000, max: 60_000 }),
  atMaxRuntime: fc.constantFrom('stop' as const, 'alert' as const),
  minOffMs: fc.integer({ min: 0, max: 20_000 }),
  onLeaseLapse: fc.constantFrom('stop' as const, 'keep-running' as const),
  onRestart: fc.constantFrom('stop' as const, 'keep-running' as const),
});

const DEMAND_CAUSES = new Set(['majority', 'overlap', 'isolated-fallback']);

async function runSchedule(envelope: PumpEnvelope, steps: readonly Step[]): Promise<void> {
  const rig = await createRig(envelope);
  try {
    let newest = 0;
    let latched = false;
    const check = (where: string): void => {
      const s = rig.controller.state();
      const now = rig.clock.now();
      assert.equal(rig.driver.running, s.state === 'running', `${where}: the pump runs exactly when the controller says so`);
      // After an emergency stop the pump never runs until clear.
      if (latched) assert.equal(rig.driver.running, false, `${where}: running while the emergency stop is latched`);
      if (s.state === 'running') {
        if (envelope.atMaxRuntime === 'stop')
          assert.ok(s.runtimeMs < envelope.maxRuntimeMs, `${where}: runtime ${s.runtimeMs} reached the limit`);
        // A demand-started run never outlives its lease (checked at every step, the check granularity).
        if (envelope.onLeaseLapse === 'stop' && s.cause !== null && DEMAND_CAUSES.has(s.cause)) {
          assert.ok(s.leaseUntil !== null && now < s.leaseUntil, `${where}: running ${now - (s.leaseUntil ?? 0)} ms past the lease`);
        }
      }
    };
    for (const [i, step] of steps.entries()) {
      const where = `step ${i} (${step.kind})`;
      switch (step.kind) {
        case 'demand': {
          const epoch = Math.max(0, newest + step.epochDelta);
          const outcome = await rig.demand(step.leaseMs, epoch, { cause: step.cause });
          // Never on a stale epoch's demand.
          if (epoch < newest) assert.equal(outcome.accepted, false, `${where}: a demand of epoch ${epoch} < ${newest} was accepted`);
          else newest = epoch;
          if (latched) assert.equal(outcome.accepted, false, `${where}: a demand accepted under an emergency stop`);
          break;
        }
        case 'command': {
          const epoch = Math.max(0, newest + step.epochDelta);
          const outcome = await rig.controller.command({ action: step.action, by: 'op', epoch, id: String(i) });
          if (epoch < newest && step.action !== 'estop') assert.equal(outcome.accepted, false, `${where}: a stale command was accepted`);
          if (step.action === 'estop') latched = true;
          if (step.action === 'clear' && outcome.accepted) latched = false;
          newest = Math.max(newest, epoch);
          break;
        }
        case 'epoch':
          newest += step.delta;
          await rig.controller.observeEpoch(newest);
          if (envelope.onLeaseLapse === 'stop' && step.delta > 0) {
            const s = rig.controller.state();
            assert.ok(
              s.state !== 'running' || s.cause === 'manual' || s.cause === 'test',
              `${where}: a run of an older epoch survived the new one`,
            );
          }
          break;
        case 'advance':
          for (let left = step.ms; left > 0; left -= STEP_MS) {
            await rig.advance(Math.min(STEP_MS, left));
            check(where);
          }
          break;
        case 'restart':
          await rig.restart();
          break;
      }
      check(where);
    }
    // What the pump really did: every run within the limit (to the step), every start after min off.
    let startedAt: number | undefined;
    let stoppedAt: number | undefined;
    for (const t of rig.transitions) {
      if (t.running) {
        if (stoppedAt !== undefined)
          assert.ok(t.at - stoppedAt >= envelope.minOffMs, `started ${t.at - stoppedAt} ms after a stop, min off ${envelope.minOffMs}`);
        startedAt = t.at;
      } else {
        if (startedAt !== undefined && envelope.atMaxRuntime === 'stop') {
          assert.ok(t.at - startedAt <= envelope.maxRuntimeMs + STEP_MS, `ran ${t.at - startedAt} ms, limit ${envelope.maxRuntimeMs}`);
        }
        stoppedAt = t.at;
        startedAt = undefined;
      }
    }
  } finally {
    await rig.dispose();
  }
}

it('pump envelope holds over random demands, commands, epochs, clock advances and restarts', { timeout: 170_000 }, async () => {
  await fc.assert(
    fc.asyncProperty(envelopeArb, fc.array(stepArb, { minLength: 1, maxLength: 30 }), (envelope, steps) => runSchedule(envelope, steps)),
    { numRuns: 300 },
  );
});
