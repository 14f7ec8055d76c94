// PromQL queries answered in Prometheus' result shapes, for every server of the API (the hub, the node,
// the hub's rules): the one parser and evaluator of ../promql, its results rendered as the HTTP API
// renders them (times in seconds, values as strings).

import {
  type EvaluateOptions,
  evaluateInstant,
  evaluateRange,
  formatValue,
  type ParsedQuery,
  parsePromQL,
  type SeriesSource,
} from '../promql/index.js';
import type { PrometheusMatrixSeries, PrometheusQueryData } from './envelope.js';
import { seconds } from './params.js';

export type { ParsedQuery, SeriesPoints, SeriesSource } from '../promql/index.js';

/** Parses the `query` parameter; throws FieldmeshError FM_QUERY_INVALID (missing, syntax, type, unsupported by name). */
export function parseQuery(query: string | undefined): ParsedQuery {
  return parsePromQL(query);
}

/** An instant query's `data`: a vector, scalar, string or (for a range selector) matrix, as Prometheus answers. */
export async function instantQueryData(
  query: ParsedQuery,
  source: SeriesSource,
  timeMs: number,
  options?: EvaluateOptions,
): Promise<PrometheusQueryData> {
  const r = await evaluateInstant(query, source, timeMs, options);
  const t = seconds(timeMs);
  switch (r.resultType) {
    case 'vector':
      return { resultType: 'vector', result: r.result.map((s) => ({ metric: s.metric, value: [t, formatValue(s.value)] as const })) };
    case 'scalar':
      return { resultType: 'scalar', result: [t, formatValue(r.result)] };
    case 'string':
      return { resultType: 'string', result: [t, r.result] };
    case 'matrix':
      return {
        resultType: 'matrix',
        result: r.result.map((s) => ({ metric: s.metric, values: s.points.map(([pt, v]) => [seconds(pt), formatValue(v)] as const) })),
      };
  }
}

/** A range query's `matrix` result; throws FM_QUERY_INVALID for a range Prometheus refuses or a range-vector expression. */
export async function rangeQueryResult(
  query: ParsedQuery,
  source: SeriesSource,
  startMs: number,
  endMs: number,
  stepMs: number,
  options?: EvaluateOptions,
): Promise<PrometheusMatrixSeries[]> {
  const series = await evaluateRange(query, source, startMs, endMs, stepMs, options);
  return series.map((s) => ({ metric: s.metric, values: s.points.map(([t, v]) => [seconds(t), formatValue(v)] as const) }));
}
