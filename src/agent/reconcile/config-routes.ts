// GET /api/v1/config: what config the node runs, where it came from, what waits for a restart, and the last
// desired config it refused (with the reason). [FM-CONFIG-DIST]

import type { FastifyInstance } from 'fastify';
import type { NodeConfigStatus } from '../../protocol/index.js';

export function registerConfigRoutes(app: FastifyInstance, status: () => NodeConfigStatus): void {
  app.get('/api/v1/config', async () => ({ status: 'success', data: status() }));
}
