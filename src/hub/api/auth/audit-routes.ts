// GET /api/v1/audit: the audit log, newest first (admins only): ?limit=1..1000 (100), ?before=<id> to
// page back, ?actor=<name>.

import type { FastifyInstance } from 'fastify';
import { FieldmeshError } from '../../../kit/index.js';
import type { HubAuth } from '../../auth/index.js';

const MAX_AUDIT_LIMIT = 1_000;
const DEFAULT_AUDIT_LIMIT = 100;

function positiveInt(value: string | undefined, name: string, max: number): number | undefined {
  if (value === undefined || value === '') return undefined;
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n) || n < 1 || n > max)
    throw new FieldmeshError('FM_QUERY_INVALID', `${name} must be a whole number from 1 to ${max}, got ${JSON.stringify(value)}`);
  return n;
}

export function registerAuditRoutes(app: FastifyInstance, auth: HubAuth): void {
  app.get<{ Querystring: { limit?: string; before?: string; actor?: string } }>('/api/v1/audit', async (request) => {
    const q = request.query;
    const limit = positiveInt(q.limit, 'limit', MAX_AUDIT_LIMIT) ?? DEFAULT_AUDIT_LIMIT;
    const beforeId = positiveInt(q.before, 'before', Number.MAX_SAFE_INTEGER);
    const entries = await auth.listAudit({
      limit,
      ...(beforeId !== undefined ? { beforeId } : {}),
      ...(q.actor !== undefined && q.actor !== '' ? { actor: q.actor } : {}),
    });
    return { entries };
  });
}
