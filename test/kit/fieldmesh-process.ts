// Runs the built `fieldmesh` binary (dist/cli/main.js) as a child process for end-to-end tests.

import type { ChildProcess } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after } from 'node:test';
import { fileURLToPath } from 'node:url';
import { freePort } from './ports.js';
import { signalGroup, spawnReaped } from './reaper.js';

export const FIELDMESH_BIN = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));

export interface FieldmeshProcess {
  readonly proc: ChildProcess;
  readonly pid: number;
  /** Everything written so far. */
  stdout(): string;
  stderr(): string;
  /** Resolves with the first match of `re` in stdout (or stderr), or throws after the deadline. */
  waitForOutput(re: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  /** Resolves with the exit code (or the signal name). */
  exited(): Promise<number | string>;
  kill(signal?: NodeJS.Signals): void;
}

/**
 * `stdin`: written to the process's standard input, which is then closed (none by default). `wrapper`: a command
 * that execs the rest, such as `['ip', 'netns', 'exec', 'ns1']` (the process keeps the wrapper's pid).
 */
export function runFieldmesh(
  args: readonly string[],
  env: Record<string, string> = {},
  stdin?: string,
  wrapper: readonly string[] = [],
): FieldmeshProcess {
  if (!existsSync(FIELDMESH_BIN)) throw new Error(`${FIELDMESH_BIN} is missing: run "npm run build" first (npm test does)`);
  const [command, ...prefix] = [...wrapper, process.execPath];
  const proc = spawnReaped(command as string, [...prefix, FIELDMESH_BIN, ...args], {
    env: { ...process.env, FIELDMESH_LOG_LEVEL: 'warn', ...env },
    stdio: [stdin === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
  });
  if (stdin !== undefined) proc.stdin?.end(stdin);
  let out = '';
  let err = '';
  const waiters = new Set<() => void>();
  const notify = () => {
    for (const w of waiters) w();
  };
  proc.stdout?.on('data', (d: Buffer) => {
    out += d.toString();
    notify();
  });
  proc.stderr?.on('data', (d: Buffer) => {
    err += d.toString();
    notify();
  });
  const exit = new Promise<number | string>((resolve) => {
    proc.on('exit', (code, signal) => {
      resolve(code ?? signal ?? -1);
      notify();
    });
  });
  return {
    proc,
    pid: proc.pid as number,
    stdout: () => out,
    stderr: () => err,
    waitForOutput(re, timeoutMs = 15_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const m = re.exec(out) ?? re.exec(err);
          if (m) {
            cleanup();
            resolve(m);
          } else if (proc.exitCode !== null || proc.signalCode !== null) {
            cleanup();
            reject(
              new Error(
                `fieldmesh ${args.join(' ')} exited (${proc.exitCode ?? proc.signalCode}) before printing ${re}\nstdout: ${out}\nstderr: ${err}`,
              ),
            );
          }
        };
        const timer = setTimeout(() => {
          cleanup();
          reject(new Error(`timed out waiting for ${re} from fieldmesh ${args.join(' ')}\nstdout: ${out}\nstderr: ${err}`));
        }, timeoutMs);
        const cleanup = () => {
          clearTimeout(timer);
          waiters.delete(check);
        };
        waiters.add(check);
        check();
      });
    },
    exited: () => exit,
    kill(signal = 'SIGTERM') {
      signalGroup(proc, signal);
    },
  };
}

/**
 * Registers an `after` that SIGKILLs every process it started, and returns the starter. Call once at
 * the top of a test file.
 */
export function fieldmeshKilledAfter(): (args: readonly string[]) => FieldmeshProcess {
  const running: FieldmeshProcess[] = [];
  after(() => {
    for (const p of running) p.kill('SIGKILL');
  });
  return (args) => {
    const p = runFieldmesh(args);
    running.push(p);
    return p;
  };
}

/** Writes `hub.yaml` into `dir` for a hub on `mqttUrl` (storage and data in `dir`, HTTP on a free port); returns its path. */
export async function writeHubConfig(dir: string, mqttUrl: string): Promise<string> {
  const path = join(dir, 'hub.yaml');
  writeFileSync(
    path,
    `mqtt: {url: "${mqttUrl}"}\nhttp: {port: ${await freePort()}}\nstorage: {path: ${join(dir, 'hub.db')}}\ndataDir: ${dir}\n`,
  );
  return path;
}
