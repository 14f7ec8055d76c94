// Durable ingest [FM-DURABLE-3]: a history or event frame is committed to storage, deduplicated, and only then
// acknowledged to the node; then the completeness ledger is brought up to date. It holds no state of its own, so the
// embedded hub runs it in its write queue and a scale-out worker runs it per stream message (docs/scale-out.md).

import { type Clock, describeError, type Logger } from '../../kit/index.js';
import { type AckLane, type DroppedRange, type EventFrame, type HistoryFrame, withTargetLabels } from '../../protocol/index.js';
import type { HubCounters, HubMetrics } from '../hub-metrics.js';
import type { BackfillRecord } from '../ledger/backfills.js';
import type { NodeBacklog } from '../ledger/completeness.js';
import { type CoverageSpan, ledgerSeries } from '../ledger/coverage.js';
import type { EventInput, HubStorage, SampleInput } from '../storage/storage.js';
import {
  ATTR,
  type DbSystem,
  type HubTracing,
  inSpan,
  type MessagingSystem,
  SpanKind,
  type TraceContext,
  tracedInsert,
} from '../tracing/hub-tracing.js';

/** Publishes an ack frame to a node; resolves once it went out, rejects when it could not (the node resends). */
export type AckSender = (site: string, node: string, lane: AckLane, firstSeq: number, lastSeq: number) => Promise<void>;

export type DurableIngestMetrics = Pick<
  HubMetrics,
  'samplesStored' | 'historySamplesStored' | 'eventsStored' | 'acksSent' | 'storageErrors'
>;

export interface DurableIngestOptions {
  readonly storage: HubStorage;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly metrics: DurableIngestMetrics;
  readonly counters: HubCounters;
  readonly sendAck: AckSender;
  /** A node reported a backfill request done and storage marked it so. */
  readonly onBackfillDone?: (done: BackfillRecord) => void;
  /** Dropped ranges a node reported for the first time (the hub asks for them back with `backfill.requestDropped`). */
  readonly onDropped?: (site: string, node: string, fresh: readonly DroppedRange[]) => void;
  /** An event stored for the first time (a resend absorbed by dedup is not reported). */
  readonly onEventStored?: (event: EventInput) => void;
  /** The spans of the store write and of the ack (docs/tracing.md): the tracer, the database, how acks travel. */
  readonly tracing?: {
    readonly tracing: HubTracing;
    readonly dbSystem: DbSystem;
    readonly ackSystem: MessagingSystem;
    /** The MQTT topic or NATS subject an ack goes to. */
    readonly ackDestination: (site: string, node: string) => string;
  };
}

/** The backlog a history frame reports, as of hub time `now`. */
export function backlogOfFrame(frame: HistoryFrame, now: number): NodeBacklog {
  return { pendingRows: frame.pendingRows, oldestPendingMs: frame.oldestPendingMs, pendingBytes: frame.pendingBytes, reportedAt: now };
}

/** The samples of a history frame as storage takes them: labelled with the node's site, node and zone. */
export function historySamples(site: string, node: string, frame: HistoryFrame): SampleInput[] {
  const zone = frame.zone;
  return frame.series.flatMap((s) => {
    const series = { name: s.name, labels: withTargetLabels(s.labels, { site, node, zone }), unit: s.unit, type: s.type };
    return s.samples.map(([ts, value]) => ({ series, ts, value }));
  });
}

/** An event frame as storage takes it. */
export function eventOfFrame(site: string, node: string, frame: EventFrame, receivedAt: number): EventInput {
  return {
    site,
    node,
    id: frame.id,
    seq: frame.seq,
    epoch: frame.epoch,
    time: frame.time,
    priority: frame.priority,
    kind: frame.kind,
    payload: frame.payload,
    receivedAt,
  };
}

export class DurableIngest {
  constructor(private readonly o: DurableIngestOptions) {}

  /**
   * Commits a history frame's samples (deduplicated by series and timestamp), acknowledges exactly its outbox
   * range, then records the ledger (backlog, drops, coverage, repairs). Rejects when the samples were not stored
   * (nothing acknowledged); a ledger failure after the ack is counted and logged, never a withheld ack.
   */
  async history(site: string, node: string, frame: HistoryFrame, receivedAt = this.o.clock.now(), trace?: TraceContext): Promise<void> {
    const batch = historySamples(site, node, frame);
    const n = batch.length > 0 ? await this.stored(trace, 'samples', batch.length, () => this.o.storage.appendSamples(batch)) : 0;
    this.o.counters.historySamplesStored += n;
    this.o.metrics.samplesStored.inc(n);
    this.o.metrics.historySamplesStored.inc(n);
    await this.ack(site, node, 'samples', frame.firstSeq, frame.lastSeq, trace);
    try {
      await this.ledger(site, node, frame, receivedAt);
    } catch (err) {
      this.o.metrics.storageErrors.inc();
      this.o.logger.error({ site, node, err: describeError(err) }, 'storage: completeness ledger failed');
    }
  }

  /** Commits an event (deduplicated by node and event id), then acknowledges its outbox seq. [FM-DURABLE-1] */
  async event(site: string, node: string, frame: EventFrame, receivedAt = this.o.clock.now(), trace?: TraceContext): Promise<void> {
    const event = eventOfFrame(site, node, frame, receivedAt);
    const n = await this.stored(trace, 'events', 1, () => this.o.storage.appendEvents([event]));
    if (n > 0) {
      this.o.counters.eventsStored += n;
      this.o.metrics.eventsStored.inc({ priority: frame.priority }, n);
      this.o.onEventStored?.(event);
    }
    await this.ack(site, node, 'events', frame.seq, frame.seq, trace);
  }

  /** A storage write, in an INSERT span of the frame's trace when it has one (docs/tracing.md). */
  private stored(
    trace: TraceContext | undefined,
    table: 'samples' | 'events',
    rows: number,
    write: () => Promise<number>,
  ): Promise<number> {
    const t = this.o.tracing;
    return tracedInsert(t?.tracing, trace, t?.dbSystem ?? 'sqlite', table, rows, write);
  }

  /** The ledger [decision 0001 "Completeness"]: what the node still holds, what it dropped, what we hold. */
  private async ledger(site: string, node: string, frame: HistoryFrame, now: number): Promise<void> {
    const { storage } = this.o;
    await storage.recordBacklog(site, node, backlogOfFrame(frame, now));
    // Drops first: one reported in the same frame as a repair is newer than the request, so not covered.
    const fresh = await storage.recordDropped(site, node, frame.dropped, now);
    const spans: CoverageSpan[] = frame.series.map((s) => ({ series: ledgerSeries(s.name, s.labels), times: s.samples.map(([t]) => t) }));
    await storage.recordCoverage(site, node, spans);
    for (const report of frame.repaired) {
      const done = await storage.completeBackfill(site, node, report, now);
      if (done === undefined) {
        this.o.logger.debug(
          { site, node, requestId: report.requestId },
          'repair report for no outstanding request (done already, or unknown)',
        );
        continue;
      }
      this.o.logger.info({ site, node, requestId: done.id, fromMs: done.fromMs, toMs: done.toMs }, 'backfill reported done');
      this.o.onBackfillDone?.(done);
    }
    if (fresh.length > 0) this.o.onDropped?.(site, node, fresh);
  }

  /** A lost ack costs a resend, which storage absorbs: logged, never counted as a storage error. */
  private async ack(site: string, node: string, lane: AckLane, firstSeq: number, lastSeq: number, trace?: TraceContext): Promise<void> {
    try {
      const t = this.o.tracing;
      if (t === undefined || trace === undefined) await this.o.sendAck(site, node, lane, firstSeq, lastSeq);
      else {
        const attributes = {
          [ATTR.messagingSystem]: t.ackSystem,
          [ATTR.operationType]: 'send',
          [ATTR.destination]: t.ackDestination(site, node),
          [ATTR.site]: site,
          [ATTR.node]: node,
          [ATTR.lane]: lane,
          [ATTR.seqFrom]: firstSeq,
          [ATTR.seqTo]: lastSeq,
        };
        await inSpan(t.tracing, 'send ack', SpanKind.PRODUCER, attributes, trace, () =>
          this.o.sendAck(site, node, lane, firstSeq, lastSeq),
        );
      }
      this.o.counters.acksSent++;
      this.o.metrics.acksSent.inc({ lane });
    } catch (err) {
      this.o.logger.debug({ site, node, lane, err: describeError(err) }, 'ack not sent; the node will resend');
    }
  }
}
