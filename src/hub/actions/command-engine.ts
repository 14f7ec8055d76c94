// Commands to any set of nodes: a target becomes its nodes, each node gets the command through the hub's
// node commands (the broker request/response path, [FM-QUERY-1..7]) or the rebirth request, many at a
// time, and yields exactly one result {site, node, status: ok|failed|timeout|offline|skipped, ms,
// result|error}. Offline nodes fail fast, or are waited for (`waitMs`) and then asked. The console's
// ping and rebirth bulk actions run one node at a time through `runOne`. docs/commands.md.

import { type Clock, createId, describeError, FieldmeshError, isFieldmeshError, type Logger, silentLogger } from '../../kit/index.js';
import type { CommandArgs, CommandName, CommandResult, CommandRunView, CommandStatus, NodeStateName } from '../../protocol/index.js';
import type { NodeRangeQuery, NodeZoneCommand } from '../node-commands.js';
import type { PingResult } from './action-ports.js';
import { type CommandRequest, resolveTargets } from './command-request.js';
import type { SelectableNode } from './selection.js';

/**
 * Nodes asked at once. A command frame is a few hundred bytes: 64 in flight keep a 200-node run well
 * inside one timeout while a site's 150 kbps link carries them in about a second.
 */
export const COMMAND_CONCURRENCY = 64;
/** Runs kept for GET /api/v1/commands (finished ones beyond this are forgotten, oldest first). */
export const MAX_COMMAND_RUNS_KEPT = 100;

/** What the engine needs from the hub: the fleet, the node commands, the rebirth and the births. */
export interface CommandPorts {
  nodes(): readonly SelectableNode[];
  /** The node's state now; undefined when the hub does not know it. */
  state(site: string, node: string): NodeStateName | undefined;
  ping(site: string, node: string, timeoutMs: number): Promise<PingResult>;
  /** Resolves when a new birth of the node arrives after the request; rejects with the signal's reason on abort. */
  rebirth(site: string, node: string, signal: AbortSignal): Promise<void>;
  query(site: string, node: string, request: NodeRangeQuery, timeoutMs: number): Promise<unknown>;
  zoneCommand(site: string, node: string, command: NodeZoneCommand, timeoutMs: number): Promise<{ readonly epoch: number | null }>;
  command(site: string, node: string, name: string, args: CommandArgs, by: string, timeoutMs: number): Promise<unknown>;
  /** Resolves once the node is online (at once when it is), or false when `ms` pass first or the signal aborts. */
  waitOnline(site: string, node: string, ms: number, signal: AbortSignal): Promise<boolean>;
}

export interface CommandEngineOptions {
  readonly ports: CommandPorts;
  readonly clock: Clock;
  readonly logger?: Logger;
  readonly concurrency?: number;
  /** Called with a run's view when it starts and when it is done. */
  readonly onDone?: (view: CommandRunView) => void;
  readonly newId?: () => string;
}

interface Slot {
  site: string;
  node: string;
  status: CommandStatus | 'pending';
  ms: number | null;
  result?: unknown;
  error?: { code: string; message: string };
}

interface Run {
  readonly id: string;
  readonly request: CommandRequest;
  readonly createdBy: string | null;
  readonly createdAtMs: number;
  finishedAtMs: number | null;
  readonly slots: Slot[];
  readonly done: Promise<void>;
}

const iso = (ms: number) => new Date(ms).toISOString();

/** A node's failure as its result: the status, and the node's own code where it refused. */
export function failureOf(err: unknown, command?: CommandName): { status: CommandStatus; error: { code: string; message: string } } {
  if (isFieldmeshError(err)) {
    const d = err.details as { nodeCode?: unknown; nodeMessage?: unknown };
    // A pump test reaches every targeted node; those outside the pump's zone have nothing to do.
    if (command === 'pump-test' && d.nodeCode === 'FM_NOT_FOUND')
      return { status: 'skipped', error: { code: d.nodeCode, message: typeof d.nodeMessage === 'string' ? d.nodeMessage : err.message } };
    if (err.code === 'FM_NODE_TIMEOUT') return { status: 'timeout', error: { code: err.code, message: err.message } };
    if (err.code === 'FM_NODE_OFFLINE') return { status: 'offline', error: { code: err.code, message: err.message } };
    if (typeof d.nodeCode === 'string')
      return { status: 'failed', error: { code: d.nodeCode, message: typeof d.nodeMessage === 'string' ? d.nodeMessage : err.message } };
    return { status: 'failed', error: { code: err.code, message: err.message } };
  }
  return { status: 'failed', error: { code: 'FM_HUB_INTERNAL', message: describeError(err) } };
}

/** A tiny counting semaphore: at most `n` holders at once, the rest wait in order. */
function semaphore(n: number) {
  let free = n;
  const waiting: Array<() => void> = [];
  return {
    acquire: () =>
      new Promise<void>((resolve) => {
        if (free > 0) {
          free--;
          resolve();
        } else waiting.push(resolve);
      }),
    release: () => {
      const next = waiting.shift();
      if (next !== undefined) next();
      else free++;
    },
  };
}

export class CommandEngine {
  private readonly runs = new Map<string, Run>();
  private readonly logger: Logger;
  private readonly concurrency: number;
  private readonly newId: () => string;
  private readonly aborts = new Set<AbortController>();
  private closed = false;

  constructor(private readonly o: CommandEngineOptions) {
    this.logger = (o.logger ?? silentLogger).child({ component: 'commands' });
    this.concurrency = Math.max(1, o.concurrency ?? COMMAND_CONCURRENCY);
    this.newId = o.newId ?? createId;
  }

  /**
   * Resolves the target and starts the run; returns its first view at once (every node pending). Throws
   * FM_NOT_FOUND for a `node:`/`site:`/`zone:` target naming no node, FM_REQUEST_INVALID for an ambiguous one.
   */
  start(request: CommandRequest, createdBy: string | null): CommandRunView {
    if (this.closed) throw new FieldmeshError('FM_ACTION_UNAVAILABLE', 'the hub is stopping');
    const targets = resolveTargets(this.o.ports.nodes(), request.target);
    const id = this.newId();
    const slots: Slot[] = targets.map((t) => ({ site: t.site, node: t.node, status: 'pending', ms: null }));
    const by = createdBy === null ? 'hub' : `hub:${createdBy}`;
    const run: Run = {
      id,
      request,
      createdBy,
      createdAtMs: this.o.clock.now(),
      finishedAtMs: null,
      slots,
      done: Promise.resolve(),
    };
    (run as { done: Promise<void> }).done = this.fanOut(slots, request, by, id).then(() => {
      run.finishedAtMs = this.o.clock.now();
      const view = this.view(run);
      this.logger.info({ id, command: request.command, by, ...view.counts }, 'command run done');
      try {
        this.o.onDone?.(view);
      } catch (err) {
        this.logger.warn({ err: describeError(err) }, 'command listener failed');
      }
    });
    this.runs.set(id, run);
    this.evict();
    this.logger.info({ id, command: request.command, by, targets: slots.length }, 'command run started');
    return this.view(run);
  }

  /** Runs a command on the given nodes without recording a run (the hub's `get`); resolves with every result. */
  async execute(
    nodes: ReadonlyArray<{ readonly site: string; readonly node: string }>,
    request: Pick<CommandRequest, 'command' | 'args' | 'timeoutMs' | 'waitMs'>,
    by: string,
  ): Promise<CommandResult[]> {
    const slots: Slot[] = nodes.map((t) => ({ site: t.site, node: t.node, status: 'pending', ms: null }));
    await this.fanOut(slots, request, by, this.newId());
    return slots.map((s) => ({ ...s }) as CommandResult);
  }

  private async fanOut(
    slots: Slot[],
    request: Pick<CommandRequest, 'command' | 'args' | 'timeoutMs' | 'waitMs'>,
    by: string,
    runId: string,
  ): Promise<void> {
    const sem = semaphore(this.concurrency);
    await Promise.all(
      slots.map(async (slot) => {
        const began = this.o.clock.monotonic();
        const finish = (status: CommandStatus, more: Partial<Slot> = {}) => {
          Object.assign(slot, { status, ms: Math.round(this.o.clock.monotonic() - began), ...more });
        };
        const state = this.o.ports.state(slot.site, slot.node);
        if (state === 'offline') {
          if (request.waitMs <= 0 || this.closed)
            return finish('offline', { error: { code: 'FM_NODE_OFFLINE', message: `node ${slot.site}/${slot.node} is offline` } });
          const ctl = new AbortController();
          this.aborts.add(ctl);
          const back = await this.o.ports
            .waitOnline(slot.site, slot.node, request.waitMs, ctl.signal)
            .finally(() => this.aborts.delete(ctl));
          if (!back)
            return finish('offline', {
              error: {
                code: 'FM_NODE_OFFLINE',
                message: `node ${slot.site}/${slot.node} stayed offline for the ${Math.round(request.waitMs / 1000)} s waited`,
              },
            });
        }
        // The node's own timeout counts from when it could be asked (now, or when it came back).
        const eligible = this.o.clock.monotonic();
        await sem.acquire();
        try {
          const left = request.timeoutMs - (this.o.clock.monotonic() - eligible);
          if (left < 1 || this.closed)
            return finish(this.closed ? 'failed' : 'timeout', {
              error: this.closed
                ? { code: 'FM_ACTION_UNAVAILABLE', message: 'not sent: the hub is stopping' }
                : { code: 'FM_NODE_TIMEOUT', message: 'not sent: the timeout passed while other nodes were asked' },
            });
          const result = await this.runOne(slot.site, slot.node, request.command, request.args, by, left, runId);
          finish('ok', { result });
        } catch (err) {
          const f = failureOf(err, request.command);
          finish(f.status, { error: f.error });
        } finally {
          sem.release();
        }
      }),
    );
  }

  /**
   * One command at one node; resolves with its answer or rejects (FM_NODE_TIMEOUT, FM_NODE_OFFLINE,
   * FM_NODE_QUERY_FAILED with the node's code in details...). The console's bulk ping and rebirth use it.
   */
  async runOne(
    site: string,
    node: string,
    command: CommandName,
    args: CommandArgs,
    by: string,
    timeoutMs: number,
    /** One id for every node of a run: the pump's owner executes a pump test once however many members pass it on. */
    opId: string = createId(),
  ): Promise<unknown> {
    const p = this.o.ports;
    switch (command) {
      case 'ping':
        return p.ping(site, node, timeoutMs);
      case 'rebirth': {
        const ctl = new AbortController();
        this.aborts.add(ctl);
        const timer = this.o.clock.setTimeout(
          () => ctl.abort(new FieldmeshError('FM_NODE_TIMEOUT', `node ${site}/${node} sent no new birth within ${timeoutMs} ms`)),
          timeoutMs,
        );
        const began = this.o.clock.monotonic();
        try {
          await p.rebirth(site, node, ctl.signal);
        } finally {
          this.o.clock.clearTimeout(timer);
          this.aborts.delete(ctl);
        }
        return { birthAfterMs: Math.round(this.o.clock.monotonic() - began) };
      }
      case 'query': {
        const endMs = this.o.clock.now();
        return p.query(
          site,
          node,
          { query: args.query as string, startMs: endMs - Number(args.range), endMs, stepMs: Number(args.step) },
          timeoutMs,
        );
      }
      case 'pump-test':
        return p.zoneCommand(site, node, { zone: args.zone as string, pump: args.pump as string, action: 'test', by, id: opId }, timeoutMs);
      default:
        return p.command(site, node, command, args, by, timeoutMs);
    }
  }

  private evict(): void {
    for (const [id, r] of this.runs) {
      if (this.runs.size <= MAX_COMMAND_RUNS_KEPT) break;
      if (r.finishedAtMs !== null) this.runs.delete(id);
    }
  }

  private view(run: Run): CommandRunView {
    const counts = { pending: 0, ok: 0, failed: 0, timeout: 0, offline: 0, skipped: 0 };
    for (const s of run.slots) counts[s.status]++;
    return {
      id: run.id,
      command: run.request.command,
      args: run.request.args,
      target: run.request.target,
      timeoutMs: run.request.timeoutMs,
      waitMs: run.request.waitMs,
      createdBy: run.createdBy,
      createdAt: iso(run.createdAtMs),
      finishedAt: run.finishedAtMs === null ? null : iso(run.finishedAtMs),
      state: run.finishedAtMs === null ? 'running' : 'done',
      counts,
      results: run.slots.map((s) => ({ ...s }) as CommandResult),
    };
  }

  get(id: string): CommandRunView | undefined {
    const run = this.runs.get(id);
    return run === undefined ? undefined : this.view(run);
  }

  /** Recent runs, newest first. */
  list(): CommandRunView[] {
    return [...this.runs.values()].reverse().map((r) => this.view(r));
  }

  /** The run's final view once every node has its result; undefined for an unknown id. */
  async finished(id: string): Promise<CommandRunView | undefined> {
    const run = this.runs.get(id);
    if (run === undefined) return undefined;
    await run.done;
    return this.view(run);
  }

  /**
   * Stops waiting for offline nodes and births, and sends nothing more; requests in flight fail as the hub
   * closes its node commands (after this).
   */
  close(): void {
    this.closed = true;
    for (const c of this.aborts) c.abort(new FieldmeshError('FM_ACTION_UNAVAILABLE', 'the hub is stopping'));
  }
}
