// kill -9 of the process driving a pump while it runs: a new controller on the same state file puts the
// pump in its documented state (onRestart), and the runtime limit still holds across the kill.
// kill -9 keeps the OS page cache, so this proves write-before-act ordering; power loss is not simulated.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { it } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { PumpFallback } from '../../protocol/consensus/types.js';
import { PumpController, type PumpEvents } from './pump-controller.js';
import { createPumpDriver } from './pump-driver.js';

const CHILD = fileURLToPath(new URL('./pump-crash-child.ts', import.meta.url));
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const MAX_RUNTIME_MS = 4000;
/** Longer than the slack allowed on the stop time below: a restart that forgot the runtime would miss the limit. */
const DOWNTIME_MS = 1500;

/** Runs the child until its pump runs, kills it with SIGKILL; returns when the run started. */
async function runAndKill(statePath: string, relay: string, onRestart: PumpFallback): Promise<number> {
  const child = spawn(process.execPath, ['--import', 'tsx', CHILD, statePath, relay, String(MAX_RUNTIME_MS), onRestart], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, signal) => resolve(signal)));
  let startedAt: number | undefined;
  for await (const line of createInterface({ input: child.stdout })) {
    const m = /^running (\d+)$/.exec(line);
    if (m) {
      startedAt = Number(m[1]);
      child.kill('SIGKILL');
    }
  }
  assert.equal(await exited, 'SIGKILL', 'the child was killed while its pump ran');
  assert.ok(startedAt !== undefined, 'the child started its pump');
  return startedAt;
}

function reopen(statePath: string, relay: string, onRestart: PumpFallback): Promise<PumpController> {
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
  return PumpController.open({
    zone: 'z1',
    pump: {
      id: 'pump-1',
      node: 'n1',
      envelope: { maxRuntimeMs: MAX_RUNTIME_MS, atMaxRuntime: 'stop', minOffMs: 0, onLeaseLapse: 'stop', onRestart },
    },
    driver,
    statePath,
  });
}

/** The controller's next `event`, or a failure after `ms` (a ref'd timer: the controller's are not). */
function nextEvent<E extends keyof PumpEvents>(c: PumpController, event: E, ms: number): Promise<PumpEvents[E][0]> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${event} within ${ms} ms`)), ms);
    c.on(event, ((e: PumpEvents[E][0]) => {
      clearTimeout(timer);
      resolve(e);
    }) as never);
  });
}

it('after kill -9 with onRestart keep-running the run resumes with its runtime and stops at the limit', { timeout: 60_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'fm-pump-crash-'));
  try {
    const statePath = join(dir, 'pump-1.json');
    const relay = join(dir, 'relay');
    const startedAt = await runAndKill(statePath, relay, 'keep-running');
    assert.equal(readFileSync(relay, 'utf8'), 'on\n', 'the relay was on when the node died');
    // The node stays down a while (the pump keeps running meanwhile): that time is runtime too.
    await new Promise((resolve) => setTimeout(resolve, DOWNTIME_MS));

    const c = await reopen(statePath, relay, 'keep-running');
    const stopped = nextEvent(c, 'pumpStopped', 20_000);
    const s = c.state();
    assert.equal(s.state, 'running');
    assert.equal(s.cause, 'manual');
    assert.deepEqual(s.lastStart, { at: startedAt, cause: 'manual', by: 'crash-test' });
    // The runtime counts from the run's start in the killed process, downtime included.
    assert.ok(s.runtimeMs >= DOWNTIME_MS && s.runtimeMs >= Date.now() - startedAt - 50, `runtime ${s.runtimeMs} carried over`);
    assert.equal(readFileSync(relay, 'utf8'), 'on\n');

    const stop = await stopped;
    assert.equal(stop.reason, 'max-runtime');
    assert.ok(stop.at >= startedAt + MAX_RUNTIME_MS, 'not before the limit');
    assert.ok(stop.at <= startedAt + MAX_RUNTIME_MS + 1000, `stopped ${stop.at - startedAt} ms after the start, limit ${MAX_RUNTIME_MS}`);
    await c.idle();
    assert.equal(readFileSync(relay, 'utf8'), 'off\n', 'the relay is off');
    await c.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

it('after kill -9 with onRestart stop the pump is stopped at once and the stop recorded', { timeout: 60_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'fm-pump-crash-'));
  try {
    const statePath = join(dir, 'pump-1.json');
    const relay = join(dir, 'relay');
    await runAndKill(statePath, relay, 'stop');
    assert.equal(readFileSync(relay, 'utf8'), 'on\n');
    const c = await reopen(statePath, relay, 'stop');
    assert.equal(readFileSync(relay, 'utf8'), 'off\n');
    assert.equal(c.state().state, 'stopped');
    assert.equal(c.state().lastStop?.reason, 'restart');
    await c.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
