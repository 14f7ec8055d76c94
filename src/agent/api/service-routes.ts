// The node's services as its API shows them, and operators' actions on them:
//   GET  /api/v1/services                         every service with its state, pid, restarts, last exit, usage
//   GET  /api/v1/services/:name                   one service
//   GET  /api/v1/services/:name/logs?lines=N      the newest N lines of its stdout and stderr (default 100)
//   POST /api/v1/services/:name/:action           start | stop | restart
// The POSTs need `commands.token` (Authorization: Bearer) and are refused with 403 when the node has none.
// A name the node does not supervise is 404 FM_NOT_FOUND (its message lists the node's services).
// Every POST is counted in fieldmesh_service_commands_total{action,result}.

import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Counter, type Registry } from 'prom-client';
import { isFieldmeshError } from '../../kit/index.js';
import type { LogLine } from '../services/log-ring.js';
import type { ServiceStatus, ServiceSupervisor } from '../services/supervisor.js';

export const SERVICE_ACTIONS = ['start', 'stop', 'restart'] as const;
export type ServiceAction = (typeof SERVICE_ACTIONS)[number];

const DEFAULT_LOG_LINES = 100;

/** A service as the API answers it: times as ISO strings. */
export interface ServiceView {
  readonly name: string;
  readonly state: ServiceStatus['state'];
  readonly pid: number | null;
  readonly restarts: number;
  readonly since: string;
  readonly lastExit: {
    readonly code: number | null;
    readonly signal: string | null;
    readonly error?: string;
    readonly at: string;
  } | null;
  readonly nextStartAt: string | null;
  readonly health: {
    readonly kind: 'http' | 'command';
    readonly consecutiveFailures: number;
    readonly lastCheckAt: string | null;
    readonly lastResult: { readonly ok: boolean; readonly detail: string } | null;
  } | null;
  readonly cpuSeconds: number;
  readonly memoryBytes: number | null;
  readonly processes: number | null;
  readonly command: readonly string[];
  readonly autostart: boolean;
  readonly restart: ServiceStatus['restart'];
}

export interface ServiceLogLineView {
  readonly time: string;
  readonly stream: LogLine['stream'];
  readonly line: string;
}

const iso = (ms: number) => new Date(ms).toISOString();

export function serviceView(s: ServiceStatus): ServiceView {
  return {
    name: s.name,
    state: s.state,
    pid: s.pid,
    restarts: s.restarts,
    since: iso(s.since),
    lastExit: s.lastExit === null ? null : { ...s.lastExit, at: iso(s.lastExit.at) },
    nextStartAt: s.nextStartAt === null ? null : iso(s.nextStartAt),
    health: s.health === null ? null : { ...s.health, lastCheckAt: s.health.lastCheckAt === null ? null : iso(s.health.lastCheckAt) },
    cpuSeconds: Math.round(s.cpuSecondsTotal * 100) / 100,
    memoryBytes: s.usage?.memoryBytes ?? null,
    processes: s.usage?.processes ?? null,
    command: s.command,
    autostart: s.autostart,
    restart: s.restart,
  };
}

function sameToken(a: string, b: string): boolean {
  const h = (s: string) => createHash('sha256').update(s).digest();
  return timingSafeEqual(h(a), h(b));
}

/**
 * The operator behind a command request, or undefined after answering 403 (no token configured) or 401
 * (none or a wrong one given). Any of `tokens` is accepted; x-fieldmesh-operator names the operator.
 */
export function commandOperator(
  request: FastifyRequest,
  reply: FastifyReply,
  tokens: readonly (string | undefined)[],
  off: string,
): string | undefined {
  const accepted = tokens.filter((t): t is string => t !== undefined);
  if (accepted.length === 0) {
    void reply.status(403).send({ status: 'error', errorType: 'forbidden', code: 'FM_AUTH_FORBIDDEN', error: off });
    return undefined;
  }
  const header = request.headers.authorization ?? '';
  const given = header.startsWith('Bearer ') ? header.slice(7) : '';
  if (given === '' || !accepted.some((t) => sameToken(given, t))) {
    void reply
      .status(401)
      .send({ status: 'error', errorType: 'unauthorized', code: 'FM_AUTH_REQUIRED', error: 'a valid bearer token is needed' });
    return undefined;
  }
  const by = request.headers['x-fieldmesh-operator'];
  return typeof by === 'string' && by !== '' ? `api:${by}` : 'api';
}

export interface ServiceRoutesOptions {
  /** `commands.token`: the bearer token the POSTs need; undefined: they answer 403. */
  readonly token: string | undefined;
  /** The node's registry, for fieldmesh_service_commands_total. */
  readonly registry?: Registry;
}

export function registerServiceRoutes(app: FastifyInstance, supervisor: ServiceSupervisor, options: ServiceRoutesOptions): void {
  const commands = new Counter({
    name: 'fieldmesh_service_commands_total',
    help: "Operators' service commands through the node API (POST /api/v1/services/:name/:action), by action and result: ok, unauthorized, forbidden, not-found, invalid, failed.",
    labelNames: ['action', 'result'],
    registers: options.registry === undefined ? [] : [options.registry],
  });
  const unknown = (reply: FastifyReply, name: string) => {
    const known = supervisor.list().map((s) => s.name);
    return reply.status(404).send({
      status: 'error',
      errorType: 'not_found',
      code: 'FM_NOT_FOUND',
      error: `service "${name}" is not one of this node's (${known.length === 0 ? 'none: services: in node.yaml' : known.join(', ')})`,
    });
  };

  app.get('/api/v1/services', async () => ({ status: 'success', data: { services: supervisor.list().map(serviceView) } }));

  app.get<{ Params: { name: string } }>('/api/v1/services/:name', async (request, reply) => {
    const s = supervisor.status(request.params.name);
    if (s === undefined) return unknown(reply, request.params.name);
    return { status: 'success', data: serviceView(s) };
  });

  app.get<{ Params: { name: string }; Querystring: { lines?: string } }>('/api/v1/services/:name/logs', async (request, reply) => {
    const raw = request.query.lines;
    const lines = raw === undefined ? DEFAULT_LOG_LINES : Number(raw);
    if (!Number.isInteger(lines) || lines < 1 || lines > 100_000) {
      return reply.status(400).send({
        status: 'error',
        errorType: 'bad_data',
        code: 'FM_QUERY_INVALID',
        error: `lines=${raw}: expected a whole number from 1 to 100000`,
      });
    }
    const tail = supervisor.logs(request.params.name, lines);
    if (tail === undefined) return unknown(reply, request.params.name);
    return {
      status: 'success',
      data: { service: request.params.name, lines: tail.map((l) => ({ time: iso(l.time), stream: l.stream, line: l.line })) },
    };
  });

  app.post<{ Params: { name: string; action: string } }>('/api/v1/services/:name/:action', async (request, reply) => {
    const { name, action } = request.params;
    if (!(SERVICE_ACTIONS as readonly string[]).includes(action)) {
      commands.inc({ action: 'unknown', result: 'invalid' });
      return reply.status(400).send({
        status: 'error',
        errorType: 'bad_data',
        code: 'FM_REQUEST_INVALID',
        error: `action "${action}": expected ${SERVICE_ACTIONS.join(', ')}`,
      });
    }
    const by = commandOperator(request, reply, [options.token], 'service commands are off on this node: set commands.token in node.yaml');
    if (by === undefined) {
      commands.inc({ action, result: reply.statusCode === 403 ? 'forbidden' : 'unauthorized' });
      return reply;
    }
    if (supervisor.status(name) === undefined) {
      commands.inc({ action, result: 'not-found' });
      return unknown(reply, name);
    }
    try {
      const run = { start: supervisor.startService, stop: supervisor.stopService, restart: supervisor.restartService }[
        action as ServiceAction
      ];
      const status = await run(name, by);
      commands.inc({ action, result: 'ok' });
      request.log.info({ service: name, action, by }, `service ${name}: ${action} by ${by}`);
      return { status: 'success', data: { action, by, service: serviceView(status) } };
    } catch (err) {
      commands.inc({ action, result: 'failed' });
      if (isFieldmeshError(err, 'FM_NOT_FOUND')) return unknown(reply, name);
      if (isFieldmeshError(err, 'FM_ACTION_UNAVAILABLE'))
        return reply.status(503).send({ status: 'error', errorType: 'unavailable', code: err.code, error: err.message });
      throw err;
    }
  });
}
