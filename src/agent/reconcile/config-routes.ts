// GET /api/v1/config: what config the node runs, where it came from, what waits for a restart, and the last
// desired config it refused (with the reason). [FM-CONFIG-DIST] Secrets redacted (docs/security.md).

import type { FastifyInstance } from 'fastify';
import { redactSecrets } from '../../kit/index.js';
import type { NodeConfigStatus } from '../../protocol/index.js';

export function registerConfigRoutes(app: FastifyInstance, status: () => NodeConfigStatus): void {
  app.get('/api/v1/config', async () => ({ status: 'success', data: redactSecrets(status()) }));
}
