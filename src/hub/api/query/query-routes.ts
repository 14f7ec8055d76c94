// GET|POST /api/v1/query_range and /api/v1/query: PromQL (src/protocol/promql) over the hub's storage,
// answered as Prometheus answers.

import type { FastifyInstance } from 'fastify';
import type { LabelMatcher } from '../../../protocol/index.js';
import {
  instantQueryData,
  parseQuery,
  rangeParams,
  rangeQueryResult,
  requestParams,
  type SeriesSource,
  single,
  timeParam,
} from '../../../protocol/prometheus/index.js';
import type { HubStorage } from '../../storage/storage.js';
import type { HubApiDeps } from '../api-deps.js';

/** The hub's stored series as a PromQL source: each with its name and labels as one label set. */
export function storageSeriesSource(storage: Pick<HubStorage, 'querySeries'>): SeriesSource {
  return async (matchers: readonly LabelMatcher[], startMs: number, endMs: number) =>
    (await storage.querySeries(matchers, startMs, endMs)).map(({ series, points }) => ({
      metric: { __name__: series.name, ...series.labels },
      points,
    }));
}

export function registerQueryRoutes(app: FastifyInstance, deps: HubApiDeps): void {
  const source = deps.seriesSource ?? storageSeriesSource(deps.storage);
  const queryRange = async (request: { query: unknown; body: unknown }) => {
    const params = requestParams(request.query, request.body);
    const query = parseQuery(single(params, 'query'));
    const { startMs, endMs, stepMs } = rangeParams(params);
    const result = await rangeQueryResult(query, source, startMs, endMs, stepMs);
    return { status: 'success', data: { resultType: 'matrix', result } };
  };
  app.get('/api/v1/query_range', queryRange);
  app.post('/api/v1/query_range', queryRange);

  const instant = async (request: { query: unknown; body: unknown }) => {
    const params = requestParams(request.query, request.body);
    const query = parseQuery(single(params, 'query'));
    const timeMs = timeParam(params, 'time', deps.clock.now());
    return { status: 'success', data: await instantQueryData(query, source, timeMs) };
  };
  app.get('/api/v1/query', instant);
  app.post('/api/v1/query', instant);
}
