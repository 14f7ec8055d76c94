// Rule expressions (alerting and recording rules): a series selector or one range function of it
// (`avg_over_time(x[5m])`, `rate(x[5m])`, `quantile_over_time(0.95, x[5m])`: range-functions.ts), optionally
// inside one aggregation (`avg by (site) (...)`), and for alerts optionally compared with a number, as in
// `battery_soc < 20` or `avg by (site) (rate(errors_total[5m])) > 5`. Evaluated at one instant with
// Prometheus' semantics (lookback, staleness, aggregation) by the protocol's Prometheus code; every element
// left after the comparison is an active alert (or, for a recording rule, a sample to store).

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
import { parsePromDurationMs } from './prom-duration.js';
import { evaluateRangeCall, RANGE_FUNCTIONS, type RangeCall } from './range-functions.js';

export type Comparison = '==' | '!=' | '>' | '<' | '>=' | '<=';

export const EXPRESSION_SUPPORTED =
  'rule expressions are a series selector or one range function of it (' +
  RANGE_FUNCTIONS.filter((f) => f !== 'quantile_over_time').join('|') +
  '(selector[range]), quantile_over_time(φ, selector[range])), optionally in one aggregation ' +
  '(sum|avg|min|max|count [by|without (labels)] (...)), and for alerts optionally compared with a number by ==, !=, >, <, >= or <=, ' +
  'e.g. battery_soc < 20 or avg by (site) (avg_over_time(dc_voltage[5m])) > 5';

export interface AlertExpression {
  readonly text: string;
  readonly query: AggregationQuery;
  /** The range function applied to each selected series before the aggregation; absent: the series' instant value. */
  readonly range?: RangeCall;
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
  if (found === undefined) return { text, ...parseQuery(text, text) };
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
    return { text, ...parseQuery(text, left), comparison: { op, threshold: rightNumber } };
  if (leftNumber !== undefined && rightNumber === undefined)
    return { text, ...parseQuery(text, right), comparison: { op: FLIPPED[op], threshold: leftNumber } };
  if (leftNumber !== undefined) throw invalid(text, 'a comparison of two numbers is not an alert');
  throw invalid(text, 'comparisons between two series are not supported; compare with a number');
}

const RANGE_CALL_RE = new RegExp(`\\b(${RANGE_FUNCTIONS.join('|')})\\s*\\(`, 'g');

/** `text` with every quoted label value blanked to spaces (same length), so no bracket or name inside one counts. */
function blankQuoted(text: string): string {
  return text.replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, (m) => `"${' '.repeat(m.length - 2)}"`);
}

/** The query with its one range call replaced by the call's selector, and the call; throws `invalid` otherwise. */
function extractRangeCall(text: string, query: string): { query: string; range?: RangeCall } {
  const blank = blankQuoted(query);
  const calls = [...blank.matchAll(RANGE_CALL_RE)];
  const call = calls[0];
  if (call === undefined) return { query };
  if (calls.length > 1) throw invalid(text, 'only one range function is supported');
  const fn = call[1] as RangeCall['fn'];
  const open = (call.index ?? 0) + call[0].length - 1;
  let depth = 0;
  let close = -1;
  for (let i = open; i < blank.length && close < 0; i++) {
    if (blank[i] === '(') depth++;
    else if (blank[i] === ')' && --depth === 0) close = i;
  }
  if (close < 0) throw invalid(text, `unbalanced parentheses after ${fn}`);
  let args = query.slice(open + 1, close);
  const argsBlank = blank.slice(open + 1, close);
  let quantile: number | undefined;
  const comma = argsBlank.indexOf(',');
  if (fn === 'quantile_over_time') {
    quantile = comma < 0 ? undefined : parseNumber(args.slice(0, comma));
    if (quantile === undefined) throw invalid(text, 'quantile_over_time takes a number φ and a range: quantile_over_time(0.95, x[5m])');
    args = args.slice(comma + 1);
  } else if (comma >= 0) throw invalid(text, `${fn}() takes one argument, a selector with a range: ${fn}(x[5m])`);
  const ranged = /^([\s\S]*)\[\s*([^\]]*?)\s*\]\s*$/.exec(args);
  if (ranged === null)
    throw invalid(text, `${fn}() needs a selector with a range, like ${fn}(${quantile === undefined ? '' : `${quantile}, `}x[5m])`);
  const rangeMs = parsePromDurationMs(ranged[2] ?? '');
  if (rangeMs === undefined || rangeMs === 0)
    throw invalid(text, `${JSON.stringify(ranged[2])} is not a range; expected a duration like "5m" or "1h"`);
  const range: RangeCall = quantile === undefined ? { fn, rangeMs } : { fn, rangeMs, quantile };
  return { query: `${query.slice(0, call.index)}${(ranged[1] ?? '').trim()}${query.slice(close + 1)}`, range };
}

function parseQuery(text: string, query: string): { query: AggregationQuery; range?: RangeCall } {
  const extracted = extractRangeCall(text, query);
  try {
    const parsed = parseAggregationQuery(extracted.query);
    return extracted.range === undefined ? { query: parsed } : { query: parsed, range: extracted.range };
  } catch (err) {
    throw invalid(text, (err as Error).message.split('; this version answers')[0] ?? 'not a query');
  }
}

/** The series an expression reads, evaluated at `nowMs` before any aggregation: instant values, or a range function's. */
async function evaluateSeries(expr: AlertExpression, source: SeriesSource, nowMs: number): Promise<EvaluatedSeries[]> {
  const range = expr.range;
  const stored = await source(expr.query.selector.matchers, nowMs - (range?.rangeMs ?? LOOKBACK_MS), nowMs);
  const out: EvaluatedSeries[] = [];
  for (const s of stored) {
    if (range === undefined) {
      const values = evaluateRange(s.points, nowMs, nowMs, 1);
      if (values.length > 0) out.push({ metric: s.metric, values });
      continue;
    }
    const value = evaluateRangeCall(range, s.points, nowMs);
    if (value === undefined) continue;
    // As Prometheus: a function's result is no longer the metric, except last_over_time's.
    const { __name__: name, ...rest } = s.metric;
    out.push({ metric: range.fn === 'last_over_time' || name === undefined ? s.metric : rest, values: [[nowMs, value]] });
  }
  return out;
}

/** The active elements of an expression at `nowMs`: labels without `__name__`, and their values. */
export async function evaluateAlertExpression(expr: AlertExpression, source: SeriesSource, nowMs: number): Promise<AlertSample[]> {
  const stepped = await evaluateSeries(expr, source, nowMs);
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
