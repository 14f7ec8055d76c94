// A node's own store, read through the hub over MQTT (the hub keeps only critical series, for a month):
// GET|POST /api/v1/nodes/:site/:node/query_range, GET .../series, and POST .../ping. [FM-QUERY-1..5]

import type { FastifyInstance } from 'fastify';
import { FieldmeshError } from '../../../kit/index.js';
import {
  limitResults,
  type Params,
  parseQuery,
  parseSelector,
  parseStepMs,
  rangeParams,
  repeated,
  requestParams,
  single,
  withTargetLabels,
} from '../../../protocol/index.js';
import { NODE_COMMAND_MAX_TIMEOUT_MS, type NodeCommands } from '../../node-commands.js';
import type { HubApiDeps } from '../api-deps.js';

/** How long a query waits for the node unless `timeout` says otherwise: a cellular round trip and a store read. */
export const NODE_QUERY_TIMEOUT_MS = 15_000;
/** A ping's default wait. */
export const NODE_PING_TIMEOUT_MS = 5_000;

type NodeRequest = { params: { site: string; node: string }; query: unknown; body: unknown };

function commandsOf(deps: HubApiDeps): NodeCommands {
  if (deps.nodeCommands === undefined) throw new FieldmeshError('FM_TRANSPORT_UNAVAILABLE', 'this hub does not query nodes');
  return deps.nodeCommands;
}

/** Prometheus' `timeout` parameter (a duration or seconds), capped at the longest a node command may wait. */
function timeoutOf(params: Params, fallbackMs: number): number {
  const raw = single(params, 'timeout');
  if (raw === undefined || raw === '') return fallbackMs;
  const ms = parseStepMs(raw, 'timeout');
  if (ms > NODE_COMMAND_MAX_TIMEOUT_MS) {
    throw new FieldmeshError('FM_QUERY_INVALID', `invalid parameter "timeout": at most ${NODE_COMMAND_MAX_TIMEOUT_MS / 1_000}s`);
  }
  return ms;
}

/**
 * The labels the hub gives every series of a node (as its own query_range shows them); a series' own
 * label of the same name moves to `exported_<name>`, as the hub stores it.
 */
function hubLabels(deps: HubApiDeps, site: string, node: string): Record<string, string> {
  return { site, node, zone: deps.fleet.get(site, node)?.zone ?? '' };
}

export function registerNodeQueryRoutes(app: FastifyInstance, deps: HubApiDeps): void {
  const queryRange = async (request: NodeRequest) => {
    const { site, node } = request.params;
    const params = requestParams(request.query, request.body);
    const query = single(params, 'query') ?? '';
    // Checked here too, so a bad query costs no round trip; the node evaluates it with the same code.
    parseQuery(query);
    const { startMs, endMs, stepMs } = rangeParams(params);
    const rollup = single(params, 'rollup');
    const fn = single(params, 'fn');
    const answer = await commandsOf(deps).query(
      site,
      node,
      { query, startMs, endMs, stepMs, ...(rollup ? { rollup } : {}), ...(fn ? { fn } : {}) },
      timeoutOf(params, NODE_QUERY_TIMEOUT_MS),
    );
    const labels = hubLabels(deps, site, node);
    return {
      ...answer,
      data: { ...answer.data, result: answer.data.result.map((s) => ({ ...s, metric: withTargetLabels(s.metric, labels) })) },
    };
  };
  app.get<{ Params: { site: string; node: string } }>('/api/v1/nodes/:site/:node/query_range', queryRange);
  app.post<{ Params: { site: string; node: string } }>('/api/v1/nodes/:site/:node/query_range', queryRange);

  app.get<{ Params: { site: string; node: string } }>('/api/v1/nodes/:site/:node/series', async (request) => {
    const { site, node } = request.params;
    const params = requestParams(request.query, undefined);
    const matchers = repeated(params, 'match[]');
    for (const m of matchers) parseSelector(m);
    const found = await commandsOf(deps).series(site, node, matchers, timeoutOf(params, NODE_QUERY_TIMEOUT_MS));
    const labels = hubLabels(deps, site, node);
    return {
      status: 'success',
      data: limitResults(
        found.map((s) => withTargetLabels(s, labels)),
        params,
      ),
    };
  });

  app.post<{ Params: { site: string; node: string } }>('/api/v1/nodes/:site/:node/ping', async (request) => {
    const { site, node } = request.params;
    const params = requestParams(request.query, undefined);
    const { rttMs, epoch, agentVersion, uptimeMs } = await commandsOf(deps).ping(site, node, timeoutOf(params, NODE_PING_TIMEOUT_MS));
    return { rttMs, epoch, agentVersion, uptimeMs };
  });
}
