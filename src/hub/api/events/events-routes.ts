// GET /api/v1/events: the event log the hub stored from event frames, newest first. [FM-DURABLE-3]

import type { FastifyInstance } from 'fastify';
import { FieldmeshError } from '../../../kit/index.js';
import { EVENT_PRIORITIES, type EventPriority, parseTimeMs } from '../../../protocol/index.js';
import type { HubApiDeps } from '../api-deps.js';
import { toEventView } from './event-view.js';

export const DEFAULT_EVENTS_LIMIT = 100;
export const MAX_EVENTS_LIMIT = 10_000;

interface EventsQuerystring {
  site?: string;
  node?: string;
  kind?: string;
  priority?: string;
  start?: string;
  end?: string;
  limit?: string;
}

function text(v: unknown, name: string): string | undefined {
  if (v === undefined || v === '') return undefined;
  if (typeof v !== 'string') throw new FieldmeshError('FM_QUERY_INVALID', `parameter "${name}" given more than once`);
  return v;
}

function parseLimit(v: string | undefined): number {
  if (v === undefined) return DEFAULT_EVENTS_LIMIT;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > MAX_EVENTS_LIMIT)
    throw new FieldmeshError('FM_QUERY_INVALID', `parameter "limit" must be an integer from 1 to ${MAX_EVENTS_LIMIT}, got "${v}"`);
  return n;
}

function parsePriority(v: string | undefined): EventPriority | undefined {
  if (v === undefined) return undefined;
  if (!(EVENT_PRIORITIES as readonly string[]).includes(v))
    throw new FieldmeshError('FM_QUERY_INVALID', `parameter "priority" must be one of ${EVENT_PRIORITIES.join(', ')}, got "${v}"`);
  return v as EventPriority;
}

export function registerEventsRoutes(app: FastifyInstance, deps: HubApiDeps): void {
  app.get<{ Querystring: EventsQuerystring }>('/api/v1/events', async (request) => {
    const q = request.query;
    const start = text(q.start, 'start');
    const end = text(q.end, 'end');
    const events = await deps.storage.queryEvents({
      site: text(q.site, 'site'),
      node: text(q.node, 'node'),
      kind: text(q.kind, 'kind'),
      // `priority` is a floor: priority=high answers high and critical events.
      minPriority: parsePriority(text(q.priority, 'priority')),
      start: start === undefined ? undefined : parseTimeMs(start, 'start'),
      end: end === undefined ? undefined : parseTimeMs(end, 'end'),
      limit: parseLimit(text(q.limit, 'limit')),
    });
    return { events: events.map(toEventView) };
  });
}
