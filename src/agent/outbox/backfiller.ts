// The backfiller: answers the hub's backfill requests by reading the range from the local store in
// bounded pieces and queueing them in the outbox as ordinary sample rows, behind the live rows and
// never past the outbox's cap. [FM-DURABLE-6]

import { type Clock, describeError, type Logger } from '../../kit/index.js';
import { type BackfillFrame, type FrameRouter, parseSelector, type SeriesSelector, type TypedSample } from '../../protocol/index.js';
import type { Subscription } from '../../transport/index.js';
import type { NodeIdentity } from '../collectors/collector.js';
import type { SampleStore } from '../store/store.js';
import type { BackfillAdmission, BackfillTask, Outbox } from './sqlite-outbox.js';

/** The first piece of a request spans this long; later pieces adapt to about `maxPieceRows` rows. */
export const BACKFILL_FIRST_PIECE_MS = 5 * 60_000;
/** Pieces never span less (a second of many series may still exceed the row target) or more (a day). */
const MIN_PIECE_MS = 1_000;
const MAX_PIECE_MS = 86_400_000;

export type BackfillRequestOutcome = BackfillAdmission | 'refused';

export interface BackfillerOptions {
  readonly outbox: Outbox;
  readonly store: Pick<SampleStore, 'query'>;
  /** The process's frame router: the hub's backfill requests come through it. */
  readonly router: FrameRouter;
  readonly identity: NodeIdentity;
  readonly clock: Clock;
  readonly logger: Logger;
  /** The node's critical selectors: what a request without selectors reads (what the outbox replicates). */
  readonly critical: readonly SeriesSelector[];
  /** Rows per piece read from the store, at most (the outbox's rows per history frame). */
  readonly maxPieceRows: number;
  /**
   * Live rows go first: a piece is read only while the outbox holds fewer sample rows than this, so a
   * live row never waits behind more than this many repair rows.
   */
  readonly maxQueuedRows: number;
  /** Rows were queued: the replicator should look. */
  readonly notify: () => void;
  readonly onRequest?: (outcome: BackfillRequestOutcome) => void;
  readonly onEnqueued?: (rows: number) => void;
}

export class Backfiller {
  private running = false;
  private again = false;
  private stopped = false;
  /** Span of the next piece per request id, adapted to the density of its series. */
  private readonly spans = new Map<string, number>();
  private idle: Promise<void> = Promise.resolve();
  private subscription: Subscription | undefined;

  constructor(private readonly o: BackfillerOptions) {}

  start(): void {
    const { router, identity } = this.o;
    this.subscription = router.on('cmd/backfill', (frame) => this.handle(frame), { site: identity.site, node: identity.node });
    // Requests persisted before a restart carry on.
    this.kick();
  }

  /** Stops reading; resolves once a piece being read is settled, so the store and outbox can close. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.subscription?.unsubscribe();
    await this.idle;
  }

  /** Something changed (a request, an ack, room in the outbox): read on if there is work and room. */
  kick(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = true;
    this.idle = this.run()
      .catch((err: unknown) => this.o.logger.error({ err: describeError(err) }, 'backfill stopped on an error; it resumes on the next ack'))
      .finally(() => {
        this.running = false;
        if (this.again && !this.stopped) {
          this.again = false;
          this.kick();
        }
      });
  }

  /** Accepts a request: validated, persisted in the outbox database, then read when there is room. */
  handle(frame: BackfillFrame): BackfillRequestOutcome {
    const bad = frame.selectors.find((s) => {
      try {
        parseSelector(s);
        return false;
      } catch {
        return true;
      }
    });
    if (bad !== undefined) {
      this.o.logger.warn({ requestId: frame.requestId, selector: bad }, 'backfill request refused: a selector does not parse');
      this.o.onRequest?.('refused');
      return 'refused';
    }
    const outcome = this.o.outbox.addBackfill(
      { id: frame.requestId, fromMs: frame.fromMs, toMs: frame.toMs, selectors: frame.selectors },
      this.o.clock.now(),
    );
    this.o.logger.info({ requestId: frame.requestId, fromMs: frame.fromMs, toMs: frame.toMs, outcome }, 'backfill request');
    this.o.onRequest?.(outcome);
    if (outcome === 'added') this.spans.delete(frame.requestId);
    this.kick();
    // A finished request asked again is reported in the next frame, even one without rows.
    if (outcome === 'reported-again') this.o.notify();
    return outcome;
  }

  private async run(): Promise<void> {
    const { outbox, maxPieceRows, maxQueuedRows } = this.o;
    while (!this.stopped) {
      const task = outbox.backfillTasks()[0];
      if (task === undefined) return;
      // Wait for acks: live rows first, and a repair never pushes the outbox to its cap.
      const room = Math.min(maxPieceRows, outbox.sampleRoom());
      if (outbox.backlog().sampleRows >= maxQueuedRows || room <= 0) return;
      const span = this.spans.get(task.id) ?? BACKFILL_FIRST_PIECE_MS;
      const end = Math.min(task.toMs, task.cursorMs + span - 1);
      const rows = await this.read(task, task.cursorMs, end);
      if (this.stopped) return;
      const piece = cut(rows, room, end);
      if (!outbox.enqueueBackfill(task, piece.rows, piece.nextCursorMs)) return; // live rows took the room meanwhile
      if (piece.rows.length > 0) {
        this.o.onEnqueued?.(piece.rows.length);
        this.o.notify();
      }
      this.spans.set(task.id, adapt(span, piece, room));
      if (piece.nextCursorMs > task.toMs) {
        this.spans.delete(task.id);
        this.o.logger.info({ requestId: task.id }, 'backfill read to its end; reported done once the hub has acknowledged its rows');
        this.o.notify(); // a request with no rows at all is reported at once
      }
    }
  }

  /** The samples of [from, to] of the request's series, ascending by time (series in a stable order). */
  private async read(task: BackfillTask, from: number, to: number): Promise<TypedSample[]> {
    const selectors = task.selectors.length === 0 ? this.o.critical : task.selectors.map((s) => parseSelector(s));
    const seen = new Set<number>();
    const out: TypedSample[] = [];
    for (const selector of selectors) {
      for (const { series, points } of await this.o.store.query(selector.matchers, from, to)) {
        if (seen.has(series.id)) continue;
        seen.add(series.id);
        for (const [time, value] of points)
          out.push({ name: series.name, labels: series.labels, type: series.type, unit: series.unit, time, value });
      }
    }
    return out.sort((a, b) => a.time - b.time);
  }
}

interface Piece {
  readonly rows: TypedSample[];
  readonly nextCursorMs: number;
  readonly truncated: boolean;
}

/**
 * At most `room` rows of a time-sorted read, cut between two timestamps so the next piece starts
 * exactly where this one ended. When the first timestamp alone holds more than `room` rows, it goes
 * whole (the outbox still refuses it past its cap).
 */
export function cut(rows: TypedSample[], room: number, end: number): Piece {
  if (rows.length <= room) return { rows, nextCursorMs: end + 1, truncated: false };
  const at = (rows[room] as TypedSample).time;
  let n = room;
  while (n > 0 && (rows[n - 1] as TypedSample).time === at) n--;
  if (n > 0) return { rows: rows.slice(0, n), nextCursorMs: at, truncated: true };
  let m = room;
  while (m < rows.length && (rows[m] as TypedSample).time === at) m++;
  return { rows: rows.slice(0, m), nextCursorMs: at + 1, truncated: true };
}

/** Halve the span after a cut piece, double it after a sparse one: pieces converge on about `room` rows. */
function adapt(span: number, piece: Piece, room: number): number {
  if (piece.truncated) return Math.max(MIN_PIECE_MS, Math.floor(span / 2));
  if (piece.rows.length < room / 2) return Math.min(MAX_PIECE_MS, span * 2);
  return span;
}
