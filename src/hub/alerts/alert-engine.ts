// The alert engine: evaluates every rule each `evaluationInterval`, moves each alert instance through
// pending -> firing -> resolved with the rule's `for`, keeps acknowledgements and silences, persists
// all of it in the alert store, and hands notifications to the notifiers without waiting for them.
// Semantics follow Prometheus' rule manager (a pending alert whose condition clears is dropped; a
// resolved one is kept 15 min) and Alertmanager (silences, grouping, repeat interval). On a scale-out hub
// one process evaluates (`start`, the leader) and the others `follow`: every process reads the shared store
// again when another changed it and now and then, so a silence or an acknowledgement made through any
// process is applied by the leader, and every process lists the leader's alerts.

import { Registry } from 'prom-client';
import { type Clock, createId, describeError, FieldmeshError, type Logger, silentLogger, type TimerHandle } from '../../kit/index.js';
import {
  ALERT_STATES,
  type AlertEvent,
  type AlertRecord,
  type AlertRule,
  type AlertState,
  type EvaluationContext,
  type Silence,
  type TemplateData,
} from './alert.js';
import { type AlertMetrics, createAlertMetrics } from './alert-metrics.js';
import type { AlertStore, PendingNotification } from './alert-store.js';
import { fingerprint } from './fingerprint.js';
import { computeInhibitions, type InhibitRule } from './inhibition.js';
import type { Notifier } from './notifiers/notifier.js';
import { SILENCE_RETENTION_MS, type SilenceInput, silences as silenceMatches, silenceState } from './silences.js';
import { buildWebhookPayload, groupLabelsOf } from './webhook-payload.js';

/** Resolved alerts stay listed (and in the store) this long: Prometheus' resolvedRetention. */
export const RESOLVED_RETENTION_MS = 15 * 60_000;

/**
 * How often a process of a scale-out hub reads the shared alert store again, besides the store's change notices:
 * the bound on how long a missed notice (a lost LISTEN connection) leaves it behind.
 */
export const ALERT_STORE_SYNC_INTERVAL_MS = 5_000;

export interface AlertEngineOptions {
  readonly rules: readonly AlertRule[];
  readonly store: AlertStore;
  readonly notifiers?: readonly Notifier[];
  readonly clock: Clock;
  readonly logger?: Logger;
  /** The hub's metrics registry; the engine registers its own metrics there. */
  readonly registry?: Registry;
  readonly evaluationIntervalMs: number;
  /** A firing alert nobody acknowledged is notified again this often; 0: never. */
  readonly repeatIntervalMs: number;
  /** Labels that split notifications into groups (Alertmanager's group_by). */
  readonly groupBy: readonly string[];
  /** Alertmanager's inhibit_rules: firing source alerts mute matching targets (docs/alerts.md "Inhibition"). */
  readonly inhibitRules?: readonly InhibitRule[];
  /** The hub's URL as receivers should link to it (externalURL); read when a payload is built. */
  readonly externalUrl: () => string;
  readonly onEvent?: (event: AlertEvent) => void;
  /**
   * A store other processes write too (a scale-out hub's): read again every this many ms besides the store's change
   * notices (`AlertStore.watch`). Absent: this process is the store's only writer and never reads it again.
   */
  readonly syncIntervalMs?: number;
}

/** An instance as the API shows it: the record plus the silences that mute it now. */
export interface AlertSnapshot {
  readonly alert: Readonly<AlertRecord>;
  readonly rule: Readonly<AlertRule> | undefined;
  /** Ids of the active silences that match it. */
  readonly silencedBy: readonly string[];
  /** Fingerprints of the firing alerts that inhibit it (sorted); empty when none, and always for a resolved alert. */
  readonly inhibitedBy: readonly string[];
}

export interface RuleHealth {
  readonly rule: Readonly<AlertRule>;
  /** Hub time of the last evaluation, ms; null before the first. */
  readonly lastEvaluation: number | null;
  readonly evaluationMs: number;
  /** The last evaluation's error, or null when it went well. */
  readonly lastError: string | null;
}

function keyOf(ruleId: string, fp: string): string {
  return `${ruleId}\u0000${fp}`;
}

export class AlertEngine {
  private readonly alerts = new Map<string, AlertRecord>();
  private readonly silenceById = new Map<string, Silence>();
  /** Who inhibits each alert, as of the last evaluation (inhibition changes only when alerts change state). */
  private inhibitions = new Map<Readonly<AlertRecord>, string[]>();
  private readonly health = new Map<string, { lastEvaluation: number | null; evaluationMs: number; lastError: string | null }>();
  private readonly groupLastEval = new Map<string, number>();
  private readonly rulesById = new Map<string, AlertRule>();
  private readonly notifierByName = new Map<string, Notifier>();
  private readonly logger: Logger;
  private readonly metrics: AlertMetrics;
  private timer: TimerHandle | undefined;
  private evaluation: Promise<void> | undefined;
  private writes: Promise<unknown> = Promise.resolve();
  private watchingSince = 0;
  private started = false;
  private following = false;
  private stopped = false;
  /** The store's change notices and the periodic re-read, once following or started. */
  private watched = false;
  private unwatch: (() => Promise<void>) | undefined;
  private syncTimer: TimerHandle | undefined;
  private syncing: Promise<void> | undefined;
  private syncWanted = false;
  private syncFailing = false;

  constructor(private readonly options: AlertEngineOptions) {
    this.logger = (options.logger ?? silentLogger).child({ component: 'alerts' });
    for (const r of options.rules) this.rulesById.set(r.id, r);
    for (const n of options.notifiers ?? []) this.notifierByName.set(n.name, n);
    this.metrics = createAlertMetrics(options.registry ?? new Registry(), () => this.countByState());
  }

  /** Restores alerts, silences and queued notifications, starts the notifiers and the evaluation timer. */
  async start(): Promise<void> {
    if (this.started) throw new Error('alert engine already started');
    this.started = true;
    this.following = false;
    this.watchingSince = this.options.clock.now();
    // A re-read begun while following applies after this one only what it may (the store's acknowledgements).
    await this.syncing;
    this.alerts.clear();
    this.silenceById.clear();
    for (const a of await this.options.store.loadAlerts()) this.alerts.set(keyOf(a.ruleId, a.fingerprint), a);
    for (const s of await this.options.store.loadSilences()) this.silenceById.set(s.id, s);
    this.inhibitions = computeInhibitions(this.options.inhibitRules ?? [], this.alerts.values());
    const ctx = { clock: this.options.clock, logger: this.logger, store: this.options.store, metrics: this.metrics };
    for (const n of this.notifierByName.values()) n.start(ctx);
    for (const queued of await this.options.store.listNotifications()) {
      const notifier = this.notifierByName.get(queued.notifier);
      if (notifier === undefined) await this.options.store.deleteNotification(queued.id);
      else notifier.enqueue(queued);
    }
    this.logger.info(
      { rules: this.rulesById.size, alerts: this.alerts.size, silences: this.silenceById.size, notifiers: [...this.notifierByName.keys()] },
      'alert engine started',
    );
    await this.watchStore();
    this.schedule();
  }

  /**
   * Lists what another process evaluates, without evaluating nor notifying (a scale-out api process that does not
   * lead): the store's alerts and silences, read again on its change notices and every `syncIntervalMs`. Silences
   * and acknowledgements made here go to the store, where the leader reads them. `start` may follow.
   */
  async follow(): Promise<void> {
    if (this.started || this.following || this.stopped) return;
    this.following = true;
    await this.sync();
    await this.watchStore();
    this.logger.info({ alerts: this.alerts.size, silences: this.silenceById.size }, 'alert engine follows the store');
  }

  private async watchStore(): Promise<void> {
    if (this.watched) return;
    this.watched = true;
    const unwatch = await this.options.store.watch?.((change) => {
      this.logger.debug({ change }, 'alert store changed elsewhere');
      void this.sync();
    });
    if (this.stopped) await unwatch?.();
    else this.unwatch = unwatch;
    this.scheduleSync();
  }

  private scheduleSync(): void {
    const ms = this.options.syncIntervalMs;
    if (this.stopped || ms === undefined) return;
    this.syncTimer = this.options.clock.setTimeout(() => {
      this.scheduleSync();
      void this.sync();
    }, ms);
  }

  /**
   * Reads the store again, in order with this process's own writes: its silences; a follower's alerts (the leader's,
   * as last committed); the evaluator's acknowledgements (made through any process). A call while a read runs asks
   * for one more after it. Never throws (a store out of reach is logged; the next call tries again).
   */
  sync(): Promise<void> {
    this.syncWanted = true;
    this.syncing ??= (async () => {
      try {
        while (this.syncWanted && !this.stopped) {
          this.syncWanted = false;
          await this.inOrder(() => this.readStore());
        }
        if (this.syncFailing) this.logger.info({}, 'alert store: read again');
        this.syncFailing = false;
      } catch (err) {
        // Once per outage (a database restarting): the periodic read tries again.
        if (!this.syncFailing)
          this.logger.warn({ err: describeError(err) }, 'alert store: could not read it again; keeping what this process holds');
        this.syncFailing = true;
      } finally {
        this.syncing = undefined;
      }
    })();
    return this.syncing;
  }

  private async readStore(): Promise<void> {
    const [records, silences] = await Promise.all([this.options.store.loadAlerts(), this.options.store.loadSilences()]);
    if (this.stopped) return;
    this.silenceById.clear();
    for (const s of silences) this.silenceById.set(s.id, s);
    const events: AlertEvent[] = [];
    if (this.started) {
      // The evaluator's records are its own; their acknowledgements are the store's, made through any process.
      for (const stored of records) {
        const a = this.alerts.get(keyOf(stored.ruleId, stored.fingerprint));
        if (a === undefined || a.activeAt !== stored.activeAt || JSON.stringify(a.ack) === JSON.stringify(stored.ack)) continue;
        a.ack = stored.ack;
        events.push({ type: a.ack === null ? 'alertUnacknowledged' : 'alertAcknowledged', alert: a });
      }
    } else {
      this.alerts.clear();
      for (const a of records) this.alerts.set(keyOf(a.ruleId, a.fingerprint), a);
      this.inhibitions = computeInhibitions(this.options.inhibitRules ?? [], this.alerts.values());
      events.push({ type: 'alertsReloaded' });
    }
    for (const e of events) this.emit(e);
  }

  /** Stops evaluating, waits for the evaluation in progress and the writes, stops the notifiers, closes the store. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.timer !== undefined) this.options.clock.clearTimeout(this.timer);
    if (this.syncTimer !== undefined) this.options.clock.clearTimeout(this.syncTimer);
    await this.unwatch?.();
    await this.syncing;
    await this.evaluation?.catch(() => {});
    for (const n of this.notifierByName.values()) await n.stop();
    await this.writes.catch(() => {});
    await this.options.store.close();
  }

  get rules(): readonly AlertRule[] {
    return this.options.rules;
  }

  get evaluationIntervalMs(): number {
    return this.options.evaluationIntervalMs;
  }

  /** Resolves once every notifier has delivered (or given up) what it was handed. */
  async idle(): Promise<void> {
    await this.syncing;
    await this.evaluation?.catch(() => {});
    await this.writes.catch(() => {});
    for (const n of this.notifierByName.values()) await n.idle();
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = this.options.clock.setTimeout(() => {
      this.schedule();
      // An evaluation still running (slow storage) makes this tick skip.
      if (this.evaluation === undefined) void this.evaluate();
    }, this.options.evaluationIntervalMs);
  }

  /** One evaluation of every rule that is due; the timer calls it, tests may too. */
  evaluate(): Promise<void> {
    if (this.evaluation !== undefined) return this.evaluation;
    this.evaluation = this.runEvaluation()
      .catch((err: unknown) => this.logger.error({ err: describeError(err) }, 'alert evaluation failed'))
      .finally(() => {
        this.evaluation = undefined;
      });
    return this.evaluation;
  }

  private async runEvaluation(): Promise<void> {
    if (this.stopped) return;
    const now = this.options.clock.now();
    const context: EvaluationContext = { watchingSince: this.watchingSince };
    const changed = new Set<AlertRecord>();
    const removed: Array<{ ruleId: string; fingerprint: string }> = [];
    const events: AlertEvent[] = [];
    const evaluated = new Set<string>();
    const failed = new Set<string>();
    for (const rule of this.options.rules) {
      const intervalMs = rule.intervalMs;
      const groupKey = `${rule.file}\u0000${rule.group}`;
      const last = this.groupLastEval.get(groupKey);
      if (intervalMs !== undefined && last !== undefined && last !== now && now - last < intervalMs) continue;
      this.groupLastEval.set(groupKey, now);
      evaluated.add(rule.id);
      const began = this.options.clock.monotonic();
      try {
        const samples = await rule.source.evaluate(now, context);
        if (this.stopped) return;
        this.apply(rule, samples, now, changed, removed, events);
        this.health.set(rule.id, { lastEvaluation: now, evaluationMs: this.options.clock.monotonic() - began, lastError: null });
      } catch (err) {
        failed.add(rule.id);
        this.metrics.ruleEvaluationFailures.inc({ rule: rule.id });
        this.health.set(rule.id, {
          lastEvaluation: now,
          evaluationMs: this.options.clock.monotonic() - began,
          lastError: describeError(err),
        });
        this.logger.warn({ rule: rule.id, err: describeError(err) }, 'alert rule evaluation failed; its alerts keep their state');
      }
    }
    for (const [key, a] of this.alerts) {
      // A rule no longer configured: its alerts end as if the condition cleared.
      if (!this.rulesById.has(a.ruleId)) this.clear(key, a, now, changed, removed, events);
      else if (a.state === 'resolved' && a.resolvedAt !== null && now - a.resolvedAt >= RESOLVED_RETENTION_MS) {
        this.alerts.delete(key);
        changed.delete(a);
        removed.push({ ruleId: a.ruleId, fingerprint: a.fingerprint });
      }
    }
    const expired = [...this.silenceById.values()].filter((s) => now - s.endsAt >= SILENCE_RETENTION_MS).map((s) => s.id);
    for (const id of expired) this.silenceById.delete(id);
    this.updateInhibitions(events);
    const notifications = this.notifications(now, changed);
    await this.write(async () => {
      if (expired.length > 0) await this.options.store.deleteSilences(expired);
      const queued = await this.options.store.commit({ save: [...changed], remove: removed, notifications });
      this.handOver(queued);
    });
    for (const e of events) this.emit(e);
  }

  /**
   * Recomputes who inhibits whom after the evaluation's state changes, and tells listeners of every
   * listed alert whose inhibitors changed (a source that started or stopped firing changes its
   * targets' views without changing their state).
   */
  private updateInhibitions(events: AlertEvent[]): void {
    const before = this.inhibitions;
    this.inhibitions = computeInhibitions(this.options.inhibitRules ?? [], this.alerts.values());
    for (const a of this.alerts.values()) {
      const was = before.get(a) ?? [];
      const now = this.inhibitions.get(a) ?? [];
      if (was.length !== now.length || was.some((fp, i) => fp !== now[i])) {
        events.push({ type: 'alertInhibitionChanged', alert: a, inhibitedBy: [...now] });
      }
    }
  }

  /** Applies one rule's result: new instances pend, pending ones fire after `for`, missing ones clear. */
  private apply(
    rule: AlertRule,
    samples: readonly { labels: Readonly<Record<string, string>>; value: number; activeSince?: number }[],
    now: number,
    changed: Set<AlertRecord>,
    removed: Array<{ ruleId: string; fingerprint: string }>,
    events: AlertEvent[],
  ): void {
    const seen = new Set<string>();
    const externalUrl = this.options.externalUrl();
    for (const s of samples) {
      const data: TemplateData = { labels: s.labels, value: s.value, externalUrl };
      const labels: Record<string, string> = { ...s.labels };
      for (const [k, t] of rule.labels) labels[k] = t.render(data);
      labels.alertname = rule.name;
      const fp = fingerprint(labels);
      const key = keyOf(rule.id, fp);
      if (seen.has(key)) {
        this.logger.warn({ rule: rule.id, labels }, 'two results of one rule have the same labels; the first is kept');
        continue;
      }
      seen.add(key);
      const annotations: Record<string, string> = {};
      for (const [k, t] of rule.annotations) annotations[k] = t.render(data);
      let a = this.alerts.get(key);
      let created = false;
      if (a !== undefined && a.state !== 'resolved') {
        a.value = s.value;
        a.annotations = annotations;
        a.lastSeenAt = now;
        if (a.state === 'pending' && s.activeSince !== undefined) a.activeAt = s.activeSince;
      } else {
        a = {
          fingerprint: fp,
          ruleId: rule.id,
          labels,
          annotations,
          state: 'pending',
          value: s.value,
          activeAt: s.activeSince ?? now,
          firedAt: null,
          resolvedAt: null,
          lastSeenAt: now,
          ack: null,
          notified: 'none',
          notifiedAt: null,
          generatorUrl: `${externalUrl}/api/v1/alerts/${fp}`,
        };
        this.alerts.set(key, a);
        created = true;
      }
      changed.add(a);
      if (a.state === 'pending' && now - a.activeAt >= rule.forMs) {
        a.state = 'firing';
        a.firedAt = now;
        events.push({ type: 'alertRaised', alert: a });
        this.logger.info({ rule: rule.id, fingerprint: fp, labels }, `alert ${rule.name} firing`);
      } else if (created) {
        events.push({ type: 'alertPending', alert: a });
      }
    }
    for (const [key, a] of this.alerts) {
      if (a.ruleId === rule.id && !seen.has(key) && a.state !== 'resolved') this.clear(key, a, now, changed, removed, events);
    }
  }

  private clear(
    key: string,
    a: AlertRecord,
    now: number,
    changed: Set<AlertRecord>,
    removed: Array<{ ruleId: string; fingerprint: string }>,
    events: AlertEvent[],
  ): void {
    if (a.state === 'pending') {
      this.alerts.delete(key);
      changed.delete(a);
      removed.push({ ruleId: a.ruleId, fingerprint: a.fingerprint });
      events.push({ type: 'alertDropped', alert: a });
    } else if (a.state === 'firing') {
      a.state = 'resolved';
      a.resolvedAt = now;
      changed.add(a);
      events.push({ type: 'alertResolved', alert: a });
      this.logger.info({ rule: a.ruleId, fingerprint: a.fingerprint, labels: a.labels }, `alert ${a.labels.alertname} resolved`);
    } else if (!this.rulesById.has(a.ruleId)) {
      // A resolved alert of a removed rule: nothing more will happen to it.
      if (a.notified !== 'firing') {
        this.alerts.delete(key);
        changed.delete(a);
        removed.push({ ruleId: a.ruleId, fingerprint: a.fingerprint });
      }
    }
  }

  /**
   * Which instances to notify now, grouped by `groupBy`: a firing one not notified yet (or due again
   * after repeatInterval when nobody acknowledged it), a resolved one whose firing was notified. A
   * group's payload carries every unsilenced, uninhibited firing alert of the group and the newly
   * resolved ones (a resolved alert is never inhibited, so a receiver told of a firing hears of its end).
   */
  private notifications(now: number, changed: Set<AlertRecord>): Array<{ notifier: string; payload: string; createdAt: number }> {
    if (this.notifierByName.size === 0) return [];
    const repeat = this.options.repeatIntervalMs;
    const groups = new Map<string, { labels: Record<string, string>; due: boolean; alerts: AlertRecord[] }>();
    for (const a of this.alerts.values()) {
      if (this.silencedBy(a.labels, now).length > 0 || this.inhibitedBy(a).length > 0) continue;
      let due = false;
      if (a.state === 'firing') {
        due = a.notified !== 'firing' || (repeat > 0 && a.ack === null && a.notifiedAt !== null && now - a.notifiedAt >= repeat);
      } else if (a.state === 'resolved') {
        if (a.notified !== 'firing') continue;
        due = true;
      } else continue;
      const labels = groupLabelsOf(a.labels, this.options.groupBy);
      const gk = JSON.stringify(labels);
      let g = groups.get(gk);
      if (g === undefined) {
        g = { labels, due: false, alerts: [] };
        groups.set(gk, g);
      }
      g.due ||= due;
      g.alerts.push(a);
    }
    const out: Array<{ notifier: string; payload: string; createdAt: number }> = [];
    const externalUrl = this.options.externalUrl();
    for (const g of groups.values()) {
      if (!g.due) continue;
      g.alerts.sort((x, y) => (x.fingerprint < y.fingerprint ? -1 : x.fingerprint > y.fingerprint ? 1 : 0));
      for (const n of this.notifierByName.values()) {
        const alerts = n.sendResolved ? g.alerts : g.alerts.filter((a) => a.state === 'firing');
        if (alerts.length === 0) continue;
        out.push({
          notifier: n.name,
          payload: JSON.stringify(buildWebhookPayload(alerts, g.labels, n.receiver, externalUrl)),
          createdAt: now,
        });
      }
      for (const a of g.alerts) {
        a.notified = a.state === 'firing' ? 'firing' : 'resolved';
        a.notifiedAt = now;
        changed.add(a);
      }
    }
    return out;
  }

  private handOver(queued: readonly PendingNotification[]): void {
    for (const q of queued) this.notifierByName.get(q.notifier)?.enqueue(q);
  }

  /** Runs store work in order with every other write; failures are logged, never thrown at the caller's timer. */
  private write<T>(work: () => Promise<T>): Promise<T> {
    const result = this.inOrder(work);
    result.catch((err: unknown) => this.logger.error({ err: describeError(err) }, 'alert store write failed'));
    return result;
  }

  /** Runs store work in order with every other, without logging its failure (the caller does). */
  private inOrder<T>(work: () => Promise<T>): Promise<T> {
    const result = this.writes.then(work);
    this.writes = result.catch(() => {});
    return result;
  }

  private emit(event: AlertEvent): void {
    try {
      this.options.onEvent?.(event);
    } catch (err) {
      this.logger.warn({ err: describeError(err), event: event.type }, 'alert event listener failed');
    }
  }

  private countByState(): Record<AlertState, number> {
    const counts = Object.fromEntries(ALERT_STATES.map((s) => [s, 0])) as Record<AlertState, number>;
    for (const a of this.alerts.values()) counts[a.state]++;
    return counts;
  }

  /** Ids of the active silences whose matchers all match `labels`. */
  silencedBy(labels: Readonly<Record<string, string>>, now = this.options.clock.now()): string[] {
    const ids: string[] = [];
    for (const s of this.silenceById.values()) if (silenceMatches(s, labels, now)) ids.push(s.id);
    return ids.sort();
  }

  /**
   * Fingerprints of the firing alerts that inhibit this one under `inhibitRules`, as of the last
   * evaluation (sorted); empty when none inhibits it, and always for a resolved alert.
   */
  inhibitedBy(alert: Readonly<AlertRecord>): string[] {
    return [...(this.inhibitions.get(alert) ?? [])];
  }

  /** Instances, firing first, then pending, then resolved; within a state, newest first. */
  list(states: readonly AlertState[] = ['pending', 'firing']): AlertSnapshot[] {
    const order: Record<AlertState, number> = { firing: 0, pending: 1, resolved: 2 };
    const now = this.options.clock.now();
    return [...this.alerts.values()]
      .filter((a) => states.includes(a.state))
      .sort((a, b) => order[a.state] - order[b.state] || b.activeAt - a.activeAt || (a.fingerprint < b.fingerprint ? -1 : 1))
      .map((a) => this.snapshot(a, now));
  }

  /** Every instance with this fingerprint (one, unless two rules yield the same labels). */
  find(fp: string): AlertSnapshot[] {
    const now = this.options.clock.now();
    return [...this.alerts.values()].filter((a) => a.fingerprint === fp).map((a) => this.snapshot(a, now));
  }

  private snapshot(a: AlertRecord, now: number): AlertSnapshot {
    return { alert: a, rule: this.rulesById.get(a.ruleId), silencedBy: this.silencedBy(a.labels, now), inhibitedBy: this.inhibitedBy(a) };
  }

  /**
   * Acknowledges every instance with this fingerprint: someone is on it, so it is not notified again
   * after repeatInterval. The ack lasts until the alert resolves. Throws FM_NOT_FOUND for an unknown fingerprint.
   */
  async acknowledge(fp: string, by: string, comment: string): Promise<AlertSnapshot[]> {
    const found = await this.instances(fp);
    const ack = { by, at: this.options.clock.now(), comment };
    await this.saveAck(found, ack);
    for (const a of found) this.emit({ type: 'alertAcknowledged', alert: a });
    this.logger.info({ fingerprint: fp, by }, 'alert acknowledged');
    return this.find(fp);
  }

  /** Withdraws the acknowledgement; throws FM_NOT_FOUND for an unknown fingerprint. */
  async unacknowledge(fp: string): Promise<AlertSnapshot[]> {
    const found = await this.instances(fp);
    await this.saveAck(found, null);
    for (const a of found) this.emit({ type: 'alertUnacknowledged', alert: a });
    return this.find(fp);
  }

  /** The instances with this fingerprint; the store read again first when none is known here (made elsewhere since). */
  private async instances(fp: string): Promise<AlertRecord[]> {
    const known = () => [...this.alerts.values()].filter((a) => a.fingerprint === fp);
    if (known().length === 0) await this.sync();
    const found = known();
    if (found.length === 0) throw new FieldmeshError('FM_NOT_FOUND', `no alert with fingerprint ${fp}`);
    return found;
  }

  /** The acknowledgement is the store's (any process may set it; the evaluator's commits keep it). */
  private async saveAck(found: readonly AlertRecord[], ack: AlertRecord['ack']): Promise<void> {
    await this.write(async () => {
      for (const a of found) {
        await this.options.store.setAck(a.ruleId, a.fingerprint, a.activeAt, ack);
        a.ack = ack;
      }
    });
  }

  listSilences(): Silence[] {
    return [...this.silenceById.values()].sort((a, b) => b.startsAt - a.startsAt || (a.id < b.id ? -1 : 1));
  }

  getSilence(id: string): Silence | undefined {
    return this.silenceById.get(id);
  }

  /**
   * Creates a silence, or replaces the one named by `input.id` (as Alertmanager, the replacement keeps
   * the id). Throws FM_NOT_FOUND for an unknown id.
   */
  async createSilence(input: SilenceInput): Promise<Silence> {
    const now = this.options.clock.now();
    // A silence made through another process since this one last read the store.
    if (input.id !== undefined && !this.silenceById.has(input.id)) await this.sync();
    if (input.id !== undefined && !this.silenceById.has(input.id))
      throw new FieldmeshError('FM_NOT_FOUND', `no silence with id ${input.id}`);
    const silence: Silence = {
      id: input.id ?? createId(),
      matchers: input.matchers,
      startsAt: input.startsAt,
      endsAt: input.endsAt,
      createdBy: input.createdBy,
      comment: input.comment,
      updatedAt: now,
    };
    await this.write(async () => {
      await this.options.store.saveSilence(silence);
      this.silenceById.set(silence.id, silence);
    });
    this.emit({ type: 'silenceCreated', silence });
    this.logger.info({ silence: silence.id, createdBy: silence.createdBy, endsAt: silence.endsAt }, 'silence created');
    return silence;
  }

  /** Ends a silence now (it stays listed as expired); undefined for an unknown id. */
  async expireSilence(id: string): Promise<Silence | undefined> {
    if (!this.silenceById.has(id)) await this.sync();
    const s = this.silenceById.get(id);
    if (s === undefined) return undefined;
    const now = this.options.clock.now();
    if (silenceState(s, now) === 'expired') return s;
    const expired: Silence = { ...s, endsAt: now, updatedAt: now };
    await this.write(async () => {
      await this.options.store.saveSilence(expired);
      this.silenceById.set(id, expired);
    });
    this.emit({ type: 'silenceExpired', silence: expired });
    this.logger.info({ silence: id }, 'silence expired');
    return expired;
  }

  /** Each rule with the result of its last evaluation. */
  ruleHealth(): RuleHealth[] {
    return this.options.rules.map((rule) => ({
      rule,
      ...(this.health.get(rule.id) ?? { lastEvaluation: null, evaluationMs: 0, lastError: null }),
    }));
  }
}
