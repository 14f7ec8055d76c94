// /api/v1/metadata (metric, limit, limit_per_metric): Prometheus' map of metric name to its TYPE, HELP
// and UNIT entries. fieldmesh keeps no scrape metadata, so the map is empty; the parameters are still
// checked as Prometheus checks them, so a bad `limit` is a 400 here too.

import { limitResults, type Params } from './params.js';

export type MetricMetadata = Readonly<Record<string, ReadonlyArray<{ type: string; help: string; unit: string }>>>;

export function metadataData(params: Params): MetricMetadata {
  limitResults([], params);
  return {};
}
