// Bulk actions with a preview: a selector becomes an exact list of targets with a plan (or a reason to
// skip) per node; the preview is kept for 10 minutes, and running it acts on exactly those targets, a
// few at a time, each with a timeout, reporting progress (throttled) as it goes.

import { type Clock, createId, describeError, FieldmeshError, type Logger, silentLogger, type TimerHandle } from '../../kit/index.js';
import type {
  ActionName,
  ActionParams,
  ActionPreview,
  ActionPreviewTarget,
  ActionTargetStatus,
  ActionTargetView,
  ActionView,
} from '../../protocol/index.js';
import { formatPromDuration } from '../alerts/prom-duration.js';
import type { ActionPorts, ActiveAlert } from './action-ports.js';
import { type ActionRequest, parseActionRequest } from './action-request.js';
import { selectNodes } from './selection.js';

/** A preview can be run for this long after it was made. */
export const PREVIEW_TTL_MS = 10 * 60_000;
/** Previews kept at most (the oldest is forgotten first): a script looping on previews cannot fill memory. */
export const MAX_PREVIEWS = 200;
/** Actions listed by GET /api/v1/actions (finished ones beyond this are forgotten, oldest first). */
export const MAX_ACTIONS_KEPT = 100;
/**
 * Targets acted on at once. Each ping or rebirth is a few hundred bytes each way; 8 at a time keeps a
 * 500-node run from queueing seconds of traffic on a 150 kbps site link.
 */
export const DEFAULT_CONCURRENCY = 8;
/** Progress of one action reaches the live feed at most this often (4 per second); the final view always goes. */
export const PROGRESS_INTERVAL_MS = 250;

export interface ActionEngineOptions {
  readonly ports: ActionPorts;
  readonly clock: Clock;
  readonly logger?: Logger;
  /** Called with the action's view when its targets change (throttled) and when it finishes. */
  readonly onProgress?: (view: ActionView) => void;
  readonly concurrency?: number;
  readonly previewTtlMs?: number;
  readonly progressIntervalMs?: number;
  readonly newId?: () => string;
}

interface PlannedTarget extends ActionPreviewTarget {
  /** ack-alerts: the alerts the preview named, acknowledged on run (and no others). */
  readonly alerts?: readonly ActiveAlert[];
}

interface StoredPreview {
  readonly view: ActionPreview;
  readonly request: ActionRequest;
  readonly targets: readonly PlannedTarget[];
  readonly expiresAtMs: number;
  /** The action that ran it, once run. */
  ranAs: string | undefined;
}

interface TargetRun {
  readonly planned: PlannedTarget;
  status: ActionTargetStatus;
  detail: string | null;
  rttMs: number | undefined;
  atMs: number | null;
}

interface ActionRun {
  readonly id: string;
  readonly previewId: string;
  readonly action: ActionName;
  readonly params: ActionParams;
  readonly request: ActionRequest;
  readonly createdBy: string | null;
  readonly createdAtMs: number;
  finishedAtMs: number | null;
  readonly targets: readonly TargetRun[];
  readonly aborts: Set<AbortController>;
  lastPublished: number;
  publishTimer: TimerHandle | undefined;
  readonly done: Promise<void>;
  finish: () => void;
}

/** What a target's work yields when it went well. */
interface TargetResult {
  readonly detail: string;
  readonly rttMs?: number;
  /** The work was done but did not achieve what the preview said (every previewed alert gone). */
  readonly failed?: boolean;
}

const iso = (ms: number) => new Date(ms).toISOString();

function plural(n: number, one: string): string {
  return `${n} ${one}${n === 1 ? '' : 's'}`;
}

/** "LowSOC, NodeDown (2)": each name once, with a count when several alerts share it. */
function alertNames(alerts: readonly ActiveAlert[]): string {
  const counts = new Map<string, number>();
  for (const a of alerts) counts.set(a.alertname, (counts.get(a.alertname) ?? 0) + 1);
  return [...counts].map(([name, n]) => (n === 1 ? name : `${name} (${n})`)).join(', ');
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : describeError(err);
}

export class ActionEngine {
  private readonly previews = new Map<string, StoredPreview>();
  private readonly runs = new Map<string, ActionRun>();
  private readonly logger: Logger;
  private readonly concurrency: number;
  private readonly previewTtlMs: number;
  private readonly progressIntervalMs: number;
  private readonly newId: () => string;
  private closed = false;

  constructor(private readonly options: ActionEngineOptions) {
    this.logger = (options.logger ?? silentLogger).child({ component: 'actions' });
    this.concurrency = Math.max(1, options.concurrency ?? DEFAULT_CONCURRENCY);
    this.previewTtlMs = options.previewTtlMs ?? PREVIEW_TTL_MS;
    this.progressIntervalMs = options.progressIntervalMs ?? PROGRESS_INTERVAL_MS;
    this.newId = options.newId ?? createId;
  }

  /**
   * Validates `{action, selector, params}` and says, node by node, what a run would do. Throws
   * FM_REQUEST_INVALID for a bad body, FM_ACTION_UNAVAILABLE for an alert action with alerts disabled.
   */
  preview(body: unknown): ActionPreview {
    const request = parseActionRequest(body);
    const alertAction = request.action === 'ack-alerts' || request.action === 'silence-alerts';
    const alerts = this.options.ports.alerts;
    if (alertAction && alerts === undefined)
      throw new FieldmeshError(
        'FM_ACTION_UNAVAILABLE',
        `${request.action} needs the alert engine, and alerts are disabled on this hub (alerts.enabled)`,
      );
    const byNode = new Map<string, ActiveAlert[]>();
    if (alertAction)
      for (const a of alerts?.active() ?? []) {
        if (a.site === undefined || a.node === undefined) continue;
        const key = `${a.site}/${a.node}`;
        byNode.set(key, [...(byNode.get(key) ?? []), a]);
      }
    const targets = selectNodes(this.options.ports.nodes(), request.selector).map((n) =>
      this.plan(request, { site: n.site, node: n.node, zone: n.zone, state: n.state }, byNode.get(`${n.site}/${n.node}`) ?? []),
    );
    const now = this.options.clock.now();
    this.prunePreviews(now);
    const act = targets.filter((t) => t.skip === null).length;
    const view: ActionPreview = {
      previewId: this.newId(),
      action: request.action,
      params: request.params,
      targets: targets.map(({ alerts: _alerts, ...t }) => t),
      counts: { act, skip: targets.length - act },
      expiresAt: iso(now + this.previewTtlMs),
    };
    this.previews.set(view.previewId, { view, request, targets, expiresAtMs: now + this.previewTtlMs, ranAs: undefined });
    return view;
  }

  private plan(request: ActionRequest, base: Omit<ActionPreviewTarget, 'plan' | 'skip'>, alerts: readonly ActiveAlert[]): PlannedTarget {
    switch (request.action) {
      case 'ping':
        return { ...base, plan: 'send ping', skip: base.state === 'offline' ? 'offline: ping would time out' : null };
      case 'rebirth':
        return { ...base, plan: 'request rebirth', skip: base.state === 'offline' ? 'offline: rebirth would time out' : null };
      case 'ack-alerts': {
        const open = alerts.filter((a) => !a.acknowledged);
        const plan = `acknowledge ${plural(open.length, 'alert')}${open.length > 0 ? `: ${alertNames(open)}` : ''}`;
        if (alerts.length === 0) return { ...base, plan, skip: 'no active alerts' };
        if (open.length === 0) return { ...base, plan, skip: `${plural(alerts.length, 'active alert')}, all acknowledged already` };
        return { ...base, plan, skip: null, alerts: open };
      }
      case 'silence-alerts': {
        const duration = formatPromDuration(request.silenceMs ?? 0);
        return { ...base, plan: `silence for ${duration} (new silence site=${base.site} node=${base.node})`, skip: null };
      }
    }
  }

  private prunePreviews(now: number): void {
    for (const [id, p] of this.previews) if (now >= p.expiresAtMs) this.previews.delete(id);
    while (this.previews.size >= MAX_PREVIEWS) this.previews.delete(this.previews.keys().next().value as string);
  }

  /**
   * Runs exactly the previewed targets (the selector is not evaluated again) and returns at once with
   * the action's first view. Throws FM_NOT_FOUND for an unknown or expired preview, FM_ACTION_CONFLICT
   * for one that was run already.
   */
  run(previewId: string, createdBy: string | null): ActionView {
    const now = this.options.clock.now();
    const stored = this.previews.get(previewId);
    if (stored === undefined || now >= stored.expiresAtMs)
      throw new FieldmeshError(
        'FM_NOT_FOUND',
        `no preview ${previewId}: it never existed or expired (previews are kept ${formatPromDuration(this.previewTtlMs)}); make a new one`,
      );
    if (stored.ranAs !== undefined)
      throw new FieldmeshError('FM_ACTION_CONFLICT', `preview ${previewId} was run already as action ${stored.ranAs}; make a new preview`, {
        details: { action: stored.ranAs },
      });
    if (this.closed) throw new FieldmeshError('FM_ACTION_UNAVAILABLE', 'the hub is stopping');
    const id = this.newId();
    stored.ranAs = id;
    let finish = () => {};
    const done = new Promise<void>((resolve) => {
      finish = resolve;
    });
    const run: ActionRun = {
      id,
      previewId,
      action: stored.view.action,
      params: stored.view.params,
      request: stored.request,
      createdBy,
      createdAtMs: now,
      finishedAtMs: null,
      targets: stored.targets.map((planned) => ({
        planned,
        status: planned.skip === null ? 'pending' : 'skipped',
        detail: planned.skip,
        rttMs: undefined,
        atMs: planned.skip === null ? null : now,
      })),
      aborts: new Set(),
      lastPublished: Number.NEGATIVE_INFINITY,
      publishTimer: undefined,
      done,
      finish,
    };
    this.runs.set(id, run);
    this.evictRuns();
    const counts = this.counts(run);
    this.logger.info({ action: run.action, id, previewId, createdBy, act: counts.pending, skipped: counts.skipped }, 'bulk action started');
    this.changed(run);
    void this.execute(run);
    return this.view(run);
  }

  private evictRuns(): void {
    if (this.runs.size <= MAX_ACTIONS_KEPT) return;
    for (const [id, r] of this.runs) {
      if (this.runs.size <= MAX_ACTIONS_KEPT) break;
      if (r.finishedAtMs !== null) this.runs.delete(id);
    }
  }

  private async execute(run: ActionRun): Promise<void> {
    const queue = run.targets.filter((t) => t.status === 'pending');
    let next = 0;
    const worker = async () => {
      while (next < queue.length && !this.closed) await this.runTarget(run, queue[next++] as TargetRun);
    };
    await Promise.all(Array.from({ length: Math.min(this.concurrency, queue.length) }, worker));
    const now = this.options.clock.now();
    for (const t of queue)
      if (t.status === 'pending') Object.assign(t, { status: 'failed', detail: 'not run: the hub stopped', atMs: now });
    run.finishedAtMs = now;
    const counts = this.counts(run);
    this.logger.info({ action: run.action, id: run.id, ...counts }, 'bulk action done');
    this.changed(run, true);
    run.finish();
  }

  private async runTarget(run: ActionRun, t: TargetRun): Promise<void> {
    const clock = this.options.clock;
    t.status = 'running';
    t.atMs = clock.now();
    this.changed(run);
    const controller = new AbortController();
    run.aborts.add(controller);
    const timeoutMs = run.request.timeoutMs;
    let timer: TimerHandle | undefined;
    const timedOut = new Promise<'timeout'>((resolve) => {
      timer = clock.setTimeout(() => resolve('timeout'), timeoutMs);
    });
    const stopped = new Promise<'stopped'>((resolve) =>
      controller.signal.addEventListener('abort', () => resolve('stopped'), { once: true }),
    );
    const work = this.work(run, t.planned, controller.signal).then(
      (result) => ({ result }),
      (err: unknown) => ({ err }),
    );
    const outcome = await Promise.race([work, timedOut, stopped]);
    if (timer !== undefined) clock.clearTimeout(timer);
    run.aborts.delete(controller);
    if (outcome === 'timeout') controller.abort(new FieldmeshError('FM_HUB_INTERNAL', `timed out after ${formatPromDuration(timeoutMs)}`));
    t.atMs = clock.now();
    if (outcome === 'timeout') Object.assign(t, { status: 'failed', detail: `timed out after ${formatPromDuration(timeoutMs)}` });
    else if (outcome === 'stopped') Object.assign(t, { status: 'failed', detail: 'stopped: the hub is stopping' });
    else if ('err' in outcome) Object.assign(t, { status: 'failed', detail: messageOf(outcome.err) });
    else {
      t.status = outcome.result.failed === true ? 'failed' : 'ok';
      t.detail = outcome.result.detail;
      t.rttMs = outcome.result.rttMs;
    }
    this.changed(run);
  }

  /** The work of one target; rejects when it failed. */
  private async work(run: ActionRun, t: PlannedTarget, signal: AbortSignal): Promise<TargetResult> {
    const { ports, clock } = this.options;
    const by = run.createdBy ?? 'bulk-action';
    switch (run.action) {
      case 'ping': {
        const pong = await ports.ping(t.site, t.node, run.request.timeoutMs);
        const rttMs = Math.round(pong.rttMs);
        const about = [
          pong.agentVersion === undefined ? '' : `agent ${pong.agentVersion}`,
          pong.epoch === undefined ? '' : `epoch ${pong.epoch}`,
        ]
          .filter((s) => s !== '')
          .join(', ');
        return { detail: `pong in ${rttMs} ms${about === '' ? '' : ` (${about})`}`, rttMs };
      }
      case 'rebirth': {
        const began = clock.monotonic();
        await ports.rebirth(t.site, t.node, signal);
        return { detail: `new birth ${Math.round(clock.monotonic() - began)} ms after the request` };
      }
      case 'ack-alerts': {
        const alerts = this.alertsPort();
        const comment = run.params.comment ?? `bulk action ${run.id}`;
        const acked: ActiveAlert[] = [];
        const gone: ActiveAlert[] = [];
        for (const a of t.alerts ?? []) {
          try {
            await alerts.acknowledge(a.fingerprint, by, comment);
            acked.push(a);
          } catch (err) {
            if (!(err instanceof FieldmeshError && err.code === 'FM_NOT_FOUND')) throw err;
            gone.push(a);
          }
        }
        const goneText = gone.length === 0 ? '' : `; gone since the preview: ${alertNames(gone)}`;
        if (acked.length === 0) return { detail: `nothing acknowledged${goneText}`, failed: true };
        return { detail: `acknowledged ${plural(acked.length, 'alert')}: ${alertNames(acked)}${goneText}` };
      }
      case 'silence-alerts': {
        const silence = await this.alertsPort().silence({
          site: t.site,
          node: t.node,
          durationMs: run.request.silenceMs ?? 0,
          createdBy: by,
          comment: run.params.comment ?? `bulk action ${run.id}`,
        });
        return { detail: `silence ${silence.id} until ${iso(silence.endsAt)}` };
      }
    }
  }

  private alertsPort() {
    const alerts = this.options.ports.alerts;
    if (alerts === undefined) throw new FieldmeshError('FM_ACTION_UNAVAILABLE', 'alerts are disabled on this hub');
    return alerts;
  }

  /** Publishes the view now when the last one is old enough (or `final`), else once the interval has passed. */
  private changed(run: ActionRun, final = false): void {
    const clock = this.options.clock;
    const now = clock.monotonic();
    const due = run.lastPublished + this.progressIntervalMs;
    if (final || now >= due) {
      if (run.publishTimer !== undefined) clock.clearTimeout(run.publishTimer);
      run.publishTimer = undefined;
      run.lastPublished = now;
      this.publish(run);
      return;
    }
    if (run.publishTimer !== undefined || this.closed) return;
    run.publishTimer = clock.setTimeout(() => {
      run.publishTimer = undefined;
      run.lastPublished = clock.monotonic();
      this.publish(run);
    }, due - now);
  }

  private publish(run: ActionRun): void {
    try {
      this.options.onProgress?.(this.view(run));
    } catch (err) {
      this.logger.warn({ err: describeError(err), id: run.id }, 'action progress listener failed');
    }
  }

  private counts(run: ActionRun): ActionView['counts'] {
    const counts = { pending: 0, ok: 0, failed: 0, skipped: 0 };
    for (const t of run.targets) counts[t.status === 'running' ? 'pending' : t.status]++;
    return counts;
  }

  private view(run: ActionRun): ActionView {
    return {
      id: run.id,
      previewId: run.previewId,
      action: run.action,
      params: run.params,
      createdBy: run.createdBy,
      createdAt: iso(run.createdAtMs),
      finishedAt: run.finishedAtMs === null ? null : iso(run.finishedAtMs),
      state: run.finishedAtMs === null ? 'running' : 'done',
      counts: this.counts(run),
      targets: run.targets.map(
        (t): ActionTargetView => ({
          site: t.planned.site,
          node: t.planned.node,
          status: t.status,
          detail: t.detail,
          ...(t.rttMs === undefined ? {} : { rttMs: t.rttMs }),
          at: t.atMs === null ? null : iso(t.atMs),
        }),
      ),
    };
  }

  /** One action; undefined when unknown (or forgotten: only the last 100 are kept). */
  get(id: string): ActionView | undefined {
    const run = this.runs.get(id);
    return run === undefined ? undefined : this.view(run);
  }

  /** Recent actions, newest first. */
  list(): ActionView[] {
    return [...this.runs.values()].reverse().map((r) => this.view(r));
  }

  /** Resolves with the action's final view once every target is done; undefined for an unknown id. */
  async finished(id: string): Promise<ActionView | undefined> {
    const run = this.runs.get(id);
    if (run === undefined) return undefined;
    await run.done;
    return this.view(run);
  }

  /** Stops every running action: targets in flight and not yet started fail; final views still go out. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const running = [...this.runs.values()].filter((r) => r.finishedAtMs === null);
    for (const r of running) for (const c of r.aborts) c.abort(new FieldmeshError('FM_ACTION_UNAVAILABLE', 'the hub is stopping'));
    await Promise.all(running.map((r) => r.done));
  }
}
