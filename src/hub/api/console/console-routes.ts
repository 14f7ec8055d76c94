// GET /api/v1/console (title, site-plan map and site coordinates from hub.yaml) and
// GET /api/v1/console/map-image (the operator's site-plan image): the console's map works offline.

import { readFile } from 'node:fs/promises';
import type { FastifyInstance } from 'fastify';
import { FieldmeshError } from '../../../kit/index.js';
import { MAP_IMAGE_PATH } from '../../health/site-monitor.js';
import type { HubApiDeps } from '../api-deps.js';
import { siteMonitorOf } from '../sites/sites-routes.js';

export type { ConsoleView } from '../../../protocol/index.js';

const IMAGE_TYPES: Readonly<Record<string, string>> = { png: 'image/png', jpg: 'image/jpeg', jpeg: 'image/jpeg', svg: 'image/svg+xml' };

export function registerConsoleRoutes(app: FastifyInstance, deps: HubApiDeps): void {
  const monitor = siteMonitorOf(deps);

  app.get('/api/v1/console', async () => monitor.consoleView());

  app.get(MAP_IMAGE_PATH, async (_request, reply) => {
    const path = monitor.mapImage;
    if (path === undefined) throw new FieldmeshError('FM_NOT_FOUND', 'no site-plan image is configured (console.map.image)');
    const type = IMAGE_TYPES[path.slice(path.lastIndexOf('.') + 1).toLowerCase()];
    let bytes: Buffer;
    try {
      // Read at each request: the operator may replace the file without restarting the hub.
      bytes = await readFile(path);
    } catch (err) {
      deps.logger.warn({ path, err: (err as Error).message }, 'site-plan image not readable');
      throw new FieldmeshError('FM_NOT_FOUND', `the site-plan image ${path} cannot be read`, { cause: err });
    }
    // An operator's SVG may carry scripts: never let it run them, nor the browser guess another type.
    return reply
      .type(type ?? 'application/octet-stream')
      .header('x-content-type-options', 'nosniff')
      .header('content-security-policy', "default-src 'none'; style-src 'unsafe-inline'; img-src data:")
      .header('cache-control', 'no-cache')
      .send(bytes);
  });
}
