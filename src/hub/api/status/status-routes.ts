// GET /api/v1/status/buildinfo: a Prometheus-style version so Grafana uses the modern label APIs
// (it checks for >= 2.24 before sending match[] to /labels), with fieldmesh's own version beside it.

import type { FastifyInstance } from 'fastify';
import { FIELDMESH_VERSION, PROTOCOL_VERSION } from '../../../protocol/index.js';
import { formatQueryData, metadataData, requestParams } from '../../../protocol/prometheus/index.js';

/** The Prometheus release whose HTTP API this hub mimics. */
export const PROMETHEUS_COMPAT_VERSION = '2.53.0';

/** `alerts`: the alert engine serves /api/v1/alerts and /api/v1/rules itself. */
export function registerStatusRoutes(app: FastifyInstance, options: { readonly alerts?: boolean } = {}): void {
  app.get('/api/v1/status/buildinfo', async () => ({
    status: 'success',
    data: {
      version: PROMETHEUS_COMPAT_VERSION,
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
  for (const path of options.alerts ? [] : ['/api/v1/rules', '/api/v1/alerts']) {
    app.get(path, async () => ({ status: 'success', data: path.endsWith('rules') ? { groups: [] } : { alerts: [] } }));
  }
  // Grafana's Explore asks for metric metadata (metric, limit): fieldmesh keeps none, so an empty map.
  app.get('/api/v1/metadata', async (request) => ({ status: 'success', data: metadataData(requestParams(request.query, undefined)) }));
  // Grafana probes exemplars on load and its backend asks with the data source's method: none kept, empty.
  app.get('/api/v1/query_exemplars', async () => ({ status: 'success', data: [] }));
  app.post('/api/v1/query_exemplars', async () => ({ status: 'success', data: [] }));
  // The query editor's "Format query": the expression once it parses (fieldmesh has no pretty-printer).
  const formatQuery = async (request: { query: unknown; body: unknown }) => ({
    status: 'success',
    data: formatQueryData(requestParams(request.query, request.body)),
  });
  app.get('/api/v1/format_query', formatQuery);
  app.post('/api/v1/format_query', formatQuery);
}
