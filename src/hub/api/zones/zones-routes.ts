// The hub's zone API (docs/consensus.md "The hub's view"; roles in src/hub/auth/route-access.ts):
//   GET  /api/v1/zones                                 every zone watched (hub.yaml, repository) with its summary
//   GET  /api/v1/zones/:zone                           voters, cameras, detections, evaluation, decisions, pumps, alerts
//   GET  /api/v1/zones/:zone/history?range=24h         pump runs and detections from stored events (15m..30d)
//   POST /api/v1/zones/:zone/pumps/:pump/:action       start | stop | estop | clear | test, through a member node (202)
//   POST /api/v1/zones/:zone/elect                     a new epoch, elected by a member node (202)
// The POSTs are audited by the auth hooks, with what was handed to which node as the target.

import type { FastifyInstance, FastifyRequest } from 'fastify';
import { FieldmeshError, parseDurationMs } from '../../../kit/index.js';
import type { HubZones } from '../../zones/hub-zones.js';

const MIN_RANGE_MS = 15 * 60_000;
const MAX_RANGE_MS = 30 * 86_400_000;
const DEFAULT_RANGE = '24h';

function username(request: FastifyRequest): string {
  const principal = (request as { principal?: { readonly name?: string } | null }).principal;
  return typeof principal?.name === 'string' ? principal.name : 'anonymous';
}

export function registerZonesRoutes(app: FastifyInstance, zones: HubZones): void {
  const { monitor } = zones;
  const viewOf = (zone: string) => {
    const view = monitor.view(zone);
    if (view === undefined)
      throw new FieldmeshError(
        'FM_NOT_FOUND',
        `zone "${zone}" is not watched by this hub (its zones, from hub.yaml and the configuration repository: ${monitor.zoneIds().join(', ') || 'none'})`,
      );
    return view;
  };

  app.get('/api/v1/zones', async () => ({ status: 'success', data: { zones: monitor.summaries() } }));

  app.get<{ Params: { zone: string } }>('/api/v1/zones/:zone', async (request) => ({
    status: 'success',
    data: viewOf(request.params.zone),
  }));

  app.get<{ Params: { zone: string }; Querystring: { range?: string } }>('/api/v1/zones/:zone/history', async (request) => {
    const { zone } = request.params;
    viewOf(zone);
    const text = request.query.range ?? DEFAULT_RANGE;
    const rangeMs = parseDurationMs(text);
    if (rangeMs === undefined || rangeMs < MIN_RANGE_MS || rangeMs > MAX_RANGE_MS)
      throw new FieldmeshError('FM_REQUEST_INVALID', `range "${text}": expected a duration from 15m to 30d, e.g. 24h`);
    const end = zones.clock.now();
    const history = await monitor.history(zone, zones.storage, end - rangeMs, end);
    return { status: 'success', data: history };
  });

  app.post<{ Params: { zone: string; pump: string; action: string } }>(
    '/api/v1/zones/:zone/pumps/:pump/:action',
    async (request, reply) => {
      const { zone, pump, action } = request.params;
      request.auditTarget = `zone ${zone} pump ${pump} ${action}`;
      const result = await zones.pumpCommand(zone, pump, action, username(request));
      request.auditTarget = `zone ${zone} pump ${pump} ${action} via ${result.via} (${result.id})`;
      return reply.code(202).send({ status: 'success', data: result });
    },
  );

  app.post<{ Params: { zone: string } }>('/api/v1/zones/:zone/elect', async (request, reply) => {
    const { zone } = request.params;
    request.auditTarget = `zone ${zone} elect`;
    const result = await zones.elect(zone, username(request));
    request.auditTarget = `zone ${zone} elect via ${result.via}: epoch ${result.epoch}`;
    return reply.code(202).send({ status: 'success', data: result });
  });
}
