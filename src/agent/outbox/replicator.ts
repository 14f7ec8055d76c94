// The replicator: ships the outbox to the hub (events first, then history at the link's byte budget)
// and deletes what the hub acknowledges. [FM-DURABLE-2] [FM-DURABLE-3] [FM-DURABLE-5]

import { type Clock, describeError, type Logger, type TimerHandle } from '../../kit/index.js';
import {
  type AckFrame,
  encodeEvent,
  encodeHistory,
  type FrameRouter,
  type HubStateFrame,
  nodeTopic,
  type RebirthFrame,
} from '../../protocol/index.js';
import type { Subscription, Transport } from '../../transport/index.js';
import type { NodeIdentity } from '../collectors/collector.js';
import type { Outbox } from './sqlite-outbox.js';

export interface ReplicatorOptions {
  readonly outbox: Outbox;
  readonly transport: Transport;
  /** The process's frame router: the hub's acks, rebirth requests and state come through it. */
  readonly router: FrameRouter;
  readonly identity: NodeIdentity;
  readonly prefix: string;
  readonly epoch: number;
  readonly clock: Clock;
  readonly logger: Logger;
  /** Bytes per second for history frames on this link; 0 means no limit. Events are not limited. */
  readonly budgetBytesPerSecond: number;
  /** Outbox rows per history frame. */
  readonly maxFrameRows: number;
  /** History frames sent and not yet acknowledged, at most. */
  readonly maxInFlight: number;
  /**
   * A history frame that is not full waits until this long after the previous one: each frame names its
   * series inline, so trickling every few samples would cost more than the samples.
   */
  readonly historyIntervalMs: number;
  readonly onFrameSent?: (lane: 'events' | 'samples', bytes: number) => void;
  readonly onAck?: (lane: 'events' | 'samples', rows: number) => void;
}

const EVENTS_PER_PUMP = 100;
/**
 * pendingBytes is pendingRows x the bytes per row of recent history frames, a mean weighted by rows over
 * about this many frames' worth of rows (full frames dominate once a backlog drains).
 */
const BYTES_PER_ROW_WINDOW_FRAMES = 4;
/** A frame unacknowledged this long is sent again, with everything after it (the hub may have missed it while away). */
export const ACK_TIMEOUT_MS = 15_000;

export class Replicator {
  /** Highest seq sent in this session, per lane; reset on reconnection so unacked rows go again. */
  private eventCursor = 0;
  private sampleCursor = 0;
  /** History frames sent and not yet acknowledged: lastSeq -> when sent. */
  private readonly inFlight = new Map<number, number>();
  /** Events sent and not yet acknowledged: seq -> when sent. */
  private readonly eventsInFlight = new Map<number, number>();
  private tokens: number;
  private lastRefill: number;
  private timer: TimerHandle | undefined;
  private stopped = false;
  private lastHistoryAt = Number.NEGATIVE_INFINITY;
  /** Set by the `connected` event, after the publisher's birth: nothing durable goes out before it. */
  private sessionReady = false;
  private hubEpoch: number | undefined;
  private ackTimer: TimerHandle | undefined;
  /** Encoded history bytes and rows of recent frames (decayed), for the pendingBytes estimate. */
  private recentBytes = 0;
  private recentRows = 0;
  private subscriptions: Subscription[] = [];

  constructor(private readonly o: ReplicatorOptions) {
    this.tokens = o.budgetBytesPerSecond;
    this.lastRefill = o.clock.monotonic();
  }

  start(): void {
    const { transport, router, identity } = this.o;
    const own = { site: identity.site, node: identity.node };
    transport.on('connected', this.onConnected);
    transport.on('disconnected', this.onDisconnected);
    this.subscriptions = [
      router.on('cmd/ack', (frame) => this.onAck(frame), own),
      router.on('hub/state', (frame) => this.onHubState(frame)),
      // An unknown-node rebirth request means the hub ignored what went out (the publisher reads it too).
      router.on('cmd/rebirth', (frame) => this.onRebirth(frame), own),
    ];
    if (transport.connected) this.onConnected();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) this.o.clock.clearTimeout(this.timer);
    if (this.ackTimer) this.o.clock.clearTimeout(this.ackTimer);
    this.o.transport.off('connected', this.onConnected);
    this.o.transport.off('disconnected', this.onDisconnected);
    for (const s of this.subscriptions) s.unsubscribe();
  }

  /** History frames and events sent and not yet acknowledged. */
  get framesInFlight(): number {
    return this.inFlight.size + this.eventsInFlight.size;
  }

  /**
   * What `rows` pending sample rows will cost on the wire, bytes: an estimate from the history frames
   * sent last (0 before the first). [FM-DURABLE-2]
   */
  estimateBytes(rows: number): number {
    return this.recentRows === 0 ? 0 : Math.round((rows * this.recentBytes) / this.recentRows);
  }

  /** New rows are in the outbox: ship them if the link and the budget allow. */
  notify(): void {
    this.pump();
  }

  private readonly onConnected = (): void => {
    this.sessionReady = true;
    this.resend();
    // After the birth the publisher sends on the same event: live values go first. [FM-DURABLE-5]
    setImmediate(() => this.pump());
  };

  /** Anything sent so far may be lost: start again from the oldest unacknowledged row. */
  private resend(): void {
    this.eventCursor = 0;
    this.sampleCursor = 0;
    this.inFlight.clear();
    this.eventsInFlight.clear();
  }

  /** When the oldest unacknowledged frame went out, undefined when none waits. */
  private oldestUnacked(): number | undefined {
    let oldest: number | undefined;
    for (const t of [...this.inFlight.values(), ...this.eventsInFlight.values()]) oldest = oldest === undefined ? t : Math.min(oldest, t);
    return oldest;
  }

  /** A hub that was away missed what went out meanwhile (its session is clean): send it again. */
  private watchAcks(): void {
    if (this.ackTimer !== undefined || this.stopped) return;
    this.ackTimer = this.o.clock.setTimeout(() => {
      this.ackTimer = undefined;
      const oldest = this.oldestUnacked();
      const waiting = oldest !== undefined;
      if (waiting && this.o.clock.monotonic() - oldest >= ACK_TIMEOUT_MS && this.o.transport.connected) {
        this.o.logger.info({ inFlight: this.inFlight.size }, 'no ack from the hub: sending the unacknowledged outbox again');
        this.resend();
        this.pump();
      }
      if (waiting) this.watchAcks();
    }, ACK_TIMEOUT_MS / 3);
  }

  private readonly onDisconnected = (): void => {
    this.sessionReady = false;
    this.inFlight.clear();
    this.eventsInFlight.clear();
  };

  private onHubState(frame: HubStateFrame): void {
    if (!frame.online) return;
    const known = this.hubEpoch;
    this.hubEpoch = frame.epoch;
    if (known !== undefined && known !== frame.epoch) {
      this.resend();
      this.pump();
    }
  }

  private onRebirth(frame: RebirthFrame): void {
    // The hub does not know this node (a new hub database, or a registration it just approved): what it
    // ignored was never acknowledged; send it again now rather than at the ack timeout.
    if (frame.reason === 'unknown-node' && this.framesInFlight > 0) {
      this.resend();
      this.pump();
    }
  }

  private onAck(frame: AckFrame): void {
    const { lane, firstSeq, lastSeq } = frame;
    const rows = this.o.outbox.ack(lane, firstSeq, lastSeq);
    if (lane === 'samples') this.inFlight.delete(lastSeq);
    else for (let seq = firstSeq; seq <= lastSeq && this.eventsInFlight.size > 0; seq++) this.eventsInFlight.delete(seq);
    this.o.onAck?.(lane, rows);
    this.pump();
  }

  private refill(): void {
    const budget = this.o.budgetBytesPerSecond;
    if (budget <= 0) return;
    const now = this.o.clock.monotonic();
    // A burst of at most one second of budget: a link that was idle does not earn a flood.
    this.tokens = Math.min(budget, this.tokens + ((now - this.lastRefill) / 1000) * budget);
    this.lastRefill = now;
  }

  private schedule(ms: number): void {
    if (this.timer !== undefined || this.stopped) return;
    this.timer = this.o.clock.setTimeout(() => {
      this.timer = undefined;
      this.pump();
    }, ms);
  }

  private pump(): void {
    if (this.stopped || !this.sessionReady || !this.o.transport.connected) return;
    this.pumpEvents();
    this.pumpHistory();
  }

  private pumpEvents(): void {
    const { outbox, prefix, identity, epoch } = this.o;
    for (const e of outbox.pendingEvents(this.eventCursor, EVENTS_PER_PUMP)) {
      const bytes = encodeEvent({ epoch, seq: e.seq, time: e.time, id: e.id, priority: e.priority, kind: e.kind, payload: e.payload });
      this.eventCursor = e.seq;
      this.eventsInFlight.set(e.seq, this.o.clock.monotonic());
      this.send('events', nodeTopic(prefix, identity.site, identity.node, 'event'), bytes);
    }
  }

  private pumpHistory(): void {
    const { outbox, prefix, identity, epoch, budgetBytesPerSecond } = this.o;
    while (this.inFlight.size < this.o.maxInFlight) {
      this.refill();
      if (budgetBytesPerSecond > 0 && this.tokens <= 0) {
        this.schedule(Math.ceil((-this.tokens / budgetBytesPerSecond) * 1000) + 1);
        return;
      }
      // With every row sent acknowledged, a frame without rows carries the reports still owed. [FM-DURABLE-6]
      const batch =
        outbox.historyBatch(this.sampleCursor, this.o.maxFrameRows) ?? (this.inFlight.size === 0 ? outbox.reportBatch() : undefined);
      if (batch === undefined) return;
      const dueIn = this.lastHistoryAt + this.o.historyIntervalMs - this.o.clock.monotonic();
      if (batch.rows < this.o.maxFrameRows && dueIn > 0) {
        this.schedule(dueIn);
        return;
      }
      this.lastHistoryAt = this.o.clock.monotonic();
      const backlog = outbox.backlog();
      const pendingRows = Math.max(0, backlog.sampleRows - batch.rows);
      const frame = {
        epoch,
        zone: identity.zone,
        firstSeq: batch.firstSeq,
        lastSeq: batch.lastSeq,
        pendingRows,
        oldestPendingMs: backlog.oldestPendingMs ?? null,
        pendingBytes: this.estimateBytes(pendingRows),
        dropped: batch.dropped,
        repaired: batch.repaired,
        series: batch.series,
      };
      let bytes: Uint8Array;
      try {
        bytes = encodeHistory(frame);
        if (batch.rows > 0) {
          const first = this.recentRows === 0;
          this.learnBytesPerRow(bytes.length, batch.rows);
          // The first frame measures itself: a backlog built while the hub was away is estimated at once.
          if (first) bytes = encodeHistory({ ...frame, pendingBytes: this.estimateBytes(pendingRows) });
        }
      } catch (err) {
        // The outbox admits only rows the wire can carry; should one slip through, stop this lane loudly
        // rather than crash the agent or drop data.
        this.o.logger.error({ firstSeq: batch.firstSeq, err: describeError(err) }, 'history frame cannot be encoded; history paused');
        return;
      }
      this.sampleCursor = batch.lastSeq;
      this.inFlight.set(batch.lastSeq, this.o.clock.monotonic());
      if (budgetBytesPerSecond > 0) this.tokens -= bytes.length;
      this.send('samples', nodeTopic(prefix, identity.site, identity.node, 'history'), bytes);
    }
  }

  private learnBytesPerRow(bytes: number, rows: number): void {
    this.recentBytes += bytes;
    this.recentRows += rows;
    const window = BYTES_PER_ROW_WINDOW_FRAMES * this.o.maxFrameRows;
    if (this.recentRows > window) {
      const keep = window / this.recentRows;
      this.recentBytes *= keep;
      this.recentRows *= keep;
    }
  }

  private send(lane: 'events' | 'samples', topic: string, bytes: Uint8Array): void {
    this.o.onFrameSent?.(lane, bytes.length);
    this.watchAcks();
    this.o.transport.publish(topic, bytes, { qos: 1 }).catch((err: unknown) => {
      // The link dropped: the reconnection resends from the oldest unacknowledged row.
      this.o.logger.debug({ topic, err: describeError(err) }, 'outbox frame not sent');
    });
  }
}
