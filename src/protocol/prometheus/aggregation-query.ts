// The node's query language: one series selector, or one aggregation across the series it matches,
// `sum|avg|min|max|count [by|without (labels)] (selector)`; anything else is refused by name.

import { FieldmeshError } from '../../kit/index.js';
import type { SeriesSelector } from '../selector.js';
import { parseQuerySelector, unsupportedQuery } from './query-selector.js';

export const AGGREGATION_OPS = ['sum', 'avg', 'min', 'max', 'count'] as const;
export type AggregationOp = (typeof AGGREGATION_OPS)[number];

export interface Aggregation {
  readonly op: AggregationOp;
  /** `by` keeps only the listed labels; `without` drops them (and the metric name). */
  readonly grouping: 'by' | 'without';
  readonly labels: readonly string[];
}

export interface AggregationQuery {
  readonly selector: SeriesSelector;
  /** Absent for a plain selector. */
  readonly aggregation?: Aggregation;
}

export const AGGREGATION_SUPPORTED =
  'this version answers a series selector like battery_soc{site="s1"}, or one aggregation of it: ' +
  'sum|avg|min|max|count by|without (labels) (selector)';

const LABEL_RE = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const OP_RE = /^(sum|avg|min|max|count)\s*(?=\(|\bby\b|\bwithout\b)/;

function syntax(query: string, what: string): FieldmeshError {
  return new FieldmeshError('FM_QUERY_INVALID', `aggregation ${JSON.stringify(query)}: ${what}; ${AGGREGATION_SUPPORTED}`, {
    details: { query },
  });
}

/** Index of the parenthesis closing the one at `open`, skipping quoted label values; -1 if none. */
function closingParen(text: string, open: number): number {
  let depth = 0;
  for (let i = open; i < text.length; i++) {
    const c = text[i];
    if (c === '"' || c === "'") {
      i++;
      while (i < text.length && text[i] !== c) i += text[i] === '\\' ? 2 : 1;
    } else if (c === '(') depth++;
    else if (c === ')' && --depth === 0) return i;
  }
  return -1;
}

/** Reads `by (a, b)` / `without (a)` at the start of `rest`; returns it and the text after it. */
function readGrouping(query: string, rest: string): { grouping: Aggregation['grouping']; labels: string[]; rest: string } | undefined {
  const m = /^(by|without)\s*\(/.exec(rest);
  if (!m) return undefined;
  const close = rest.indexOf(')', m[0].length);
  if (close < 0) throw syntax(query, `unclosed label list after "${m[1]}"`);
  const labels = rest
    .slice(m[0].length, close)
    .split(',')
    .map((l) => l.trim())
    .filter((l) => l !== '');
  const bad = labels.find((l) => !LABEL_RE.test(l));
  if (bad !== undefined) throw syntax(query, `"${bad}" is not a label name`);
  return { grouping: m[1] as Aggregation['grouping'], labels, rest: rest.slice(close + 1).trimStart() };
}

/** Parses a node query; throws FieldmeshError FM_QUERY_INVALID naming what is unsupported. */
export function parseAggregationQuery(query: string | undefined): AggregationQuery {
  const text = query?.trim() ?? '';
  const op = OP_RE.exec(text);
  if (!op) return { selector: parseQuerySelector(query, AGGREGATION_SUPPORTED) };
  let rest = text.slice(op[0].length);
  const before = readGrouping(text, rest);
  if (before) rest = before.rest;
  if (!rest.startsWith('(')) throw syntax(text, `expected "(" and a selector after ${op[1]}`);
  const close = closingParen(rest, 0);
  if (close < 0) throw syntax(text, 'unbalanced parentheses');
  const inner = rest.slice(1, close).trim();
  if (inner === '') throw syntax(text, `${op[1]}() needs a selector`);
  rest = rest.slice(close + 1).trimStart();
  const after = readGrouping(text, rest);
  if (after) {
    if (before) throw syntax(text, 'a grouping may be given once, before or after the selector');
    rest = after.rest;
  }
  if (rest !== '') throw unsupportedQuery(text, `operators and further expressions ("${rest}")`, AGGREGATION_SUPPORTED);
  if (/,/.test(inner.replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|\{[^}]*\}/g, '')))
    throw unsupportedQuery(text, `parameters of ${op[1]}()`, AGGREGATION_SUPPORTED);
  const grouping = before ?? after;
  return {
    selector: parseQuerySelector(inner, AGGREGATION_SUPPORTED),
    aggregation: {
      op: op[1] as AggregationOp,
      grouping: grouping?.grouping ?? 'by',
      labels: grouping?.labels ?? [],
    },
  };
}

/** A series after step evaluation: its labels (with `__name__`) and [step ms, value] pairs. */
export interface EvaluatedSeries {
  readonly metric: Readonly<Record<string, string>>;
  readonly values: ReadonlyArray<readonly [number, number]>;
}

function groupLabels(metric: Readonly<Record<string, string>>, aggregation: Aggregation): Record<string, string> {
  const out: Record<string, string> = {};
  if (aggregation.grouping === 'by') {
    for (const l of aggregation.labels) {
      const v = metric[l];
      if (v !== undefined && v !== '' && l !== '__name__') out[l] = v;
    }
  } else {
    for (const [k, v] of Object.entries(metric)) if (k !== '__name__' && !aggregation.labels.includes(k)) out[k] = v;
  }
  return out;
}

function labelsKey(labels: Readonly<Record<string, string>>): string {
  return JSON.stringify(Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

interface Accumulator {
  sum: number;
  count: number;
  min: number;
  max: number;
}

function combine(acc: Accumulator | undefined, v: number): Accumulator {
  if (acc === undefined) return { sum: v, count: 1, min: v, max: v };
  acc.sum += v;
  acc.count++;
  // As Prometheus: NaN loses to any number in min and max, and is the answer only when all are NaN.
  if (v < acc.min || Number.isNaN(acc.min)) acc.min = v;
  if (v > acc.max || Number.isNaN(acc.max)) acc.max = v;
  return acc;
}

function result(acc: Accumulator, op: AggregationOp): number {
  switch (op) {
    case 'sum':
      return acc.sum;
    case 'avg':
      return acc.sum / acc.count;
    case 'min':
      return acc.min;
    case 'max':
      return acc.max;
    case 'count':
      return acc.count;
  }
}

/**
 * Aggregates evaluated series step by step: at each step, the values of the series in one group
 * that have a value at that step. Groups are ordered by their labels; steps ascend.
 */
export function aggregateSeries(series: readonly EvaluatedSeries[], aggregation: Aggregation): EvaluatedSeries[] {
  const groups = new Map<string, { metric: Record<string, string>; steps: Map<number, Accumulator> }>();
  for (const s of series) {
    const metric = groupLabels(s.metric, aggregation);
    const key = labelsKey(metric);
    let group = groups.get(key);
    if (group === undefined) {
      group = { metric, steps: new Map() };
      groups.set(key, group);
    }
    for (const [t, v] of s.values) group.steps.set(t, combine(group.steps.get(t), v));
  }
  return [...groups.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([, g]) => ({
      metric: g.metric,
      values: [...g.steps.entries()].sort(([a], [b]) => a - b).map(([t, acc]) => [t, result(acc, aggregation.op)] as const),
    }));
}
