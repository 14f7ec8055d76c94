// Who aggregates the MQTT digest when the hub is away: with `aggregator: auto`, the node with the
// lowest origin id among the members it sees alive (itself included) takes over while the hub's
// retained state says offline, and hands back when the hub returns. Two nodes that briefly both
// aggregate cost duplicates, which receivers drop by (origin, session, type, seq). [FM-AWARE-5]

import type { Clock, Logger, TimerHandle } from '../kit/index.js';
import type { FrameRouter } from '../protocol/index.js';
import type { Subscription } from '../transport/index.js';
import type { Aggregator } from './aggregator.js';

export interface TakeoverOptions {
  /** The process's frame router: the hub's state comes through it. */
  readonly router: FrameRouter;
  readonly aggregator: Aggregator;
  readonly mode: 'never' | 'auto' | 'always';
  /** This node's origin id and the origins it currently holds alive. */
  readonly self: () => number;
  readonly aliveOrigins: () => readonly number[];
  readonly clock: Clock;
  readonly logger: Logger;
  /** How often the decision is revisited. */
  readonly everyMs: number;
}

export class AggregatorTakeover {
  private hubOnline: boolean | undefined;
  private timer: TimerHandle | undefined;
  private subscription: Subscription | undefined;

  constructor(private readonly o: TakeoverOptions) {}

  start(): void {
    if (this.o.mode === 'never') return;
    if (this.o.mode === 'always') {
      this.o.aggregator.start();
      return;
    }
    this.subscription = this.o.router.on('hub/state', (frame) => {
      this.hubOnline = frame.online;
      this.decide();
    });
    this.schedule();
  }

  stop(): void {
    if (this.timer !== undefined) this.o.clock.clearTimeout(this.timer);
    this.subscription?.unsubscribe();
    this.o.aggregator.stop();
  }

  private schedule(): void {
    this.timer = this.o.clock.setTimeout(() => {
      this.decide();
      this.schedule();
    }, this.o.everyMs);
  }

  /** Aggregate while the hub is known offline and no live member has a lower origin id. */
  decide(): void {
    const self = this.o.self();
    const lowest = this.o.aliveOrigins().every((origin) => origin > self);
    const should = this.hubOnline === false && lowest;
    if (should && !this.o.aggregator.isActive) {
      this.o.logger.warn({ origin: self }, 'the hub is offline: this node aggregates the awareness digest');
      this.o.aggregator.start();
    } else if (!should && this.o.aggregator.isActive) {
      this.o.logger.info({ origin: self, hubOnline: this.hubOnline }, 'hands the awareness digest back');
      this.o.aggregator.stop();
    }
  }
}
