// Test helpers of the pump controller: a controller on a manual clock, a simulated pump and a temp state file.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ManualClock } from '../../kit/index.js';
import type { PumpEnvelope } from '../../protocol/consensus/types.js';
import { PumpController, type PumpDemand, type PumpRecord } from './pump-controller.js';
import type { PumpDriver } from './pump-driver.js';
import { createSimPumpDriver, type SimPumpDriver, type SimPumpFaults } from './sim-pump-driver.js';

export const ENVELOPE: PumpEnvelope = {
  maxRuntimeMs: 60_000,
  atMaxRuntime: 'stop',
  minOffMs: 20_000,
  onLeaseLapse: 'stop',
  onRestart: 'keep-running',
};

export interface Rig {
  readonly clock: ManualClock;
  readonly dir: string;
  readonly statePath: string;
  readonly driver: SimPumpDriver;
  readonly records: PumpRecord[];
  /** The times (clock.now()) at which the simulated pump really started and stopped running. */
  readonly transitions: { at: number; running: boolean }[];
  controller: PumpController;
  /** A new controller on the same state file and the same pump (a restart). */
  restart(envelope?: Partial<PumpEnvelope>): Promise<PumpController>;
  /** Advances the clock and waits until the controller has acted on what fell due. */
  advance(ms: number): Promise<void>;
  demand(
    leaseMs: number,
    epoch?: number,
    extra?: Partial<PumpDemand>,
  ): Promise<ReturnType<PumpController['demand']> extends Promise<infer T> ? T : never>;
  dispose(): Promise<void>;
}

export async function createRig(
  envelope: Partial<PumpEnvelope> = {},
  faults: SimPumpFaults = {},
  driverOverride?: PumpDriver,
): Promise<Rig> {
  const clock = new ManualClock();
  const dir = mkdtempSync(join(tmpdir(), 'fm-pump-'));
  const statePath = join(dir, 'pump-1.json');
  const records: PumpRecord[] = [];
  const transitions: { at: number; running: boolean }[] = [];
  let wasRunning = false;
  const driver = createSimPumpDriver(faults, (_call, running) => {
    if (running !== wasRunning) transitions.push({ at: clock.now(), running });
    wasRunning = running;
  });
  const open = (env: Partial<PumpEnvelope>): Promise<PumpController> =>
    PumpController.open({
      zone: 'z1',
      pump: { id: 'pump-1', node: 'n1', envelope: { ...ENVELOPE, ...env } },
      driver: driverOverride ?? driver,
      statePath,
      clock,
      testRunMs: 10_000,
      onRecord: (r) => records.push(r),
    });
  const rig: Rig = {
    clock,
    dir,
    statePath,
    driver,
    records,
    transitions,
    controller: await open(envelope),
    async restart(next = envelope) {
      await rig.controller.close();
      rig.controller = await open(next);
      return rig.controller;
    },
    async advance(ms) {
      clock.advance(ms);
      await rig.controller.idle();
    },
    demand(leaseMs, epoch = 0, extra = {}) {
      return rig.controller.demand({ cause: 'majority', zone: 'z1', epoch, leaseUntil: clock.now() + leaseMs, evidence: ['d1'], ...extra });
    },
    async dispose() {
      await rig.controller.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return rig;
}
