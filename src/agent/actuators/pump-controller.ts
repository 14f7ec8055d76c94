// The safety envelope of one pump, enforced by the node wired to it whatever any other node says.
//
// API (the zone engine and the node's API call these; nothing else touches the driver):
//   const c = await PumpController.open({ zone, pump, driver, statePath, clock, onRecord })
//       loads the durable state and applies `envelope.onRestart` [FM-ZONE-ACT-9]
//   await c.demand({ cause, zone, epoch, leaseUntil, evidence })   start or renew a run on a certificate
//   await c.command({ action, by, epoch, id })                     operator: start|stop|estop|clear|test
//   await c.observeEpoch(epoch, zone?)                             the newest epoch seen for a zone
//   c.state()                                                      what the APIs and the hub show
//   c.on('pumpStarted' | 'pumpStopped' | ..., listener)            events, past tense (PumpEvents)
//   c.counters(), await c.idle(), await c.close()
// Every demand and command returns a PumpOutcome (refusals are values, not throws). Every command,
// every refusal, every start and stop goes to `onRecord` (who, what, when, outcome): the audit.
// The rules [FM-ZONE-ACT-1..11] are described in docs/consensus.md, "The safety envelope".

import { EventEmitter } from 'node:events';
import { type Clock, describeError, type Logger, silentLogger, systemClock, type TimerHandle } from '../../kit/index.js';
import type { ActuationCause, ZonePump } from '../../protocol/consensus/types.js';
import type { PumpDriver, PumpReading } from './pump-driver.js';
import {
  type PersistedPumpState,
  type PersistedRun,
  PUMP_STATE_VERSION,
  type PumpStopReason,
  quarantinePumpState,
  readPumpState,
  writePumpState,
} from './pump-state-file.js';

export type { PumpStopReason } from './pump-state-file.js';

/** A test run lasts this long unless configured (long enough to see pressure build, short enough to waste little water). */
export const PUMP_TEST_RUN_MS = 10_000;
/** How often a running pump's runtime is written down: after a restart at most this much runtime (plus downtime) is unknown. */
export const RUNTIME_CHECKPOINT_MS = 10_000;
/** How soon a failed stop is tried again: a pump that should be stopped keeps being told. */
export const FAULT_RETRY_MS = 5_000;

export type DemandCause = Extract<ActuationCause, 'majority' | 'overlap' | 'isolated-fallback'>;

/** A certificate asking for the pump: from the zone engine, renewed while its majority holds. */
export interface PumpDemand {
  readonly cause: DemandCause;
  /** The zone whose certificate it is (the pump's own, or one that activates it: cause `overlap`). */
  readonly zone: string;
  /** That zone's epoch the certificate was counted in. */
  readonly epoch: number;
  /** Wall-clock ms when the certificate's lease ends (the majority-th latest vote expiry). */
  readonly leaseUntil: number;
  /** Detection or vote ids behind it, for the audit. */
  readonly evidence?: readonly string[];
}

export type PumpAction = 'start' | 'stop' | 'estop' | 'clear' | 'test';

/** An operator's command (console, CLI), already authenticated; `by` is the operator. */
export interface PumpCommand {
  readonly action: PumpAction;
  readonly by: string;
  /** The pump's zone's epoch the operator acted in. */
  readonly epoch: number;
  /** The command's id (idempotency and audit). */
  readonly id: string;
}

export type PumpRefusal =
  | 'stale-epoch'
  | 'estop'
  | 'min-off'
  | 'lease-expired'
  | 'already-running'
  | 'not-latched'
  | 'driver-failed'
  | 'closed';

export type PumpOutcome =
  | {
      readonly accepted: true;
      readonly result: 'started' | 'renewed' | 'deferred' | 'stopped' | 'latched' | 'cleared' | 'unchanged';
      readonly detail: string;
    }
  | { readonly accepted: false; readonly reason: PumpRefusal; readonly detail: string };

export type PumpStateName = 'stopped' | 'running' | 'estop' | 'fault';

/** What the node's API and the hub show of a pump. Times are wall-clock ms. */
export interface PumpStateView {
  readonly pump: string;
  readonly zone: string;
  readonly state: PumpStateName;
  /** The current run's cause; null when not running. */
  readonly cause: ActuationCause | null;
  /** When `state` last changed. */
  readonly since: number;
  /** Runtime of the current run (0 when not running). */
  readonly runtimeMs: number;
  readonly leaseUntil: number | null;
  /** Newest epoch seen for the pump's zone. */
  readonly epoch: number;
  readonly lastStart: { readonly at: number; readonly cause: ActuationCause; readonly by: string } | null;
  readonly lastStop: { readonly at: number; readonly reason: PumpStopReason; readonly by: string } | null;
  /** Running past maxRuntime (atMaxRuntime: alert): PumpRuntime fires. */
  readonly overRuntime: boolean;
  readonly fault: string | null;
  /** A demand waiting for min off time to end: when it starts. */
  readonly pendingStartAt: number | null;
  /** The last read-back that disagreed with what the driver was told; null when the last one agreed. */
  readonly mismatch: { readonly at: number; readonly expected: PumpReading; readonly read: PumpReading } | null;
}

/** One audit line: who asked what, when, and what came of it. */
export interface PumpRecord {
  readonly at: number;
  readonly zone: string;
  readonly pump: string;
  readonly kind:
    | 'command'
    | 'demand'
    | 'started'
    | 'stopped'
    | 'fault'
    | 'lease-lapsed'
    | 'runtime-limit'
    | 'readback'
    | 'restored'
    | 'epoch';
  readonly by: string;
  readonly action?: string;
  readonly id?: string;
  readonly epoch?: number;
  readonly outcome: 'accepted' | 'refused' | 'done' | 'failed';
  readonly detail: string;
}

export interface PumpEvents {
  pumpStarted: [{ at: number; cause: ActuationCause; by: string }];
  pumpStopped: [{ at: number; reason: PumpStopReason; by: string; runtimeMs: number }];
  pumpFaulted: [{ at: number; op: 'start' | 'stop'; error: string }];
  pumpResumed: [{ at: number; cause: ActuationCause; runtimeMs: number }];
  staleEpochRefused: [{ at: number; zone: string; epoch: number; newest: number; by: string }];
  leaseLapsed: [{ at: number; leaseUntil: number; action: 'stopped' | 'kept-running' }];
  runtimeLimitReached: [{ at: number; runtimeMs: number; action: 'stopped' | 'alerted' }];
  readbackMismatched: [{ at: number; expected: PumpReading; read: PumpReading }];
  estopLatched: [{ at: number; by: string }];
  estopCleared: [{ at: number; by: string }];
}

export interface PumpCounters {
  staleEpochRefused: number;
  demandsRefused: number;
  commandsRefused: number;
  faults: number;
  readbackMismatches: number;
}

export interface PumpControllerOptions {
  /** The pump's own zone (its epoch fences operator commands). */
  readonly zone: string;
  readonly pump: ZonePump;
  readonly driver: PumpDriver;
  /** The durable state file (one per pump). */
  readonly statePath: string;
  readonly clock?: Clock;
  readonly testRunMs?: number;
  readonly onRecord?: (record: PumpRecord) => void;
  readonly logger?: Logger;
}

const DEMAND_CAUSES: ReadonlySet<ActuationCause> = new Set(['majority', 'overlap', 'isolated-fallback']);

export class PumpController {
  private readonly zone: string;
  private readonly pump: ZonePump;
  private readonly driver: PumpDriver;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly testRunMs: number;
  private readonly events = new EventEmitter();
  private s: PersistedPumpState;
  /** Monotonic time of the run's last checkpoint: runtime within a process is monotonic. */
  private monoAtCheckpoint = 0;
  private pending: PumpDemand | null = null;
  private mismatch: PumpStateView['mismatch'] = null;
  private timer: TimerHandle | undefined;
  private tail: Promise<unknown> = Promise.resolve();
  private closed = false;
  private readonly count: PumpCounters = { staleEpochRefused: 0, demandsRefused: 0, commandsRefused: 0, faults: 0, readbackMismatches: 0 };

  private constructor(private readonly options: PumpControllerOptions) {
    this.zone = options.zone;
    this.pump = options.pump;
    this.driver = options.driver;
    this.clock = options.clock ?? systemClock;
    this.logger = options.logger ?? silentLogger;
    this.testRunMs = options.testRunMs ?? PUMP_TEST_RUN_MS;
    this.events.setMaxListeners(0);
    this.s = this.fresh(this.clock.now());
  }

  /** Opens the controller on its state file and puts the pump in its documented restart state. */
  static async open(options: PumpControllerOptions): Promise<PumpController> {
    const c = new PumpController(options);
    await c.serial(() => c.restore());
    return c;
  }

  on<E extends keyof PumpEvents>(event: E, listener: (...args: PumpEvents[E]) => void): void {
    this.events.on(event, listener as (...args: unknown[]) => void);
  }

  off<E extends keyof PumpEvents>(event: E, listener: (...args: PumpEvents[E]) => void): void {
    this.events.off(event, listener as (...args: unknown[]) => void);
  }

  counters(): Readonly<PumpCounters> {
    return { ...this.count };
  }

  /** Resolves when every operation queued so far (and its driver calls) has finished. */
  async idle(): Promise<void> {
    for (let t = this.tail; ; t = this.tail) {
      await t;
      if (t === this.tail) return;
    }
  }

  /** Stops the timers; the pump is left as it is (the restart rule decides what happens next). */
  async close(): Promise<void> {
    await this.idle();
    this.closed = true;
    if (this.timer) this.clock.clearTimeout(this.timer);
    this.timer = undefined;
    await this.driver.close?.();
  }

  demand(d: PumpDemand): Promise<PumpOutcome> {
    return this.serial(() => this.onDemand(d));
  }

  command(c: PumpCommand): Promise<PumpOutcome> {
    return this.serial(async () => {
      const outcome = await this.onCommand(c);
      if (!outcome.accepted) this.count.commandsRefused++;
      this.record({
        kind: 'command',
        by: c.by,
        action: c.action,
        id: c.id,
        epoch: c.epoch,
        outcome: outcome.accepted ? 'accepted' : 'refused',
        detail: outcome.accepted ? outcome.detail : `${outcome.reason}: ${outcome.detail}`,
      });
      return outcome;
    });
  }

  /** The newest epoch seen for a zone (the pump's own by default); an older one is ignored. */
  observeEpoch(epoch: number, zone: string = this.zone): Promise<void> {
    return this.serial(async () => {
      await this.adoptEpoch(zone, epoch, 'observed');
      this.reschedule();
    });
  }

  state(): PumpStateView {
    const s = this.s;
    const run = s.run;
    const now = this.clock.now();
    return {
      pump: this.pump.id,
      zone: this.zone,
      state: this.stateName(),
      cause: run?.cause ?? null,
      since: s.since,
      runtimeMs: run ? this.runtimeMs() : 0,
      leaseUntil: run?.leaseUntil ?? null,
      epoch: s.epochs[this.zone] ?? 0,
      lastStart: s.lastStart,
      lastStop: s.lastStop,
      overRuntime: s.overRuntime,
      fault: s.fault?.error ?? null,
      pendingStartAt: this.pending && !run ? Math.max(now, this.minOffEnd()) : null,
      mismatch: this.mismatch,
    };
  }

  // ---- inputs ----

  private async onDemand(d: PumpDemand): Promise<PumpOutcome> {
    const outcome = await this.decideDemand(d);
    if (!outcome.accepted) this.count.demandsRefused++;
    // Renewals are the steady state (every few seconds): only what changes something is audited.
    if (!outcome.accepted || outcome.result !== 'renewed') {
      this.record({
        kind: 'demand',
        by: `zone:${d.zone}@${d.epoch}`,
        action: d.cause,
        epoch: d.epoch,
        outcome: outcome.accepted ? 'accepted' : 'refused',
        detail: outcome.accepted ? outcome.detail : `${outcome.reason}: ${outcome.detail}`,
      });
    }
    this.reschedule();
    return outcome;
  }

  private async decideDemand(d: PumpDemand): Promise<PumpOutcome> {
    const now = this.clock.now();
    const by = `zone:${d.zone}@${d.epoch}`;
    // [FM-ZONE-ACT-1] Fencing: a certificate from an epoch older than the newest seen is refused.
    const stale = this.refuseStale(d.zone, d.epoch, by);
    if (stale) return stale;
    await this.adoptEpoch(d.zone, d.epoch, by);
    // [FM-ZONE-ACT-6] Emergency stop wins over everything until cleared.
    if (this.s.estop) return { accepted: false, reason: 'estop', detail: 'emergency stop is latched; an operator must clear it' };
    // [FM-ZONE-ACT-4] A lease that has already ended starts nothing.
    if (d.leaseUntil <= now) return { accepted: false, reason: 'lease-expired', detail: `lease ended at ${d.leaseUntil}` };
    const run = this.s.run;
    if (run) {
      if (run.cause === 'manual') return { accepted: true, result: 'unchanged', detail: 'a manual run holds; it ends on a manual stop' };
      // [FM-ZONE-ACT-4] Renewal: the lease moves to the later end; a test run becomes a demand run.
      const renewed: PersistedRun = {
        ...run,
        cause: run.cause === 'test' || d.cause === 'majority' ? d.cause : run.cause,
        by,
        zone: d.zone,
        epoch: d.epoch,
        leaseUntil: run.leaseUntil === null || run.leaseLapsedAt !== null ? d.leaseUntil : Math.max(run.leaseUntil, d.leaseUntil),
        leaseLapsedAt: null,
        testUntil: null,
      };
      this.persist({ run: renewed });
      return { accepted: true, result: 'renewed', detail: `lease until ${renewed.leaseUntil}` };
    }
    // [FM-ZONE-ACT-3] Min off: a demand inside it waits for its end while its lease holds.
    const offEnd = this.minOffEnd();
    if (now < offEnd) {
      this.pending = d;
      return { accepted: true, result: 'deferred', detail: `min off time ends at ${offEnd}; starts then if the lease still holds` };
    }
    this.pending = null;
    return this.startRun(d.cause, by, d.zone, d.epoch, d.leaseUntil, null);
  }

  private async onCommand(c: PumpCommand): Promise<PumpOutcome> {
    const now = this.clock.now();
    // [FM-ZONE-ACT-1] Fencing, except for estop: stopping can never be the unsafe act a stale
    // leader's command could be, and the operator's hand on the red button must always win.
    if (c.action !== 'estop') {
      const stale = this.refuseStale(this.zone, c.epoch, c.by);
      if (stale) return stale;
    }
    await this.adoptEpoch(this.zone, c.epoch, c.by);
    let outcome: PumpOutcome;
    switch (c.action) {
      case 'estop': {
        // [FM-ZONE-ACT-6] Latched before the driver is told: a crash in between restarts latched.
        this.pending = null;
        const wasRunning = this.s.run !== null;
        this.persist({ estop: true, since: now });
        this.emit('estopLatched', { at: now, by: c.by });
        if (wasRunning) await this.stopRun('estop', c.by);
        else await this.driveStop(c.by);
        outcome = { accepted: true, result: 'latched', detail: 'emergency stop latched; pump stopped' };
        break;
      }
      case 'clear': {
        if (!this.s.estop && !this.s.fault)
          return { accepted: false, reason: 'not-latched', detail: 'no emergency stop or fault to clear' };
        if (this.s.fault) await this.driveStop(c.by);
        if (this.s.fault) return { accepted: false, reason: 'driver-failed', detail: this.s.fault.error };
        const wasLatched = this.s.estop;
        this.persist({ estop: false, since: now });
        if (wasLatched) this.emit('estopCleared', { at: now, by: c.by });
        outcome = { accepted: true, result: 'cleared', detail: 'cleared; the pump stays stopped until something starts it' };
        break;
      }
      case 'stop': {
        this.pending = null;
        if (this.s.run) {
          await this.stopRun('manual', c.by);
          outcome = this.s.fault
            ? { accepted: false, reason: 'driver-failed', detail: this.s.fault.error }
            : {
                accepted: true,
                result: 'stopped',
                detail: 'stopped; a majority still asking starts it again after min off (estop holds it)',
              };
        } else {
          await this.driveStop(c.by);
          outcome = { accepted: true, result: 'unchanged', detail: 'already stopped' };
        }
        break;
      }
      case 'start':
      case 'test': {
        if (this.s.estop) return { accepted: false, reason: 'estop', detail: 'emergency stop is latched; an operator must clear it' };
        const run = this.s.run;
        if (run && c.action === 'test') return { accepted: false, reason: 'already-running', detail: `running (${run.cause})` };
        if (run) {
          // [FM-ZONE-ACT-7] A manual start takes over the run: no lease, until a manual stop or max runtime.
          this.persist({ run: { ...run, cause: 'manual', by: c.by, leaseUntil: null, leaseLapsedAt: null, testUntil: null } });
          outcome = { accepted: true, result: 'unchanged', detail: 'already running; now a manual run' };
          break;
        }
        const offEnd = this.minOffEnd();
        if (now < offEnd) return { accepted: false, reason: 'min-off', detail: `min off time ends at ${offEnd}` };
        // [FM-ZONE-ACT-8] A test runs for testRunMs and stops on its own.
        const testUntil = c.action === 'test' ? now + this.testRunMs : null;
        outcome = await this.startRun(c.action === 'test' ? 'test' : 'manual', c.by, this.zone, c.epoch, null, testUntil);
        break;
      }
      default: {
        const never: never = c.action;
        throw new Error(`unknown pump action ${String(never)}`);
      }
    }
    this.reschedule();
    return outcome;
  }

  // ---- rules ----

  private refuseStale(zone: string, epoch: number, by: string): PumpOutcome | undefined {
    const newest = this.s.epochs[zone] ?? 0;
    if (epoch >= newest) return undefined;
    const now = this.clock.now();
    this.count.staleEpochRefused++;
    this.logger.warn({ pump: this.pump.id, zone, epoch, newest, by }, 'refused a stale-epoch demand or command');
    this.emit('staleEpochRefused', { at: now, zone, epoch, newest, by });
    return { accepted: false, reason: 'stale-epoch', detail: `epoch ${epoch} of zone ${zone} is older than ${newest}` };
  }

  /** [FM-ZONE-ACT-2] A newer epoch supersedes the certificates of older ones at once. */
  private async adoptEpoch(zone: string, epoch: number, by: string): Promise<void> {
    if (epoch <= (this.s.epochs[zone] ?? 0)) return;
    this.persist({ epochs: { ...this.s.epochs, [zone]: epoch } });
    this.record({ kind: 'epoch', by, epoch, outcome: 'done', detail: `zone ${zone} is at epoch ${epoch}` });
    if (this.pending && this.pending.zone === zone && this.pending.epoch < epoch) this.pending = null;
    const run = this.s.run;
    if (run && DEMAND_CAUSES.has(run.cause) && run.zone === zone && run.epoch < epoch && run.leaseLapsedAt === null) {
      await this.lapseLease(run, 'epoch-superseded');
    }
  }

  /** [FM-ZONE-ACT-4] At lapse (or when its epoch is superseded): per onLeaseLapse. */
  private async lapseLease(run: PersistedRun, reason: 'lease-lapsed' | 'epoch-superseded'): Promise<void> {
    const now = this.clock.now();
    const leaseUntil = run.leaseUntil ?? now;
    if (this.pump.envelope.onLeaseLapse === 'stop') {
      this.emit('leaseLapsed', { at: now, leaseUntil, action: 'stopped' });
      this.record({ kind: 'lease-lapsed', by: 'envelope', epoch: run.epoch, outcome: 'done', detail: `${reason}: stopping` });
      await this.stopRun(reason, 'envelope');
    } else {
      this.persist({ run: { ...run, leaseLapsedAt: now } });
      this.emit('leaseLapsed', { at: now, leaseUntil, action: 'kept-running' });
      this.record({ kind: 'lease-lapsed', by: 'envelope', epoch: run.epoch, outcome: 'done', detail: `${reason}: keeps running` });
    }
  }

  private minOffEnd(): number {
    const last = this.s.lastStop;
    return last ? last.at + this.pump.envelope.minOffMs : Number.NEGATIVE_INFINITY;
  }

  /** Runtime of the current run: carried runtime + monotonic time since the last checkpoint. */
  private runtimeMs(): number {
    const run = this.s.run;
    if (!run) return 0;
    return run.runtimeMs + Math.max(0, this.clock.monotonic() - this.monoAtCheckpoint);
  }

  /** Clock-driven: runs at the earliest deadline the envelope has armed. */
  private async check(): Promise<void> {
    const now = this.clock.now();
    const env = this.pump.envelope;
    // [FM-ZONE-ACT-10] A pump that should be stopped keeps being told.
    if (this.s.fault?.op === 'stop') await this.driveStop('envelope');
    const run = this.s.run;
    if (run) {
      const runtime = this.runtimeMs();
      const limitReached = (action: 'stopped' | 'alerted'): void => {
        this.emit('runtimeLimitReached', { at: now, runtimeMs: runtime, action });
        this.record({
          kind: 'runtime-limit',
          by: 'envelope',
          outcome: 'done',
          detail: `ran ${Math.round(runtime)} ms of ${env.maxRuntimeMs}: ${action}`,
        });
      };
      if (run.testUntil !== null && now >= run.testUntil) {
        await this.stopRun('test-done', run.by);
      } else if (runtime >= env.maxRuntimeMs && env.atMaxRuntime === 'stop') {
        // [FM-ZONE-ACT-5] Max runtime: stop.
        limitReached('stopped');
        await this.stopRun('max-runtime', 'envelope');
      } else {
        // [FM-ZONE-ACT-5] Max runtime with atMaxRuntime alert: report it once and keep running. It does not
        // end the check: a lease that has lapsed by now still applies (a limit and a lapse due together must
        // not leave the pump running until the next deadline).
        if (runtime >= env.maxRuntimeMs && !this.s.overRuntime) {
          limitReached('alerted');
          this.persist({ overRuntime: true });
        }
        const current = this.s.run ?? run;
        if (current.leaseUntil !== null && current.leaseLapsedAt === null && now >= current.leaseUntil) {
          await this.lapseLease(current, 'lease-lapsed');
        } else if (this.clock.monotonic() - this.monoAtCheckpoint >= RUNTIME_CHECKPOINT_MS) {
          this.checkpoint();
        }
      }
    } else if (this.pending) {
      const d = this.pending;
      if (d.leaseUntil <= now) {
        this.pending = null;
        this.record({
          kind: 'demand',
          by: `zone:${d.zone}@${d.epoch}`,
          action: d.cause,
          outcome: 'refused',
          detail: 'lease ended during min off time',
        });
      } else if (now >= this.minOffEnd() && !this.s.estop) {
        this.pending = null;
        await this.startRun(d.cause, `zone:${d.zone}@${d.epoch}`, d.zone, d.epoch, d.leaseUntil, null);
      }
    }
    this.reschedule();
  }

  private checkpoint(): void {
    const run = this.s.run;
    if (!run) return;
    const runtimeMs = this.runtimeMs();
    this.monoAtCheckpoint = this.clock.monotonic();
    this.persist({ run: { ...run, runtimeMs, checkpointAt: this.clock.now() } });
  }

  /** Arms one timer at the earliest deadline: test end, max runtime, lease, checkpoint, min off, retry. */
  private reschedule(): void {
    if (this.timer) this.clock.clearTimeout(this.timer);
    this.timer = undefined;
    if (this.closed) return;
    const now = this.clock.now();
    const env = this.pump.envelope;
    const delays: number[] = [];
    const run = this.s.run;
    if (run) {
      if (run.testUntil !== null) delays.push(run.testUntil - now);
      if (env.atMaxRuntime === 'stop' || !this.s.overRuntime) delays.push(env.maxRuntimeMs - this.runtimeMs());
      if (run.leaseUntil !== null && run.leaseLapsedAt === null) delays.push(run.leaseUntil - now);
      delays.push(RUNTIME_CHECKPOINT_MS - (this.clock.monotonic() - this.monoAtCheckpoint));
    } else if (this.pending) {
      delays.push(this.minOffEnd() - now, this.pending.leaseUntil - now);
    }
    if (this.s.fault?.op === 'stop') delays.push(FAULT_RETRY_MS);
    if (delays.length === 0) return;
    // At least 1 ms: a deadline already due is handled on the next turn, never in a tight loop.
    const delay = Math.max(1, Math.min(...delays));
    this.timer = this.clock.setTimeout(() => {
      this.timer = undefined;
      this.serial(() => this.check()).catch((err) =>
        this.logger.error({ pump: this.pump.id, err: describeError(err) }, 'pump check failed'),
      );
    }, delay);
  }

  // ---- driver ----

  private async startRun(
    cause: ActuationCause,
    by: string,
    zone: string,
    epoch: number,
    leaseUntil: number | null,
    testUntil: number | null,
  ): Promise<PumpOutcome> {
    const now = this.clock.now();
    const run: PersistedRun = {
      cause,
      by,
      zone,
      epoch,
      startedAt: now,
      leaseUntil,
      leaseLapsedAt: null,
      testUntil,
      runtimeMs: 0,
      checkpointAt: now,
    };
    this.monoAtCheckpoint = this.clock.monotonic();
    // [FM-ZONE-ACT-9] Written (fsync) before the relay closes: a kill in between restarts "running".
    this.persist({ run, overRuntime: false, since: now });
    try {
      await this.driver.start();
    } catch (err) {
      this.persist({ run: null });
      this.fault('start', err);
      return { accepted: false, reason: 'driver-failed', detail: describeError(err) };
    }
    const lastStart = { at: now, cause, by };
    this.persist({ lastStart, fault: null });
    this.emit('pumpStarted', lastStart);
    this.record({
      kind: 'started',
      by,
      epoch,
      action: cause,
      outcome: 'done',
      detail: leaseUntil === null ? 'no lease' : `lease until ${leaseUntil}`,
    });
    await this.readBack('running');
    return { accepted: true, result: 'started', detail: `started (${cause})` };
  }

  private async stopRun(reason: PumpStopReason, by: string): Promise<void> {
    const now = this.clock.now();
    const runtimeMs = this.runtimeMs();
    const lastStop = { at: now, reason, by };
    // Written before the relay opens: a kill in between restarts "stopped", and a restart stops the pump.
    this.persist({ run: null, lastStop, since: now });
    const stopped = await this.driveStop(by);
    if (stopped) {
      this.emit('pumpStopped', { ...lastStop, runtimeMs });
      this.record({ kind: 'stopped', by, action: reason, outcome: 'done', detail: `ran ${Math.round(runtimeMs)} ms` });
    }
  }

  /** Tells the driver to stop; a failure is the fault state, retried (never thrown). */
  private async driveStop(by: string): Promise<boolean> {
    try {
      await this.driver.stop();
    } catch (err) {
      this.fault('stop', err);
      return false;
    }
    if (this.s.fault) {
      this.persist({ fault: null, since: this.clock.now() });
      this.record({ kind: 'fault', by, outcome: 'done', detail: 'driver recovered: pump stopped' });
    }
    await this.readBack('stopped');
    return true;
  }

  /** [FM-ZONE-ACT-10] A failing driver is the fault state with its error; never a crash. */
  private fault(op: 'start' | 'stop', err: unknown): void {
    const now = this.clock.now();
    const error = describeError(err);
    this.count.faults++;
    this.persist({ fault: { op, error, at: now }, since: now });
    this.logger.error({ pump: this.pump.id, op, err: error }, 'pump driver failed');
    this.emit('pumpFaulted', { at: now, op, error });
    this.record({ kind: 'fault', by: 'driver', action: op, outcome: 'failed', detail: error });
  }

  /** [FM-ZONE-ACT-11] Read-back after start and stop; a definite disagreement is reported. */
  private async readBack(expected: PumpReading): Promise<void> {
    let read: PumpReading;
    try {
      read = await this.driver.read();
    } catch (err) {
      this.logger.warn({ pump: this.pump.id, err: describeError(err) }, 'pump read-back failed');
      return;
    }
    if (read === 'unknown' || read === expected) {
      this.mismatch = null;
      return;
    }
    const at = this.clock.now();
    this.mismatch = { at, expected, read };
    this.count.readbackMismatches++;
    this.emit('readbackMismatched', { at, expected, read });
    this.record({ kind: 'readback', by: 'driver', outcome: 'failed', detail: `told ${expected}, reads ${read}` });
  }

  // ---- restart ----

  private async restore(): Promise<void> {
    const now = this.clock.now();
    const path = this.options.statePath;
    let loaded: PersistedPumpState | undefined;
    try {
      loaded = readPumpState(path);
    } catch (err) {
      const aside = quarantinePumpState(path, now);
      this.logger.error({ pump: this.pump.id, path, aside, err: describeError(err) }, 'pump state unreadable; moved aside, pump stopped');
      this.record({ kind: 'restored', by: 'restart', outcome: 'failed', detail: `state unreadable (moved to ${aside}): pump stopped` });
      this.s = { ...this.fresh(now), lastStop: { at: now, reason: 'state-lost', by: 'restart' } };
      this.persist({});
      await this.driveStop('restart');
      this.reschedule();
      return;
    }
    if (!loaded) {
      // First start: the pump's defined state is stopped.
      this.persist({});
      await this.driveStop('restart');
      this.reschedule();
      return;
    }
    this.s = { ...loaded, zone: this.zone, pump: this.pump.id };
    const run = loaded.run;
    if (run && !loaded.estop && run.cause !== 'test' && this.pump.envelope.onRestart === 'keep-running') {
      // [FM-ZONE-ACT-9] Resume: runtime = what was written + wall time since (never negative: a clock
      // stepped back loses at most one checkpoint interval; stepped forward, the run only ends sooner).
      const runtimeMs = run.runtimeMs + Math.max(0, now - run.checkpointAt);
      this.monoAtCheckpoint = this.clock.monotonic();
      this.persist({ run: { ...run, runtimeMs, checkpointAt: now } });
      this.record({
        kind: 'restored',
        by: 'restart',
        epoch: run.epoch,
        outcome: 'done',
        detail: `resumed ${run.cause} run at ${runtimeMs} ms`,
      });
      this.emit('pumpResumed', { at: now, cause: run.cause, runtimeMs });
      try {
        await this.driver.start();
        if (this.s.fault?.op === 'start') this.persist({ fault: null });
      } catch (err) {
        this.persist({ run: null });
        this.fault('start', err);
      }
      await this.check();
      return;
    }
    if (run) {
      this.monoAtCheckpoint = this.clock.monotonic();
      this.record({
        kind: 'restored',
        by: 'restart',
        epoch: run.epoch,
        outcome: 'done',
        detail: `stopped the ${run.cause} run on restart`,
      });
      await this.stopRun(loaded.estop ? 'estop' : 'restart', 'restart');
    } else {
      // Stopped (or latched) before: make sure the relay agrees.
      this.record({ kind: 'restored', by: 'restart', outcome: 'done', detail: loaded.estop ? 'emergency stop latched' : 'stopped' });
      await this.driveStop('restart');
    }
    this.reschedule();
  }

  // ---- plumbing ----

  private fresh(now: number): PersistedPumpState {
    return {
      version: PUMP_STATE_VERSION,
      zone: this.zone,
      pump: this.pump.id,
      epochs: {},
      estop: false,
      run: null,
      overRuntime: false,
      fault: null,
      since: now,
      lastStart: null,
      lastStop: null,
    };
  }

  private stateName(): PumpStateName {
    if (this.s.estop) return 'estop';
    if (this.s.fault) return 'fault';
    return this.s.run ? 'running' : 'stopped';
  }

  /** Every change is written (fsync) at once: the file always says what the controller last decided. */
  private persist(change: Partial<PersistedPumpState>): void {
    this.s = { ...this.s, ...change };
    writePumpState(this.options.statePath, this.s);
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    if (this.closed) return Promise.reject(new Error(`pump ${this.pump.id}: controller is closed`));
    const p = this.tail.then(fn);
    this.tail = p.catch(() => undefined);
    return p;
  }

  private emit<E extends keyof PumpEvents>(event: E, ...args: PumpEvents[E]): void {
    this.events.emit(event, ...args);
  }

  private record(r: Omit<PumpRecord, 'at' | 'zone' | 'pump'>): void {
    this.options.onRecord?.({ at: this.clock.now(), zone: this.zone, pump: this.pump.id, ...r });
  }
}
