// Prometheus metadata endpoints over stored series: /api/v1/series, /labels, /label/:name/values.

import type { FastifyInstance } from 'fastify';
import { FieldmeshError } from '../../../kit/index.js';
import { type LabelMatcher, parseSelector } from '../../../protocol/index.js';
import { limitResults as limit, type Params, repeated, requestParams, single, timeParam } from '../../../protocol/prometheus/index.js';
import type { StoredSeries } from '../../storage/storage.js';
import type { HubApiDeps } from '../api-deps.js';

/** Series matching any of the match[] selectors (all series when there is none and `required` is false). */
async function selectSeries(deps: HubApiDeps, params: Params, required: boolean): Promise<StoredSeries[]> {
  const selectors = repeated(params, 'match[]').map((m) => parseSelector(m).matchers);
  if (selectors.length === 0 && required) throw new FieldmeshError('FM_QUERY_INVALID', 'no match[] parameter provided');
  const hasRange = single(params, 'start') !== undefined || single(params, 'end') !== undefined;
  const range = hasRange ? { startMs: timeParam(params, 'start', 0), endMs: timeParam(params, 'end', deps.clock.now()) } : undefined;
  const lists: (readonly LabelMatcher[])[] = selectors.length > 0 ? selectors : [[]];
  const byId = new Map<number, StoredSeries>();
  for (const matchers of lists) for (const s of await deps.storage.listSeries(matchers, range)) byId.set(s.id, s);
  return [...byId.values()];
}

export function registerSeriesRoutes(app: FastifyInstance, deps: HubApiDeps): void {
  const series = async (request: { query: unknown; body: unknown }) => {
    const params = requestParams(request.query, request.body);
    const found = await selectSeries(deps, params, true);
    return {
      status: 'success',
      data: limit(
        found.map((s) => ({ __name__: s.name, ...s.labels })),
        params,
      ),
    };
  };
  app.get('/api/v1/series', series);
  app.post('/api/v1/series', series);

  const labels = async (request: { query: unknown; body: unknown }) => {
    const params = requestParams(request.query, request.body);
    const names = new Set<string>(['__name__']);
    const found = await selectSeries(deps, params, false);
    for (const s of found) for (const k of Object.keys(s.labels)) names.add(k);
    return { status: 'success', data: limit(found.length === 0 ? [] : [...names].sort(), params) };
  };
  app.get('/api/v1/labels', labels);
  app.post('/api/v1/labels', labels);

  app.get<{ Params: { name: string } }>('/api/v1/label/:name/values', async (request) => {
    const params = requestParams(request.query, undefined);
    const { name } = request.params;
    const values = new Set<string>();
    for (const s of await selectSeries(deps, params, false)) {
      const v = name === '__name__' ? s.name : s.labels[name];
      if (v !== undefined && v !== '') values.add(v);
    }
    return { status: 'success', data: limit([...values].sort(), params) };
  });
}
