// PostgresAlertStore: the AlertStore port on PostgreSQL (component "alerts" in schema_migrations), for a
// scale-out hub whose alert evaluation runs on one leader: a commit can be fenced by the leader lease, so a
// deposed leader's evaluation writes nothing.

import type { Pool, PoolClient } from 'pg';
import { type MigrationStep, openMigratedPool } from '../../storage/postgres/migrate.js';
import { inTransaction, type PostgresPoolOptions } from '../../storage/postgres/pool.js';
import type { AlertRecord, Silence } from '../alert.js';
import type { AlertStore } from '../alert-store.js';
import { type NotificationRow, toNotification } from '../alert-store-rows.js';

export const ALERT_MIGRATIONS: readonly MigrationStep[] = [
  {
    version: 1,
    name: 'alerts, silences, notifications',
    up: `
      CREATE TABLE alerts (
        rule_id text NOT NULL,
        fingerprint text NOT NULL,
        state text NOT NULL,
        body jsonb NOT NULL,
        PRIMARY KEY (rule_id, fingerprint)
      );
      CREATE TABLE silences (
        id text PRIMARY KEY,
        ends_at bigint NOT NULL,
        body jsonb NOT NULL
      );
      CREATE TABLE notifications (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        notifier text NOT NULL,
        payload text NOT NULL,
        attempts integer NOT NULL DEFAULT 0,
        created_at bigint NOT NULL
      );
    `,
  },
];

export interface PostgresAlertStoreOptions extends PostgresPoolOptions {
  /**
   * Checked first in every commit's transaction (a leader lease's `check`): throwing refuses the commit,
   * and nothing of it is written.
   */
  readonly fence?: (client: PoolClient) => Promise<void>;
}

/** Connects and migrates; alert instances, silences and the notification outbox on PostgreSQL. */
export async function createPostgresAlertStore(options: PostgresAlertStoreOptions): Promise<AlertStore> {
  return postgresAlertStore(await openMigratedPool(options, 'alerts', ALERT_MIGRATIONS), options);
}

function postgresAlertStore(pool: Pool, options: PostgresAlertStoreOptions): AlertStore {
  let open = true;
  return {
    async loadAlerts() {
      const r = await pool.query<{ body: AlertRecord }>('SELECT body FROM alerts ORDER BY rule_id COLLATE "C", fingerprint COLLATE "C"');
      return r.rows.map((row) => row.body);
    },
    async commit(change) {
      // Serialised before the transaction: a record that cannot be written fails the commit before any write.
      const saved = change.save.map((a) => [a.ruleId, a.fingerprint, a.state, JSON.stringify(a)] as const);
      return inTransaction(pool, async (client) => {
        await options.fence?.(client);
        if (saved.length > 0) {
          await client.query(
            `INSERT INTO alerts (rule_id, fingerprint, state, body)
             SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::jsonb[])
             ON CONFLICT (rule_id, fingerprint) DO UPDATE SET state = excluded.state, body = excluded.body`,
            [saved.map((s) => s[0]), saved.map((s) => s[1]), saved.map((s) => s[2]), saved.map((s) => s[3])],
          );
        }
        if (change.remove.length > 0) {
          await client.query('DELETE FROM alerts WHERE (rule_id, fingerprint) IN (SELECT * FROM unnest($1::text[], $2::text[]))', [
            change.remove.map((r) => r.ruleId),
            change.remove.map((r) => r.fingerprint),
          ]);
        }
        if (change.notifications.length === 0) return [];
        // WITH ORDINALITY keeps the queue order in the ids the identity gives.
        const r = await client.query<NotificationRow>(
          `INSERT INTO notifications (notifier, payload, created_at)
           SELECT notifier, payload, created_at FROM unnest($1::text[], $2::text[], $3::bigint[])
             WITH ORDINALITY AS n(notifier, payload, created_at, position) ORDER BY position
           RETURNING *`,
          [
            change.notifications.map((n) => n.notifier),
            change.notifications.map((n) => n.payload),
            change.notifications.map((n) => n.createdAt),
          ],
        );
        return r.rows.map(toNotification).sort((a, b) => a.id - b.id);
      });
    },
    async loadSilences() {
      const r = await pool.query<{ body: Silence }>('SELECT body FROM silences ORDER BY id COLLATE "C"');
      return r.rows.map((row) => row.body);
    },
    async saveSilence(silence) {
      await pool.query(
        `INSERT INTO silences (id, ends_at, body) VALUES ($1, $2, $3)
         ON CONFLICT (id) DO UPDATE SET ends_at = excluded.ends_at, body = excluded.body`,
        [silence.id, silence.endsAt, JSON.stringify(silence)],
      );
    },
    async deleteSilences(ids) {
      if (ids.length > 0) await pool.query('DELETE FROM silences WHERE id = ANY($1)', [ids]);
    },
    async listNotifications() {
      return (await pool.query<NotificationRow>('SELECT * FROM notifications ORDER BY id')).rows.map(toNotification);
    },
    async recordNotificationAttempt(id, attempts) {
      await pool.query('UPDATE notifications SET attempts = $1 WHERE id = $2', [attempts, id]);
    },
    async deleteNotification(id) {
      await pool.query('DELETE FROM notifications WHERE id = $1', [id]);
    },
    async close() {
      if (!open) return;
      open = false;
      await pool.end();
    },
  };
}
