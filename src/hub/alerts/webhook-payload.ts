// Alertmanager's webhook payload (version "4"), built from alert instances, so receivers written for
// Alertmanager (ntfy, Gotify, Matrix and Discord bridges, ticketing) work unchanged. The same JSON
// goes to the MQTT topic <prefix>/_hub/alerts.

import type { AlertRecord } from './alert.js';

/** How Alertmanager writes "no end yet" (Go's zero time). */
export const ZERO_TIME = '0001-01-01T00:00:00Z';

export interface WebhookAlert {
  readonly status: 'firing' | 'resolved';
  readonly labels: Readonly<Record<string, string>>;
  readonly annotations: Readonly<Record<string, string>>;
  /** RFC 3339: when the alert started firing. */
  readonly startsAt: string;
  /** RFC 3339: when it resolved, or ZERO_TIME while firing. */
  readonly endsAt: string;
  readonly generatorURL: string;
  readonly fingerprint: string;
}

export interface WebhookPayload {
  readonly version: '4';
  /** Identifies the group of alerts, e.g. `{}:{alertname="NodeDown"}`. */
  readonly groupKey: string;
  readonly truncatedAlerts: number;
  /** "firing" when any alert of the group fires, else "resolved". */
  readonly status: 'firing' | 'resolved';
  readonly receiver: string;
  readonly groupLabels: Readonly<Record<string, string>>;
  readonly commonLabels: Readonly<Record<string, string>>;
  readonly commonAnnotations: Readonly<Record<string, string>>;
  readonly externalURL: string;
  readonly alerts: readonly WebhookAlert[];
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

/** Alertmanager's LabelSet.String(): `{a="1", b="2"}`, names sorted. */
export function labelSetString(labels: Readonly<Record<string, string>>): string {
  return `{${Object.keys(labels)
    .sort()
    .map((k) => `${k}=${JSON.stringify(labels[k])}`)
    .join(', ')}}`;
}

/** The labels named by `groupBy` that the alert has. */
export function groupLabelsOf(labels: Readonly<Record<string, string>>, groupBy: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of [...groupBy].sort()) if (labels[k] !== undefined) out[k] = labels[k];
  return out;
}

function common(sets: ReadonlyArray<Readonly<Record<string, string>>>): Record<string, string> {
  const [first, ...rest] = sets;
  if (first === undefined) return {};
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(first)) if (rest.every((s) => s[k] === v)) out[k] = v;
  return out;
}

export function toWebhookAlert(a: Readonly<AlertRecord>): WebhookAlert {
  const resolved = a.state === 'resolved';
  return {
    status: resolved ? 'resolved' : 'firing',
    labels: a.labels,
    annotations: a.annotations,
    startsAt: iso(a.firedAt ?? a.activeAt),
    endsAt: resolved && a.resolvedAt !== null ? iso(a.resolvedAt) : ZERO_TIME,
    generatorURL: a.generatorUrl,
    fingerprint: a.fingerprint,
  };
}

/** One group's payload: `alerts` are the group's firing alerts and those that just resolved. */
export function buildWebhookPayload(
  alerts: ReadonlyArray<Readonly<AlertRecord>>,
  groupLabels: Readonly<Record<string, string>>,
  receiver: string,
  externalUrl: string,
): WebhookPayload {
  const items = alerts.map(toWebhookAlert);
  return {
    version: '4',
    groupKey: `{}:${labelSetString(groupLabels)}`,
    truncatedAlerts: 0,
    status: items.some((a) => a.status === 'firing') ? 'firing' : 'resolved',
    receiver,
    groupLabels,
    commonLabels: common(items.map((a) => a.labels)),
    commonAnnotations: common(items.map((a) => a.annotations)),
    externalURL: externalUrl,
    alerts: items,
  };
}
