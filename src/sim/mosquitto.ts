// A private Mosquitto for the simulator's baseline column: found on the machine, started on a free
// loopback port with its own temp config, ready when it logs "running", stopped by its own PID only.

import { type ChildProcess, spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { type Logger, silentLogger } from '../kit/index.js';

/** What a report says when the machine has no Mosquitto. */
export const MOSQUITTO_MISSING_NOTE = 'not run: mosquitto is not installed (apt-get install mosquitto)';
/** The standard MQTT port: never used, a system broker may own it. */
const MQTT_STANDARD_PORT = 1883;
/** Debian's Mosquitto is up in well under a second; this bounds a broken install. */
const DEFAULT_READY_TIMEOUT_MS = 10_000;
/** How long SIGTERM gets before SIGKILL. Mosquitto exits at once on SIGTERM when persistence is off. */
const DEFAULT_STOP_TIMEOUT_MS = 3_000;
/** Tail of the broker's log kept for diagnosis. */
const LOG_TAIL_CHARS = 16_384;
/** Another process may take the free port between our probe and Mosquitto's bind. */
const START_ATTEMPTS = 3;

export interface SimMosquittoOptions {
  /** Path of the mosquitto binary; default: `findMosquitto()`. */
  readonly binary?: string;
  readonly readyTimeoutMs?: number;
  readonly stopTimeoutMs?: number;
  readonly logger?: Logger;
}

export interface SimMosquitto {
  /** mqtt://127.0.0.1:<port> */
  readonly url: string;
  readonly port: number;
  readonly pid: number;
  /** "2.0.11", from its start-up line. */
  readonly version: string;
  /** The last part of what the broker logged. */
  log(): string;
  /** SIGTERM, SIGKILL after the stop timeout, then removes the temp dir. Idempotent. */
  stop(): Promise<void>;
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** `/usr/sbin/mosquitto` (Debian installs it there, outside a user's PATH), else the first on PATH. */
export function findMosquitto(path: string | undefined = process.env.PATH): string | undefined {
  const dirs = (path ?? '').split(delimiter).filter((d) => d !== '');
  return ['/usr/sbin/mosquitto', ...dirs.map((d) => join(d, 'mosquitto'))].find(isExecutable);
}

/** A loopback port the OS just handed a port-0 server, never 1883. */
export async function findFreePort(): Promise<number> {
  for (;;) {
    const port = await new Promise<number>((resolve, reject) => {
      const server = createServer();
      server.unref();
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => {
        const address = server.address();
        const p = typeof address === 'object' && address !== null ? address.port : 0;
        server.close(() => (p > 0 ? resolve(p) : reject(new Error('the OS gave no port for a port-0 server'))));
      });
    });
    if (port !== MQTT_STANDARD_PORT) return port;
  }
}

/** Sends SIGTERM, then SIGKILL after `timeoutMs`; resolves when the process has exited. */
function terminate(proc: ChildProcess, timeoutMs: number): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const kill = setTimeout(() => proc.kill('SIGKILL'), timeoutMs);
    proc.once('exit', () => {
      clearTimeout(kill);
      resolve();
    });
    proc.kill('SIGTERM');
  });
}

/** Starts a Mosquitto of our own; throws when it does not come up. */
export async function startSimMosquitto(options: SimMosquittoOptions = {}): Promise<SimMosquitto> {
  const binary = options.binary ?? findMosquitto();
  if (binary === undefined || !isExecutable(binary)) throw new Error('mosquitto is not installed (apt-get install mosquitto)');
  const logger = (options.logger ?? silentLogger).child({ component: 'sim-mosquitto' });
  const readyTimeoutMs = options.readyTimeoutMs ?? DEFAULT_READY_TIMEOUT_MS;
  const stopTimeoutMs = options.stopTimeoutMs ?? DEFAULT_STOP_TIMEOUT_MS;
  const dir = await mkdtemp(join(tmpdir(), 'fieldmesh-sim-mosquitto-'));
  let lastError: Error | undefined;
  try {
    for (let i = 0; i < START_ATTEMPTS; i++) {
      const port = await findFreePort();
      const confFile = join(dir, 'mosquitto.conf');
      // Only problems and the "information" type that carries the "running" line (and one line per
      // connect): "all" logs every PUBLISH, tens of thousands of lines per tick at 50 nodes.
      const conf = [
        `listener ${port} 127.0.0.1`,
        'allow_anonymous true',
        'persistence false',
        'log_dest stderr',
        'log_type error',
        'log_type warning',
        'log_type notice',
        'log_type information',
      ];
      await writeFile(confFile, `${conf.join('\n')}\n`);
      try {
        return await launch(binary, confFile, port, dir, readyTimeoutMs, stopTimeoutMs, logger);
      } catch (err) {
        lastError = err instanceof Error ? err : new Error(String(err));
        logger.warn({ port, err: lastError.message }, 'mosquitto did not start; trying another port');
      }
    }
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
  await rm(dir, { recursive: true, force: true });
  throw lastError ?? new Error('mosquitto did not start');
}

async function launch(
  binary: string,
  confFile: string,
  port: number,
  dir: string,
  readyTimeoutMs: number,
  stopTimeoutMs: number,
  logger: Logger,
): Promise<SimMosquitto> {
  const proc = spawn(binary, ['-c', confFile], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const append = (chunk: Buffer) => {
    output = (output + chunk.toString('utf8')).slice(-LOG_TAIL_CHARS);
  };
  proc.stdout?.on('data', append);
  proc.stderr?.on('data', append);
  const version = await new Promise<string>((resolve, reject) => {
    let seen = '';
    const done = (err: Error | undefined, v?: string) => {
      clearTimeout(timer);
      proc.stderr?.off('data', onData);
      proc.stdout?.off('data', onData);
      proc.off('exit', onExit);
      proc.off('error', onError);
      if (err === undefined) resolve(v ?? 'unknown');
      else reject(err);
    };
    const onData = (chunk: Buffer) => {
      seen += chunk.toString('utf8');
      const m = /mosquitto version (\S+) running/.exec(seen);
      if (m !== null) done(undefined, m[1]);
    };
    const onExit = (code: number | null, signal: string | null) =>
      done(new Error(`mosquitto exited (${signal ?? `code ${code}`}) before it was ready: ${output.trim()}`));
    const onError = (err: Error) => done(err);
    const timer = setTimeout(() => {
      done(new Error(`mosquitto was not ready within ${readyTimeoutMs} ms: ${output.trim()}`));
      void terminate(proc, stopTimeoutMs);
    }, readyTimeoutMs);
    proc.stderr?.on('data', onData);
    proc.stdout?.on('data', onData);
    proc.once('exit', onExit);
    proc.once('error', onError);
  });
  const pid = proc.pid ?? -1;
  logger.info({ pid, port, version }, 'mosquitto started');
  let stopping: Promise<void> | undefined;
  return {
    url: `mqtt://127.0.0.1:${port}`,
    port,
    pid,
    version,
    log: () => output,
    stop() {
      stopping ??= (async () => {
        await terminate(proc, stopTimeoutMs);
        await rm(dir, { recursive: true, force: true });
        logger.info({ pid }, 'mosquitto stopped');
      })();
      return stopping;
    },
  };
}
