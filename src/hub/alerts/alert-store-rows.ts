// The notification outbox's rows, the same in SQLite and PostgreSQL, and their mapping to the port's record.

import type { PendingNotification } from './alert-store.js';

export interface NotificationRow {
  id: number;
  notifier: string;
  payload: string;
  attempts: number;
  created_at: number;
}

export function toNotification(r: NotificationRow): PendingNotification {
  return { id: r.id, notifier: r.notifier, payload: r.payload, attempts: r.attempts, createdAt: r.created_at };
}
