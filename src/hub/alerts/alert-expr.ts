// Alert expressions: what the hub's query engine answers (a series selector, or one aggregation of it)
// optionally compared with a number, as in `battery_soc < 20` or `avg by (site) (dc_voltage) > 5`.
// Evaluated at one instant with Prometheus' semantics (lookback, staleness, aggregation) by the
// protocol's Prometheus code; every element left after the comparison is an active alert.

import { FieldmeshError } from '../../kit/index.js';
import type { LabelMatcher } from '../../protocol/index.js';
import {
  type AggregationQuery,
  aggregateSeries,
  type EvaluatedSeries,
  evaluateRange,
  LOOKBACK_MS,
  parseAggregationQuery,
  type SeriesPoints,
} from '../../protocol/prometheus/index.js';
import type { AlertSample } from './alert.js';

export type Comparison = '==' | '!=' | '>' | '<' | '>=' | '<=';

export const EXPRESSION_SUPPORTED =
  'alert expressions are a series selector or one aggregation of it (sum|avg|min|max|count [by|without (labels)] (selector)), ' +
  'optionally compared with a number by ==, !=, >, <, >= or <=, e.g. battery_soc < 20 or avg by (site) (dc_voltage) > 5';

export interface AlertExpression {
  readonly text: string;
  readonly query: AggregationQuery;
  /** Absent: every series of the query is active. */
  readonly comparison?: { readonly op: Comparison; readonly threshold: number };
}

/** Where an expression reads series: the hub's storage (and the fleet's own series). */
export type SeriesSource = (matchers: readonly LabelMatcher[], startMs: number, endMs: number) => Promise<readonly SeriesPoints[]>;

const NUMBER_RE = /^[-+]?(?:(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?|0[xX][0-9a-fA-F]+|inf|nan)$/i;
const FLIPPED: Record<Comparison, Comparison> = { '==': '==', '!=': '!=', '>': '<', '<': '>', '>=': '<=', '<=': '>=' };
const COMPARE: Record<Comparison, (a: number, b: number) => boolean> = {
  '==': (a, b) => a === b,
  '!=': (a, b) => a !== b,
  '>': (a, b) => a > b,
  '<': (a, b) => a < b,
  '>=': (a, b) => a >= b,
  '<=': (a, b) => a <= b,
};

function invalid(text: string, what: string): FieldmeshError {
  return new FieldmeshError('FM_QUERY_INVALID', `${JSON.stringify(text)}: ${what}; ${EXPRESSION_SUPPORTED}`, { details: { query: text } });
}

function parseNumber(text: string): number | undefined {
  const t = text.trim();
  if (!NUMBER_RE.test(t)) return undefined;
  const lower = t.toLowerCase().replace(/^\+/, '');
  if (lower === 'inf') return Number.POSITIVE_INFINITY;
  if (lower === '-inf') return Number.NEGATIVE_INFINITY;
  if (lower.endsWith('nan')) return Number.NaN;
  return /^-?0x/.test(lower) ? (lower.startsWith('-') ? -Number(lower.slice(1)) : Number(lower)) : Number(lower);
}

/** The first comparison operator outside quotes, braces and parentheses: [index, operator]. */
function findComparison(text: string): [number, Comparison] | undefined {
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '"' || c === "'" || c === '`') {
      i++;
      while (i < text.length && text[i] !== c) i += text[i] === '\\' ? 2 : 1;
    } else if (c === '{' || c === '(') depth++;
    else if (c === '}' || c === ')') depth--;
    else if (depth === 0) {
      const two = text.slice(i, i + 2);
      if (two === '==' || two === '!=' || two === '>=' || two === '<=') return [i, two];
      if (c === '>' || c === '<') return [i, c];
    }
  }
  return undefined;
}

/** Parses an alert expression; throws FieldmeshError FM_QUERY_INVALID saying what is wrong and what is supported. */
export function parseAlertExpression(input: string): AlertExpression {
  const text = input.trim();
  if (text === '') throw invalid(text, 'empty expression');
  const found = findComparison(text);
  if (found === undefined) return { text, query: parseQuery(text, text) };
  const [at, op] = found;
  const left = text.slice(0, at).trim();
  let right = text.slice(at + op.length).trim();
  if (/^bool\b/.test(right)) throw invalid(text, 'the bool modifier is not supported (an alert needs the filtering comparison)');
  if (findComparison(right) !== undefined) throw invalid(text, 'only one comparison is supported');
  right = right.replace(/^\(\s*(.*?)\s*\)$/, '$1');
  const rightNumber = parseNumber(right);
  const leftNumber = parseNumber(left);
  if (left === '' || right === '') throw invalid(text, `"${op}" needs an operand on both sides`);
  if (rightNumber !== undefined && leftNumber === undefined)
    return { text, query: parseQuery(text, left), comparison: { op, threshold: rightNumber } };
  if (leftNumber !== undefined && rightNumber === undefined)
    return { text, query: parseQuery(text, right), comparison: { op: FLIPPED[op], threshold: leftNumber } };
  if (leftNumber !== undefined) throw invalid(text, 'a comparison of two numbers is not an alert');
  throw invalid(text, 'comparisons between two series are not supported; compare with a number');
}

function parseQuery(text: string, query: string): AggregationQuery {
  try {
    return parseAggregationQuery(query);
  } catch (err) {
    throw invalid(text, (err as Error).message.split('; this version answers')[0] ?? 'not a query');
  }
}

/** The active elements of an expression at `nowMs`: labels without `__name__`, and their values. */
export async function evaluateAlertExpression(expr: AlertExpression, source: SeriesSource, nowMs: number): Promise<AlertSample[]> {
  const stored = await source(expr.query.selector.matchers, nowMs - LOOKBACK_MS, nowMs);
  const stepped: EvaluatedSeries[] = [];
  for (const s of stored) {
    const values = evaluateRange(s.points, nowMs, nowMs, 1);
    if (values.length > 0) stepped.push({ metric: s.metric, values });
  }
  const result = expr.query.aggregation ? aggregateSeries(stepped, expr.query.aggregation) : stepped;
  const out: AlertSample[] = [];
  for (const s of result) {
    const value = s.values[0]?.[1];
    if (value === undefined) continue;
    if (expr.comparison && !COMPARE[expr.comparison.op](value, expr.comparison.threshold)) continue;
    const labels: Record<string, string> = {};
    for (const [k, v] of Object.entries(s.metric)) if (k !== '__name__') labels[k] = v;
    out.push({ labels, value });
  }
  return out;
}
