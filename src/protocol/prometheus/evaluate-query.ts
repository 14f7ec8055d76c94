// A parsed query evaluated over stored points into Prometheus' result shapes: each series stepped
// with the lookback, then aggregated when the query asks, then rendered as `matrix` or `vector`.

import type { AggregationQuery } from './aggregation-query.js';
import { aggregateSeries, type EvaluatedSeries } from './aggregation-query.js';
import type { PrometheusMatrixSeries, PrometheusVectorSample } from './envelope.js';
import { formatSampleValue, seconds } from './params.js';
import { evaluateRange, LOOKBACK_MS } from './range-query.js';

/** The points of one stored series, ascending in time; `metric` holds its labels and `__name__`. */
export interface SeriesPoints {
  readonly metric: Readonly<Record<string, string>>;
  readonly points: ReadonlyArray<readonly [number, number | null]>;
}

/** The window of points a query over [startMs, endMs] needs: the lookback before the start. */
export function queryWindow(startMs: number, endMs: number, lookbackMs = LOOKBACK_MS): { startMs: number; endMs: number } {
  return { startMs: startMs - lookbackMs, endMs };
}

function evaluate(
  query: AggregationQuery,
  stored: readonly SeriesPoints[],
  startMs: number,
  endMs: number,
  stepMs: number,
): EvaluatedSeries[] {
  const stepped = stored
    .map((s) => ({ metric: s.metric, values: evaluateRange(s.points, startMs, endMs, stepMs) }))
    .filter((s) => s.values.length > 0);
  return query.aggregation ? aggregateSeries(stepped, query.aggregation) : stepped;
}

/** A range query's `matrix` result; call `rangeSteps` first to refuse oversized ranges. */
export function evaluateRangeQuery(
  query: AggregationQuery,
  stored: readonly SeriesPoints[],
  startMs: number,
  endMs: number,
  stepMs: number,
): PrometheusMatrixSeries[] {
  return evaluate(query, stored, startMs, endMs, stepMs).map((s) => ({
    metric: s.metric,
    values: s.values.map(([t, v]) => [seconds(t), formatSampleValue(v)] as const),
  }));
}

/** An instant query's `vector` result at `timeMs`. */
export function evaluateInstantQuery(query: AggregationQuery, stored: readonly SeriesPoints[], timeMs: number): PrometheusVectorSample[] {
  const out: PrometheusVectorSample[] = [];
  for (const s of evaluate(query, stored, timeMs, timeMs, 1)) {
    const point = s.values[0];
    if (point) out.push({ metric: s.metric, value: [seconds(timeMs), formatSampleValue(point[1])] });
  }
  return out;
}
