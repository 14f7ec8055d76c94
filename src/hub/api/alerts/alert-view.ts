// The JSON shapes of the alert API: alerts as Prometheus' /api/v1/alerts lists them (labels,
// annotations, state, activeAt, value) plus fieldmesh's fingerprint, times, acknowledgement,
// silencing and inhibition; silences as Alertmanager's API v2 returns them; rules as Prometheus' /api/v1/rules.

import { type AlertView, formatSampleValue } from '../../../protocol/index.js';
import type { AlertSnapshot, RuleHealth } from '../../alerts/alert-engine.js';
import type { Silence, SilenceMatcher, SilenceState } from '../../alerts/index.js';
import { formatPromDuration, silenceState } from '../../alerts/index.js';
import type { RecordingRuleHealth } from '../../alerts/recording-rules.js';

export type { AlertView } from '../../../protocol/index.js';

export interface SilenceView {
  readonly id: string;
  readonly status: { readonly state: SilenceState };
  readonly updatedAt: string;
  readonly matchers: readonly SilenceMatcher[];
  readonly startsAt: string;
  readonly endsAt: string;
  readonly createdBy: string;
  readonly comment: string;
}

/** Go's zero time: Prometheus' lastEvaluation of a rule never evaluated. */
const ZERO_TIME = '0001-01-01T00:00:00Z';

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

export function toAlertView(s: AlertSnapshot): AlertView {
  const a = s.alert;
  return {
    labels: a.labels,
    annotations: a.annotations,
    state: a.state,
    activeAt: iso(a.activeAt),
    value: formatSampleValue(a.value),
    fingerprint: a.fingerprint,
    rule: a.ruleId,
    firedAt: a.firedAt === null ? null : iso(a.firedAt),
    resolvedAt: a.resolvedAt === null ? null : iso(a.resolvedAt),
    ack: a.ack === null ? null : { by: a.ack.by, at: iso(a.ack.at), comment: a.ack.comment },
    silenced: s.silencedBy.length > 0,
    silencedBy: s.silencedBy,
    inhibited: s.inhibitedBy.length > 0,
    inhibitedBy: s.inhibitedBy,
    generatorURL: a.generatorUrl,
  };
}

export function toSilenceView(s: Silence, nowMs: number): SilenceView {
  return {
    id: s.id,
    status: { state: silenceState(s, nowMs) },
    updatedAt: iso(s.updatedAt),
    matchers: s.matchers,
    startsAt: iso(s.startsAt),
    endsAt: iso(s.endsAt),
    createdBy: s.createdBy,
    comment: s.comment,
  };
}

/** Which rules /api/v1/rules lists: Prometheus' `type` parameter (`alert`, `record`; absent: both). */
export interface RuleFilter {
  readonly alerting: boolean;
  readonly recording: boolean;
}

/**
 * Prometheus' /api/v1/rules groups: alerting rules with their current alerts, and recording rules, each group's
 * rules in the order of their file. A group left without rules by the filter is not listed, as in Prometheus.
 */
export function toRuleGroups(
  health: readonly RuleHealth[],
  alerts: readonly AlertSnapshot[],
  evaluationIntervalMs: number,
  recording: readonly RecordingRuleHealth[] = [],
  filter: RuleFilter = { alerting: true, recording: true },
) {
  const groups = new Map<
    string,
    {
      name: string;
      file: string;
      interval: number;
      rules: Array<{ order: number; rule: unknown }>;
      lastEvaluation: number | null;
      evaluationTime: number;
    }
  >();
  const groupOf = (file: string, name: string, intervalMs: number | undefined) => {
    const key = `${file}\u0000${name}`;
    let g = groups.get(key);
    if (g === undefined) {
      const interval = Math.max(intervalMs ?? 0, evaluationIntervalMs) / 1_000;
      g = { name, file, interval, rules: [], lastEvaluation: null, evaluationTime: 0 };
      groups.set(key, g);
    }
    return g;
  };
  const evaluated = (
    g: { lastEvaluation: number | null; evaluationTime: number },
    h: { lastEvaluation: number | null; evaluationMs: number; lastError: string | null },
  ) => {
    if (h.lastEvaluation !== null) g.lastEvaluation = Math.max(g.lastEvaluation ?? 0, h.lastEvaluation);
    g.evaluationTime += h.evaluationMs / 1_000;
    return {
      health: h.lastEvaluation === null ? 'unknown' : h.lastError === null ? 'ok' : 'err',
      lastError: h.lastError ?? '',
      evaluationTime: h.evaluationMs / 1_000,
      lastEvaluation: h.lastEvaluation === null ? ZERO_TIME : iso(h.lastEvaluation),
    };
  };
  for (const h of health) {
    const r = h.rule;
    const g = groupOf(r.file, r.group, r.intervalMs);
    const times = evaluated(g, h);
    if (!filter.alerting) continue;
    const mine = alerts.filter((a) => a.alert.ruleId === r.id && a.alert.state !== 'resolved');
    const state = mine.some((a) => a.alert.state === 'firing') ? 'firing' : mine.length > 0 ? 'pending' : 'inactive';
    g.rules.push({
      order: r.index ?? g.rules.length,
      rule: {
        type: 'alerting',
        name: r.name,
        query: r.source.expr,
        duration: r.forMs / 1_000,
        for: formatPromDuration(r.forMs),
        labels: Object.fromEntries(r.labels.map(([k, t]) => [k, t.text])),
        annotations: Object.fromEntries(r.annotations.map(([k, t]) => [k, t.text])),
        alerts: mine.map((a) => {
          const v = toAlertView(a);
          return { labels: v.labels, annotations: v.annotations, state: v.state, activeAt: v.activeAt, value: v.value };
        }),
        ...times,
        state,
        id: r.id,
      },
    });
  }
  for (const h of recording) {
    const r = h.rule;
    const g = groupOf(r.file, r.group, r.intervalMs);
    const times = evaluated(g, h);
    if (!filter.recording) continue;
    g.rules.push({
      order: r.index,
      rule: { type: 'recording', name: r.record, query: r.expr.text, labels: { ...r.labels }, ...times },
    });
  }
  return [...groups.values()]
    .filter((g) => g.rules.length > 0)
    .map((g) => ({
      name: g.name,
      file: g.file,
      interval: g.interval,
      rules: g.rules.sort((a, b) => a.order - b.order).map((r) => r.rule),
      evaluationTime: g.evaluationTime,
      lastEvaluation: g.lastEvaluation === null ? ZERO_TIME : iso(g.lastEvaluation),
    }));
}
