// A pump driven by programs: one argv to start, one to stop, one (optional) to read back. No shell:
// each argv runs as given (use ["sh", "-c", "..."] yourself if you want one). A non-zero exit, a
// signal or the timeout is an FM_PUMP_DRIVER_FAILED error carrying the program's stderr.
//
// Example (Raspberry Pi relay on GPIO17, libgpiod v2 tools, in docs/consensus.md#drivers):
//   driver: { type: command, start: [/usr/local/bin/fieldmesh-relay, "on"],
//             stop: [/usr/local/bin/fieldmesh-relay, "off"], read: [/usr/local/bin/fieldmesh-relay, "get"] }

import { execFile } from 'node:child_process';
import { FieldmeshError } from '../../kit/index.js';
import type { CommandPumpDriverConfig } from '../../protocol/consensus/index.js';
import type { PumpDriver, PumpDriverDeps, PumpReading } from './pump-driver.js';

/** Output kept from a failing program, enough for its error line. */
const STDERR_MAX_CHARS = 2000;

const RUNNING_WORDS = new Set(['1', 'on', 'running', 'true', 'active', 'high']);
const STOPPED_WORDS = new Set(['0', 'off', 'stopped', 'false', 'inactive', 'low']);

/** Reads a state program's stdout: its last word (gpioget v2 prints `"17"=active`). */
export function parsePumpReading(stdout: string): PumpReading {
  const words = stdout
    .trim()
    .toLowerCase()
    .split(/[\s=]+/);
  const last = (words[words.length - 1] ?? '').replace(/^"|"$/g, '');
  if (RUNNING_WORDS.has(last)) return 'running';
  if (STOPPED_WORDS.has(last)) return 'stopped';
  return 'unknown';
}

function run(op: string, argv: readonly string[], timeoutMs: number, pump: string): Promise<string> {
  const [file, ...args] = argv;
  if (file === undefined) return Promise.reject(new FieldmeshError('FM_PUMP_DRIVER_FAILED', `pump ${pump}: ${op} command is empty`));
  return new Promise((resolve, reject) => {
    execFile(file, args, { timeout: timeoutMs, killSignal: 'SIGKILL', windowsHide: true }, (err, stdout, stderr) => {
      if (!err) {
        resolve(stdout);
        return;
      }
      const e = err as NodeJS.ErrnoException & { killed?: boolean; signal?: string | null; code?: number | string };
      const why = e.killed
        ? `timed out after ${timeoutMs} ms`
        : typeof e.code === 'number'
          ? `exited with code ${e.code}`
          : e.signal
            ? `killed by ${e.signal}`
            : `could not run (${e.code ?? e.message})`;
      const text = String(stderr).trim().slice(0, STDERR_MAX_CHARS);
      reject(
        new FieldmeshError('FM_PUMP_DRIVER_FAILED', `pump ${pump}: ${op} command ${why}${text ? `: ${text}` : ''}`, {
          cause: err,
          details: { op, argv: [...argv], stderr: text },
        }),
      );
    });
  });
}

export function createCommandPumpDriver(config: CommandPumpDriverConfig, deps: PumpDriverDeps): PumpDriver {
  // The schema's default is 5 s: a relay command that takes longer is hung (gpioset returns in milliseconds).
  const timeoutMs = config.timeout;
  return {
    async start() {
      await run('start', config.start, timeoutMs, deps.pump);
    },
    async stop() {
      await run('stop', config.stop, timeoutMs, deps.pump);
    },
    async read() {
      if (!config.read) return 'unknown';
      return parsePumpReading(await run('read', config.read, timeoutMs, deps.pump));
    },
  };
}
