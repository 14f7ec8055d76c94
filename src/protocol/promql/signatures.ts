// The PromQL functions fieldmesh evaluates, with their argument and result types as Prometheus
// declares them (promql/parser/functions.go); a function of the grammar not listed here is refused by name.

import type { ValueType } from './ast.js';

export interface FunctionSignature {
  readonly args: readonly ValueType[];
  /** How many of `args` may be left out at the end (round's to_nearest, the date functions' vector). */
  readonly optional?: number;
  /** The last argument may repeat (label_join's source labels). */
  readonly variadic?: boolean;
  readonly returns: ValueType;
}

const V: ValueType = 'vector';
const M: ValueType = 'matrix';
const S: ValueType = 'scalar';
const STR: ValueType = 'string';

const vectorFn: FunctionSignature = { args: [V], returns: V };
const rangeFn: FunctionSignature = { args: [M], returns: V };
const dateFn: FunctionSignature = { args: [V], optional: 1, returns: V };

export const FUNCTIONS: Readonly<Record<string, FunctionSignature>> = {
  abs: vectorFn,
  absent: vectorFn,
  absent_over_time: rangeFn,
  acos: vectorFn,
  acosh: vectorFn,
  asin: vectorFn,
  asinh: vectorFn,
  atan: vectorFn,
  atanh: vectorFn,
  avg_over_time: rangeFn,
  ceil: vectorFn,
  changes: rangeFn,
  clamp: { args: [V, S, S], returns: V },
  clamp_max: { args: [V, S], returns: V },
  clamp_min: { args: [V, S], returns: V },
  cos: vectorFn,
  cosh: vectorFn,
  count_over_time: rangeFn,
  day_of_month: dateFn,
  day_of_week: dateFn,
  day_of_year: dateFn,
  days_in_month: dateFn,
  deg: vectorFn,
  delta: rangeFn,
  deriv: rangeFn,
  exp: vectorFn,
  floor: vectorFn,
  histogram_quantile: { args: [S, V], returns: V },
  hour: dateFn,
  idelta: rangeFn,
  increase: rangeFn,
  irate: rangeFn,
  label_join: { args: [V, STR, STR, STR], variadic: true, optional: 1, returns: V },
  label_replace: { args: [V, STR, STR, STR, STR], returns: V },
  last_over_time: rangeFn,
  ln: vectorFn,
  log10: vectorFn,
  log2: vectorFn,
  max_over_time: rangeFn,
  min_over_time: rangeFn,
  minute: dateFn,
  month: dateFn,
  pi: { args: [], returns: S },
  predict_linear: { args: [M, S], returns: V },
  present_over_time: rangeFn,
  quantile_over_time: { args: [S, M], returns: V },
  rad: vectorFn,
  rate: rangeFn,
  resets: rangeFn,
  round: { args: [V, S], optional: 1, returns: V },
  scalar: { args: [V], returns: S },
  sgn: vectorFn,
  sin: vectorFn,
  sinh: vectorFn,
  sort: vectorFn,
  sort_desc: vectorFn,
  sqrt: vectorFn,
  stddev_over_time: rangeFn,
  stdvar_over_time: rangeFn,
  sum_over_time: rangeFn,
  tan: vectorFn,
  tanh: vectorFn,
  time: { args: [], returns: S },
  timestamp: vectorFn,
  vector: { args: [S], returns: V },
  year: dateFn,
};

/** Prometheus' names of the value types, as its messages write them. */
export function typeName(t: ValueType): string {
  return t === 'vector' ? 'instant vector' : t === 'matrix' ? 'range vector' : t;
}
