// The aggregator of the MQTT path: reads every node's awareness frames and publishes, once per tick,
// one digest bundling them, for the whole fleet or per zone. The hub runs one by default; any node
// can be configured to, or takes over while the hub is away. [FM-AWARE-5]

import type { Clock, Logger, TimerHandle } from '../kit/index.js';
import { type AwarenessFrame, createFrameRouter, encodeBundle, type FrameRouter, type RouteContext } from '../protocol/index.js';
import type { Subscription, Transport } from '../transport/index.js';
import { digestTopic } from './topics.js';

export interface AggregatorOptions {
  /** Where the digests go out. */
  readonly transport: Transport;
  /**
   * The process's frame router: every node's awareness frames come through it, decoded (a malformed one is its to
   * report). Without one (the hub's, until it registers on a router of its own), a router over `transport` of this
   * aggregator's own, which logs what it refuses.
   */
  readonly router?: FrameRouter;
  readonly prefix: string;
  readonly clock: Clock;
  readonly logger: Logger;
  /** One digest per tick at most. */
  readonly tickMs: number;
  /** Also publish one digest per zone (for nodes whose awareness radius is their zone). */
  readonly zones?: boolean;
  /** Frames held for one digest, at most; more are dropped and counted (a flood, not a fleet). */
  readonly maxFramesPerDigest?: number;
}

export interface AggregatorStats {
  readonly framesIn: number;
  readonly framesDropped: number;
  readonly digestsOut: number;
  readonly bytesOut: number;
}

export class Aggregator {
  private pending: { frame: Uint8Array; origin: number }[] = [];
  private readonly zoneOf = new Map<number, string>();
  private timer: TimerHandle | undefined;
  private active = false;
  private readonly counts = { framesIn: 0, framesDropped: 0, digestsOut: 0, bytesOut: 0 };
  private readonly router: FrameRouter;
  private subscription: Subscription | undefined;

  constructor(private readonly o: AggregatorOptions) {
    this.router =
      o.router ??
      createFrameRouter({
        source: o.transport,
        prefix: o.prefix,
        onRejected: (r) => o.logger.warn({ topic: r.topic, reason: r.reason }, `awareness frame on ${r.topic} rejected: ${r.message}`),
      });
  }

  get isActive(): boolean {
    return this.active;
  }

  /** Starts aggregating (idempotent): subscribes to every node's frames and ticks. */
  start(): void {
    if (this.active) return;
    this.active = true;
    this.subscription = this.router.on('aware', this.onFrame);
    this.schedule();
    this.o.logger.info({ topic: digestTopic(this.o.prefix) }, 'awareness aggregator started');
  }

  /** Stops aggregating (idempotent); frames held are dropped, the nodes resend within a tick. */
  stop(): void {
    if (!this.active) return;
    this.active = false;
    if (this.timer !== undefined) this.o.clock.clearTimeout(this.timer);
    this.timer = undefined;
    // Unsubscribed at the broker too: a node that hands back stops receiving every node's frames.
    this.subscription?.unsubscribe();
    this.pending = [];
    this.o.logger.info({}, 'awareness aggregator stopped');
  }

  stats(): AggregatorStats {
    return { ...this.counts };
  }

  private readonly onFrame = (frame: AwarenessFrame, { message }: RouteContext<'aware'>): void => {
    this.counts.framesIn++;
    if (frame.type === 'announce') this.zoneOf.set(frame.origin, frame.birth.zone);
    if (this.pending.length >= (this.o.maxFramesPerDigest ?? 4096)) {
      this.counts.framesDropped++;
      return;
    }
    this.pending.push({ frame: message.payload, origin: frame.origin });
  };

  private schedule(): void {
    this.timer = this.o.clock.setTimeout(() => {
      this.flush();
      if (this.active) this.schedule();
    }, this.o.tickMs);
  }

  /** Publishes what arrived since the last digest (nothing when nothing arrived). */
  flush(): void {
    if (this.pending.length === 0 || !this.o.transport.connected) return;
    const batch = this.pending;
    this.pending = [];
    this.publish(
      digestTopic(this.o.prefix),
      batch.map((p) => p.frame),
    );
    if (!this.o.zones) return;
    const byZone = new Map<string, Uint8Array[]>();
    const unzoned: Uint8Array[] = [];
    for (const p of batch) {
      const zone = this.zoneOf.get(p.origin);
      if (zone === undefined) unzoned.push(p.frame);
      else byZone.set(zone, [...(byZone.get(zone) ?? []), p.frame]);
    }
    // A frame of an origin whose announce we have not seen yet goes to every zone: it may be wanted.
    for (const zone of new Set(this.zoneOf.values())) {
      const frames = [...(byZone.get(zone) ?? []), ...unzoned];
      if (frames.length > 0) this.publish(digestTopic(this.o.prefix, zone), frames);
    }
  }

  private publish(topic: string, frames: Uint8Array[]): void {
    const bundle = encodeBundle(frames);
    this.counts.digestsOut++;
    this.counts.bytesOut += bundle.length;
    this.o.transport.publish(topic, bundle, { qos: 0 }).catch(() => {});
  }
}
