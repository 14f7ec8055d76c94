// Commands to any set of nodes and key reads:
//   POST /api/v1/commands        {target, command, args?, timeoutMs?, wait?, detach?}: 200 with every
//                                node's result once all have one, or 202 at once (detach) to poll
//   GET  /api/v1/commands[/:id]  recent runs, one run with its results so far
//   GET  /api/v1/get?key=K       a key expression's values (hub state, else the nodes' get)
// Roles come from the route table (operator runs commands, viewers read); each run is one audit entry
// naming the command, the target and the counts. docs/commands.md.

import type { FastifyInstance, FastifyRequest } from 'fastify';
import { FieldmeshError, parseDurationMs } from '../../../kit/index.js';
import type { CommandRunView } from '../../../protocol/index.js';
import type { CommandEngine } from '../../actions/command-engine.js';
import { parseCommandRequest } from '../../actions/command-request.js';
import { getFleetKeys } from '../../actions/fleet-get.js';
import type { FleetState } from '../../fleet/fleet-state.js';

/** `GET /api/v1/get` waits this long for the nodes it asks, unless `timeout` says otherwise. */
const DEFAULT_GET_TIMEOUT_MS = 5_000;

function principalName(request: FastifyRequest): string | null {
  const principal = (request as { principal?: { readonly name?: string } | null }).principal;
  return typeof principal?.name === 'string' ? principal.name : null;
}

function targetText(view: CommandRunView): string {
  return typeof view.target === 'string' ? view.target : JSON.stringify(view.target);
}

/** "ping all: 200 nodes: 197 ok, 2 timeout, 1 offline". */
export function auditText(view: CommandRunView): string {
  const counts = Object.entries(view.counts)
    .filter(([, n]) => n > 0)
    .map(([k, n]) => `${n} ${k}`)
    .join(', ');
  const args = Object.entries(view.args)
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');
  return `${view.command}${args === '' ? '' : ` ${args}`} ${targetText(view)}: ${view.results.length} node${view.results.length === 1 ? '' : 's'}${counts === '' ? '' : `: ${counts}`} (run ${view.id})`;
}

export function registerCommandsRoutes(app: FastifyInstance, engine: CommandEngine, fleet: FleetState, now: () => number): void {
  app.post<{ Body: unknown }>('/api/v1/commands', async (request, reply) => {
    const parsed = parseCommandRequest(request.body);
    request.auditTarget = `${parsed.command} ${typeof parsed.target === 'string' ? parsed.target : JSON.stringify(parsed.target)}`;
    const started = engine.start(parsed, principalName(request));
    if (parsed.detach) {
      request.auditTarget = auditText(started);
      return reply.code(202).send(started);
    }
    const done = (await engine.finished(started.id)) as CommandRunView;
    request.auditTarget = auditText(done);
    return done;
  });

  app.get('/api/v1/commands', async () => ({ commands: engine.list() }));

  app.get<{ Params: { id: string } }>('/api/v1/commands/:id', async (request) => {
    const view = engine.get(request.params.id);
    if (view === undefined)
      throw new FieldmeshError('FM_NOT_FOUND', `no command run ${request.params.id} (the hub keeps the last 100, until it restarts)`);
    return view;
  });

  app.get<{ Querystring: { key?: string; timeout?: string } }>('/api/v1/get', async (request) => {
    const key = request.query.key;
    if (typeof key !== 'string' || key.trim() === '')
      throw new FieldmeshError('FM_REQUEST_INVALID', 'parameter "key" is missing: a key expression like site/north/node/*/battery_soc');
    let timeoutMs = DEFAULT_GET_TIMEOUT_MS;
    if (request.query.timeout !== undefined) {
      const ms = parseDurationMs(request.query.timeout);
      if (ms === undefined || ms < 100 || ms > 120_000)
        throw new FieldmeshError(
          'FM_REQUEST_INVALID',
          `parameter "timeout": expected a duration from 100ms to 2m like "5s", got ${JSON.stringify(request.query.timeout)}`,
        );
      timeoutMs = ms;
    }
    const who = principalName(request);
    return getFleetKeys(key, { fleet, engine, timeoutMs, by: who === null ? 'hub' : `hub:${who}`, now });
  });
}
