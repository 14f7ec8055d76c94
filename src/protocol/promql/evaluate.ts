// PromQL evaluated with Prometheus' semantics over series read from a SeriesSource: every selector's
// points are read once for the whole query, then the tree is evaluated at each step (an instant query
// is one step). Lookback, staleness markers, offset and @, subqueries, functions, operators with vector
// matching and aggregations follow promql/engine.go; see docs/promql.md for the differences.

import { FieldmeshError } from '../../kit/index.js';
import type { LabelMatcher } from '../selector.js';
import type { Aggregate, Binary, BinaryOp, Call, Expr, MatrixSelector, Subquery, VectorSelector } from './ast.js';
import { formatValue } from './format.js';
import {
  dateFunction,
  histogramQuantile,
  isLabelName,
  KEEPS_NAME,
  labelJoin,
  labelReplace,
  mathFunction,
  quantile,
  RANGE_FUNCTIONS,
  rangeFunction,
  roundTo,
  variance,
} from './functions.js';
import { isComparison, isSetOp, type ParsedQuery } from './parse.js';
import { compileRegex } from './regex.js';
import { compareLabels, dropName, type Labels, labelsKey, type RangeSeries, type Sample, type Value, withoutEmpty } from './values.js';

/** Prometheus' default lookback delta (--query.lookback-delta). */
export const LOOKBACK_DELTA_MS = 5 * 60_000;
/** A subquery without a step uses the global evaluation interval, Prometheus' default 1m. */
export const DEFAULT_SUBQUERY_STEP_MS = 60_000;
/** How long a range query evaluates before it yields to the event loop (a tenth of a 100 ms frame budget). */
export const YIELD_EVERY_MS = 10;
/** Prometheus refuses a range query whose (end - start) / step exceeds this. */
export const MAX_RANGE_STEPS = 11_000;

/** The stored points of one series, ascending in time; `metric` holds its labels and `__name__`; null is a staleness marker. */
export interface SeriesPoints {
  readonly metric: Readonly<Record<string, string>>;
  readonly points: ReadonlyArray<readonly [number, number | null]>;
}

/** Where a query reads series: those matching every matcher, with their points in [startMs, endMs]. */
export type SeriesSource = (matchers: readonly LabelMatcher[], startMs: number, endMs: number) => Promise<readonly SeriesPoints[]>;

export interface EvaluateOptions {
  readonly lookbackMs?: number;
  /**
   * 'closed' (default, Prometheus 2, as Debian packages it and as the oracle tests run it): a range [5m]
   * and the lookback take samples in [t - 5m, t], and a subquery's steps start at t - range when aligned.
   * 'left-open' (Prometheus 3): (t - 5m, t], and the first subquery step is after t - range.
   * The same choice orders rate()'s extrapolation: Prometheus 2 limits the window's start toward the
   * counter's zero before testing the extrapolation threshold, Prometheus 3 after.
   */
  readonly windows?: 'left-open' | 'closed';
}

function fail(message: string): never {
  throw new FieldmeshError('FM_QUERY_INVALID', message);
}

/** The window of stored points each selector needs for a query over [startMs, endMs]. */
function collectWindows(expr: Expr, startMs: number, endMs: number, ctx: Ctx, out: Map<VectorSelector, [number, number]>): void {
  const add = (sel: VectorSelector, back: number) => {
    const at = resolveAt(sel.at, ctx);
    const from = (at ?? startMs) - sel.offsetMs - back;
    const to = (at ?? endMs) - sel.offsetMs;
    const prev = out.get(sel);
    out.set(sel, prev === undefined ? [from, to] : [Math.min(prev[0], from), Math.max(prev[1], to)]);
  };
  switch (expr.type) {
    case 'vector':
      add(expr, ctx.lookbackMs);
      return;
    case 'matrix':
      add(expr.selector, expr.rangeMs);
      return;
    case 'subquery': {
      const at = resolveAt(expr.at, ctx);
      collectWindows(expr.expr, (at ?? startMs) - expr.offsetMs - expr.rangeMs, (at ?? endMs) - expr.offsetMs, ctx, out);
      return;
    }
    case 'call':
      for (const a of expr.args) collectWindows(a, startMs, endMs, ctx, out);
      return;
    case 'aggregate':
      if (expr.param) collectWindows(expr.param, startMs, endMs, ctx, out);
      collectWindows(expr.expr, startMs, endMs, ctx, out);
      return;
    case 'binary':
      collectWindows(expr.lhs, startMs, endMs, ctx, out);
      collectWindows(expr.rhs, startMs, endMs, ctx, out);
      return;
    case 'unary':
    case 'paren':
      collectWindows(expr.expr, startMs, endMs, ctx, out);
      return;
    default:
      return;
  }
}

interface Ctx {
  readonly startMs: number;
  readonly endMs: number;
  readonly lookbackMs: number;
  readonly leftOpen: boolean;
  readonly data: Map<VectorSelector, readonly SeriesPoints[]>;
  readonly subqueryCache: Map<Expr, Map<number, Value>>;
  readonly groupCache: Map<Aggregate, WeakMap<Labels, { metric: Labels; key: string }>>;
  readonly dense: Map<VectorSelector, readonly DenseSeries[]>;
}

function resolveAt(at: VectorSelector['at'], ctx: Ctx): number | undefined {
  if (at === undefined) return undefined;
  return at.kind === 'time' ? at.ms : at.kind === 'start' ? ctx.startMs : ctx.endMs;
}

/** Index of the last point at or before `t`, or -1. */
function lastAtOrBefore(points: SeriesPoints['points'], t: number): number {
  let lo = 0;
  let hi = points.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if ((points[mid] as readonly [number, number | null])[0] <= t) lo = mid + 1;
    else hi = mid;
  }
  return lo - 1;
}

function vectorAt(sel: VectorSelector, t: number, ctx: Ctx): Sample[] {
  const ts = (resolveAt(sel.at, ctx) ?? t) - sel.offsetMs;
  const out: Sample[] = [];
  for (const s of ctx.data.get(sel) ?? []) {
    const i = lastAtOrBefore(s.points, ts);
    if (i < 0) continue;
    const [pt, pv] = s.points[i] as readonly [number, number | null];
    // A staleness marker ends the series until its next sample.
    if (pv === null || !inLookback(pt, ts, ctx)) continue;
    out.push({ metric: s.metric, value: pv });
  }
  return out;
}

/** Whether a sample at `pt` is within the lookback of `ts`. */
function inLookback(pt: number, ts: number, ctx: Ctx): boolean {
  return ctx.leftOpen ? pt > ts - ctx.lookbackMs : pt >= ts - ctx.lookbackMs;
}

/** One series' samples in a window: `points[lo..hi)`, ascending, no staleness markers. */
interface SeriesWindow {
  readonly metric: Labels;
  readonly points: ReadonlyArray<readonly [number, number]>;
  readonly lo: number;
  readonly hi: number;
}

interface Windows {
  readonly series: SeriesWindow[];
  readonly startMs: number;
  readonly endMs: number;
}

type DenseSeries = { readonly metric: Labels; readonly points: ReadonlyArray<readonly [number, number]> };

/** A selector's series without their staleness markers (which are not samples of a range), made once per query. */
function denseSeries(sel: VectorSelector, ctx: Ctx): readonly DenseSeries[] {
  let dense = ctx.dense.get(sel);
  if (dense === undefined) {
    dense = (ctx.data.get(sel) ?? []).map((s) => ({
      metric: s.metric,
      points: s.points.every((p) => p[1] !== null)
        ? (s.points as ReadonlyArray<readonly [number, number]>)
        : (s.points.filter((p) => p[1] !== null) as Array<readonly [number, number]>),
    }));
    ctx.dense.set(sel, dense);
  }
  return dense;
}

/** The first index whose time is after `t` (or at it, when `inclusive`). */
function firstAfter(points: ReadonlyArray<readonly [number, number]>, t: number, inclusive: boolean): number {
  let lo = 0;
  let hi = points.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    const pt = (points[mid] as readonly [number, number])[0];
    if (pt < t || (!inclusive && pt === t)) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function matrixAt(m: MatrixSelector, t: number, ctx: Ctx): Windows {
  const endMs = (resolveAt(m.selector.at, ctx) ?? t) - m.selector.offsetMs;
  const startMs = endMs - m.rangeMs;
  const series: SeriesWindow[] = [];
  for (const s of denseSeries(m.selector, ctx)) {
    const lo = firstAfter(s.points, startMs, !ctx.leftOpen);
    const hi = firstAfter(s.points, endMs, false);
    if (hi > lo) series.push({ metric: s.metric, points: s.points, lo, hi });
  }
  return { series, startMs, endMs };
}

function toRangeSeries(w: SeriesWindow): RangeSeries {
  return { metric: w.metric, points: w.lo === 0 && w.hi === w.points.length ? w.points : w.points.slice(w.lo, w.hi) };
}

function subqueryAt(sq: Subquery, t: number, ctx: Ctx): Windows {
  const endMs = (resolveAt(sq.at, ctx) ?? t) - sq.offsetMs;
  const startMs = endMs - sq.rangeMs;
  const step = sq.stepMs ?? DEFAULT_SUBQUERY_STEP_MS;
  let first = Math.floor(startMs / step) * step;
  if (first < startMs || (ctx.leftOpen && first === startMs)) first += step;
  let cache = ctx.subqueryCache.get(sq);
  if (cache === undefined) {
    cache = new Map();
    ctx.subqueryCache.set(sq, cache);
  }
  const bySeries = new Map<string, { metric: Labels; points: Array<readonly [number, number]> }>();
  for (let ts = first; ts <= endMs; ts += step) {
    let v = cache.get(ts);
    if (v === undefined) {
      v = evalAt(sq.expr, ts, ctx);
      cache.set(ts, v);
    }
    if (v.type !== 'vector') continue;
    for (const s of v.samples) {
      const key = labelsKey(s.metric);
      let e = bySeries.get(key);
      if (e === undefined) {
        e = { metric: s.metric, points: [] };
        bySeries.set(key, e);
      }
      e.points.push([ts, s.value]);
    }
  }
  const series = [...bySeries.values()].map((e) => ({ metric: e.metric, points: e.points, lo: 0, hi: e.points.length }));
  return { series, startMs, endMs };
}

function scalarOf(v: Value): number {
  if (v.type === 'scalar') return v.value;
  throw new Error(`expected a scalar, got ${v.type}`);
}

function samplesOf(v: Value): readonly Sample[] {
  if (v.type === 'vector') return v.samples;
  throw new Error(`expected an instant vector, got ${v.type}`);
}

function stringOf(v: Value): string {
  if (v.type === 'string') return v.value;
  throw new Error(`expected a string, got ${v.type}`);
}

function evalAt(expr: Expr, t: number, ctx: Ctx): Value {
  switch (expr.type) {
    case 'number':
      return { type: 'scalar', value: expr.value };
    case 'string':
      return { type: 'string', value: expr.value };
    case 'vector':
      return { type: 'vector', samples: vectorAt(expr, t, ctx) };
    case 'matrix':
      return { type: 'matrix', series: matrixAt(expr, t, ctx).series.map(toRangeSeries) };
    case 'subquery':
      return { type: 'matrix', series: subqueryAt(expr, t, ctx).series.map(toRangeSeries) };
    case 'paren':
      return evalAt(expr.expr, t, ctx);
    case 'unary': {
      const v = evalAt(expr.expr, t, ctx);
      if (expr.op === '+') return v;
      if (v.type === 'scalar') return { type: 'scalar', value: -v.value };
      return { type: 'vector', samples: samplesOf(v).map((s) => ({ metric: dropName(s.metric), value: -s.value })) };
    }
    case 'call':
      return evalCall(expr, t, ctx);
    case 'aggregate':
      return { type: 'vector', samples: evalAggregate(expr, t, ctx) };
    case 'binary':
      return evalBinary(expr, t, ctx);
  }
}

function evalCall(call: Call, t: number, ctx: Ctx): Value {
  const { func, args } = call;
  if (RANGE_FUNCTIONS.has(func)) {
    const rangeArg = (func === 'quantile_over_time' ? args[1] : args[0]) as MatrixSelector | Subquery;
    const scalarArg =
      func === 'quantile_over_time'
        ? scalarOf(evalAt(args[0] as Expr, t, ctx))
        : func === 'predict_linear'
          ? scalarOf(evalAt(args[1] as Expr, t, ctx))
          : Number.NaN;
    const window = rangeArg.type === 'matrix' ? matrixAt(rangeArg, t, ctx) : subqueryAt(rangeArg, t, ctx);
    const out: Sample[] = [];
    for (const s of window.series) {
      const value = rangeFunction(func, s.points, s.lo, s.hi, window.startMs, window.endMs, t, scalarArg, !ctx.leftOpen);
      if (value !== undefined) out.push({ metric: KEEPS_NAME.has(func) ? s.metric : dropName(s.metric), value });
    }
    return { type: 'vector', samples: out };
  }
  if (func === 'absent_over_time') {
    const rangeArg = args[0] as MatrixSelector | Subquery;
    const window = rangeArg.type === 'matrix' ? matrixAt(rangeArg, t, ctx) : subqueryAt(rangeArg, t, ctx);
    if (window.series.length > 0) return { type: 'vector', samples: [] };
    return {
      type: 'vector',
      samples: [{ metric: absentLabels(rangeArg.type === 'matrix' ? rangeArg.selector : rangeArg.expr), value: 1 }],
    };
  }
  const math = mathFunction(func);
  if (math !== undefined) return mapVector(evalAt(args[0] as Expr, t, ctx), math);
  const date = dateFunction(func);
  if (date !== undefined) {
    if (args.length === 0) return { type: 'vector', samples: [{ metric: {}, value: date(t / 1_000) }] };
    return mapVector(evalAt(args[0] as Expr, t, ctx), date);
  }
  switch (func) {
    case 'time':
      return { type: 'scalar', value: t / 1_000 };
    case 'pi':
      return { type: 'scalar', value: Math.PI };
    case 'vector':
      return { type: 'vector', samples: [{ metric: {}, value: scalarOf(evalAt(args[0] as Expr, t, ctx)) }] };
    case 'scalar': {
      const samples = samplesOf(evalAt(args[0] as Expr, t, ctx));
      return { type: 'scalar', value: samples.length === 1 ? (samples[0] as Sample).value : Number.NaN };
    }
    case 'timestamp': {
      const arg = args[0] as Expr;
      // timestamp() of a selector is the time of the sample it found, not the evaluation time.
      const inner = unwrapParens(arg);
      if (inner.type === 'vector') {
        const ts = (resolveAt(inner.at, ctx) ?? t) - inner.offsetMs;
        const out: Sample[] = [];
        for (const s of ctx.data.get(inner) ?? []) {
          const i = lastAtOrBefore(s.points, ts);
          if (i < 0) continue;
          const [pt, pv] = s.points[i] as readonly [number, number | null];
          if (pv === null || !inLookback(pt, ts, ctx)) continue;
          out.push({ metric: dropName(s.metric), value: pt / 1_000 });
        }
        return { type: 'vector', samples: out };
      }
      return mapVector(evalAt(arg, t, ctx), () => t / 1_000);
    }
    case 'round': {
      const to = args[1] === undefined ? 1 : scalarOf(evalAt(args[1], t, ctx));
      return mapVector(evalAt(args[0] as Expr, t, ctx), (v) => roundTo(v, to));
    }
    case 'clamp': {
      const min = scalarOf(evalAt(args[1] as Expr, t, ctx));
      const max = scalarOf(evalAt(args[2] as Expr, t, ctx));
      if (max < min) return { type: 'vector', samples: [] };
      return mapVector(evalAt(args[0] as Expr, t, ctx), (v) => Math.max(min, Math.min(max, v)));
    }
    case 'clamp_min': {
      const min = scalarOf(evalAt(args[1] as Expr, t, ctx));
      return mapVector(evalAt(args[0] as Expr, t, ctx), (v) => (Number.isNaN(v) ? v : Math.max(min, v)));
    }
    case 'clamp_max': {
      const max = scalarOf(evalAt(args[1] as Expr, t, ctx));
      return mapVector(evalAt(args[0] as Expr, t, ctx), (v) => (Number.isNaN(v) ? v : Math.min(max, v)));
    }
    case 'absent': {
      const samples = samplesOf(evalAt(args[0] as Expr, t, ctx));
      if (samples.length > 0) return { type: 'vector', samples: [] };
      return { type: 'vector', samples: [{ metric: absentLabels(args[0] as Expr), value: 1 }] };
    }
    case 'sort':
    case 'sort_desc': {
      const samples = [...samplesOf(evalAt(args[0] as Expr, t, ctx))];
      const dir = func === 'sort' ? 1 : -1;
      samples.sort((a, b) => {
        if (Number.isNaN(a.value)) return Number.isNaN(b.value) ? 0 : 1;
        if (Number.isNaN(b.value)) return -1;
        return dir * (a.value - b.value);
      });
      return { type: 'vector', samples };
    }
    case 'histogram_quantile': {
      const phi = scalarOf(evalAt(args[0] as Expr, t, ctx));
      return { type: 'vector', samples: histogramQuantile(phi, samplesOf(evalAt(args[1] as Expr, t, ctx))) };
    }
    case 'label_replace': {
      const samples = samplesOf(evalAt(args[0] as Expr, t, ctx));
      const [dst, replacement, src, regex] = args.slice(1).map((a) => stringOf(evalAt(a, t, ctx))) as [string, string, string, string];
      try {
        compileRegex(regex);
      } catch (err) {
        fail(`invalid regular expression in label_replace(): ${(err as Error).message}`);
      }
      if (!isLabelName(dst)) fail(`invalid destination label name in label_replace(): ${dst}`);
      return checkUnique({
        type: 'vector',
        samples: samples.map((s) => ({ metric: labelReplace(s.metric, dst, replacement, src, regex), value: s.value })),
      });
    }
    case 'label_join': {
      const samples = samplesOf(evalAt(args[0] as Expr, t, ctx));
      const [dst, sep, ...srcs] = args.slice(1).map((a) => stringOf(evalAt(a, t, ctx))) as [string, string, ...string[]];
      if (!isLabelName(dst)) fail(`invalid destination label name in label_join(): ${dst}`);
      for (const s of srcs) if (!isLabelName(s)) fail(`invalid source label name in label_join(): ${s}`);
      return checkUnique({
        type: 'vector',
        samples: samples.map((s) => ({ metric: labelJoin(s.metric, dst, sep, srcs), value: s.value })),
      });
    }
    default:
      fail(`function ${func} is not supported`);
  }
}

function unwrapParens(e: Expr): Expr {
  return e.type === 'paren' ? unwrapParens(e.expr) : e;
}

function mapVector(v: Value, f: (value: number) => number): Value {
  return { type: 'vector', samples: samplesOf(v).map((s) => ({ metric: dropName(s.metric), value: f(s.value) })) };
}

/** absent()'s labels: those of the selector's equality matchers (none for other expressions). */
function absentLabels(e: Expr): Labels {
  const inner = unwrapParens(e);
  if (inner.type !== 'vector') return {};
  const out: Record<string, string> = {};
  const seen = new Set<string>();
  for (const m of inner.matchers) {
    if (m.name === '__name__') continue;
    if (m.op === '=' && !seen.has(m.name)) out[m.name] = m.value;
    else delete out[m.name];
    seen.add(m.name);
  }
  return out;
}

function checkUnique(v: Value): Value {
  if (v.type !== 'vector') return v;
  const seen = new Set<string>();
  for (const s of v.samples) {
    const key = labelsKey(s.metric);
    if (seen.has(key)) fail('vector cannot contain metrics with the same labelset');
    seen.add(key);
  }
  return v;
}

function groupingLabels(metric: Labels, grouping: 'by' | 'without', labels: readonly string[]): Labels {
  const out: Record<string, string> = {};
  if (grouping === 'by') {
    for (const l of labels) {
      const v = metric[l];
      if (v !== undefined && v !== '') out[l] = v;
    }
  } else {
    for (const [k, v] of Object.entries(metric)) if (k !== '__name__' && !labels.includes(k)) out[k] = v;
  }
  return out;
}

/** The group of an element's labels for an aggregation, cached per label set (the same at every step). */
function groupOf(agg: Aggregate, metric: Labels, ctx: Ctx): { metric: Labels; key: string } {
  let cache = ctx.groupCache.get(agg);
  if (cache === undefined) {
    cache = new WeakMap();
    ctx.groupCache.set(agg, cache);
  }
  let group = cache.get(metric);
  if (group === undefined) {
    const labels = groupingLabels(metric, agg.grouping, agg.labels);
    group = { metric: labels, key: labelsKey(labels) };
    cache.set(metric, group);
  }
  return group;
}

function evalAggregate(agg: Aggregate, t: number, ctx: Ctx): Sample[] {
  const samples = samplesOf(evalAt(agg.expr, t, ctx));
  const param = agg.param === undefined ? undefined : evalAt(agg.param, t, ctx);
  if (agg.op === 'topk' || agg.op === 'bottomk') {
    // Go's int64(k): Prometheus refuses a k that does not convert (NaN, ±Inf, too large) at any step, even over no series.
    const k = scalarOf(param as Value);
    if (!(k <= 9.223372036854776e18 && k >= -9.223372036854776e18)) fail(`Scalar value ${formatValue(k)} overflows int64`);
  }
  const groups = new Map<string, { metric: Labels; members: Sample[] }>();
  for (const s of samples) {
    const { metric, key } = groupOf(agg, s.metric, ctx);
    let g = groups.get(key);
    if (g === undefined) {
      g = { metric, members: [] };
      groups.set(key, g);
    }
    g.members.push(s);
  }
  // Groups in the order of their first sample, as Prometheus answers an instant query.
  const out: Sample[] = [];
  for (const { metric, members } of groups.values()) {
    const values = members.map((m) => m.value);
    switch (agg.op) {
      case 'sum':
        out.push({ metric, value: sumOf(values) });
        break;
      case 'avg':
        out.push({ metric, value: avgOf(values) });
        break;
      case 'min':
        out.push({ metric, value: values.reduce((a, b) => (b < a || Number.isNaN(a) ? b : a)) });
        break;
      case 'max':
        out.push({ metric, value: values.reduce((a, b) => (b > a || Number.isNaN(a) ? b : a)) });
        break;
      case 'count':
        out.push({ metric, value: values.length });
        break;
      case 'group':
        out.push({ metric, value: 1 });
        break;
      case 'stdvar':
        out.push({ metric, value: variance(values) });
        break;
      case 'stddev':
        out.push({ metric, value: Math.sqrt(variance(values)) });
        break;
      case 'quantile':
        out.push({ metric, value: quantile(scalarOf(param as Value), values) });
        break;
      case 'topk':
      case 'bottomk': {
        const k = scalarOf(param as Value);
        if (!(k >= 1)) break;
        const kept = selectK(members, Math.trunc(k), agg.op === 'topk', !ctx.leftOpen);
        out.push(...kept);
        break;
      }
      case 'count_values': {
        const label = stringOf(param as Value);
        if (!isLabelName(label)) fail(`invalid label name ${JSON.stringify(label)}`);
        const counts = new Map<string, number>();
        for (const v of values) {
          const text = formatValue(v);
          counts.set(text, (counts.get(text) ?? 0) + 1);
        }
        for (const [text, n] of counts) out.push({ metric: { ...metric, [label]: text }, value: n });
        break;
      }
    }
  }
  return out;
}

/**
 * topk/bottomk as Prometheus picks among equal values and NaN: its heap (Go's container/heap) of at most k,
 * the worst on top, fed in the input's order; the kept samples best first. Prometheus 3 replaces the top
 * only by a strictly better sample (or a number for a NaN); Prometheus 2 (2.42) pops the top and pushes
 * the sample when it is better or when the top is NaN (so a later NaN displaces an earlier one).
 */
function selectK(members: readonly Sample[], k: number, top: boolean, prometheus2: boolean): Sample[] {
  // less(i, j): i is worse, so nearer the heap's top; NaN is the worst of all.
  const less = (a: Sample, b: Sample) => Number.isNaN(a.value) || (top ? a.value < b.value : a.value > b.value);
  const h: Sample[] = [];
  const swap = (i: number, j: number) => {
    const x = h[i] as Sample;
    h[i] = h[j] as Sample;
    h[j] = x;
  };
  const up = (j: number) => {
    while (j > 0) {
      const i = (j - 1) >> 1;
      if (!less(h[j] as Sample, h[i] as Sample)) break;
      swap(i, j);
      j = i;
    }
  };
  const down = (i0: number, n: number): boolean => {
    let i = i0;
    for (;;) {
      const j1 = 2 * i + 1;
      if (j1 >= n) break;
      let j = j1;
      if (j1 + 1 < n && less(h[j1 + 1] as Sample, h[j1] as Sample)) j = j1 + 1;
      if (!less(h[j] as Sample, h[i] as Sample)) break;
      swap(i, j);
      i = j;
    }
    return i > i0;
  };
  for (const s of members) {
    if (h.length < k) {
      h.push(s);
      up(h.length - 1);
      continue;
    }
    const worst = h[0] as Sample;
    const better = top ? worst.value < s.value : worst.value > s.value;
    if (prometheus2) {
      if (!better && !Number.isNaN(worst.value)) continue;
      if (k === 1) {
        h[0] = s;
        continue;
      }
      // heap.Pop, then heap.Push.
      swap(0, h.length - 1);
      down(0, h.length - 1);
      h.pop();
      h.push(s);
      up(h.length - 1);
    } else if (better || (Number.isNaN(worst.value) && !Number.isNaN(s.value))) {
      h[0] = s;
      if (!down(0, h.length)) up(0);
    }
  }
  return h.sort((a, b) => (less(a, b) ? 1 : less(b, a) ? -1 : 0));
}

/** Sum with Kahan compensation, as Prometheus sums. */
function sumOf(values: readonly number[]): number {
  let sum = 0;
  let c = 0;
  for (const v of values) {
    const t = sum + v;
    if (Number.isFinite(t)) {
      if (Math.abs(sum) >= Math.abs(v)) c += sum - t + v;
      else c += v - t + sum;
    }
    sum = t;
  }
  return Number.isFinite(sum) ? sum + c : sum;
}

function avgOf(values: readonly number[]): number {
  const sum = sumOf(values);
  if (Number.isFinite(sum)) return sum / values.length;
  let mean = 0;
  let count = 0;
  for (const v of values) {
    count++;
    if (Math.abs(mean) === Number.POSITIVE_INFINITY) {
      // An infinite mean stays: another infinity of its sign or a finite value cannot move it (Inf - Inf would be NaN).
      if (Math.abs(v) === Number.POSITIVE_INFINITY && Math.sign(mean) === Math.sign(v)) continue;
      if (Number.isFinite(v)) continue;
    }
    mean += v / count - mean / count;
  }
  return mean;
}

/** The value of `lhs op rhs`, and whether a comparison keeps the element. */
function binaryValue(op: BinaryOp, lhs: number, rhs: number): [number, boolean] {
  switch (op) {
    case '+':
      return [lhs + rhs, true];
    case '-':
      return [lhs - rhs, true];
    case '*':
      return [lhs * rhs, true];
    case '/':
      return [lhs / rhs, true];
    case '%':
      return [goMod(lhs, rhs), true];
    case '^':
      return [lhs ** rhs, true];
    case 'atan2':
      return [Math.atan2(lhs, rhs), true];
    case '==':
      return [lhs, lhs === rhs];
    case '!=':
      return [lhs, lhs !== rhs];
    case '>':
      return [lhs, lhs > rhs];
    case '<':
      return [lhs, lhs < rhs];
    case '>=':
      return [lhs, lhs >= rhs];
    case '<=':
      return [lhs, lhs <= rhs];
    default:
      throw new Error(`operator ${op} is not a value operator`);
  }
}

/** Go's math.Mod: the sign of the dividend, NaN for a zero divisor (JavaScript's % agrees). */
function goMod(a: number, b: number): number {
  return a % b;
}

function signature(metric: Labels, on: boolean, labels: readonly string[]): string {
  const picked: Record<string, string> = {};
  for (const [k, v] of Object.entries(metric)) {
    if (on ? labels.includes(k) : k !== '__name__' && !labels.includes(k)) picked[k] = v;
  }
  return labelsKey(picked);
}

function evalBinary(b: Binary, t: number, ctx: Ctx): Value {
  const lhs = evalAt(b.lhs, t, ctx);
  const rhs = evalAt(b.rhs, t, ctx);
  const comparison = isComparison(b.op);
  if (lhs.type === 'scalar' && rhs.type === 'scalar') {
    const [v, keep] = binaryValue(b.op, lhs.value, rhs.value);
    return { type: 'scalar', value: comparison ? (keep ? 1 : 0) : v };
  }
  // Prometheus 2 keeps the left-hand name for atan2 (not among its arithmetic operators that drop it); Prometheus 3 drops it.
  const dropsName = (!comparison && (b.op !== 'atan2' || ctx.leftOpen)) || b.bool;
  if (lhs.type === 'scalar' || rhs.type === 'scalar') {
    const swap = lhs.type === 'scalar';
    const vector = samplesOf(swap ? rhs : lhs);
    const scalar = scalarOf(swap ? lhs : rhs);
    const out: Sample[] = [];
    for (const s of vector) {
      let [value, keep] = swap ? binaryValue(b.op, scalar, s.value) : binaryValue(b.op, s.value, scalar);
      if (comparison && swap) value = s.value;
      if (b.bool) {
        value = keep ? 1 : 0;
        keep = true;
      }
      if (keep) out.push({ metric: dropsName ? dropName(s.metric) : s.metric, value });
    }
    return { type: 'vector', samples: out };
  }
  const matching = b.matching ?? { card: 'one-to-one', on: false, labels: [], include: [] };
  const left = samplesOf(lhs);
  const right = samplesOf(rhs);
  const sig = (s: Sample) => signature(s.metric, matching.on, matching.labels);
  if (isSetOp(b.op)) {
    const rightSigs = new Set(right.map(sig));
    if (b.op === 'and') return { type: 'vector', samples: left.filter((s) => rightSigs.has(sig(s))) };
    if (b.op === 'unless') return { type: 'vector', samples: left.filter((s) => !rightSigs.has(sig(s))) };
    const leftSigs = new Set(left.map(sig));
    return { type: 'vector', samples: [...left, ...right.filter((s) => !leftSigs.has(sig(s)))] };
  }
  // The "one" side is indexed; for group_right the sides swap, and the values are swapped back.
  const [many, one] = matching.card === 'one-to-many' ? [right, left] : [left, right];
  const oneBySig = new Map<string, Sample>();
  for (const s of one) {
    const key = sig(s);
    if (oneBySig.has(key)) {
      const side = matching.card === 'one-to-many' ? 'left' : 'right';
      fail(
        `found duplicate series for the match group ${describeSignature(s.metric, matching)} on the ${side} hand-side of the operation: [${describeLabels(s.metric)}, ${describeLabels((oneBySig.get(key) as Sample).metric)}];many-to-many matching not allowed: matching labels must be unique on one side`,
      );
    }
    oneBySig.set(key, s);
  }
  const matchedOne = new Map<string, Labels>();
  const outKeys = new Set<string>();
  const out: Sample[] = [];
  for (const m of many) {
    const key = sig(m);
    const o = oneBySig.get(key);
    if (o === undefined) continue;
    if (matching.card === 'one-to-one') {
      if (matchedOne.has(key)) fail(`multiple matches for labels: many-to-one matching must be explicit (group_left/group_right)`);
      matchedOne.set(key, m.metric);
    }
    const [l, r] = matching.card === 'one-to-many' ? [o, m] : [m, o];
    let [value, keep] = binaryValue(b.op, l.value, r.value);
    if (b.bool) {
      value = keep ? 1 : 0;
      keep = true;
    }
    if (!keep) continue;
    const metric = resultMetric(m.metric, o.metric, matching, dropsName);
    const outKey = labelsKey(metric);
    if (outKeys.has(outKey) && matching.card !== 'one-to-one')
      fail('multiple matches for labels: grouping labels must ensure unique matches');
    outKeys.add(outKey);
    out.push({ metric, value });
  }
  return { type: 'vector', samples: out };
}

function resultMetric(many: Labels, one: Labels, matching: NonNullable<Binary['matching']>, dropsName: boolean): Labels {
  let out: Record<string, string> = { ...many };
  if (dropsName) delete out.__name__;
  if (matching.card === 'one-to-one') {
    if (matching.on) {
      const kept: Record<string, string> = {};
      for (const l of matching.labels) if (out[l] !== undefined) kept[l] = out[l] as string;
      out = kept;
    } else for (const l of matching.labels) delete out[l];
  }
  for (const l of matching.include) {
    const v = one[l];
    if (v === undefined || v === '') delete out[l];
    else out[l] = v;
  }
  return withoutEmpty(out);
}

function describeLabels(metric: Labels): string {
  return `{${Object.keys(metric)
    .sort()
    .map((k) => `${k}=${JSON.stringify(metric[k])}`)
    .join(', ')}}`;
}

function describeSignature(metric: Labels, matching: NonNullable<Binary['matching']>): string {
  const picked: Record<string, string> = {};
  for (const [k, v] of Object.entries(metric))
    if (matching.on ? matching.labels.includes(k) : k !== '__name__' && !matching.labels.includes(k)) picked[k] = v;
  return describeLabels(picked);
}

async function load(
  query: ParsedQuery,
  source: SeriesSource,
  ctx: Omit<Ctx, 'data' | 'subqueryCache' | 'groupCache' | 'dense'>,
): Promise<Ctx> {
  const windows = new Map<VectorSelector, [number, number]>();
  const base: Ctx = { ...ctx, data: new Map(), subqueryCache: new Map(), groupCache: new Map(), dense: new Map() };
  collectWindows(query.expr, ctx.startMs, ctx.endMs, base, windows);
  const loads = [...windows].map(async ([sel, [from, to]]) => {
    const series = await source(sel.matchers, from, to);
    base.data.set(sel, dedupeSeries(series));
  });
  await Promise.all(loads);
  return base;
}

/** A source may list a series once per stored identity; keep one entry per label set, points merged in order. */
function dedupeSeries(series: readonly SeriesPoints[]): SeriesPoints[] {
  const byKey = new Map<string, SeriesPoints>();
  for (const s of series) {
    const key = labelsKey(s.metric);
    const prev = byKey.get(key);
    if (prev === undefined) byKey.set(key, s);
    else byKey.set(key, { metric: s.metric, points: [...prev.points, ...s.points].sort((a, b) => a[0] - b[0]) });
  }
  // In label order, as Prometheus' TSDB lists a selector's series (topk's ties and aggregations' order follow it).
  return [...byKey.values()].sort((a, b) => compareLabels(a.metric, b.metric));
}

function windowOptions(options: EvaluateOptions): { lookbackMs: number; leftOpen: boolean } {
  return { lookbackMs: options.lookbackMs ?? LOOKBACK_DELTA_MS, leftOpen: options.windows === 'left-open' };
}

/** The result of an instant query. */
export type InstantResult =
  | { readonly resultType: 'vector'; readonly result: readonly Sample[] }
  | { readonly resultType: 'scalar'; readonly result: number }
  | { readonly resultType: 'string'; readonly result: string }
  | { readonly resultType: 'matrix'; readonly result: readonly RangeSeries[] };

/** An instant query at `timeMs`. */
export async function evaluateInstant(
  query: ParsedQuery,
  source: SeriesSource,
  timeMs: number,
  options: EvaluateOptions = {},
): Promise<InstantResult> {
  const ctx = await load(query, source, { startMs: timeMs, endMs: timeMs, ...windowOptions(options) });
  const v = evalAt(query.expr, timeMs, ctx);
  switch (v.type) {
    case 'scalar':
      return { resultType: 'scalar', result: v.value };
    case 'string':
      return { resultType: 'string', result: v.value };
    case 'vector':
      checkUnique(v);
      return { resultType: 'vector', result: v.samples };
    case 'matrix':
      return { resultType: 'matrix', result: [...v.series].sort((a, b) => compareLabels(a.metric, b.metric)) };
  }
}

/** The number of steps of a range, refusing what Prometheus refuses (end before start, more than 11,000 steps). */
export function checkRange(startMs: number, endMs: number, stepMs: number): number {
  if (endMs < startMs) fail('invalid parameter "end": end timestamp must not be before start time');
  if (stepMs <= 0) fail('invalid parameter "step": zero or negative query resolution step widths are not accepted. Try a positive integer');
  // As Prometheus: (end - start) / step, in whole steps, may be at most 11,000 (so 11,001 points).
  if (Math.floor((endMs - startMs) / stepMs) > MAX_RANGE_STEPS)
    fail('exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)');
  return Math.floor((endMs - startMs) / stepMs) + 1;
}

/** A range query: the expression at each step from startMs to endMs; series sorted by labels. */
export async function evaluateRange(
  query: ParsedQuery,
  source: SeriesSource,
  startMs: number,
  endMs: number,
  stepMs: number,
  options: EvaluateOptions = {},
): Promise<RangeSeries[]> {
  if (query.type !== 'scalar' && query.type !== 'vector')
    fail(
      `invalid expression type "${query.type === 'matrix' ? 'range vector' : query.type}" for range query, must be Scalar or instant Vector`,
    );
  checkRange(startMs, endMs, stepMs);
  const ctx = await load(query, source, { startMs, endMs, ...windowOptions(options) });
  const bySeries = new Map<string, { metric: Labels; points: Array<readonly [number, number]> }>();
  let sliceStart = Date.now();
  for (let t = startMs; t <= endMs; t += stepMs) {
    // A long range query gives the event loop a turn every YIELD_EVERY_MS, so the hub or node that
    // evaluates it keeps serving its broker, its heartbeats and other requests meanwhile.
    if (Date.now() - sliceStart >= YIELD_EVERY_MS) {
      await new Promise<void>((resolve) => setTimeout(resolve, 0));
      sliceStart = Date.now();
    }
    const v = evalAt(query.expr, t, ctx);
    const samples = v.type === 'scalar' ? [{ metric: {}, value: v.value }] : samplesOf(checkUnique(v));
    for (const s of samples) {
      const key = labelsKey(s.metric);
      let e = bySeries.get(key);
      if (e === undefined) {
        e = { metric: s.metric, points: [] };
        bySeries.set(key, e);
      }
      e.points.push([t, s.value]);
    }
  }
  return [...bySeries.values()].sort((a, b) => compareLabels(a.metric, b.metric));
}
