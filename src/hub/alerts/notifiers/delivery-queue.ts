// In-order delivery of one notifier's queued payloads with retries: jittered exponential backoff from
// 1 s doubling to 60 s (the kit's reconnect backoff), at most `maxAttempts` attempts per payload, then
// it is given up and counted. Rows leave the alert store only when delivered or given up, so a hub
// restart resumes where it stopped (at least once: a payload delivered just before a crash may repeat).

import { backoffDelayMs, describeError, RECONNECT_BACKOFF, type TimerHandle } from '../../../kit/index.js';
import type { PendingNotification } from '../alert-store.js';
import { DeliveryFailure, type NotifierContext } from './notifier.js';

export type Deliver = (payload: string, signal: AbortSignal) => Promise<void>;

export class DeliveryQueue {
  private readonly queue: PendingNotification[] = [];
  private ctx: NotifierContext | undefined;
  private running = false;
  private stopped = false;
  private timer: TimerHandle | undefined;
  private wake: (() => void) | undefined;
  private readonly abort = new AbortController();
  private readonly idleWaiters: Array<() => void> = [];

  constructor(
    private readonly name: string,
    private readonly deliver: Deliver,
    private readonly maxAttempts: number,
  ) {}

  start(ctx: NotifierContext): void {
    this.ctx = ctx;
    this.pump();
  }

  enqueue(n: PendingNotification): void {
    if (this.stopped) return;
    this.queue.push(n);
    this.pump();
  }

  idle(): Promise<void> {
    if (!this.running || this.stopped) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.abort.abort();
    if (this.timer !== undefined) this.ctx?.clock.clearTimeout(this.timer);
    this.wake?.();
    for (const w of this.idleWaiters.splice(0)) w();
  }

  private pump(): void {
    if (this.running || this.stopped || this.ctx === undefined || this.queue.length === 0) return;
    this.running = true;
    void this.drain(this.ctx).finally(() => {
      this.running = false;
      if (!this.stopped && this.queue.length > 0) this.pump();
      else for (const w of this.idleWaiters.splice(0)) w();
    });
  }

  private async drain(ctx: NotifierContext): Promise<void> {
    while (!this.stopped && this.queue.length > 0) {
      const n = this.queue[0] as PendingNotification;
      let attempts = n.attempts;
      for (;;) {
        try {
          await this.deliver(n.payload, this.abort.signal);
          ctx.metrics.notificationsSent.inc({ notifier: this.name });
          await this.forget(ctx, n);
          break;
        } catch (err) {
          if (this.stopped) return;
          attempts++;
          ctx.metrics.notificationAttemptsFailed.inc({ notifier: this.name });
          const retryable = !(err instanceof DeliveryFailure) || err.retryable;
          if (!retryable || attempts >= this.maxAttempts) {
            ctx.metrics.notificationsFailed.inc({ notifier: this.name });
            ctx.logger.error(
              { notifier: this.name, notification: n.id, attempts, err: describeError(err) },
              `alert notification given up after ${attempts} attempt(s)`,
            );
            await this.forget(ctx, n);
            break;
          }
          const delayMs = backoffDelayMs(attempts - 1, RECONNECT_BACKOFF);
          ctx.logger.warn(
            { notifier: this.name, notification: n.id, attempts, retryInMs: delayMs, err: describeError(err) },
            'alert notification failed; retrying',
          );
          await ctx.store.recordNotificationAttempt(n.id, attempts).catch(() => {});
          await new Promise<void>((resolve) => {
            this.wake = resolve;
            this.timer = ctx.clock.setTimeout(resolve, delayMs);
          });
          this.timer = undefined;
          this.wake = undefined;
          if (this.stopped) return;
        }
      }
      this.queue.shift();
    }
  }

  private async forget(ctx: NotifierContext, n: PendingNotification): Promise<void> {
    await ctx.store.deleteNotification(n.id).catch((err: unknown) => {
      ctx.logger.warn({ notifier: this.name, notification: n.id, err: describeError(err) }, 'could not forget a delivered notification');
    });
  }
}
