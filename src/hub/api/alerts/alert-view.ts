// The JSON shapes of the alert API: alerts as Prometheus' /api/v1/alerts lists them (labels,
// annotations, state, activeAt, value) plus fieldmesh's fingerprint, times, acknowledgement,
// silencing and inhibition; silences as Alertmanager's API v2 returns them; rules as Prometheus' /api/v1/rules.

import { type AlertView, formatSampleValue } from '../../../protocol/index.js';
import type { AlertSnapshot, RuleHealth } from '../../alerts/alert-engine.js';
import type { Silence, SilenceMatcher, SilenceState } from '../../alerts/index.js';
import { formatPromDuration, silenceState } from '../../alerts/index.js';

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

/** Prometheus' /api/v1/rules groups, with each rule's current alerts. */
export function toRuleGroups(health: readonly RuleHealth[], alerts: readonly AlertSnapshot[], evaluationIntervalMs: number) {
  const groups = new Map<
    string,
    { name: string; file: string; interval: number; rules: unknown[]; lastEvaluation: number | null; evaluationTime: number }
  >();
  for (const h of health) {
    const r = h.rule;
    const key = `${r.file}\u0000${r.group}`;
    let g = groups.get(key);
    if (g === undefined) {
      const interval = Math.max(r.intervalMs ?? 0, evaluationIntervalMs) / 1_000;
      g = { name: r.group, file: r.file, interval, rules: [], lastEvaluation: null, evaluationTime: 0 };
      groups.set(key, g);
    }
    const mine = alerts.filter((a) => a.alert.ruleId === r.id && a.alert.state !== 'resolved');
    const state = mine.some((a) => a.alert.state === 'firing') ? 'firing' : mine.length > 0 ? 'pending' : 'inactive';
    g.rules.push({
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
      health: h.lastEvaluation === null ? 'unknown' : h.lastError === null ? 'ok' : 'err',
      lastError: h.lastError ?? '',
      evaluationTime: h.evaluationMs / 1_000,
      lastEvaluation: h.lastEvaluation === null ? '0001-01-01T00:00:00Z' : iso(h.lastEvaluation),
      state,
      id: r.id,
    });
    if (h.lastEvaluation !== null) g.lastEvaluation = Math.max(g.lastEvaluation ?? 0, h.lastEvaluation);
    g.evaluationTime += h.evaluationMs / 1_000;
  }
  return [...groups.values()].map((g) => ({
    name: g.name,
    file: g.file,
    interval: g.interval,
    rules: g.rules,
    evaluationTime: g.evaluationTime,
    lastEvaluation: g.lastEvaluation === null ? '0001-01-01T00:00:00Z' : iso(g.lastEvaluation),
  }));
}
