// Inhibition as Alertmanager's inhibit_rules have it: a target alert is muted while a firing source
// alert exists whose labels match the rule's source matchers and have the same value for every label
// in `equal`. An alert that matches both sides cannot be inhibited by another that does too (so never
// by itself). Inhibited alerts are still evaluated and listed, but notify nobody.

import { z } from 'zod';
import { type LabelMatcher, matchesLabelMatchers, parseLabelMatcher } from '../../protocol/index.js';
import type { AlertRecord } from './alert.js';

/** One compiled `alerts.inhibitRules[]` entry. */
export interface InhibitRule {
  readonly sourceMatchers: readonly LabelMatcher[];
  readonly targetMatchers: readonly LabelMatcher[];
  /** Labels whose values must be equal in source and target; a label missing in both counts as equal (""). */
  readonly equal: readonly string[];
}

/** What hub.yaml holds: matchers in Prometheus syntax (`alertname="SiteOffline"`). */
export interface InhibitRuleConfig {
  readonly sourceMatchers: readonly string[];
  readonly targetMatchers: readonly string[];
  readonly equal: readonly string[];
}

/**
 * The default: a site that is offline pages once, as SiteOffline; its nodes' NodeDown and BacklogAge
 * (a node that cannot reach the hub builds a backlog) are the same problem and are inhibited.
 */
export const DEFAULT_INHIBIT_RULES: readonly InhibitRuleConfig[] = Object.freeze([
  Object.freeze({
    sourceMatchers: Object.freeze(['alertname="SiteOffline"']),
    targetMatchers: Object.freeze(['alertname=~"NodeDown|BacklogAge"']),
    equal: Object.freeze(['site']),
  }),
]);

const matcherSchema = z.string().superRefine((text, ctx) => {
  try {
    parseLabelMatcher(text);
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: (err as Error).message });
  }
});

/** hub.yaml `alerts.inhibitRules`; an explicit `[]` turns the default off. */
export const inhibitRulesSchema = z
  .array(
    z.strictObject({
      /** Matchers in Prometheus syntax; a source is a firing alert matching all of them. */
      sourceMatchers: z.array(matcherSchema).min(1, 'expected at least one matcher, like alertname="SiteOffline"'),
      /** The alerts muted while a source fires; at least one, so that a rule cannot mute every alert. */
      targetMatchers: z.array(matcherSchema).min(1, 'expected at least one matcher, like alertname="NodeDown"'),
      /** Labels that must have the same value in source and target. */
      equal: z.array(z.string().regex(/^[a-zA-Z_][a-zA-Z0-9_]*$/, 'expected a label name')).default([]),
    }),
  )
  .default(() =>
    DEFAULT_INHIBIT_RULES.map((r) => ({
      sourceMatchers: [...r.sourceMatchers],
      targetMatchers: [...r.targetMatchers],
      equal: [...r.equal],
    })),
  );

/** Compiles config entries; the config schema has validated them, so this throws only for unvalidated input. */
export function compileInhibitRules(config: readonly InhibitRuleConfig[]): InhibitRule[] {
  return config.map((r) => ({
    sourceMatchers: r.sourceMatchers.map(parseLabelMatcher),
    targetMatchers: r.targetMatchers.map(parseLabelMatcher),
    equal: [...r.equal],
  }));
}

function equalKey(labels: Readonly<Record<string, string>>, equal: readonly string[]): string {
  return JSON.stringify(equal.map((n) => labels[n] ?? ''));
}

/**
 * For every pending or firing alert that some rule inhibits, the fingerprints of the firing source
 * alerts that inhibit it (sorted, unique), keyed by the record. Resolved alerts are never inhibited:
 * their resolution must reach receivers that were told they fired. Indexes the sources of each rule
 * by their `equal` values, so the cost grows with the number of alerts, not its square.
 */
export function computeInhibitions(
  rules: readonly InhibitRule[],
  alerts: Iterable<Readonly<AlertRecord>>,
): Map<Readonly<AlertRecord>, string[]> {
  const out = new Map<Readonly<AlertRecord>, string[]>();
  if (rules.length === 0) return out;
  const all = [...alerts];
  const firing = all.filter((a) => a.state === 'firing');
  for (const rule of rules) {
    const sources = new Map<string, Array<Readonly<AlertRecord>>>();
    for (const s of firing) {
      if (!matchesLabelMatchers(rule.sourceMatchers, s.labels)) continue;
      const key = equalKey(s.labels, rule.equal);
      const list = sources.get(key);
      if (list === undefined) sources.set(key, [s]);
      else list.push(s);
    }
    if (sources.size === 0) continue;
    for (const t of all) {
      if (t.state === 'resolved' || !matchesLabelMatchers(rule.targetMatchers, t.labels)) continue;
      const candidates = sources.get(equalKey(t.labels, rule.equal));
      if (candidates === undefined) continue;
      // Alertmanager: a target that matches the source side too is not inhibited by a source that
      // matches the target side; so an alert never inhibits itself.
      const twoSided = matchesLabelMatchers(rule.sourceMatchers, t.labels);
      for (const s of candidates) {
        if (twoSided && matchesLabelMatchers(rule.targetMatchers, s.labels)) continue;
        const list = out.get(t);
        if (list === undefined) out.set(t, [s.fingerprint]);
        else if (!list.includes(s.fingerprint)) list.push(s.fingerprint);
      }
    }
  }
  for (const list of out.values()) list.sort();
  return out;
}
