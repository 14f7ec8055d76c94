// PromQL's functions computed as Prometheus computes them (promql/functions.go): the range-vector
// functions over one series' window, the element-wise math, histogram_quantile of classic buckets,
// label_replace/label_join and the date functions.

import { compileRegex, matchGroups } from './regex.js';
import { dropName, type Labels, type Sample } from './values.js';

type Points = ReadonlyArray<readonly [number, number]>;

/** Prometheus' quantile: linear interpolation between the closest ranks; φ outside [0, 1] is ±Inf. */
export function quantile(phi: number, values: readonly number[]): number {
  if (values.length === 0 || Number.isNaN(phi)) return Number.NaN;
  if (phi < 0) return Number.NEGATIVE_INFINITY;
  if (phi > 1) return Number.POSITIVE_INFINITY;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = phi * (sorted.length - 1);
  const lower = Math.max(0, Math.floor(rank));
  const upper = Math.min(sorted.length - 1, lower + 1);
  const weight = rank - Math.floor(rank);
  return (sorted[lower] as number) * (1 - weight) + (sorted[upper] as number) * weight;
}

/** Population variance, Welford's method as Prometheus (stdvar, stddev, *_over_time). */
export function variance(values: readonly number[]): number {
  let count = 0;
  let mean = 0;
  let m2 = 0;
  for (const v of values) {
    count++;
    const delta = v - mean;
    mean += delta / count;
    m2 += delta * (v - mean);
  }
  return m2 / count;
}

/**
 * rate, increase and delta: the change between the first and last sample of the window (counter
 * resets added back for rate and increase), extrapolated toward the window's edges by at most half
 * the average spacing when the samples do not reach them, and for a counter never below zero.
 */
function extrapolatedRate(
  points: Points,
  lo: number,
  hi: number,
  rangeStartMs: number,
  rangeEndMs: number,
  isCounter: boolean,
  isRate: boolean,
  zeroFirst: boolean,
): number | undefined {
  const n = hi - lo;
  if (n < 2) return undefined;
  const [firstT, firstV] = points[lo] as readonly [number, number];
  const [lastT, lastV] = points[hi - 1] as readonly [number, number];
  let result = lastV - firstV;
  if (isCounter) {
    let previous = firstV;
    for (let i = lo; i < hi; i++) {
      const v = (points[i] as readonly [number, number])[1];
      if (v < previous) result += previous;
      previous = v;
    }
  }
  let durationToStart = (firstT - rangeStartMs) / 1_000;
  let durationToEnd = (rangeEndMs - lastT) / 1_000;
  const sampled = (lastT - firstT) / 1_000;
  const averageSpacing = sampled / (n - 1);
  const threshold = averageSpacing * 1.1;
  const towardZero = () => {
    if (isCounter && result > 0 && firstV >= 0) {
      const durationToZero = sampled * (firstV / result);
      if (durationToZero < durationToStart) durationToStart = durationToZero;
    }
  };
  // Prometheus 2 (2.42, as Debian packages it) limits the start toward the counter's zero before the
  // threshold's test; Prometheus 3 after it.
  if (zeroFirst) towardZero();
  if (durationToStart >= threshold) durationToStart = averageSpacing / 2;
  if (!zeroFirst) towardZero();
  if (durationToEnd >= threshold) durationToEnd = averageSpacing / 2;
  let factor = (sampled + durationToStart + durationToEnd) / sampled;
  if (isRate) factor /= (rangeEndMs - rangeStartMs) / 1_000;
  return result * factor;
}

/** Least-squares slope and intercept of value over time (seconds from `interceptMs`). */
function linearRegression(points: Points, interceptMs: number): [number, number] {
  let n = 0;
  let sumX = 0;
  let sumY = 0;
  let sumXY = 0;
  let sumX2 = 0;
  const initY = (points[0] as readonly [number, number])[1];
  let constY = true;
  for (const [t, v] of points) {
    if (constY && n > 0 && v !== initY) constY = false;
    n++;
    const x = (t - interceptMs) / 1_000;
    sumX += x;
    sumY += v;
    sumXY += x * v;
    sumX2 += x * x;
  }
  if (constY) return Number.isFinite(initY) ? [0, initY] : [Number.NaN, Number.NaN];
  const covXY = sumXY - (sumX * sumY) / n;
  const varX = sumX2 - (sumX * sumX) / n;
  const slope = covXY / varX;
  return [slope, sumY / n - (slope * sumX) / n];
}

export const RANGE_FUNCTIONS = new Set([
  'rate',
  'irate',
  'increase',
  'delta',
  'idelta',
  'deriv',
  'predict_linear',
  'resets',
  'changes',
  'avg_over_time',
  'min_over_time',
  'max_over_time',
  'sum_over_time',
  'count_over_time',
  'quantile_over_time',
  'stddev_over_time',
  'stdvar_over_time',
  'last_over_time',
  'present_over_time',
]);

/**
 * A range function's value over one series' window [rangeStartMs, rangeEndMs]: the points from index
 * `lo` up to (not including) `hi` of `all`, ascending; undefined when the series has no element (too few
 * samples). Indices rather than a copy: a range query asks this for every series at every step.
 */
export function rangeFunction(
  func: string,
  all: Points,
  lo: number,
  hi: number,
  rangeStartMs: number,
  rangeEndMs: number,
  evalMs: number,
  scalarArg: number,
  prometheus2 = true,
): number | undefined {
  if (hi <= lo) return undefined;
  switch (func) {
    case 'rate':
    case 'increase':
    case 'delta':
      return extrapolatedRate(all, lo, hi, rangeStartMs, rangeEndMs, func !== 'delta', func === 'rate', prometheus2);
    case 'count_over_time':
      return hi - lo;
    case 'last_over_time':
      return (all[hi - 1] as readonly [number, number])[1];
    case 'present_over_time':
      return 1;
  }
  const points = lo === 0 && hi === all.length ? all : all.slice(lo, hi);
  const values = points.map(([, v]) => v);
  switch (func) {
    case 'irate':
    case 'idelta': {
      if (points.length < 2) return undefined;
      const [t1, v1] = points[points.length - 2] as readonly [number, number];
      const [t2, v2] = points[points.length - 1] as readonly [number, number];
      if (func === 'idelta') return v2 - v1;
      const change = v2 < v1 ? v2 : v2 - v1;
      return t2 === t1 ? undefined : change / ((t2 - t1) / 1_000);
    }
    case 'deriv':
      return points.length < 2 ? undefined : linearRegression(points, (points[0] as readonly [number, number])[0])[0];
    case 'predict_linear': {
      if (points.length < 2) return undefined;
      const [slope, intercept] = linearRegression(points, evalMs);
      return slope * scalarArg + intercept;
    }
    case 'resets': {
      let n = 0;
      for (let i = 1; i < values.length; i++) if ((values[i] as number) < (values[i - 1] as number)) n++;
      return n;
    }
    case 'changes': {
      let n = 0;
      for (let i = 1; i < values.length; i++) {
        const a = values[i - 1] as number;
        const b = values[i] as number;
        if (a !== b && !(Number.isNaN(a) && Number.isNaN(b))) n++;
      }
      return n;
    }
    case 'avg_over_time': {
      let mean = 0;
      let count = 0;
      let sum = 0;
      for (const v of values) sum += v;
      if (Number.isFinite(sum)) return sum / values.length;
      for (const v of values) {
        count++;
        if (Math.abs(mean) === Number.POSITIVE_INFINITY && Math.abs(v) === Number.POSITIVE_INFINITY && Math.sign(mean) === Math.sign(v))
          continue;
        mean += v / count - mean / count;
      }
      return mean;
    }
    case 'sum_over_time':
      return values.reduce((a, b) => a + b, 0);
    case 'min_over_time':
      return values.reduce((a, b) => (b < a || Number.isNaN(a) ? b : a));
    case 'max_over_time':
      return values.reduce((a, b) => (b > a || Number.isNaN(a) ? b : a));
    case 'quantile_over_time':
      return quantile(scalarArg, values);
    case 'stdvar_over_time':
      return variance(values);
    case 'stddev_over_time':
      return Math.sqrt(variance(values));
    default:
      throw new Error(`range function ${func} has no implementation`);
  }
}

/** Range functions whose result keeps the metric name. */
export const KEEPS_NAME = new Set(['last_over_time', 'sort', 'sort_desc', 'label_replace', 'label_join']);

const MATH: Record<string, (v: number) => number> = {
  abs: Math.abs,
  ceil: Math.ceil,
  floor: Math.floor,
  exp: Math.exp,
  ln: Math.log,
  log2: Math.log2,
  log10: Math.log10,
  sqrt: Math.sqrt,
  sgn: (v) => (v > 0 ? 1 : v < 0 ? -1 : v),
  acos: Math.acos,
  acosh: Math.acosh,
  asin: Math.asin,
  asinh: Math.asinh,
  atan: Math.atan,
  atanh: Math.atanh,
  cos: Math.cos,
  cosh: Math.cosh,
  sin: Math.sin,
  sinh: Math.sinh,
  tan: Math.tan,
  tanh: Math.tanh,
  deg: (v) => (v * 180) / Math.PI,
  rad: (v) => (v * Math.PI) / 180,
};

export function mathFunction(func: string): ((v: number) => number) | undefined {
  return MATH[func];
}

/** Go's math.Round: half away from zero. */
function goRound(v: number): number {
  return v < 0 ? -Math.round(-v) : Math.round(v);
}

/** round(v, to_nearest) as Prometheus: floor(v / to_nearest + 0.5) * to_nearest, via the inverse to avoid float error. */
export function roundTo(v: number, toNearest: number): number {
  const inverse = 1 / toNearest;
  return Math.floor(v * inverse + 0.5) / inverse;
}

export { goRound };

const DATE: Record<string, (d: Date) => number> = {
  day_of_month: (d) => d.getUTCDate(),
  day_of_week: (d) => d.getUTCDay(),
  day_of_year: (d) =>
    Math.floor((Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate()) - Date.UTC(d.getUTCFullYear(), 0, 1)) / 86_400_000) + 1,
  days_in_month: (d) => new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 0)).getUTCDate(),
  hour: (d) => d.getUTCHours(),
  minute: (d) => d.getUTCMinutes(),
  month: (d) => d.getUTCMonth() + 1,
  year: (d) => d.getUTCFullYear(),
};

/** A date function of a value read as Unix seconds (UTC); NaN and infinities stay as they are. */
export function dateFunction(func: string): ((seconds: number) => number) | undefined {
  const f = DATE[func];
  if (f === undefined) return undefined;
  return (s) => (Number.isFinite(s) ? f(new Date(Math.trunc(s) * 1_000)) : s);
}

/** histogram_quantile over classic buckets (`le` label), grouped by the other labels. */
export function histogramQuantile(phi: number, samples: readonly Sample[]): Sample[] {
  const groups = new Map<string, { metric: Labels; buckets: Array<[number, number]> }>();
  for (const s of samples) {
    const le = s.metric.le;
    if (le === undefined) continue;
    const bound = parseBucketBound(le);
    if (bound === undefined) continue;
    const { le: _, ...rest } = dropName(s.metric);
    const key = JSON.stringify(Object.entries(rest).sort());
    let g = groups.get(key);
    if (g === undefined) {
      g = { metric: rest, buckets: [] };
      groups.set(key, g);
    }
    g.buckets.push([bound, s.value]);
  }
  return [...groups.values()].map((g) => ({ metric: g.metric, value: bucketQuantile(phi, g.buckets) }));
}

function parseBucketBound(le: string): number | undefined {
  const t = le.trim().toLowerCase();
  if (t === '+inf' || t === 'inf') return Number.POSITIVE_INFINITY;
  if (t === '-inf') return Number.NEGATIVE_INFINITY;
  if (t === 'nan') return Number.NaN;
  const n = Number(t);
  return t === '' || Number.isNaN(n) ? undefined : n;
}

function bucketQuantile(q: number, input: Array<[number, number]>): number {
  if (Number.isNaN(q)) return Number.NaN;
  if (q < 0) return Number.NEGATIVE_INFINITY;
  if (q > 1) return Number.POSITIVE_INFINITY;
  const sorted = [...input].sort((a, b) => a[0] - b[0]);
  if (sorted.length === 0 || (sorted[sorted.length - 1] as [number, number])[0] !== Number.POSITIVE_INFINITY) return Number.NaN;
  const buckets: Array<[number, number]> = [];
  for (const [b, c] of sorted) {
    const last = buckets[buckets.length - 1];
    if (last !== undefined && last[0] === b) last[1] += c;
    else buckets.push([b, c]);
  }
  let max = Number.NEGATIVE_INFINITY;
  for (const b of buckets) {
    if (b[1] > max) max = b[1];
    else b[1] = max;
  }
  if (buckets.length < 2) return Number.NaN;
  const observations = (buckets[buckets.length - 1] as [number, number])[1];
  if (observations === 0 || Number.isNaN(observations)) return Number.NaN;
  let rank = q * observations;
  let b = buckets.findIndex(([, c]) => c >= rank);
  if (b < 0) b = buckets.length - 1;
  if (b === buckets.length - 1) return (buckets[buckets.length - 2] as [number, number])[0];
  const first = buckets[0] as [number, number];
  if (b === 0 && first[0] <= 0) return first[0];
  let start = 0;
  const [end, endCount] = buckets[b] as [number, number];
  let count = endCount;
  if (b > 0) {
    const prev = buckets[b - 1] as [number, number];
    start = prev[0];
    count -= prev[1];
    rank -= prev[1];
  }
  return start + (end - start) * (rank / count);
}

/** Go's regexp Expand of a template with $1, ${1}, $name, ${name} and $$. */
function expand(template: string, groups: string[], named: Record<string, string>): string {
  return template.replace(/\$(\$|\{([^}]*)\}|([A-Za-z0-9_]+))/g, (_m, all: string, braced?: string, bare?: string) => {
    if (all === '$') return '$';
    const name = braced ?? bare ?? '';
    if (/^\d+$/.test(name)) return groups[Number(name)] ?? '';
    return named[name] ?? '';
  });
}

const LABEL_NAME_RE = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

export function isLabelName(name: string): boolean {
  return LABEL_NAME_RE.test(name);
}

/** label_replace of one element's labels; the caller checked the regex and the destination label. */
export function labelReplace(metric: Labels, dst: string, replacement: string, src: string, regex: string): Labels {
  compileRegex(regex);
  const m = matchGroups(regex, metric[src] ?? '');
  if (m === undefined) return metric;
  const value = expand(replacement, m.groups, m.named);
  const out: Record<string, string> = { ...metric };
  if (value === '') delete out[dst];
  else out[dst] = value;
  return out;
}

export function labelJoin(metric: Labels, dst: string, separator: string, srcs: readonly string[]): Labels {
  const value = srcs.map((s) => metric[s] ?? '').join(separator);
  const out: Record<string, string> = { ...metric };
  if (value === '') delete out[dst];
  else out[dst] = value;
  return out;
}
