// Webhook notifier: POSTs Alertmanager's webhook payload to a URL. A network error, a timeout, a 429
// or a 5xx is retried with backoff; any other non-2xx answer is the receiver refusing the payload,
// given up at once (Alertmanager does the same).

import { FIELDMESH_VERSION } from '../../../protocol/index.js';
import { DeliveryQueue } from './delivery-queue.js';
import { DeliveryFailure, type Notifier, type NotifierContext } from './notifier.js';

export interface WebhookNotifierOptions {
  /** Unique and stable: "webhook:<receiver>" (with "#2"... when a receiver name repeats). */
  readonly name: string;
  readonly url: string;
  readonly receiver: string;
  readonly sendResolved: boolean;
  readonly timeoutMs: number;
  readonly maxAttempts: number;
  /** Extra request headers (an Authorization token for the receiver). */
  readonly headers: Readonly<Record<string, string>>;
}

export function createWebhookNotifier(options: WebhookNotifierOptions): Notifier {
  const deliver = async (payload: string, signal: AbortSignal): Promise<void> => {
    let response: Response;
    try {
      response = await fetch(options.url, {
        method: 'POST',
        headers: { ...options.headers, 'content-type': 'application/json', 'user-agent': `fieldmesh-hub/${FIELDMESH_VERSION}` },
        body: payload,
        signal: AbortSignal.any([signal, AbortSignal.timeout(options.timeoutMs)]),
      });
    } catch (err) {
      throw new DeliveryFailure(`POST ${options.url}: ${(err as Error).message}`, true, { cause: err });
    }
    // Read the answer so the connection can be reused.
    await response.arrayBuffer().catch(() => undefined);
    if (response.ok) return;
    const retryable = response.status === 429 || response.status >= 500;
    throw new DeliveryFailure(`POST ${options.url}: HTTP ${response.status}`, retryable);
  };
  const queue = new DeliveryQueue(options.name, deliver, options.maxAttempts);
  return {
    name: options.name,
    receiver: options.receiver,
    sendResolved: options.sendResolved,
    start: (ctx: NotifierContext) => queue.start(ctx),
    enqueue: (n) => queue.enqueue(n),
    idle: () => queue.idle(),
    stop: () => queue.stop(),
  };
}
