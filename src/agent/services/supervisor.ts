// The service supervisor: runs the node's configured programs, restarts them by their policy with
// jittered exponential backoff, checks their health, keeps the tail of their output and reads their
// resource use. Processes, health probes and /proc come through ports (process-host.ts has the real
// ones), time through the Clock, so the state machine runs on a manual clock in unit tests.
//
//   stopped ──start──▶ starting ──check ok──▶ healthy ◀──check ok── unhealthy
//      ▲                  │ (no health check: running)        ──N failed checks──▶ unhealthy
//      │ operator stop    ▼ exit
//      └──────────── backoff ──delay──▶ starting …       exit, policy says no restart: stopped (code 0) | failed

import { backoffDelayMs, type Clock, describeError, FieldmeshError, type Logger, silentLogger, type TimerHandle } from '../../kit/index.js';
import { type LogLine, LogRing, type LogStream } from './log-ring.js';
import { type ServiceConfig, type ServiceHealthConfig, serviceHash } from './service-config.js';

export type ServiceState = 'stopped' | 'starting' | 'running' | 'healthy' | 'unhealthy' | 'backoff' | 'failed';

export const SERVICE_STATES: readonly ServiceState[] = ['stopped', 'starting', 'running', 'healthy', 'unhealthy', 'backoff', 'failed'];

/** How a process ended: its exit code or the signal that killed it, or why it could not start. */
export interface ServiceExit {
  readonly code: number | null;
  readonly signal: string | null;
  /** Set when the program could not be started at all (ENOENT, EACCES): no pid, no code. */
  readonly error?: string;
}

/** A running service process, as the spawner hands it over. */
export interface ServiceProcess {
  /** Undefined when the spawn failed (the exit handler then says why). */
  readonly pid: number | undefined;
  /** Signals the service's whole process group. */
  kill(signal: 'SIGTERM' | 'SIGKILL'): void;
}

export interface SpawnHandlers {
  output(stream: LogStream, chunk: string): void;
  /** Called exactly once, after the spawn returned, when the process (group leader) ended. */
  exit(exit: ServiceExit): void;
}

/** Starts a service's process in a process group of its own. */
export type ServiceSpawner = (service: ServiceConfig, handlers: SpawnHandlers) => ServiceProcess;

export interface HealthResult {
  readonly ok: boolean;
  /** What the check saw: "HTTP 200", "exit 1", "timed out after 2s", "ECONNREFUSED". */
  readonly detail: string;
}

/** Runs one health check; must settle within the check's timeout. */
export type HealthProbe = (check: ServiceHealthConfig, service: ServiceConfig) => Promise<HealthResult>;

export interface ServiceUsage {
  /** CPU time of the group's live processes and the children they waited for, seconds. */
  readonly cpuSeconds: number;
  /** Resident memory of the group's live processes, bytes. */
  readonly memoryBytes: number;
  readonly processes: number;
}

/** Resource use of a process group (by its id); undefined when it is gone. */
export type UsageReader = (pgid: number) => ServiceUsage | undefined;

/** Remembers the groups this supervisor started, so a later one can stop what a killed agent left behind. */
export interface PidRegistry {
  record(service: ServiceConfig, pid: number): void;
  forget(name: string): void;
  /** Stops the groups recorded by an earlier agent that are still running; returns what it stopped. */
  reapOrphans(stopTimeoutMs: (name: string) => number): Promise<readonly { name: string; pid: number }[]>;
}

export type ServiceEventKind = 'service_started' | 'service_exited' | 'service_unhealthy' | 'service_healthy' | 'service_failed';

export interface ServiceEvent {
  readonly kind: ServiceEventKind;
  readonly time: number;
  readonly payload: { readonly service: string } & Readonly<Record<string, unknown>>;
}

export interface ServiceStatus {
  readonly name: string;
  readonly state: ServiceState;
  readonly pid: number | null;
  /** Starts after the first one in this agent's life (automatic restarts and operators' restarts). */
  readonly restarts: number;
  /** When the service entered its state, ms since the Unix epoch. */
  readonly since: number;
  readonly lastExit: (ServiceExit & { readonly at: number }) | null;
  /** In backoff: when the next start is due. */
  readonly nextStartAt: number | null;
  readonly health: {
    readonly kind: 'http' | 'command';
    readonly consecutiveFailures: number;
    readonly lastCheckAt: number | null;
    readonly lastResult: HealthResult | null;
  } | null;
  readonly usage: ServiceUsage | null;
  /** CPU seconds of every process of this service since the agent started (the counter's value). */
  readonly cpuSecondsTotal: number;
  readonly command: readonly string[];
  readonly autostart: boolean;
  readonly restart: ServiceConfig['restart'];
  /** The entry's canonical hash (what `reconcile` compares). */
  readonly hash: string;
}

export interface ReconcileResult {
  readonly added: readonly string[];
  readonly removed: readonly string[];
  readonly changed: readonly string[];
  readonly unchanged: readonly string[];
}

/**
 * What other parts use: the node API, the CLI through it, and remote commands (a hub→node command
 * calls `restartService(name)` and answers with the returned status).
 */
export interface ServiceSupervisor {
  /** Stops groups an earlier agent left behind (pid files), then starts the autostart services. */
  start(): Promise<void>;
  /** Stops every service (SIGTERM, then SIGKILL after its stopTimeout) and every timer. */
  stop(): Promise<void>;
  list(): ServiceStatus[];
  /** Undefined for a name this node does not supervise. */
  status(name: string): ServiceStatus | undefined;
  /** The newest `lines` lines of its output, oldest first; undefined for an unknown name. */
  logs(name: string, lines?: number): LogLine[] | undefined;
  /** These throw FieldmeshError FM_NOT_FOUND for an unknown name; they resolve once the process is up or gone. */
  /** `by` names who asked (`api:alice`, `hub:bob`); the events of the action carry it. */
  startService(name: string, by?: string): Promise<ServiceStatus>;
  stopService(name: string, by?: string): Promise<ServiceStatus>;
  restartService(name: string, by?: string): Promise<ServiceStatus>;
  /** Applies a new `services:` list live: starts added, stops removed, restarts changed, leaves the rest. */
  reconcile(services: readonly ServiceConfig[]): Promise<ReconcileResult>;
  /** Every event as it happens; returns the unsubscribe. */
  subscribe(listener: (event: ServiceEvent) => void): () => void;
}

export interface ServiceSupervisorOptions {
  readonly services: readonly ServiceConfig[];
  readonly spawn: ServiceSpawner;
  readonly probe: HealthProbe;
  readonly readUsage?: UsageReader;
  readonly pids?: PidRegistry;
  readonly clock: Clock;
  readonly logger?: Logger;
  /** For the backoff's jitter; Math.random by default. */
  readonly random?: () => number;
  /** Every event, for the outbox. */
  readonly onEvent?: (event: ServiceEvent) => void;
}

/** The share of each backoff delay that is random: a delay lies in [ceiling/2, ceiling], so delays never shrink. */
export const SERVICE_BACKOFF_JITTER = 0.5;

interface Slot {
  spec: ServiceConfig;
  hash: string;
  /** What the operator or config wants: up (keep it running by its policy) or down. */
  desired: 'up' | 'down';
  state: ServiceState;
  since: number;
  proc: ServiceProcess | undefined;
  pid: number | undefined;
  startedAt: number;
  restarts: number;
  /** Backoff attempt: 0 for the first restart's delay. */
  attempt: number;
  lastExit: (ServiceExit & { at: number }) | null;
  nextStartAt: number | null;
  restartTimer: TimerHandle | undefined;
  healthTimer: TimerHandle | undefined;
  resetTimer: TimerHandle | undefined;
  killTimer: TimerHandle | undefined;
  /** Bumped at every spawn: a health result of an older process is ignored. */
  generation: number;
  healthFailures: number;
  lastCheckAt: number | null;
  lastResult: HealthResult | null;
  /** A restart asked for by a health check or an operator: the exit restarts whatever the policy says. */
  restartAfterExit: 'health' | 'operator' | undefined;
  exitWaiters: (() => void)[];
  /** Who asked for the action in progress, for its events. */
  by: string | undefined;
  logs: LogRing;
  /** CPU seconds of processes that ended, and the latest reading of the live one. */
  cpuBase: number;
  lastUsage: ServiceUsage | undefined;
}

function notFound(name: string, known: readonly string[]): FieldmeshError {
  return new FieldmeshError(
    'FM_NOT_FOUND',
    `service "${name}" is not one of this node's (${known.length === 0 ? 'none: services: in node.yaml' : known.join(', ')})`,
    { details: { service: name } },
  );
}

export function createServiceSupervisor(options: ServiceSupervisorOptions): ServiceSupervisor {
  const { clock, spawn, probe } = options;
  const logger = options.logger ?? silentLogger;
  const random = options.random ?? Math.random;
  const slots = new Map<string, Slot>();
  const listeners = new Set<(event: ServiceEvent) => void>();
  let running = false;

  function emit(kind: ServiceEventKind, slot: Slot, details: Record<string, unknown> = {}): void {
    const by = slot.by === undefined ? {} : { by: slot.by };
    const event: ServiceEvent = { kind, time: clock.now(), payload: { service: slot.spec.name, ...details, ...by } };
    try {
      options.onEvent?.(event);
    } catch (err) {
      logger.warn({ err: describeError(err) }, 'service event not recorded');
    }
    for (const l of listeners) l(event);
  }

  function setState(slot: Slot, state: ServiceState): void {
    if (slot.state === state) return;
    logger.info({ service: slot.spec.name, from: slot.state, to: state, pid: slot.pid }, `service ${slot.spec.name}: ${state}`);
    slot.state = state;
    slot.since = clock.now();
  }

  function clear(slot: Slot, which: 'restartTimer' | 'healthTimer' | 'resetTimer' | 'killTimer'): void {
    const t = slot[which];
    if (t !== undefined) clock.clearTimeout(t);
    slot[which] = undefined;
  }

  function newSlot(spec: ServiceConfig): Slot {
    return {
      spec,
      hash: serviceHash(spec),
      desired: 'down',
      state: 'stopped',
      since: clock.now(),
      proc: undefined,
      pid: undefined,
      startedAt: 0,
      restarts: 0,
      attempt: 0,
      lastExit: null,
      nextStartAt: null,
      restartTimer: undefined,
      healthTimer: undefined,
      resetTimer: undefined,
      killTimer: undefined,
      generation: 0,
      healthFailures: 0,
      lastCheckAt: null,
      lastResult: null,
      restartAfterExit: undefined,
      exitWaiters: [],
      by: undefined,
      logs: new LogRing(spec.logLines),
      cpuBase: 0,
      lastUsage: undefined,
    };
  }

  function sampleUsage(slot: Slot): ServiceUsage | undefined {
    if (slot.pid === undefined || options.readUsage === undefined) return undefined;
    const usage = options.readUsage(slot.pid);
    if (usage !== undefined) slot.lastUsage = usage;
    return usage;
  }

  /** Starts the backoff-reset timer: this long up (healthy, with a health check) and the next delay is `initial` again. */
  function armReset(slot: Slot): void {
    clear(slot, 'resetTimer');
    slot.resetTimer = clock.setTimeout(() => {
      slot.resetTimer = undefined;
      slot.attempt = 0;
    }, slot.spec.backoff.reset);
  }

  function spawnNow(slot: Slot, cause: 'start' | 'operator' | 'exit' | 'health' | 'config'): void {
    clear(slot, 'restartTimer');
    slot.nextStartAt = null;
    if (slot.startedAt > 0) slot.restarts++;
    slot.generation++;
    const generation = slot.generation;
    slot.healthFailures = 0;
    slot.lastResult = null;
    slot.lastCheckAt = null;
    slot.startedAt = clock.now();
    slot.lastUsage = undefined;
    let proc: ServiceProcess;
    try {
      proc = spawn(slot.spec, {
        output: (stream, chunk) => {
          if (slot.generation === generation) slot.logs.write(stream, chunk, clock.now());
        },
        exit: (exit) => onExit(slot, generation, exit),
      });
    } catch (err) {
      // A spawner that throws is treated as a start that failed at once.
      slot.proc = undefined;
      slot.pid = undefined;
      onExit(slot, generation, { code: null, signal: null, error: describeError(err) });
      return;
    }
    // The spawner reports the exit only after it returned (SpawnHandlers.exit), so the process is ours here.
    slot.proc = proc;
    slot.pid = proc.pid;
    // No pid: the program could not be started; its exit (with the reason) follows.
    if (proc.pid === undefined) {
      setState(slot, 'starting');
      return;
    }
    options.pids?.record(slot.spec, proc.pid);
    setState(slot, slot.spec.health === undefined ? 'running' : 'starting');
    emit('service_started', slot, { pid: proc.pid, restarts: slot.restarts, cause });
    if (slot.spec.health === undefined) armReset(slot);
    else scheduleCheck(slot, generation);
  }

  function scheduleCheck(slot: Slot, generation: number): void {
    const health = slot.spec.health;
    if (health === undefined) return;
    slot.healthTimer = clock.setTimeout(() => {
      slot.healthTimer = undefined;
      void runCheck(slot, generation, health);
    }, health.interval);
  }

  async function runCheck(slot: Slot, generation: number, health: ServiceHealthConfig): Promise<void> {
    let result: HealthResult;
    try {
      result = await probe(health, slot.spec);
    } catch (err) {
      result = { ok: false, detail: describeError(err) };
    }
    if (slot.generation !== generation || slot.proc === undefined || slots.get(slot.spec.name) !== slot) return;
    slot.lastCheckAt = clock.now();
    slot.lastResult = result;
    if (result.ok) {
      slot.healthFailures = 0;
      if (slot.state !== 'healthy') {
        setState(slot, 'healthy');
        emit('service_healthy', slot, { pid: slot.pid ?? null, detail: result.detail });
        armReset(slot);
      }
    } else {
      slot.healthFailures++;
      if (slot.healthFailures >= health.failures && slot.state !== 'unhealthy') {
        setState(slot, 'unhealthy');
        clear(slot, 'resetTimer');
        emit('service_unhealthy', slot, {
          pid: slot.pid ?? null,
          failures: slot.healthFailures,
          detail: result.detail,
          restarting: health.restart,
        });
        if (health.restart && slot.desired === 'up') {
          slot.restartAfterExit = 'health';
          terminate(slot);
          return;
        }
      }
    }
    scheduleCheck(slot, generation);
  }

  /** SIGTERM to the group now, SIGKILL after its stopTimeout. */
  function terminate(slot: Slot): void {
    const proc = slot.proc;
    if (proc === undefined) return;
    proc.kill('SIGTERM');
    clear(slot, 'killTimer');
    slot.killTimer = clock.setTimeout(() => {
      slot.killTimer = undefined;
      if (slot.proc === proc) {
        logger.warn(
          { service: slot.spec.name, pid: slot.pid },
          `service ${slot.spec.name} ignored SIGTERM for ${slot.spec.stopTimeout} ms: SIGKILL`,
        );
        proc.kill('SIGKILL');
      }
    }, slot.spec.stopTimeout);
  }

  function wantsRestart(spec: ServiceConfig, requested: Slot['restartAfterExit'], exit: ServiceExit): boolean {
    if (requested !== undefined) return true;
    switch (spec.restart) {
      case 'always':
        return true;
      case 'on-failure':
        return exit.code !== 0 || exit.signal !== null || exit.error !== undefined;
      case 'never':
        return false;
    }
  }

  function onExit(slot: Slot, generation: number, exit: ServiceExit): void {
    if (slot.generation !== generation) return;
    const now = clock.now();
    for (const t of ['healthTimer', 'resetTimer', 'killTimer'] as const) clear(slot, t);
    slot.logs.flush(now);
    slot.cpuBase += slot.lastUsage?.cpuSeconds ?? 0;
    slot.lastUsage = undefined;
    const pid = slot.pid;
    slot.proc = undefined;
    slot.pid = undefined;
    options.pids?.forget(slot.spec.name);
    slot.lastExit = { ...exit, at: now };
    const waiters = slot.exitWaiters.splice(0);
    const requested = slot.restartAfterExit;
    slot.restartAfterExit = undefined;
    const expected = slot.desired === 'down' || requested !== undefined;
    const restart = slot.desired === 'up' && running && slots.get(slot.spec.name) === slot && wantsRestart(slot.spec, requested, exit);
    const base = {
      pid: pid ?? null,
      code: exit.code,
      signal: exit.signal,
      ...(exit.error !== undefined ? { error: exit.error } : {}),
      runtimeMs: now - slot.startedAt,
      expected,
    };
    if (restart) {
      // An operator's restart starts again at once; a crash or a failed health check waits its backoff.
      const delay =
        requested === 'operator'
          ? 0
          : backoffDelayMs(
              slot.attempt,
              { initialMs: slot.spec.backoff.initial, maxMs: slot.spec.backoff.max, factor: 2, jitter: SERVICE_BACKOFF_JITTER },
              random,
            );
      if (requested !== 'operator') slot.attempt++;
      slot.nextStartAt = now + delay;
      setState(slot, 'backoff');
      emit('service_exited', slot, { ...base, restartInMs: delay });
      const cause = requested ?? 'exit';
      slot.restartTimer = clock.setTimeout(() => {
        slot.restartTimer = undefined;
        if (slot.desired === 'up' && running && slots.get(slot.spec.name) === slot) spawnNow(slot, cause);
      }, delay);
    } else {
      const clean = exit.code === 0 && exit.error === undefined;
      setState(slot, slot.desired === 'down' || clean ? 'stopped' : 'failed');
      emit('service_exited', slot, { ...base, restartInMs: null });
      if (slot.state === 'failed') {
        emit('service_failed', slot, {
          ...base,
          reason: exit.error ?? (exit.signal !== null ? `killed by ${exit.signal}` : `exit code ${exit.code}`),
          restart: slot.spec.restart,
        });
      }
      if (slot.desired === 'up' && slot.state === 'stopped') slot.desired = 'down';
    }
    for (const w of waiters) w();
  }

  /** Stops a slot's process (if any) and every timer; resolves once it exited. */
  async function bringDown(slot: Slot): Promise<void> {
    slot.desired = 'down';
    slot.restartAfterExit = undefined;
    clear(slot, 'restartTimer');
    slot.nextStartAt = null;
    if (slot.proc === undefined) {
      clear(slot, 'healthTimer');
      clear(slot, 'resetTimer');
      if (slot.state === 'backoff' || slot.state === 'failed') setState(slot, 'stopped');
      return;
    }
    const exited = new Promise<void>((resolve) => slot.exitWaiters.push(resolve));
    terminate(slot);
    await exited;
  }

  function bringUp(slot: Slot, cause: 'start' | 'operator' | 'config'): void {
    slot.desired = 'up';
    if (slot.proc !== undefined) return;
    slot.attempt = 0;
    spawnNow(slot, cause);
  }

  function statusOf(slot: Slot): ServiceStatus {
    const usage = sampleUsage(slot) ?? null;
    const health = slot.spec.health;
    return {
      name: slot.spec.name,
      state: slot.state,
      pid: slot.pid ?? null,
      restarts: slot.restarts,
      since: slot.since,
      lastExit: slot.lastExit,
      nextStartAt: slot.nextStartAt,
      health:
        health === undefined
          ? null
          : {
              kind: health.http !== undefined ? 'http' : 'command',
              consecutiveFailures: slot.healthFailures,
              lastCheckAt: slot.lastCheckAt,
              lastResult: slot.lastResult,
            },
      usage,
      cpuSecondsTotal: slot.cpuBase + (slot.lastUsage?.cpuSeconds ?? 0),
      command: slot.spec.command,
      autostart: slot.spec.autostart,
      restart: slot.spec.restart,
      hash: slot.hash,
    };
  }

  function slotOf(name: string): Slot {
    const slot = slots.get(name);
    if (slot === undefined) throw notFound(name, [...slots.keys()]);
    return slot;
  }

  for (const spec of options.services) slots.set(spec.name, newSlot(spec));

  return {
    async start() {
      if (options.pids !== undefined) {
        const reaped = await options.pids.reapOrphans((name) => slots.get(name)?.spec.stopTimeout ?? 10_000);
        for (const r of reaped)
          logger.warn({ service: r.name, pid: r.pid }, `service ${r.name}: stopped pid ${r.pid} left running by an earlier agent`);
      }
      running = true;
      for (const slot of slots.values()) if (slot.spec.autostart) bringUp(slot, 'start');
    },
    async stop() {
      running = false;
      await Promise.all([...slots.values()].map((s) => bringDown(s)));
    },
    list: () => [...slots.values()].map(statusOf),
    status: (name) => {
      const slot = slots.get(name);
      return slot === undefined ? undefined : statusOf(slot);
    },
    logs: (name, lines) => slots.get(name)?.logs.tail(lines),
    async startService(name, by) {
      const slot = slotOf(name);
      if (!running) throw new FieldmeshError('FM_ACTION_UNAVAILABLE', 'the service supervisor is not running (the node is stopping)');
      slot.by = by;
      try {
        bringUp(slot, 'operator');
      } finally {
        slot.by = undefined;
      }
      return statusOf(slot);
    },
    async stopService(name, by) {
      const slot = slotOf(name);
      slot.by = by;
      try {
        await bringDown(slot);
      } finally {
        slot.by = undefined;
      }
      return statusOf(slot);
    },
    async restartService(name, by) {
      const slot = slotOf(name);
      if (!running) throw new FieldmeshError('FM_ACTION_UNAVAILABLE', 'the service supervisor is not running (the node is stopping)');
      slot.by = by;
      try {
        await bringDown(slot);
        slot.desired = 'up';
        slot.attempt = 0;
        spawnNow(slot, 'operator');
      } finally {
        slot.by = undefined;
      }
      return statusOf(slot);
    },
    async reconcile(services) {
      const next = new Map(services.map((s) => [s.name, s]));
      const added: string[] = [];
      const removed: string[] = [];
      const changed: string[] = [];
      const unchanged: string[] = [];
      const work: Promise<void>[] = [];
      for (const [name, slot] of slots) {
        if (!next.has(name)) {
          removed.push(name);
          slots.delete(name);
          work.push(bringDown(slot));
        }
      }
      for (const [name, spec] of next) {
        const slot = slots.get(name);
        if (slot === undefined) {
          added.push(name);
          const fresh = newSlot(spec);
          slots.set(name, fresh);
          if (running && spec.autostart) bringUp(fresh, 'config');
          continue;
        }
        if (slot.hash === serviceHash(spec)) {
          unchanged.push(name);
          continue;
        }
        changed.push(name);
        work.push(
          (async () => {
            const wasUp = slot.desired === 'up';
            await bringDown(slot);
            const fresh = newSlot(spec);
            // The output and the counters follow the service across a change of its entry.
            fresh.logs = slot.logs;
            fresh.logs.resize(spec.logLines);
            fresh.restarts = slot.restarts;
            fresh.cpuBase = slot.cpuBase;
            fresh.lastExit = slot.lastExit;
            fresh.startedAt = slot.startedAt;
            if (slots.get(name) !== slot) return;
            slots.set(name, fresh);
            if (running && (spec.autostart || wasUp)) bringUp(fresh, 'config');
          })(),
        );
      }
      await Promise.all(work);
      if (added.length + removed.length + changed.length > 0)
        logger.info({ added, removed, changed, unchanged: unchanged.length }, 'services reconciled');
      return { added, removed, changed, unchanged };
    },
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}
