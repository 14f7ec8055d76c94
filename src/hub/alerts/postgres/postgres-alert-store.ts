// PostgresAlertStore: the AlertStore port on PostgreSQL (component "alerts" in schema_migrations), for a
// scale-out hub whose alert evaluation runs on one leader: a commit can be fenced by the leader lease, so a
// deposed leader's evaluation writes nothing. Every api process shares it: each write tells the others with a
// NOTIFY in its transaction (delivered on commit), which `watch` LISTENs to on a connection of its own.

import type { Client, Pool, PoolClient } from 'pg';
import { createId } from '../../../kit/index.js';
import { type MigrationStep, openMigratedPool } from '../../storage/postgres/migrate.js';
import { inTransaction, type PostgresPoolOptions } from '../../storage/postgres/pool.js';
import type { AlertRecord, Silence } from '../alert.js';
import type { AlertStore, AlertStoreChange } from '../alert-store.js';
import { type NotificationRow, toNotification } from '../alert-store-rows.js';

/** The NOTIFY channel of the alert store's changes; the payload is `{"origin": <store id>, "change": "alerts"|"silences"}`. */
export const ALERT_CHANGES_CHANNEL = 'fieldmesh_alert_changes';
/** A lost LISTEN connection is opened again after this long (the engine's periodic re-read covers the gap). */
const RELISTEN_DELAY_MS = 1_000;

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
  /** Tells this store's own notices from the other processes'. */
  const origin = createId();
  const unwatchers = new Set<() => Promise<void>>();
  const notify = (client: Pool | PoolClient, change: Exclude<AlertStoreChange, 'unknown'>) =>
    client.query('SELECT pg_notify($1, $2)', [ALERT_CHANGES_CHANNEL, JSON.stringify({ origin, change })]);
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
             ON CONFLICT (rule_id, fingerprint) DO UPDATE SET state = excluded.state,
               body = CASE WHEN alerts.body -> 'activeAt' = excluded.body -> 'activeAt'
                 THEN jsonb_set(excluded.body, '{ack}', coalesce(alerts.body -> 'ack', 'null'::jsonb)) ELSE excluded.body END`,
            [saved.map((s) => s[0]), saved.map((s) => s[1]), saved.map((s) => s[2]), saved.map((s) => s[3])],
          );
        }
        if (change.remove.length > 0) {
          await client.query('DELETE FROM alerts WHERE (rule_id, fingerprint) IN (SELECT * FROM unnest($1::text[], $2::text[]))', [
            change.remove.map((r) => r.ruleId),
            change.remove.map((r) => r.fingerprint),
          ]);
        }
        if (saved.length > 0 || change.remove.length > 0) await notify(client, 'alerts');
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
    async setAck(ruleId, fingerprint, activeAt, ack) {
      return inTransaction(pool, async (client) => {
        const r = await client.query(
          `UPDATE alerts SET body = jsonb_set(body, '{ack}', $4::jsonb)
           WHERE rule_id = $1 AND fingerprint = $2 AND body -> 'activeAt' = to_jsonb($3::bigint)`,
          [ruleId, fingerprint, activeAt, JSON.stringify(ack)],
        );
        if (r.rowCount === 0) return false;
        await notify(client, 'alerts');
        return true;
      });
    },
    async saveSilence(silence) {
      await inTransaction(pool, async (client) => {
        await client.query(
          `INSERT INTO silences (id, ends_at, body) VALUES ($1, $2, $3)
           ON CONFLICT (id) DO UPDATE SET ends_at = excluded.ends_at, body = excluded.body`,
          [silence.id, silence.endsAt, JSON.stringify(silence)],
        );
        await notify(client, 'silences');
      });
    },
    async deleteSilences(ids) {
      if (ids.length === 0) return;
      await inTransaction(pool, async (client) => {
        await client.query('DELETE FROM silences WHERE id = ANY($1)', [ids]);
        await notify(client, 'silences');
      });
    },
    async watch(listener) {
      const { default: pg } = await import('pg');
      let client: Client | undefined;
      let retry: NodeJS.Timeout | undefined;
      let watching = true;
      const connect = async (): Promise<void> => {
        const c = new pg.Client({ connectionString: options.url, application_name: 'fieldmesh-hub-alert-changes' });
        const lost = () => {
          if (client !== c) return;
          client = undefined;
          c.removeAllListeners('notification');
          void c.end().catch(() => {});
          if (watching) retry = setTimeout(reconnect, RELISTEN_DELAY_MS);
        };
        c.on('error', lost);
        c.on('end', lost);
        c.on('notification', (n) => {
          if (n.channel !== ALERT_CHANGES_CHANNEL || n.payload === undefined) return;
          try {
            const notice = JSON.parse(n.payload) as { origin?: unknown; change?: unknown };
            if (notice.origin === origin) return;
            listener(notice.change === 'alerts' || notice.change === 'silences' ? notice.change : 'unknown');
          } catch {
            listener('unknown');
          }
        });
        client = c;
        try {
          await c.connect();
          await c.query(`LISTEN ${ALERT_CHANGES_CHANNEL}`);
        } catch (err) {
          lost();
          throw err;
        }
      };
      const reconnect = () => {
        retry = undefined;
        // Notices sent while no connection listened are lost: once listening again, the listener reads everything.
        void connect().then(
          () => listener('unknown'),
          () => {},
        );
      };
      // A database out of reach now: the retry above listens once it answers.
      await connect().catch(() => {});
      const unwatch = async () => {
        watching = false;
        unwatchers.delete(unwatch);
        if (retry !== undefined) clearTimeout(retry);
        const c = client;
        client = undefined;
        await c?.end().catch(() => {});
      };
      unwatchers.add(unwatch);
      return unwatch;
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
      for (const unwatch of [...unwatchers]) await unwatch();
      await pool.end();
    },
  };
}
