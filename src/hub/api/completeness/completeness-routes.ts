// GET /api/v1/nodes/:site/:node/completeness?start=&end=: what the hub holds of a node over a window
// (default: yesterday in UTC), from the completeness ledger. [decision 0001 "Completeness"]
//
// The rule (ledger/completeness.ts): complete when the node's oldest pending sample is after `end`
// (or nothing is pending), no unrepaired dropped range overlaps the window, and every series of the
// node is covered across the window. Dropped ranges a backfill repaired, and backfill requests still
// outstanding, are listed beside them. [FM-DURABLE-6]

import type { FastifyInstance } from 'fastify';
import { FieldmeshError } from '../../../kit/index.js';
import { type CompletenessView, parseTimeMs } from '../../../protocol/index.js';
import { completeness } from '../../ledger/completeness.js';
import type { HubApiDeps } from '../api-deps.js';
import { toBackfillView } from '../backfill/backfill-view.js';
import { iso } from '../nodes/node-view.js';

const DAY_MS = 86_400_000;

/** Yesterday in UTC, the last full day before `now`: [00:00 yesterday, 00:00 today). */
export function yesterdayUtc(now: number): { start: number; end: number } {
  const end = Math.floor(now / DAY_MS) * DAY_MS;
  return { start: end - DAY_MS, end };
}

function isoOf(ms: number): string {
  return iso(ms) ?? String(ms);
}

export function registerCompletenessRoutes(app: FastifyInstance, deps: HubApiDeps): void {
  app.get<{ Params: { site: string; node: string }; Querystring: { start?: string; end?: string } }>(
    '/api/v1/nodes/:site/:node/completeness',
    async (request): Promise<CompletenessView> => {
      const { site, node } = request.params;
      if (deps.fleet.get(site, node) === undefined)
        throw new FieldmeshError('FM_NOT_FOUND', `node ${site}/${node} is not known to this hub`);
      const fallback = yesterdayUtc(deps.clock.now());
      const { start: startText, end: endText } = request.query;
      const start = typeof startText === 'string' && startText !== '' ? parseTimeMs(startText, 'start') : fallback.start;
      const end = typeof endText === 'string' && endText !== '' ? parseTimeMs(endText, 'end') : fallback.end;
      if (end <= start) throw new FieldmeshError('FM_QUERY_INVALID', 'parameter "end" must be after "start"');
      const ledger = await deps.storage.nodeLedger(site, node);
      const report = completeness(ledger, start, end);
      const b = ledger.backlog;
      return {
        site,
        node,
        start: isoOf(start),
        end: isoOf(end),
        complete: report.complete,
        ratio: Math.round(report.ratio * 1e6) / 1e6,
        backlog: {
          pendingRows: b?.pendingRows ?? null,
          oldestPending: b === undefined || b.pendingRows === 0 ? null : iso(b.oldestPendingMs),
          pendingBytes: b?.pendingBytes ?? null,
          reportedAt: b === undefined ? null : iso(b.reportedAt),
        },
        missing: report.missing.map((m) => ({ series: m.series, from: isoOf(m.from), to: isoOf(m.to) })),
        dropped: report.dropped.map((d) => ({ from: isoOf(d.fromMs), to: isoOf(d.toMs), rows: d.rows })),
        repaired: report.repaired.map((d) => ({ from: isoOf(d.fromMs), to: isoOf(d.toMs), rows: d.rows, request: d.requestId })),
        repairs: report.repairs.map(toBackfillView),
      };
    },
  );
}
