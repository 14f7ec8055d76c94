// The alert engine's storage port: alert instances (with their acknowledgements and what was
// notified), silences, and the notifications not yet delivered, so all of it survives a hub restart.
// Implementations: SqliteAlertStore (its own file next to the hub's database) and PostgresAlertStore (a
// scale-out hub's database); both pass alert-store.contract.ts.

import type { Acknowledgement, AlertRecord, Silence } from './alert.js';

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

/** What another process changed in a shared store (see AlertStore.watch). */
export type AlertStoreChange =
  /** Alert instances (the leader's evaluation) or their acknowledgements. */
  | 'alerts'
  | 'silences'
  /** The notices may have been missed (the listening connection was lost and is back): read everything again. */
  | 'unknown';

export interface AlertStore {
  loadAlerts(): Promise<AlertRecord[]>;
  /**
   * Applies a commit atomically; returns the queued notifications with their ids, in order. An instance's
   * acknowledgement is the store's (setAck): saving an instance the store holds with the same `activeAt` keeps the
   * stored acknowledgement whatever the record says, so an evaluation never undoes an acknowledgement made meanwhile
   * through another process; a new instance (another `activeAt`) is saved as given.
   */
  commit(change: AlertCommit): Promise<PendingNotification[]>;
  /**
   * Sets (or, with null, withdraws) the acknowledgement of the instance of this rule and fingerprint that became active
   * at `activeAt`; false when the store holds no such instance. Not fenced: any api process of a scale-out hub may.
   */
  setAck(ruleId: string, fingerprint: string, activeAt: number, ack: Acknowledgement | null): Promise<boolean>;
  loadSilences(): Promise<Silence[]>;
  saveSilence(silence: Silence): Promise<void>;
  deleteSilences(ids: readonly string[]): Promise<void>;
  /** Queued notifications, oldest first. */
  listNotifications(): Promise<PendingNotification[]>;
  /** Records one more failed attempt. */
  recordNotificationAttempt(id: number, attempts: number): Promise<void>;
  /** Forgets a notification (delivered, or given up). */
  deleteNotification(id: number): Promise<void>;
  /**
   * A store shared by several processes (PostgreSQL): calls `listener` when another process committed a change, at
   * most a moment after its commit, until the returned function is called (or the store closed). Absent: the store
   * has one writer (SQLite).
   */
  watch?(listener: (change: AlertStoreChange) => void): Promise<() => Promise<void>>;
  close(): Promise<void>;
}
