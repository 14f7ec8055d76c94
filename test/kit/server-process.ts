// Starting and stopping a real server a test runs (Mosquitto, nats-server): spawned reaped, ready when it logs so, and
// stopped by its own process group only.

import type { ChildProcess, SpawnOptions } from 'node:child_process';
import { signalGroup, spawnReaped } from './reaper.js';

export interface SpawnUntilReadyOptions {
  /** What the server is, for the error messages: "mosquitto", "nats-server n2". */
  readonly what: string;
  /** The log line (or a pattern of it) that says the server is ready. */
  readonly ready: string | RegExp;
  readonly timeoutMs: number;
  readonly spawn?: SpawnOptions;
  /** Everything the process writes to stdout and stderr, as it comes. */
  readonly onOutput: (text: string) => void;
}

/** Spawns a server in a reaped process group and resolves once it logged `ready`; rejects (and kills it) otherwise. */
export function spawnUntilReady(command: string, args: readonly string[], options: SpawnUntilReadyOptions): Promise<ChildProcess> {
  const proc = spawnReaped(command, args, { stdio: ['ignore', 'pipe', 'pipe'], ...options.spawn });
  let output = '';
  const isReady = () => (typeof options.ready === 'string' ? output.includes(options.ready) : options.ready.test(output));
  return new Promise<ChildProcess>((resolve, reject) => {
    let ready = false;
    const onData = (chunk: Buffer) => {
      const text = chunk.toString('utf8');
      output += text;
      options.onOutput(text);
      if (!ready && isReady()) {
        ready = true;
        clearTimeout(timer);
        proc.off('exit', onExit);
        resolve(proc);
      }
    };
    const onExit = (code: number | null) => {
      clearTimeout(timer);
      reject(new Error(`${options.what} exited with code ${code} before it was ready:\n${output}`));
    };
    const timer = setTimeout(() => {
      signalGroup(proc, 'SIGKILL');
      reject(new Error(`${options.what} was not ready within ${options.timeoutMs} ms:\n${output}`));
    }, options.timeoutMs);
    proc.stderr?.on('data', onData);
    proc.stdout?.on('data', onData);
    proc.once('exit', onExit);
    proc.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}

/** Signals a server's process group and resolves once it exited; SIGKILL after `forceAfterMs` if it has not. */
export async function haltProcess(proc: ChildProcess | undefined, signal: NodeJS.Signals, forceAfterMs = 5000): Promise<void> {
  if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
  await new Promise<void>((resolve) => {
    const kill = setTimeout(() => signalGroup(proc, 'SIGKILL'), forceAfterMs);
    proc.once('exit', () => {
      clearTimeout(kill);
      resolve();
    });
    signalGroup(proc, signal);
  });
}
