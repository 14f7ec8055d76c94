// A simulated pump for the demo and tests: its state lives in memory; faults can be injected.

import { FieldmeshError } from '../../kit/index.js';
import type { PumpDriver, PumpReading } from './pump-driver.js';

export interface SimPumpFaults {
  /** `start` fails (the relay does not answer). */
  failStart?: boolean;
  /** `stop` fails. */
  failStop?: boolean;
  /** `read` fails. */
  failRead?: boolean;
  /** `stop` seems to succeed but the pump keeps running (a welded relay): read-back says running. */
  stuckRunning?: boolean;
}

export interface SimPumpDriver extends PumpDriver {
  /** What the simulated pump is doing now. */
  readonly running: boolean;
  /** Faults to inject; change them at any time. */
  readonly faults: SimPumpFaults;
  /** Every start and stop that reached the pump, in order (for tests: when did it really run). */
  readonly calls: readonly ('start' | 'stop')[];
}

export function createSimPumpDriver(
  faults: SimPumpFaults = {},
  onCall?: (call: 'start' | 'stop', running: boolean) => void,
): SimPumpDriver {
  let running = false;
  const calls: ('start' | 'stop')[] = [];
  const fail = (op: string): FieldmeshError => new FieldmeshError('FM_PUMP_DRIVER_FAILED', `simulated pump: ${op} failed (injected fault)`);
  return {
    get running() {
      return running;
    },
    faults,
    calls,
    async start() {
      if (faults.failStart) throw fail('start');
      running = true;
      calls.push('start');
      onCall?.('start', running);
    },
    async stop() {
      if (faults.failStop) throw fail('stop');
      if (!faults.stuckRunning) running = false;
      calls.push('stop');
      onCall?.('stop', running);
    },
    async read(): Promise<PumpReading> {
      if (faults.failRead) throw fail('read');
      return running ? 'running' : 'stopped';
    },
  };
}
