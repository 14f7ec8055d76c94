// The alert engine's own metrics, registered in the hub's registry (/metrics).

import { Counter, Gauge, type Registry } from 'prom-client';
import type { AlertState } from './alert.js';

export interface AlertMetrics {
  /** Payloads a notifier delivered. */
  readonly notificationsSent: Counter<'notifier'>;
  /** Payloads a notifier gave up on (attempts exhausted, or refused by the receiver). */
  readonly notificationsFailed: Counter<'notifier'>;
  /** Failed delivery attempts, retried or not. */
  readonly notificationAttemptsFailed: Counter<'notifier'>;
  /** Rule evaluations that failed (the rule's alerts keep their state until it evaluates again). */
  readonly ruleEvaluationFailures: Counter<'rule'>;
}

export function createAlertMetrics(registry: Registry, countAlerts: () => Record<AlertState, number>): AlertMetrics {
  const registers = [registry];
  new Gauge({
    name: 'fieldmesh_hub_alerts',
    help: 'Alert instances by state (resolved ones are kept 15 min).',
    labelNames: ['state'] as const,
    registers,
    collect() {
      for (const [state, n] of Object.entries(countAlerts())) this.set({ state }, n);
    },
  });
  return {
    notificationsSent: new Counter({
      name: 'fieldmesh_hub_alert_notifications_total',
      help: 'Alert notifications delivered, by notifier.',
      labelNames: ['notifier'] as const,
      registers,
    }),
    notificationsFailed: new Counter({
      name: 'fieldmesh_hub_alert_notifications_failed_total',
      help: 'Alert notifications given up after their last attempt, or refused by the receiver with a 4xx, by notifier.',
      labelNames: ['notifier'] as const,
      registers,
    }),
    notificationAttemptsFailed: new Counter({
      name: 'fieldmesh_hub_alert_notification_attempts_failed_total',
      help: 'Failed attempts to deliver an alert notification (each retry counts), by notifier.',
      labelNames: ['notifier'] as const,
      registers,
    }),
    ruleEvaluationFailures: new Counter({
      name: 'fieldmesh_hub_alert_rule_evaluation_failures_total',
      help: 'Alert rule evaluations that failed, by rule id.',
      labelNames: ['rule'] as const,
      registers,
    }),
  };
}
