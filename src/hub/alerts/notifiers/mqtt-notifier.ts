// MQTT notifier: publishes the same Alertmanager-shaped JSON on <prefix>/_hub/alerts (QoS 1, not
// retained) through the hub's transport, for dashboards and bridges on the broker. While the link is
// down the payload waits and is retried with backoff.

import { hubTopic } from '../../../protocol/index.js';
import type { Transport } from '../../../transport/index.js';
import { DeliveryQueue } from './delivery-queue.js';
import { DeliveryFailure, type Notifier, type NotifierContext } from './notifier.js';

export const MQTT_NOTIFIER_NAME = 'mqtt';

/** The topic alert notifications are published on. */
export function alertsTopic(prefix: string): string {
  return hubTopic(prefix, 'alerts');
}

export interface MqttNotifierOptions {
  readonly prefix: string;
  /** The hub's transport, once it exists (it is created when the hub starts). */
  readonly transport: () => Transport | undefined;
  readonly maxAttempts: number;
}

export function createMqttNotifier(options: MqttNotifierOptions): Notifier {
  const topic = alertsTopic(options.prefix);
  const encoder = new TextEncoder();
  const deliver = async (payload: string): Promise<void> => {
    const transport = options.transport();
    if (transport === undefined || !transport.connected) throw new DeliveryFailure(`${topic}: not connected to the broker`, true);
    try {
      await transport.publish(topic, encoder.encode(payload), { qos: 1 });
    } catch (err) {
      throw new DeliveryFailure(`${topic}: ${(err as Error).message}`, true, { cause: err });
    }
  };
  const queue = new DeliveryQueue(MQTT_NOTIFIER_NAME, deliver, options.maxAttempts);
  return {
    name: MQTT_NOTIFIER_NAME,
    receiver: 'mqtt',
    sendResolved: true,
    start: (ctx: NotifierContext) => queue.start(ctx),
    enqueue: (n) => queue.enqueue(n),
    idle: () => queue.idle(),
    stop: () => queue.stop(),
  };
}
