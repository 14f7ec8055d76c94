// The notifier plug-in port: one small file per kind (webhook, MQTT), listed in registry.ts. The
// engine queues each payload in the alert store first, then hands it over; a notifier delivers in
// order, in the background, with retries, and never blocks evaluation.

import type { Clock, Logger } from '../../../kit/index.js';
import type { AlertMetrics } from '../alert-metrics.js';
import type { AlertStore, PendingNotification } from '../alert-store.js';

export interface NotifierContext {
  readonly clock: Clock;
  readonly logger: Logger;
  /** Where queued notifications live until delivered or given up. */
  readonly store: AlertStore;
  readonly metrics: AlertMetrics;
}

export interface Notifier {
  /** Unique among the configured notifiers and stable across restarts: queued rows are keyed by it. */
  readonly name: string;
  /** The payload's `receiver`. */
  readonly receiver: string;
  /** Whether resolved alerts are sent (Alertmanager's send_resolved). */
  readonly sendResolved: boolean;
  start(ctx: NotifierContext): void;
  /** Queues a stored notification for delivery. Never throws, never waits. */
  enqueue(notification: PendingNotification): void;
  /** Resolves once nothing is queued or in flight (or the notifier is stopped). */
  idle(): Promise<void>;
  /** Stops retrying and aborts what is in flight; undelivered rows stay stored for the next start. */
  stop(): Promise<void>;
}

/** A failed delivery; `retryable` false means the receiver refused it and retrying cannot help. */
export class DeliveryFailure extends Error {
  readonly retryable: boolean;

  constructor(message: string, retryable: boolean, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'DeliveryFailure';
    this.retryable = retryable;
  }
}
