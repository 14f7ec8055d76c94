// The notifier registry: every configured notifier, built from hub.yaml's `alerts` section.

import type { Transport } from '../../../transport/index.js';
import { uniqueId } from '../rule-file.js';
import { createMqttNotifier } from './mqtt-notifier.js';
import type { Notifier } from './notifier.js';
import { createWebhookNotifier } from './webhook-notifier.js';

export interface WebhookConfig {
  readonly url: string;
  readonly receiver: string;
  readonly sendResolved: boolean;
  readonly timeout: number;
  readonly maxAttempts: number;
  readonly headers: Readonly<Record<string, string>>;
}

export interface NotifiersConfig {
  readonly webhooks: readonly WebhookConfig[];
  readonly mqtt: { readonly enabled: boolean; readonly maxAttempts: number };
}

export function createNotifiers(config: NotifiersConfig, prefix: string, transport: () => Transport | undefined): Notifier[] {
  const taken = new Set<string>();
  const notifiers: Notifier[] = config.webhooks.map((w) =>
    createWebhookNotifier({
      name: uniqueId(`webhook:${w.receiver}`, taken),
      url: w.url,
      receiver: w.receiver,
      sendResolved: w.sendResolved,
      timeoutMs: w.timeout,
      maxAttempts: w.maxAttempts,
      headers: w.headers,
    }),
  );
  if (config.mqtt.enabled) notifiers.push(createMqttNotifier({ prefix, transport, maxAttempts: config.mqtt.maxAttempts }));
  return notifiers;
}
