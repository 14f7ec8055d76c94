// The supervisor's real ports on Linux: services spawned without a shell in process groups of their own,
// HTTP and command health probes, resource use from /proc, and pid files that let the next agent stop
// what an agent killed with SIGKILL left behind.
//
// How services die with the agent:
// - SIGTERM, SIGINT: the agent stops them (SIGTERM to each group, SIGKILL after stopTimeout).
// - the agent's event loop crashes (an uncaught exception): its process 'exit' hook SIGKILLs every group.
// - SIGKILL of the agent (or the OOM killer): nothing in the agent runs, and the services, in groups of
//   their own, keep running as orphans. Each start wrote `<dataDir>/<site>/<node>/services/<name>.pid.json`
//   (pid and the process's start time from /proc/<pid>/stat); the next agent reads them before it starts
//   anything and stops each group whose leader still has that pid and start time (a reused pid is left
//   alone). Under systemd the default KillMode=control-group kills them with the agent anyway.

import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describeError, type Logger, silentLogger } from '../../kit/index.js';
import type { ServiceConfig, ServiceHealthConfig } from './service-config.js';
import type { HealthResult, PidRegistry, ServiceExit, ServiceProcess, ServiceSpawner, ServiceUsage, UsageReader } from './supervisor.js';

/** Process groups this process started and has not seen end: SIGKILLed if it exits without stopping them. */
const liveGroups = new Set<number>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const pgid of liveGroups) signalGroup(pgid, 'SIGKILL');
  });
}

/** Signals a process group; false when it has no process left. */
export function signalGroup(pgid: number, signal: NodeJS.Signals | 0): boolean {
  try {
    process.kill(-pgid, signal);
    return true;
  } catch {
    return false;
  }
}

/** How long after the leader's exit its output may still arrive before the exit is reported. */
const OUTPUT_DRAIN_MS = 500;

export interface ProcessSpawnerOptions {
  /** The environment services start from (the agent's); each service's `env` is added to it. */
  readonly baseEnv: Readonly<Record<string, string | undefined>>;
}

/**
 * Spawns each service with `detached` (setsid: a session and process group of its own, whose id is its
 * pid), stdin closed, stdout and stderr piped. When the leader exits, what is left of its group is
 * SIGKILLed, so a restart never runs beside leftovers of the previous run.
 */
export function createProcessSpawner(options: ProcessSpawnerOptions): ServiceSpawner {
  installExitHook();
  return (service: ServiceConfig, handlers) => {
    const [program, ...args] = service.command as [string, ...string[]];
    let child: ChildProcess;
    let ended = false;
    const end = (exit: ServiceExit) => {
      if (ended) return;
      ended = true;
      handlers.exit(exit);
    };
    child = spawn(program, args, {
      cwd: service.cwd,
      env: { ...options.baseEnv, ...(service.env ?? {}) },
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const pgid = child.pid;
    if (pgid !== undefined) liveGroups.add(pgid);
    child.stdout?.setEncoding('utf8');
    child.stderr?.setEncoding('utf8');
    child.stdout?.on('data', (chunk: string) => handlers.output('stdout', chunk));
    child.stderr?.on('data', (chunk: string) => handlers.output('stderr', chunk));
    child.on('error', (err: NodeJS.ErrnoException) => {
      // Only a failed spawn ends the service here; kill errors cannot happen (we signal by group id).
      if (child.pid !== undefined) return;
      queueMicrotask(() => end({ code: null, signal: null, error: `${err.code ?? 'error'}: cannot run ${program} (${err.message})` }));
    });
    child.on('exit', (code, signal) => {
      if (pgid !== undefined) {
        signalGroup(pgid, 'SIGKILL');
        liveGroups.delete(pgid);
      }
      const exit: ServiceExit = { code, signal };
      const timer = setTimeout(() => end(exit), OUTPUT_DRAIN_MS);
      child.once('close', () => {
        clearTimeout(timer);
        end(exit);
      });
    });
    const proc: ServiceProcess = {
      pid: pgid,
      kill(signal) {
        if (pgid !== undefined) signalGroup(pgid, signal);
      },
    };
    return proc;
  };
}

/** Runs a service's health check: GET `http` (2xx) or `command` (exit 0), within `timeout`. */
export function createHealthProbe(
  options: ProcessSpawnerOptions,
): (check: ServiceHealthConfig, service: ServiceConfig) => Promise<HealthResult> {
  return async (check, service) => {
    if (check.http !== undefined) {
      try {
        const res = await fetch(check.http, { signal: AbortSignal.timeout(check.timeout), redirect: 'manual' });
        await res.body?.cancel().catch(() => {});
        return { ok: res.status >= 200 && res.status < 300, detail: `HTTP ${res.status}` };
      } catch (err) {
        const e = err as Error & { cause?: { code?: string } };
        if (e.name === 'TimeoutError' || e.name === 'AbortError') return { ok: false, detail: `timed out after ${check.timeout} ms` };
        return { ok: false, detail: e.cause?.code ?? e.message };
      }
    }
    const [program, ...args] = (check.command ?? []) as [string, ...string[]];
    return new Promise<HealthResult>((resolve) => {
      const child = spawn(program, args, {
        cwd: service.cwd,
        env: { ...options.baseEnv, ...(service.env ?? {}) },
        detached: true,
        stdio: 'ignore',
      });
      // A check still running when the agent dies goes with it, as the services do.
      if (child.pid !== undefined) liveGroups.add(child.pid);
      const timer = setTimeout(() => {
        if (child.pid !== undefined) signalGroup(child.pid, 'SIGKILL');
        resolve({ ok: false, detail: `timed out after ${check.timeout} ms` });
      }, check.timeout);
      child.on('error', (err) => {
        clearTimeout(timer);
        resolve({ ok: false, detail: describeError(err) });
      });
      child.on('exit', (code, signal) => {
        clearTimeout(timer);
        if (child.pid !== undefined) {
          signalGroup(child.pid, 'SIGKILL');
          liveGroups.delete(child.pid);
        }
        resolve({ ok: code === 0, detail: signal !== null ? `killed by ${signal}` : `exit ${code}` });
      });
    });
  };
}

// ---------------------------------------------------------------------------------------------------------
// /proc

let clockTicks: number | undefined;

/** USER_HZ, the unit of the times in /proc/<pid>/stat (100 on every common Linux). */
function ticksPerSecond(): number {
  if (clockTicks === undefined) {
    try {
      clockTicks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      clockTicks = 100;
    }
  }
  return clockTicks;
}

export interface ProcStat {
  readonly pid: number;
  readonly state: string;
  readonly pgrp: number;
  /** utime + stime + cutime + cstime, in clock ticks. */
  readonly cpuTicks: number;
  /** Start time after boot, in clock ticks: with the pid, it names one process. */
  readonly startTicks: number;
}

/** Parses /proc/<pid>/stat (the command name may hold spaces and parentheses: fields follow the last ')'). */
export function parseProcStat(text: string): ProcStat | undefined {
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  if (open < 0 || close < open) return undefined;
  const pid = Number(text.slice(0, open).trim());
  const f = text
    .slice(close + 2)
    .trim()
    .split(/\s+/);
  // f[0] is field 3 (state); field n is f[n - 3].
  const n = (field: number) => Number(f[field - 3]);
  if (f.length < 20 || !Number.isFinite(pid)) return undefined;
  return { pid, state: f[0] as string, pgrp: n(5), cpuTicks: n(14) + n(15) + n(16) + n(17), startTicks: n(22) };
}

function readStat(procDir: string, pid: number): ProcStat | undefined {
  try {
    return parseProcStat(readFileSync(join(procDir, String(pid), 'stat'), 'utf8'));
  } catch {
    return undefined;
  }
}

/** VmRSS of /proc/<pid>/status in bytes (0 for a zombie or a kernel thread). */
function readRssBytes(procDir: string, pid: number): number {
  try {
    const m = /^VmRSS:\s+(\d+)\s*kB/m.exec(readFileSync(join(procDir, String(pid), 'status'), 'utf8'));
    return m === null ? 0 : Number(m[1]) * 1024;
  } catch {
    return 0;
  }
}

/**
 * Resource use of a process group from /proc: the CPU time (own and of waited-for children) and RSS of
 * every process whose group is `pgid`. One scan of /proc serves every group for SCAN_REUSE_MS.
 */
export function createProcUsageReader(procDir = '/proc'): UsageReader {
  const SCAN_REUSE_MS = 250;
  let scannedAt = Number.NEGATIVE_INFINITY;
  let byGroup = new Map<number, ProcStat[]>();
  const scan = () => {
    byGroup = new Map();
    let entries: string[];
    try {
      entries = readdirSync(procDir);
    } catch {
      entries = [];
    }
    for (const e of entries) {
      if (!/^\d+$/.test(e)) continue;
      const stat = readStat(procDir, Number(e));
      if (stat === undefined) continue;
      const list = byGroup.get(stat.pgrp);
      if (list === undefined) byGroup.set(stat.pgrp, [stat]);
      else list.push(stat);
    }
    scannedAt = Date.now();
  };
  return (pgid) => {
    if (Date.now() - scannedAt > SCAN_REUSE_MS) scan();
    const members = byGroup.get(pgid);
    if (members === undefined || members.length === 0) return undefined;
    const hz = ticksPerSecond();
    let ticks = 0;
    let rss = 0;
    for (const m of members) {
      ticks += m.cpuTicks;
      if (m.state !== 'Z') rss += readRssBytes(procDir, m.pid);
    }
    const usage: ServiceUsage = { cpuSeconds: ticks / hz, memoryBytes: rss, processes: members.length };
    return usage;
  };
}

// ---------------------------------------------------------------------------------------------------------
// Pid files

interface PidFile {
  readonly name: string;
  readonly pid: number;
  readonly startTicks: number;
  readonly command: readonly string[];
}

const PID_SUFFIX = '.pid.json';

/** Pid files in `dir`, one per running service, for the next agent to stop what a killed one left running. */
export function createPidRegistry(dir: string, logger: Logger = silentLogger, procDir = '/proc'): PidRegistry {
  const file = (name: string) => join(dir, `${name}${PID_SUFFIX}`);
  return {
    record(service, pid) {
      const stat = readStat(procDir, pid);
      if (stat === undefined) return; // gone already
      const body: PidFile = { name: service.name, pid, startTicks: stat.startTicks, command: service.command };
      try {
        mkdirSync(dir, { recursive: true });
        writeFileSync(file(service.name), `${JSON.stringify(body)}\n`);
      } catch (err) {
        logger.warn({ service: service.name, err: describeError(err) }, 'service pid file not written');
      }
    },
    forget(name) {
      rmSync(file(name), { force: true });
    },
    async reapOrphans(stopTimeoutMs) {
      let names: string[];
      try {
        names = readdirSync(dir).filter((n) => n.endsWith(PID_SUFFIX));
      } catch {
        return [];
      }
      const reaped: { name: string; pid: number }[] = [];
      await Promise.all(
        names.map(async (n) => {
          const path = join(dir, n);
          let body: PidFile | undefined;
          try {
            body = JSON.parse(readFileSync(path, 'utf8')) as PidFile;
          } catch {
            body = undefined;
          }
          rmSync(path, { force: true });
          if (body === undefined || typeof body.pid !== 'number') return;
          const stat = readStat(procDir, body.pid);
          // Only the very process that was recorded: same pid, same start time, still leading its group.
          if (stat === undefined || stat.startTicks !== body.startTicks || stat.pgrp !== body.pid) return;
          await stopGroup(body.pid, stopTimeoutMs(body.name));
          reaped.push({ name: body.name, pid: body.pid });
        }),
      );
      return reaped;
    },
  };
}

/** SIGTERM to a group, SIGKILL when it still has processes after `timeoutMs`; resolves when it has none. */
export async function stopGroup(pgid: number, timeoutMs: number): Promise<void> {
  if (!signalGroup(pgid, 'SIGTERM')) return;
  const deadline = Date.now() + timeoutMs;
  while (signalGroup(pgid, 0)) {
    if (Date.now() >= deadline) {
      signalGroup(pgid, 'SIGKILL');
      break;
    }
    await new Promise((r) => setTimeout(r, 25));
  }
  // After SIGKILL the group is gone once the kernel reaps it (orphans are reaped by init).
  const killDeadline = Date.now() + 2_000;
  while (signalGroup(pgid, 0) && Date.now() < killDeadline) await new Promise((r) => setTimeout(r, 25));
}
