// Recording rules: each group of the rule files evaluated every group interval over the hub's stored history,
// its rules in order (a later rule reads what an earlier one just stored), each result element stored as a
// sample of the series `record` with the rule's labels set over the element's, at the evaluation time, as
// Prometheus' rule manager does. A series a rule produced at its previous evaluation and not at this one gets a
// staleness marker. Only the leader evaluates (the hub starts and stops this with its leadership) and its
// writes are the leader's, fenced on a scale-out hub. A failed rule is counted and logged; the next goes on.

import { Counter, Registry } from 'prom-client';
import { type Clock, describeError, FieldmeshError, type Logger, silentLogger, type TimerHandle } from '../../kit/index.js';
import type { SampleInput, SeriesIdentity } from '../storage/storage.js';
import { seriesKey } from '../storage/storage.js';
import { evaluateAlertExpression, type SeriesSource } from './alert-expr.js';
import type { RecordingRuleDefinition } from './rule-file.js';

export interface RecordingRulesOptions {
  readonly rules: readonly RecordingRuleDefinition[];
  /** Where expressions read series: the hub's storage and fleet series. */
  readonly source: SeriesSource;
  /** Stores one rule's results (the storage's appendRecordedSamples: the leader's write). */
  readonly write: (batch: readonly SampleInput[]) => Promise<number>;
  readonly clock: Clock;
  readonly logger?: Logger;
  readonly registry?: Registry;
  /** A group's interval when it names none (alerts.evaluationInterval), ms. */
  readonly evaluationIntervalMs: number;
}

/** A recording rule with the result of its last evaluation, for /api/v1/rules. */
export interface RecordingRuleHealth {
  readonly rule: RecordingRuleDefinition;
  /** Hub time of the last evaluation, ms; null before the first (and always on a process that does not lead). */
  readonly lastEvaluation: number | null;
  readonly evaluationMs: number;
  /** The last evaluation's error (the expression or the write of its results), or null when it went well. */
  readonly lastError: string | null;
}

export interface RecordingGroup {
  /** Prometheus' rule_group label: "<file>;<group>". */
  readonly key: string;
  readonly intervalMs: number;
  readonly rules: readonly RecordingRuleDefinition[];
}

/** The recorded series' identity: recording rules compute gauges of no unit. */
function recordedSeries(rule: RecordingRuleDefinition, labels: Readonly<Record<string, string>>): SeriesIdentity {
  return { name: rule.record, labels: { ...labels, ...rule.labels }, unit: '', type: 'gauge' };
}

export class RecordingRules {
  readonly groups: readonly RecordingGroup[];
  private readonly logger: Logger;
  private readonly failures: Counter<'rule_group'>;
  private readonly recorded: Counter<'rule_group'>;
  private readonly timers = new Map<string, TimerHandle>();
  private readonly running = new Map<string, Promise<void>>();
  /** Per rule ("<group key>#<index>"), the series it stored at its last evaluation (key -> identity). */
  private readonly previous = new Map<string, Map<string, SeriesIdentity>>();
  /** Per rule ("<group key>#<index>"), its last evaluation. */
  private readonly health = new Map<string, Omit<RecordingRuleHealth, 'rule'>>();
  private active = false;

  constructor(private readonly options: RecordingRulesOptions) {
    this.logger = (options.logger ?? silentLogger).child({ component: 'recording-rules' });
    const groups = new Map<string, RecordingRuleDefinition[]>();
    for (const rule of options.rules) {
      const key = `${rule.file};${rule.group}`;
      groups.set(key, [...(groups.get(key) ?? []), rule]);
    }
    this.groups = [...groups].map(([key, rules]) => ({
      key,
      intervalMs: rules[0]?.intervalMs ?? options.evaluationIntervalMs,
      rules,
    }));
    const registers = [options.registry ?? new Registry()];
    this.failures = new Counter({
      name: 'fieldmesh_rule_evaluation_failures_total',
      help: 'Recording rule evaluations that failed (the expression, or the write of its results), by group ("<file>;<group>")',
      labelNames: ['rule_group'],
      registers,
    });
    this.recorded = new Counter({
      name: 'fieldmesh_rule_recorded_samples_total',
      help: 'Samples recording rules stored (staleness markers included), by group ("<file>;<group>")',
      labelNames: ['rule_group'],
      registers,
    });
  }

  /** Evaluates every group each of its intervals from now on, until `stop`; may be started again after. */
  start(): void {
    if (this.active) return;
    this.active = true;
    for (const group of this.groups) this.schedule(group);
    if (this.groups.length > 0) this.logger.info({ groups: this.groups.length }, 'recording rules started');
  }

  /** Stops the timers and waits for the evaluations in progress. Forgets which series were produced: a new leader starts afresh. */
  async stop(): Promise<void> {
    this.active = false;
    for (const t of this.timers.values()) this.options.clock.clearTimeout(t);
    this.timers.clear();
    await Promise.all([...this.running.values()]);
    this.previous.clear();
  }

  /** Resolves once the evaluations in progress are done. */
  async idle(): Promise<void> {
    await Promise.all([...this.running.values()]);
  }

  /** Every rule, group by group in file order, with the result of its last evaluation. */
  ruleHealth(): RecordingRuleHealth[] {
    return this.groups.flatMap((g) =>
      g.rules.map((rule) => ({
        rule,
        ...(this.health.get(`${g.key}#${rule.index}`) ?? { lastEvaluation: null, evaluationMs: 0, lastError: null }),
      })),
    );
  }

  private schedule(group: RecordingGroup): void {
    this.timers.set(
      group.key,
      this.options.clock.setTimeout(() => {
        if (!this.active) return;
        this.schedule(group);
        // An evaluation still running (slow storage) makes this tick skip.
        if (!this.running.has(group.key)) void this.evaluateGroup(group.key);
      }, group.intervalMs),
    );
  }

  /** One evaluation of a group at the clock's now; never throws (failures are counted and logged). Tests call it too. */
  evaluateGroup(key: string): Promise<void> {
    const group = this.groups.find((g) => g.key === key);
    if (group === undefined) throw new Error(`no recording rule group ${key}`);
    const run = this.runGroup(group, this.options.clock.now()).finally(() => this.running.delete(key));
    this.running.set(key, run);
    return run;
  }

  private async runGroup(group: RecordingGroup, nowMs: number): Promise<void> {
    for (const rule of group.rules) {
      const ruleKey = `${group.key}#${rule.index}`;
      const began = this.options.clock.monotonic();
      try {
        const elements = await evaluateAlertExpression(rule.expr, this.options.source, nowMs);
        const produced = new Map<string, SeriesIdentity>();
        const batch: SampleInput[] = [];
        for (const e of elements) {
          const series = recordedSeries(rule, e.labels);
          const key = seriesKey(series);
          if (produced.has(key))
            throw new FieldmeshError(
              'FM_QUERY_INVALID',
              `the result holds two elements with the labels ${JSON.stringify(series.labels)} once the rule's labels are set`,
            );
          produced.set(key, series);
          batch.push({ series, ts: nowMs, value: e.value });
        }
        // [Prometheus] A series the rule no longer produces ends with a staleness marker.
        for (const [key, series] of this.previous.get(ruleKey) ?? [])
          if (!produced.has(key)) batch.push({ series, ts: nowMs, value: null });
        await this.options.write(batch);
        this.previous.set(ruleKey, produced);
        this.recorded.inc({ rule_group: group.key }, batch.length);
        this.health.set(ruleKey, { lastEvaluation: nowMs, evaluationMs: this.options.clock.monotonic() - began, lastError: null });
      } catch (err) {
        this.failures.inc({ rule_group: group.key });
        this.health.set(ruleKey, {
          lastEvaluation: nowMs,
          evaluationMs: this.options.clock.monotonic() - began,
          lastError: describeError(err),
        });
        this.logger.warn(
          { rule_group: group.key, record: rule.record, index: rule.index, err: describeError(err) },
          'recording rule evaluation failed; nothing of it was stored',
        );
      }
    }
  }
}
