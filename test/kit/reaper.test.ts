// The reaper: what a test process started is gone once the test process is, even when it was killed
// outright (SIGKILL, as a runner's timeout may do) and never ran an exit handler.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { waitFor } from './wait.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** A test process that starts a long `sleep` through the reaper, prints its PID, then waits. */
const CHILD = `
import { spawnReaped } from './test/kit/reaper.ts';
const p = spawnReaped('sleep', ['300'], { stdio: 'ignore' });
console.log(p.pid);
setInterval(() => {}, 1000);
`;

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

for (const signal of ['SIGKILL', 'SIGTERM'] as const) {
  test(`reaper: a process started by a test is killed when the test process dies by ${signal}`, async () => {
    const parent = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '--eval', CHILD], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let sleeper: number | undefined;
    try {
      for await (const line of createInterface({ input: parent.stdout })) {
        sleeper = Number(line);
        break;
      }
      assert.ok(sleeper !== undefined && sleeper > 0, 'the test process started a child');
      assert.ok(isRunning(sleeper), 'the child runs while the test process does');
      parent.kill(signal);
      const child = sleeper;
      await waitFor(() => !isRunning(child), { timeoutMs: 10_000, what: `the orphaned child ${child} to be killed` });
    } finally {
      parent.kill('SIGKILL');
      if (sleeper !== undefined && isRunning(sleeper)) process.kill(sleeper, 'SIGKILL');
    }
  });
}
