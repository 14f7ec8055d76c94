// Test fixture of pump-crash.test.ts: a pump controller on the system clock driving a command driver
// that writes the relay's state to a file; starts the pump by operator command, prints "running <ms>"
// (the run's start, wall clock) and keeps running until killed.
// Usage: node --import tsx pump-crash-child.ts <state path> <relay file> <max runtime ms> <onRestart>

import type { PumpFallback } from '../../protocol/consensus/types.js';
import { PumpController } from './pump-controller.js';
import { createPumpDriver } from './pump-driver.js';

const [statePath, relay, maxRuntime, onRestart] = process.argv.slice(2);
if (statePath === undefined || relay === undefined)
  throw new Error('usage: pump-crash-child.ts <state path> <relay file> <max runtime ms> <onRestart>');

const driver = createPumpDriver(
  {
    type: 'command',
    start: ['sh', '-c', 'echo on > "$0"', relay],
    stop: ['sh', '-c', 'echo off > "$0"', relay],
    read: ['cat', relay],
    timeout: 5000,
  },
  { pump: 'pump-1' },
);
const controller = await PumpController.open({
  zone: 'z1',
  pump: {
    id: 'pump-1',
    node: 'n1',
    envelope: {
      maxRuntimeMs: Number(maxRuntime),
      atMaxRuntime: 'stop',
      minOffMs: 0,
      onLeaseLapse: 'stop',
      onRestart: onRestart as PumpFallback,
    },
  },
  driver,
  statePath,
});
const outcome = await controller.command({ action: 'start', by: 'crash-test', epoch: 0, id: 'c1' });
if (!outcome.accepted) throw new Error(`start refused: ${outcome.detail}`);
process.stdout.write(`running ${controller.state().lastStart?.at}\n`);
// Stay alive (the controller's timers do not hold the process) until kill -9.
setInterval(() => {}, 60_000);
