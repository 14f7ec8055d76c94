// [FM-DURABLE-6] The backfill scheduler: remembers repair requests (in storage, so a restart does not forget
// them) and publishes the due ones, paced per node; a node's report of one done retires it.

import type { Clock, Logger } from '../../kit/index.js';
import { createId, describeError } from '../../kit/index.js';
import { commandTopic, encodeBackfill } from '../../protocol/index.js';
import type { Transport } from '../../transport/index.js';
import { nodeKey } from '../fleet/fleet-state.js';
import type { HubCounters, HubMetrics } from '../hub-metrics.js';
import type { WriteQueue } from '../ingest/write-queue.js';
import type { HubStorage } from '../storage/storage.js';
import { type BackfillOrigin, type BackfillPacing, type BackfillRecord, dueBackfills } from './backfills.js';

export interface BackfillSchedulerOptions {
  readonly prefix: string;
  readonly storage: HubStorage;
  readonly writes: WriteQueue;
  readonly pacing: BackfillPacing;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly metrics: Pick<HubMetrics, 'backfillsSent' | 'backfillsCompleted'>;
  readonly counters: HubCounters;
  readonly transport: () => Transport | undefined;
  /** False for a node known to be offline: its requests wait until it is back. */
  readonly reachable: (site: string, node: string) => boolean;
}

export class BackfillScheduler {
  /** Requests not yet reported done, by id. */
  private readonly outstanding = new Map<string, BackfillRecord>();
  /** When a request last went to each node, for the per-node pacing. */
  private readonly lastSent = new Map<string, number>();
  private stopped = false;

  constructor(private readonly o: BackfillSchedulerOptions) {}

  /** Requests not reported done yet. */
  get size(): number {
    return this.outstanding.size;
  }

  /** Reads the outstanding requests from storage (at start, and when another process may have added some). */
  async reload(): Promise<void> {
    const stored = await this.o.storage.listBackfills({ outstanding: true });
    const ids = new Set(stored.map((r) => r.id));
    for (const id of this.outstanding.keys()) if (!ids.has(id)) this.outstanding.delete(id);
    // What this process sent since keeps its own sentAt (storage learns it through the write queue).
    for (const r of stored) if (!this.outstanding.has(r.id)) this.outstanding.set(r.id, r);
  }

  /** Remembers a request in storage, then sends what is due. */
  async request(
    site: string,
    node: string,
    fromMs: number,
    toMs: number,
    selectors: readonly string[],
    origin: BackfillOrigin,
  ): Promise<BackfillRecord> {
    const record = newBackfillRecord(site, node, fromMs, toMs, selectors, origin, this.o.clock.now());
    await this.o.writes.inOrder(() => this.o.storage.createBackfill(record));
    this.outstanding.set(record.id, record);
    this.o.logger.info({ site, node, requestId: record.id, fromMs, toMs, origin }, 'backfill requested');
    this.sendDue();
    return record;
  }

  /** A node reported the request done (storage has marked it). */
  completed(done: BackfillRecord): void {
    this.outstanding.delete(done.id);
    this.o.counters.backfillsCompleted++;
    this.o.metrics.backfillsCompleted.inc({ origin: done.origin });
  }

  /**
   * Publishes the requests that are due: new ones, and those not reported done within the timeout of their
   * last publish; at most one per node per interval, never to a node known to be offline.
   */
  sendDue(): void {
    const transport = this.o.transport();
    if (transport === undefined || !transport.connected || this.stopped) return;
    const now = this.o.clock.now();
    for (const r of dueBackfills(this.outstanding.values(), now, this.o.pacing, this.lastSent, this.o.reachable)) {
      const sent: BackfillRecord = { ...r, sentAt: now, attempts: r.attempts + 1 };
      this.outstanding.set(r.id, sent);
      this.lastSent.set(nodeKey(r.site, r.node), now);
      const frame = encodeBackfill({ requestId: r.id, fromMs: r.fromMs, toMs: r.toMs, selectors: r.selectors });
      transport
        .publish(commandTopic(this.o.prefix, r.site, r.node, 'backfill'), frame, { qos: 1 })
        .then(() => {
          this.o.counters.backfillsSent++;
          this.o.metrics.backfillsSent.inc({ origin: r.origin });
          this.o.writes.enqueue('backfill request sent', () => this.o.storage.markBackfillSent(r.id, now));
        })
        .catch((err: unknown) => {
          // Not out: due again at the next check.
          if (this.outstanding.get(r.id) === sent) this.outstanding.set(r.id, r);
          this.o.logger.debug({ site: r.site, node: r.node, requestId: r.id, err: describeError(err) }, 'backfill request not sent');
        });
    }
  }

  stop(): void {
    this.stopped = true;
  }
}

/** A new outstanding request, never sent. */
export function newBackfillRecord(
  site: string,
  node: string,
  fromMs: number,
  toMs: number,
  selectors: readonly string[],
  origin: BackfillOrigin,
  now: number,
): BackfillRecord {
  return { id: createId(), site, node, fromMs, toMs, selectors, origin, createdAt: now, sentAt: null, attempts: 0, doneAt: null };
}
