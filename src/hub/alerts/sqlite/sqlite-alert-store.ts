// SqliteAlertStore: the AlertStore port on better-sqlite3, in a file of its own next to the hub's
// database (alerts.db), opened durably: an acknowledgement or a silence an operator made is not lost
// to a power cut, and a damaged file is moved aside instead of stopping the hub.

import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { type Logger, silentLogger } from '../../../kit/index.js';
import { openDurableDatabase } from '../../../platform/index.js';
import type { AlertRecord, Silence } from '../alert.js';
import type { AlertCommit, AlertStore, PendingNotification } from '../alert-store.js';
import { type NotificationRow, toNotification } from '../alert-store-rows.js';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS alerts (
  rule_id TEXT NOT NULL,
  fingerprint TEXT NOT NULL,
  state TEXT NOT NULL,
  body TEXT NOT NULL,
  PRIMARY KEY (rule_id, fingerprint)
);
CREATE TABLE IF NOT EXISTS silences (
  id TEXT PRIMARY KEY,
  ends_at INTEGER NOT NULL,
  body TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS notifications (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  notifier TEXT NOT NULL,
  payload TEXT NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  created_at INTEGER NOT NULL
);
`;

export interface SqliteAlertStoreOptions {
  /** File path, or ":memory:". */
  readonly path: string;
  readonly logger?: Logger;
}

export function createSqliteAlertStore(options: SqliteAlertStoreOptions): AlertStore {
  let db: Database.Database;
  if (options.path === ':memory:') {
    db = new Database(':memory:');
  } else {
    mkdirSync(dirname(options.path), { recursive: true });
    db = openDurableDatabase(options.path, options.logger ?? silentLogger, 'alert state').db;
  }
  db.exec(SCHEMA);

  // The acknowledgement is the store's (setAck): the same instance saved again keeps it.
  const upsertAlert = db.prepare<[string, string, string, string]>(
    `INSERT INTO alerts (rule_id, fingerprint, state, body) VALUES (?, ?, ?, ?)
     ON CONFLICT (rule_id, fingerprint) DO UPDATE SET state = excluded.state,
       body = CASE WHEN json_extract(alerts.body, '$.activeAt') = json_extract(excluded.body, '$.activeAt')
         THEN json_set(excluded.body, '$.ack', alerts.body -> '$.ack') ELSE excluded.body END`,
  );
  const updateAck = db.prepare<[string, string, string, number]>(
    `UPDATE alerts SET body = json_set(body, '$.ack', json(?))
     WHERE rule_id = ? AND fingerprint = ? AND json_extract(body, '$.activeAt') = ?`,
  );
  const deleteAlert = db.prepare<[string, string]>('DELETE FROM alerts WHERE rule_id = ? AND fingerprint = ?');
  const insertNotification = db.prepare<[string, string, number], { id: number }>(
    'INSERT INTO notifications (notifier, payload, created_at) VALUES (?, ?, ?) RETURNING id',
  );
  const upsertSilence = db.prepare<[string, number, string]>('INSERT OR REPLACE INTO silences (id, ends_at, body) VALUES (?, ?, ?)');
  const deleteSilence = db.prepare<[string]>('DELETE FROM silences WHERE id = ?');
  const commitTx = db.transaction((change: AlertCommit): PendingNotification[] => {
    for (const a of change.save) upsertAlert.run(a.ruleId, a.fingerprint, a.state, JSON.stringify(a));
    for (const r of change.remove) deleteAlert.run(r.ruleId, r.fingerprint);
    return change.notifications.map((n) => {
      const { id } = insertNotification.get(n.notifier, n.payload, n.createdAt) as { id: number };
      return { id, notifier: n.notifier, payload: n.payload, attempts: 0, createdAt: n.createdAt };
    });
  });
  const deleteSilencesTx = db.transaction((ids: readonly string[]) => {
    for (const id of ids) deleteSilence.run(id);
  });
  let open = true;

  return {
    async loadAlerts() {
      return db
        .prepare<[], { body: string }>('SELECT body FROM alerts ORDER BY rule_id, fingerprint')
        .all()
        .map((r) => JSON.parse(r.body) as AlertRecord);
    },
    async commit(change) {
      return commitTx(change);
    },
    async setAck(ruleId, fingerprint, activeAt, ack) {
      return updateAck.run(JSON.stringify(ack), ruleId, fingerprint, activeAt).changes > 0;
    },
    async loadSilences() {
      return db
        .prepare<[], { body: string }>('SELECT body FROM silences ORDER BY id')
        .all()
        .map((r) => JSON.parse(r.body) as Silence);
    },
    async saveSilence(silence) {
      upsertSilence.run(silence.id, silence.endsAt, JSON.stringify(silence));
    },
    async deleteSilences(ids) {
      deleteSilencesTx(ids);
    },
    async listNotifications() {
      return db.prepare<[], NotificationRow>('SELECT * FROM notifications ORDER BY id').all().map(toNotification);
    },
    async recordNotificationAttempt(id, attempts) {
      db.prepare<[number, number]>('UPDATE notifications SET attempts = ? WHERE id = ?').run(attempts, id);
    },
    async deleteNotification(id) {
      db.prepare<[number]>('DELETE FROM notifications WHERE id = ?').run(id);
    },
    async close() {
      if (!open) return;
      open = false;
      db.close();
    },
  };
}
