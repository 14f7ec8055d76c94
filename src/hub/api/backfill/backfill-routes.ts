// POST /api/v1/nodes/:site/:node/backfill {from, to, series?}: an operator asks a node to send a range
// again from its local store. 202 with the request; the node reports it done in a history frame and the
// completeness report lists it meanwhile. [FM-DURABLE-6]

import type { FastifyInstance } from 'fastify';
import { FieldmeshError } from '../../../kit/index.js';
import { type BackfillView, MAX_BACKFILL_SELECTORS, parseSelector } from '../../../protocol/index.js';
import type { HubApiDeps } from '../api-deps.js';
import { toBackfillView } from './backfill-view.js';

function invalid(message: string): FieldmeshError {
  return new FieldmeshError('FM_REQUEST_INVALID', message);
}

/** A time field: ms since the Unix epoch (a number or a string of digits) or RFC 3339. */
export function parseTimeField(value: unknown, field: string): number {
  if (value === undefined || value === null || value === '')
    throw invalid(`field "${field}" is missing: give RFC 3339 or ms since the Unix epoch`);
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) return value;
  if (typeof value === 'string') {
    const text = value.trim();
    if (/^\d+$/.test(text) && Number.isSafeInteger(Number(text))) return Number(text);
    if (/^\d{4}-\d{2}-\d{2}T/.test(text)) {
      const ms = Date.parse(text);
      if (!Number.isNaN(ms) && ms >= 0) return ms;
    }
  }
  throw invalid(`field "${field}": expected RFC 3339 or whole ms since the Unix epoch, got ${JSON.stringify(value)}`);
}

function parseSeries(value: unknown): string[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw invalid('field "series": expected an array of series selectors');
  if (value.length > MAX_BACKFILL_SELECTORS) throw invalid(`field "series": at most ${MAX_BACKFILL_SELECTORS} selectors`);
  return value.map((s, i) => {
    if (typeof s !== 'string') throw invalid(`field "series[${i}]": expected a series selector string`);
    try {
      parseSelector(s);
    } catch (err) {
      throw invalid(`field "series[${i}]": ${(err as Error).message}`);
    }
    return s;
  });
}

export function registerBackfillRoutes(app: FastifyInstance, deps: HubApiDeps): void {
  app.post<{ Params: { site: string; node: string }; Body: unknown }>('/api/v1/nodes/:site/:node/backfill', async (request, reply) => {
    const { site, node } = request.params;
    if (deps.fleet.get(site, node) === undefined) throw new FieldmeshError('FM_NOT_FOUND', `node ${site}/${node} is not known to this hub`);
    const body = request.body;
    if (typeof body !== 'object' || body === null || Array.isArray(body))
      throw invalid('the body must be a JSON object: {"from": ..., "to": ..., "series": [...] (optional)}');
    const fields = body as Record<string, unknown>;
    const fromMs = parseTimeField(fields.from, 'from');
    const toMs = parseTimeField(fields.to, 'to');
    if (toMs < fromMs) throw invalid('field "to" must not be before "from"');
    const selectors = parseSeries(fields.series);
    if (deps.requestBackfill === undefined)
      throw new FieldmeshError('FM_TRANSPORT_UNAVAILABLE', 'this hub does not send backfill requests');
    const record = await deps.requestBackfill({ site, node, fromMs, toMs, selectors });
    const view: BackfillView = toBackfillView(record);
    return reply.status(202).send(view);
  });
}
