// GET /api/v1/status/buildinfo: a Prometheus-style version so Grafana uses the modern label APIs
// (it checks for >= 2.24 before sending match[] to /labels), with fieldmesh's own version beside it.

import type { FastifyInstance } from 'fastify';
import { FIELDMESH_VERSION, PROTOCOL_VERSION } from '../../../protocol/index.js';

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
  app.get('/api/v1/metadata', async () => ({ status: 'success', data: {} }));
  app.get('/api/v1/query_exemplars', async () => ({ status: 'success', data: [] }));
}
