// The safety envelope on a manual clock: one test per rule [FM-ZONE-ACT-n], plus restarts and faults.

import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { afterEach, describe, it } from 'node:test';
import { ManualClock } from '../../kit/index.js';
import type { PumpEnvelope } from '../../protocol/consensus/types.js';
import { PumpController, RUNTIME_CHECKPOINT_MS } from './pump-controller.js';
import { createRig, ENVELOPE, type Rig } from './pump-controller-test-kit.js';
import type { SimPumpFaults } from './sim-pump-driver.js';

let rig: Rig;
async function setup(envelope: Partial<PumpEnvelope> = {}, faults: SimPumpFaults = {}): Promise<Rig> {
  rig = await createRig(envelope, faults);
  return rig;
}
afterEach(async () => rig?.dispose());

const cmd = (action: 'start' | 'stop' | 'estop' | 'clear' | 'test', epoch = 0, by = 'alice') =>
  rig.controller.command({ action, by, epoch, id: `${action}-${rig.clock.now()}` });

describe('pump controller', () => {
  it('starts the pump on a demand and reports the run', async () => {
    await setup();
    const t0 = rig.clock.now();
    const outcome = await rig.demand(15_000);
    assert.deepEqual(outcome.accepted && outcome.result, 'started');
    assert.equal(rig.driver.running, true);
    const s = rig.controller.state();
    assert.equal(s.state, 'running');
    assert.equal(s.cause, 'majority');
    assert.equal(s.leaseUntil, t0 + 15_000);
    assert.deepEqual(s.lastStart, { at: t0, cause: 'majority', by: 'zone:z1@0' });
    await rig.advance(5_000);
    assert.equal(rig.controller.state().runtimeMs, 5_000);
  });

  it('stops the pump when the lease lapses unrenewed (onLeaseLapse stop) [FM-ZONE-ACT-4]', async () => {
    await setup({ onLeaseLapse: 'stop' });
    const t0 = rig.clock.now();
    await rig.demand(15_000);
    await rig.advance(14_999);
    assert.equal(rig.driver.running, true, 'runs until the lease ends');
    await rig.advance(1);
    assert.equal(rig.driver.running, false);
    assert.deepEqual(rig.controller.state().lastStop, { at: t0 + 15_000, reason: 'lease-lapsed', by: 'envelope' });
  });

  it('a lease lapse and an alert-only runtime limit due in one check both apply: the alert is raised and the pump stops [FM-ZONE-ACT-4, FM-ZONE-ACT-5]', async () => {
    // Found by the envelope's property test (fast-check seed -1495478176): the alert ended the check and the
    // lapsed lease was not applied until a later deadline.
    await setup({ maxRuntimeMs: 2_000, atMaxRuntime: 'alert', minOffMs: 0, onLeaseLapse: 'stop', onRestart: 'stop' });
    const limits: string[] = [];
    rig.controller.on('runtimeLimitReached', (e) => limits.push(e.action));
    await rig.demand(1_751);
    await rig.advance(2_000);
    assert.equal(rig.driver.running, false, 'the lapsed lease stops the pump in the same check');
    assert.equal(rig.controller.state().lastStop?.reason, 'lease-lapsed');
    assert.deepEqual(limits, ['alerted']);
  });

  it('keeps running on a renewed lease and after a lapse with onLeaseLapse keep-running [FM-ZONE-ACT-4]', async () => {
    await setup({ onLeaseLapse: 'keep-running', maxRuntimeMs: 600_000 });
    const lapses: string[] = [];
    rig.controller.on('leaseLapsed', (e) => lapses.push(e.action));
    await rig.demand(15_000);
    await rig.advance(10_000);
    assert.equal((await rig.demand(15_000)).accepted, true, 'renewal');
    assert.equal(rig.controller.state().leaseUntil, rig.clock.now() + 15_000);
    await rig.advance(14_000);
    assert.deepEqual(lapses, []);
    await rig.advance(2_000);
    assert.deepEqual(lapses, ['kept-running']);
    assert.equal(rig.driver.running, true);
    await rig.advance(100_000);
    assert.equal(rig.driver.running, true, 'a lapsed run keeps running until an operator stops it');
    await cmd('stop');
    assert.equal(rig.driver.running, false);
  });

  it('refuses demands and commands of an older epoch, counts and records them [FM-ZONE-ACT-1]', async () => {
    await setup();
    const stale: number[] = [];
    rig.controller.on('staleEpochRefused', (e) => stale.push(e.epoch));
    await rig.controller.observeEpoch(3);
    const d = await rig.demand(15_000, 2);
    assert.deepEqual(d.accepted ? 'accepted' : d.reason, 'stale-epoch');
    const c = await cmd('start', 1);
    assert.deepEqual(c.accepted ? 'accepted' : c.reason, 'stale-epoch');
    assert.equal(rig.driver.running, false);
    assert.deepEqual(stale, [2, 1]);
    assert.equal(rig.controller.counters().staleEpochRefused, 2);
    assert.ok(
      rig.records.some((r) => r.kind === 'command' && r.outcome === 'refused' && r.by === 'alice' && r.detail.startsWith('stale-epoch')),
    );
    assert.ok(rig.records.some((r) => r.kind === 'demand' && r.outcome === 'refused' && r.epoch === 2));
    assert.equal((await rig.demand(15_000, 3)).accepted, true, 'the current epoch still works');
  });

  it('a newer epoch supersedes the running certificate at once (onLeaseLapse stop) [FM-ZONE-ACT-2]', async () => {
    await setup();
    await rig.demand(60_000, 0);
    await rig.controller.observeEpoch(1);
    assert.equal(rig.driver.running, false);
    assert.equal(rig.controller.state().lastStop?.reason, 'epoch-superseded');
    assert.equal(rig.controller.state().epoch, 1);
  });

  it('fences an overlap demand by the epoch of the zone that sent it', async () => {
    await setup();
    await rig.controller.observeEpoch(5, 'z0');
    const d = await rig.demand(15_000, 4, { cause: 'overlap', zone: 'z0' });
    assert.equal(d.accepted, false);
    assert.equal((await rig.demand(15_000, 0, { cause: 'overlap', zone: 'z1' })).accepted, true, "the pump's own zone is at epoch 0");
  });

  it('stops at max runtime (atMaxRuntime stop) even while the lease is renewed [FM-ZONE-ACT-5]', async () => {
    await setup({ maxRuntimeMs: 60_000 });
    const t0 = rig.clock.now();
    const limits: string[] = [];
    rig.controller.on('runtimeLimitReached', (e) => limits.push(e.action));
    await rig.demand(15_000);
    for (let i = 0; i < 5; i++) {
      await rig.advance(10_000);
      await rig.demand(15_000);
    }
    await rig.advance(9_999);
    assert.equal(rig.driver.running, true);
    await rig.advance(1);
    assert.equal(rig.driver.running, false);
    assert.deepEqual(rig.controller.state().lastStop, { at: t0 + 60_000, reason: 'max-runtime', by: 'envelope' });
    assert.deepEqual(limits, ['stopped']);
  });

  it('keeps running past max runtime with atMaxRuntime alert, and reports overRuntime [FM-ZONE-ACT-5]', async () => {
    await setup({ maxRuntimeMs: 60_000, atMaxRuntime: 'alert' });
    await cmd('start');
    await rig.advance(59_999);
    assert.equal(rig.controller.state().overRuntime, false);
    await rig.advance(1);
    assert.equal(rig.driver.running, true);
    assert.equal(rig.controller.state().overRuntime, true);
    await rig.advance(60_000);
    assert.equal(rig.driver.running, true);
  });

  it('a demand inside min off time waits for its end while the lease holds, then starts [FM-ZONE-ACT-3]', async () => {
    await setup({ minOffMs: 20_000 });
    await cmd('start');
    await rig.advance(1_000);
    await cmd('stop');
    const stoppedAt = rig.clock.now();
    await rig.advance(5_000);
    const d = await rig.demand(30_000);
    assert.deepEqual(d.accepted && d.result, 'deferred');
    assert.equal(rig.controller.state().pendingStartAt, stoppedAt + 20_000);
    await rig.advance(14_999);
    assert.equal(rig.driver.running, false);
    await rig.advance(1);
    assert.equal(rig.driver.running, true);
    assert.equal(rig.controller.state().lastStart?.at, stoppedAt + 20_000);
  });

  it('a deferred demand whose lease ends inside min off time never starts [FM-ZONE-ACT-3]', async () => {
    await setup({ minOffMs: 20_000 });
    await cmd('start');
    await cmd('stop');
    await rig.demand(10_000);
    await rig.advance(30_000);
    assert.equal(rig.driver.running, false);
    assert.deepEqual(rig.driver.calls.filter((c) => c === 'start').length, 1);
  });

  it('refuses an operator start or test inside min off time [FM-ZONE-ACT-3]', async () => {
    await setup({ minOffMs: 20_000 });
    await cmd('start');
    await cmd('stop');
    const r = await cmd('start');
    assert.deepEqual(r.accepted ? 'accepted' : r.reason, 'min-off');
    await rig.advance(20_000);
    assert.equal((await cmd('start')).accepted, true);
  });

  it('emergency stop wins over demands and commands and holds until clear [FM-ZONE-ACT-6]', async () => {
    await setup();
    await rig.demand(60_000);
    await cmd('estop', 0, 'bob');
    assert.equal(rig.driver.running, false);
    assert.equal(rig.controller.state().state, 'estop');
    assert.equal((await rig.demand(60_000)).accepted, false);
    assert.equal((await cmd('start')).accepted, false);
    assert.equal((await cmd('test')).accepted, false);
    await rig.advance(120_000);
    assert.equal(rig.driver.running, false);
    await cmd('clear', 0, 'bob');
    assert.equal(rig.controller.state().state, 'stopped');
    assert.equal(rig.driver.running, false, 'clear does not start the pump');
    assert.equal((await rig.demand(60_000)).accepted, true);
    assert.equal(rig.driver.running, true);
    const audit = rig.records.filter((r) => r.kind === 'command').map((r) => [r.action, r.by, r.outcome]);
    assert.deepEqual(audit, [
      ['estop', 'bob', 'accepted'],
      ['start', 'alice', 'refused'],
      ['test', 'alice', 'refused'],
      ['clear', 'bob', 'accepted'],
    ]);
  });

  it('accepts an emergency stop from an older epoch (stopping is never the unsafe act) [FM-ZONE-ACT-6]', async () => {
    await setup();
    await rig.controller.observeEpoch(2);
    await rig.demand(60_000, 2);
    assert.equal((await cmd('estop', 1)).accepted, true);
    assert.equal(rig.driver.running, false);
  });

  it('a manual start runs with no lease until a manual stop or max runtime [FM-ZONE-ACT-7]', async () => {
    await setup({ maxRuntimeMs: 60_000 });
    await rig.demand(10_000);
    await cmd('start');
    assert.equal(rig.controller.state().cause, 'manual');
    assert.equal(rig.controller.state().leaseUntil, null);
    await rig.advance(59_999);
    assert.equal(rig.driver.running, true, 'the lapsed lease does not stop a manual run');
    await rig.advance(1);
    assert.equal(rig.driver.running, false);
    assert.equal(rig.controller.state().lastStop?.reason, 'max-runtime');
  });

  it('a test runs for the configured time and stops; a demand during it takes over [FM-ZONE-ACT-8]', async () => {
    await setup();
    await cmd('test');
    assert.equal(rig.controller.state().cause, 'test');
    await rig.advance(10_000);
    assert.equal(rig.driver.running, false);
    assert.equal(rig.controller.state().lastStop?.reason, 'test-done');
    await rig.advance(20_000);
    await cmd('test');
    await rig.advance(5_000);
    await rig.demand(30_000);
    await rig.advance(10_000);
    assert.equal(rig.driver.running, true);
    assert.equal(rig.controller.state().cause, 'majority');
  });

  it('a failing driver is the fault state, retried on the next demand, never a crash [FM-ZONE-ACT-10]', async () => {
    await setup({}, { failStart: true });
    const faults: string[] = [];
    rig.controller.on('pumpFaulted', (e) => faults.push(e.op));
    const d = await rig.demand(60_000);
    assert.deepEqual(d.accepted ? 'accepted' : d.reason, 'driver-failed');
    assert.equal(rig.controller.state().state, 'fault');
    assert.match(rig.controller.state().fault ?? '', /FM_PUMP_DRIVER_FAILED/);
    rig.driver.faults.failStart = false;
    await rig.advance(1_000);
    assert.equal((await rig.demand(60_000)).accepted, true);
    assert.equal(rig.controller.state().state, 'running');
    assert.deepEqual(faults, ['start']);
  });

  it('a failed stop is retried until the pump stops [FM-ZONE-ACT-10]', async () => {
    await setup({}, {});
    await cmd('start');
    rig.driver.faults.failStop = true;
    await cmd('estop');
    assert.equal(rig.driver.running, true);
    assert.equal(rig.controller.state().fault !== null, true);
    rig.driver.faults.failStop = false;
    await rig.advance(5_000);
    assert.equal(rig.driver.running, false);
    assert.equal(rig.controller.state().fault, null);
    assert.equal(rig.controller.state().state, 'estop');
  });

  it('reports a read-back that disagrees (a welded relay) [FM-ZONE-ACT-11]', async () => {
    await setup({}, { stuckRunning: true });
    await cmd('start');
    await cmd('stop');
    const s = rig.controller.state();
    assert.equal(s.state, 'stopped');
    assert.deepEqual(s.mismatch && [s.mismatch.expected, s.mismatch.read], ['stopped', 'running']);
    assert.equal(rig.controller.counters().readbackMismatches, 1);
  });

  it('restarts a running pump stopped with onRestart stop [FM-ZONE-ACT-9]', async () => {
    await setup({ onRestart: 'stop' });
    await rig.demand(60_000);
    await rig.advance(5_000);
    await rig.restart();
    assert.equal(rig.driver.running, false);
    assert.equal(rig.controller.state().lastStop?.reason, 'restart');
  });

  it('resumes a run across a restart with its runtime carried over (onRestart keep-running) [FM-ZONE-ACT-9]', async () => {
    await setup({ onRestart: 'keep-running', maxRuntimeMs: 60_000, atMaxRuntime: 'stop' });
    const t0 = rig.clock.now();
    await cmd('start');
    await rig.advance(RUNTIME_CHECKPOINT_MS + 5_000);
    // A restart after 15 s of running and 10 s of downtime: 25 s of runtime carried.
    await rig.controller.close();
    rig.clock.advance(10_000);
    await rig.restart();
    assert.equal(rig.driver.running, true);
    assert.equal(rig.controller.state().runtimeMs, 25_000);
    assert.equal(rig.controller.state().cause, 'manual');
    await rig.advance(34_999);
    assert.equal(rig.driver.running, true);
    await rig.advance(1);
    assert.equal(rig.driver.running, false, 'the runtime limit holds across the restart');
    assert.equal(rig.controller.state().lastStop?.at, t0 + 60_000);
  });

  it('counts a clock stepped back during downtime as no runtime, losing at most one checkpoint interval [FM-ZONE-ACT-9]', async () => {
    await setup({ onRestart: 'keep-running', maxRuntimeMs: 60_000 });
    await cmd('start');
    await rig.advance(RUNTIME_CHECKPOINT_MS);
    await rig.advance(3_000);
    await rig.controller.close();
    // The node comes back with its wall clock an hour behind: the 3 s since the checkpoint are lost, no more.
    const stepped = new ManualClock(rig.clock.now() - 3_600_000);
    const c = await PumpController.open({
      zone: 'z1',
      pump: { id: 'pump-1', node: 'n1', envelope: { ...ENVELOPE, maxRuntimeMs: 60_000 } },
      driver: rig.driver,
      statePath: rig.statePath,
      clock: stepped,
    });
    assert.equal(c.state().runtimeMs, RUNTIME_CHECKPOINT_MS);
    stepped.advance(60_000 - RUNTIME_CHECKPOINT_MS - 1);
    await c.idle();
    assert.equal(rig.driver.running, true);
    stepped.advance(1);
    await c.idle();
    assert.equal(rig.driver.running, false, 'stops at the limit of its own (monotonic) runtime');
    await c.close();
  });

  it('an emergency stop latched before a restart is still latched after it [FM-ZONE-ACT-6]', async () => {
    await setup();
    await rig.demand(60_000);
    await cmd('estop');
    await rig.restart();
    assert.equal(rig.controller.state().state, 'estop');
    assert.equal((await rig.demand(60_000)).accepted, false);
    assert.equal(rig.driver.running, false);
  });

  it('keeps the newest epoch and min off time across a restart', async () => {
    await setup({ minOffMs: 20_000 });
    await rig.controller.observeEpoch(4);
    await cmd('start', 4);
    await cmd('stop', 4);
    await rig.restart();
    assert.equal(rig.controller.state().epoch, 4);
    assert.equal((await rig.demand(60_000, 3)).accepted, false);
    const d = await rig.demand(60_000, 4);
    assert.deepEqual(d.accepted && d.result, 'deferred');
  });

  it('moves an unreadable state file aside and stops the pump', async () => {
    await setup();
    await cmd('start');
    await rig.controller.close();
    writeFileSync(rig.statePath, '{not json');
    await rig.restart();
    assert.equal(rig.driver.running, false);
    assert.equal(rig.controller.state().lastStop?.reason, 'state-lost');
    assert.ok(rig.records.some((r) => r.kind === 'restored' && r.outcome === 'failed'));
  });
});
