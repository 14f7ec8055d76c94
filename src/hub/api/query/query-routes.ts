// GET|POST /api/v1/query_range and /api/v1/query: series selectors evaluated with Prometheus semantics.

import type { FastifyInstance } from 'fastify';
import {
  evaluateRange,
  formatSampleValue,
  LOOKBACK_MS,
  parseQuerySelector,
  rangeParams,
  requestParams,
  seconds,
  single,
  timeParam,
} from '../../../protocol/prometheus/index.js';
import type { HubApiDeps } from '../api-deps.js';

export function registerQueryRoutes(app: FastifyInstance, deps: HubApiDeps): void {
  const queryRange = async (request: { query: unknown; body: unknown }) => {
    const params = requestParams(request.query, request.body);
    const selector = parseQuerySelector(single(params, 'query'));
    const { startMs, endMs, stepMs } = rangeParams(params);
    const stored = await deps.storage.querySeries(selector.matchers, startMs - LOOKBACK_MS, endMs);
    const result = [];
    for (const { series, points } of stored) {
      const values = evaluateRange(points, startMs, endMs, stepMs).map(([t, v]) => [seconds(t), formatSampleValue(v)] as const);
      if (values.length > 0) result.push({ metric: { __name__: series.name, ...series.labels }, values });
    }
    return { status: 'success', data: { resultType: 'matrix', result } };
  };
  app.get('/api/v1/query_range', queryRange);
  app.post('/api/v1/query_range', queryRange);

  const instant = async (request: { query: unknown; body: unknown }) => {
    const params = requestParams(request.query, request.body);
    const selector = parseQuerySelector(single(params, 'query'));
    const timeMs = timeParam(params, 'time', deps.clock.now());
    const stored = await deps.storage.querySeries(selector.matchers, timeMs - LOOKBACK_MS, timeMs);
    const result = [];
    for (const { series, points } of stored) {
      const [point] = evaluateRange(points, timeMs, timeMs, 1);
      if (point)
        result.push({ metric: { __name__: series.name, ...series.labels }, value: [seconds(timeMs), formatSampleValue(point[1])] });
    }
    return { status: 'success', data: { resultType: 'vector', result } };
  };
  app.get('/api/v1/query', instant);
  app.post('/api/v1/query', instant);
}
