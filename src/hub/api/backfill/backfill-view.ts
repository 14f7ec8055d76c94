// Builds the JSON shape of a backfill request (protocol/api.ts) for the backfill route and the completeness report.

import type { BackfillView } from '../../../protocol/index.js';
import type { BackfillRecord } from '../../ledger/backfills.js';
import { iso } from '../nodes/node-view.js';

const isoOf = (ms: number): string => iso(ms) ?? String(ms);

export function toBackfillView(r: BackfillRecord): BackfillView {
  return {
    id: r.id,
    site: r.site,
    node: r.node,
    from: isoOf(r.fromMs),
    to: isoOf(r.toMs),
    series: r.selectors,
    origin: r.origin,
    state: r.doneAt === null ? 'outstanding' : 'done',
    requestedAt: isoOf(r.createdAt),
    lastSentAt: iso(r.sentAt),
    attempts: r.attempts,
    doneAt: iso(r.doneAt),
  };
}
