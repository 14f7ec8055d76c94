// The zones as this node sees them, and operators' actions on them:
//   GET  /api/v1/zones                                every zone of this node with its status
//   GET  /api/v1/zones/:zone                          one zone: voters, epoch, majority, detections, decisions, pumps
//   POST /api/v1/zones/:zone/elect                    a new voting round (epoch + 1)
//   POST /api/v1/zones/:zone/pumps/:pump/:action      start | stop | estop | clear | test
// The POSTs act on pumps: they need `zoneCommands.token` (Authorization: Bearer), and are refused with
// 403 when the node has none configured, so nobody on the segment can start a pump through the API.
// A zone this node takes no part in is 404 FM_ZONE_UNKNOWN (its message lists the node's zones).

import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { isFieldmeshError } from '../../kit/index.js';
import { errorAnswer } from '../../protocol/index.js';
import type { PumpAction } from '../actuators/pump-controller.js';
import type { ZoneRuntime } from '../zones/zone-runtime.js';
import { commandOperator } from './service-routes.js';

const ACTIONS: readonly PumpAction[] = ['start', 'stop', 'estop', 'clear', 'test'];

function notFound(reply: FastifyReply, error: string) {
  return reply.status(404).send({ status: 'error', errorType: 'not_found', code: 'FM_NOT_FOUND', error });
}

function unknownZone(reply: FastifyReply, zone: string, known: readonly string[]) {
  return reply.status(404).send({
    status: 'error',
    errorType: 'not_found',
    code: 'FM_ZONE_UNKNOWN',
    error: `zone "${zone}" is not one of this node's (${known.length === 0 ? 'none' : known.join(', ')})`,
  });
}

/** The engine refuses an unknown zone with FM_ZONE_UNKNOWN (404); anything else is the default handler's. */
function answerError(reply: FastifyReply, err: unknown) {
  if (!isFieldmeshError(err, 'FM_ZONE_UNKNOWN')) throw err;
  const answer = errorAnswer(err, 'FM_AGENT_INTERNAL');
  return reply.status(answer.status).send(answer.body);
}

export interface ZoneRoutesOptions {
  /** The bearer token operators' commands need; undefined: the node takes none. */
  readonly token: string | undefined;
  /** `commands.token`, the node's generic command token: accepted for zone commands too. */
  readonly commandsToken?: string | undefined;
}

export function registerZoneRoutes(app: FastifyInstance, zones: () => ZoneRuntime | undefined, options: ZoneRoutesOptions): void {
  const runtimeOr404 = (reply: FastifyReply): ZoneRuntime | undefined => {
    const z = zones();
    if (z === undefined) void notFound(reply, 'no zone names this node (zones: in node.yaml)');
    return z;
  };
  /** The operator, or undefined after answering 401/403 (the node's one bearer-token check, service-routes.ts). */
  const operator = (request: FastifyRequest, reply: FastifyReply): string | undefined =>
    commandOperator(
      request,
      reply,
      [options.token, options.commandsToken],
      'zone commands are off on this node: set zoneCommands.token or commands.token in node.yaml (or act through the hub)',
    );

  app.get('/api/v1/zones', async (_request, reply) => {
    const z = runtimeOr404(reply);
    if (z === undefined) return reply;
    return { status: 'success', data: { zones: z.zones().map((id) => z.status(id)) } };
  });

  app.get<{ Params: { zone: string } }>('/api/v1/zones/:zone', async (request, reply) => {
    const z = runtimeOr404(reply);
    if (z === undefined) return reply;
    const status = z.status(request.params.zone);
    if (status === undefined) return unknownZone(reply, request.params.zone, z.zones());
    return { status: 'success', data: status };
  });

  app.post<{ Params: { zone: string } }>('/api/v1/zones/:zone/elect', async (request, reply) => {
    const z = runtimeOr404(reply);
    if (z === undefined) return reply;
    if (z.status(request.params.zone) === undefined) return unknownZone(reply, request.params.zone, z.zones());
    if (operator(request, reply) === undefined) return reply;
    try {
      return { status: 'success', data: { zone: request.params.zone, epoch: z.elect(request.params.zone) } };
    } catch (err) {
      return answerError(reply, err);
    }
  });

  app.post<{ Params: { zone: string; pump: string; action: string } }>(
    '/api/v1/zones/:zone/pumps/:pump/:action',
    async (request, reply) => {
      const z = runtimeOr404(reply);
      if (z === undefined) return reply;
      const { zone, pump, action } = request.params;
      const status = z.status(zone);
      if (status === undefined) return unknownZone(reply, zone, z.zones());
      if (!status.pumps.some((p) => p.id === pump)) return notFound(reply, `zone "${zone}" has no pump "${pump}"`);
      if (!(ACTIONS as readonly string[]).includes(action)) {
        return reply.status(400).send({
          status: 'error',
          errorType: 'bad_data',
          code: 'FM_REQUEST_INVALID',
          error: `action "${action}": expected ${ACTIONS.join(', ')}`,
        });
      }
      const by = operator(request, reply);
      if (by === undefined) return reply;
      const id = `${by}:${Date.now().toString(36)}:${Math.random().toString(36).slice(2, 8)}`;
      try {
        z.command(zone, pump, action as PumpAction, by, id);
      } catch (err) {
        return answerError(reply, err);
      }
      return reply.status(202).send({ status: 'success', data: { zone, pump, action, id, epoch: status.epoch } });
    },
  );
}
