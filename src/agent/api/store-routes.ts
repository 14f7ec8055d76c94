// The node's Prometheus HTTP API over its local store: query_range (from raw samples or a rollup),
// query, series, labels, label values and buildinfo, GET and form POST, in Prometheus' envelope, so the
// hub and Grafana can use a node. The semantics live in store-queries.ts, shared with remote queries.

import type { FastifyError, FastifyInstance, FastifyPluginAsync } from 'fastify';
import {
  errorAnswer,
  FIELDMESH_VERSION,
  formatQueryData,
  metadataData,
  PROTOCOL_VERSION,
  parseFormBody,
  requestParams,
} from '../../protocol/index.js';
import type { SampleStore } from '../store/store.js';
import { createStoreQueries, type StoreQueriesOptions } from './store-queries.js';

export { chooseRollup, type RollupChoice } from './store-queries.js';

/** The Prometheus release whose HTTP API the node mimics (Grafana reads it to pick its label APIs). */
export const NODE_PROMETHEUS_COMPAT_VERSION = '2.53.0';

export type StoreRoutesOptions = StoreQueriesOptions;

type HttpRequest = { query: unknown; body: unknown };

/**
 * Registers the routes in their own Fastify scope (form-body parser and Prometheus error envelope
 * stay inside it). Await it before the app listens.
 */
export async function registerStoreRoutes(app: FastifyInstance, store: SampleStore, options: StoreRoutesOptions = {}): Promise<void> {
  const q = createStoreQueries(store, options);
  const queryRange = (request: HttpRequest) => q.queryRange(requestParams(request.query, request.body));
  const instant = (request: HttpRequest) => q.instant(requestParams(request.query, request.body));
  const series = (request: HttpRequest) => q.series(requestParams(request.query, request.body));
  const labels = (request: HttpRequest) => q.labels(requestParams(request.query, request.body));
  const labelValues = (request: HttpRequest & { params: { name: string } }) =>
    q.labelValues(request.params.name, requestParams(request.query, undefined));

  const routes: FastifyPluginAsync = async (scope) => {
    scope.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_request, body, done) => {
      done(null, parseFormBody(body as string));
    });
    scope.setErrorHandler((err: FastifyError | Error, _request, reply) => {
      const answer = errorAnswer(err, 'FM_AGENT_INTERNAL');
      return reply.status(answer.status).send(answer.body);
    });

    for (const method of ['GET', 'POST'] as const) {
      scope.route({ method, url: '/api/v1/query_range', handler: queryRange });
      scope.route({ method, url: '/api/v1/query', handler: instant });
      scope.route({ method, url: '/api/v1/series', handler: series });
      scope.route({ method, url: '/api/v1/labels', handler: labels });
      scope.route({
        method,
        url: '/api/v1/format_query',
        handler: (request: HttpRequest) => ({
          status: 'success',
          data: formatQueryData(requestParams(request.query, request.body)),
        }),
      });
      scope.route({ method, url: '/api/v1/query_exemplars', handler: async () => ({ status: 'success', data: [] }) });
    }
    scope.get<{ Params: { name: string } }>('/api/v1/label/:name/values', labelValues);
    scope.get('/api/v1/status/buildinfo', async () => ({
      status: 'success',
      data: {
        version: NODE_PROMETHEUS_COMPAT_VERSION,
        revision: '',
        branch: '',
        buildUser: '',
        buildDate: '',
        goVersion: '',
        fieldmeshVersion: FIELDMESH_VERSION,
        protocolVersion: PROTOCOL_VERSION,
      },
    }));
    // Grafana asks for these; an empty answer is better than a 404 that makes it guess the flavour.
    scope.get('/api/v1/metadata', async (request) => ({ status: 'success', data: metadataData(requestParams(request.query, undefined)) }));
    scope.get('/api/v1/rules', async () => ({ status: 'success', data: { groups: [] } }));
    scope.get('/api/v1/alerts', async () => ({ status: 'success', data: { alerts: [] } }));
  };
  await app.register(routes);
}
