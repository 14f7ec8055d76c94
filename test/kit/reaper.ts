// Makes sure every process a test starts is gone when the test process is: children are spawned in
// process groups of their own (`detached`), and each group is SIGKILLed by whichever comes first: the
// test's own stop, the test process's exit, or the reaper, a small process that outlives a test process
// killed outright (a timeout, SIGKILL) and kills what it left behind.

import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const REAPER = fileURLToPath(new URL('./reaper-process.mjs', import.meta.url));

let reaper: ChildProcess | undefined;
const groups = new Set<number>();

function reaperInput(): NodeJS.WritableStream | undefined {
  if (reaper === undefined) {
    reaper = spawn(process.execPath, [REAPER], { detached: true, stdio: ['pipe', 'ignore', 'ignore'] });
    reaper.unref();
    // The pipe must not keep the test process alive; it closes when the process exits.
    (reaper.stdin as unknown as { unref?: () => void }).unref?.();
    reaper.stdin?.on('error', () => {});
    process.once('exit', killAllGroups);
  }
  return reaper.stdin ?? undefined;
}

function killAllGroups(): void {
  for (const pgid of groups) killGroup(pgid, 'SIGKILL');
}

function killGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch {
    // The group is gone already.
  }
}

/**
 * Spawns `command` in a process group of its own that the reaper kills if the test process dies
 * without stopping it. Use `signalGroup` to stop it (the whole group: wrappers and their children).
 */
export function spawnReaped(command: string, args: readonly string[], options: Parameters<typeof spawn>[2]): ChildProcess {
  const proc = spawn(command, args, { ...options, detached: true });
  const pgid = proc.pid;
  if (pgid === undefined) return proc;
  groups.add(pgid);
  reaperInput()?.write(`+${pgid}\n`);
  proc.once('exit', () => {
    // A group outlives its leader only if the leader left children behind: kill those too.
    killGroup(pgid, 'SIGKILL');
    groups.delete(pgid);
    if (reaper?.stdin?.writable) reaper.stdin.write(`-${pgid}\n`);
  });
  return proc;
}

/** Sends `signal` to the process group of a child started by `spawnReaped`. */
export function signalGroup(proc: ChildProcess, signal: NodeJS.Signals): void {
  if (proc.pid === undefined || proc.exitCode !== null || proc.signalCode !== null) return;
  killGroup(proc.pid, signal);
}
