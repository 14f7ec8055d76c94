// The alert engine's storage port: alert instances (with their acknowledgements and what was
// notified), silences, and the notifications not yet delivered, so all of it survives a hub restart.
// Implementations: SqliteAlertStore (its own file next to the hub's database) and PostgresAlertStore (a
// scale-out hub's database); both pass alert-store.contract.ts.

import type { AlertRecord, Silence } from './alert.js';

/** A notification payload waiting for one notifier (an outbox row). */
export interface PendingNotification {
  readonly id: number;
  /** The notifier's name ("webhook:<receiver>#<n>", "mqtt"). */
  readonly notifier: string;
  /** The JSON payload, as it will be sent. */
  readonly payload: string;
  /** Failed attempts so far. */
  readonly attempts: number;
  /** Hub time it was queued, ms. */
  readonly createdAt: number;
}

/** What one evaluation changed, written in one transaction. */
export interface AlertCommit {
  /** Instances to insert or replace. */
  readonly save: readonly AlertRecord[];
  /** Instances to forget (pending ones that cleared, resolved ones past retention). */
  readonly remove: ReadonlyArray<{ readonly ruleId: string; readonly fingerprint: string }>;
  /** Notifications to queue: one row per notifier and payload. */
  readonly notifications: ReadonlyArray<{ readonly notifier: string; readonly payload: string; readonly createdAt: number }>;
}

export interface AlertStore {
  loadAlerts(): Promise<AlertRecord[]>;
  /** Applies a commit atomically; returns the queued notifications with their ids, in order. */
  commit(change: AlertCommit): Promise<PendingNotification[]>;
  loadSilences(): Promise<Silence[]>;
  saveSilence(silence: Silence): Promise<void>;
  deleteSilences(ids: readonly string[]): Promise<void>;
  /** Queued notifications, oldest first. */
  listNotifications(): Promise<PendingNotification[]>;
  /** Records one more failed attempt. */
  recordNotificationAttempt(id: number, attempts: number): Promise<void>;
  /** Forgets a notification (delivered, or given up). */
  deleteNotification(id: number): Promise<void>;
  close(): Promise<void>;
}
