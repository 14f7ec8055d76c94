// The AlertStore contract: one suite every implementation (SQLite, PostgreSQL) must pass: alert instances
// committed atomically with the notifications they queue, silences, the notification outbox, all
// surviving a reopen.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { type ContractTarget, useContractTarget } from '../storage/contract-test-kit.js';
import type { AlertRecord, Silence } from './alert.js';
import type { AlertStore } from './alert-store.js';

export type AlertStoreTarget = ContractTarget<AlertStore, void>;

const alert = (ruleId: string, fingerprint: string, over: Partial<AlertRecord> = {}): AlertRecord => ({
  fingerprint,
  ruleId,
  labels: { alertname: ruleId, site: 's1', node: 'n1' },
  annotations: { summary: 'battery low' },
  state: 'firing',
  value: 12.5,
  activeAt: 1_000,
  firedAt: 2_000,
  resolvedAt: null,
  lastSeenAt: 3_000,
  ack: { by: 'ann', at: 2_500, comment: 'on it' },
  notified: 'firing',
  notifiedAt: 2_000,
  generatorUrl: '/alerts?rule=x',
  ...over,
});

const silence = (id: string, endsAt: number): Silence => ({
  id,
  matchers: [{ name: 'site', value: 's.*', isRegex: true, isEqual: true }],
  startsAt: 100,
  endsAt,
  createdBy: 'ann',
  comment: 'maintenance',
  updatedAt: 100,
});

export function runAlertStoreContract(name: string, setup: () => Promise<AlertStoreTarget>): void {
  describe(`alert store contract: ${name}`, () => {
    const fresh = useContractTarget(setup);

    test('a commit saves, replaces and removes instances and queues its notifications in order; all survive a reopen', async () => {
      const { store, reopen } = await fresh();
      const queued = await store.commit({
        save: [alert('low', 'b'), alert('low', 'a', { state: 'pending', firedAt: null, ack: null }), alert('hot', 'c')],
        remove: [],
        notifications: [
          { notifier: 'webhook:ops#0', payload: '{"n":1}', createdAt: 10 },
          { notifier: 'mqtt', payload: '{"n":2}', createdAt: 11 },
        ],
      });
      assert.deepEqual(
        queued.map((n) => [n.notifier, n.payload, n.attempts, n.createdAt]),
        [
          ['webhook:ops#0', '{"n":1}', 0, 10],
          ['mqtt', '{"n":2}', 0, 11],
        ],
      );
      assert.ok((queued[0]?.id ?? 0) < (queued[1]?.id ?? 0), 'ids ascend in queue order');
      const more = await store.commit({
        save: [alert('low', 'b', { state: 'resolved', resolvedAt: 4_000, notified: 'resolved' })],
        remove: [{ ruleId: 'hot', fingerprint: 'c' }],
        notifications: [{ notifier: 'mqtt', payload: '{"n":3}', createdAt: 12 }],
      });
      assert.ok((more[0]?.id ?? 0) > (queued[1]?.id ?? 0));
      await store.close();
      const again = await reopen();
      assert.deepEqual(await again.loadAlerts(), [
        alert('low', 'a', { state: 'pending', firedAt: null, ack: null }),
        alert('low', 'b', { state: 'resolved', resolvedAt: 4_000, notified: 'resolved' }),
      ]);
      assert.deepEqual(
        (await again.listNotifications()).map((n) => n.payload),
        ['{"n":1}', '{"n":2}', '{"n":3}'],
      );
    });

    test('a commit that fails part way writes nothing', async () => {
      const { store } = await fresh();
      await store.commit({ save: [alert('low', 'a')], remove: [], notifications: [] });
      const unwritable = { ...alert('low', 'z'), value: 1n } as unknown as AlertRecord;
      await assert.rejects(
        store.commit({
          save: [alert('low', 'b'), unwritable],
          remove: [{ ruleId: 'low', fingerprint: 'a' }],
          notifications: [{ notifier: 'mqtt', payload: '{}', createdAt: 1 }],
        }),
      );
      assert.deepEqual(
        (await store.loadAlerts()).map((a) => a.fingerprint),
        ['a'],
      );
      assert.deepEqual(await store.listNotifications(), []);
    });

    test("an acknowledgement is the store's: set and withdrawn by instance; a commit of the same instance keeps it, a new one starts without", async () => {
      const { store, reopen } = await fresh();
      const bo = { by: 'bo', at: 5_000, comment: 'driving there' };
      await store.commit({ save: [alert('low', 'a', { ack: null })], remove: [], notifications: [] });
      assert.equal(await store.setAck('low', 'a', 999, bo), false, 'another instance (activeAt) of the labels');
      assert.equal(await store.setAck('low', 'x', 1_000, bo), false, 'no such fingerprint');
      assert.equal(await store.setAck('low', 'a', 1_000, bo), true);
      // The leader's next evaluation saves the instance as it knew it, without the acknowledgement: it stays.
      await store.commit({ save: [alert('low', 'a', { ack: null, value: 13, lastSeenAt: 6_000 })], remove: [], notifications: [] });
      assert.deepEqual(await store.loadAlerts(), [alert('low', 'a', { ack: bo, value: 13, lastSeenAt: 6_000 })]);
      assert.equal(await store.setAck('low', 'a', 1_000, null), true);
      assert.deepEqual(await store.loadAlerts(), [alert('low', 'a', { ack: null, value: 13, lastSeenAt: 6_000 })]);
      // The same labels active again after a resolution are a new instance: saved as given, unacknowledged.
      await store.setAck('low', 'a', 1_000, bo);
      await store.commit({
        save: [alert('low', 'a', { ack: null, activeAt: 7_000, firedAt: null, state: 'pending' })],
        remove: [],
        notifications: [],
      });
      await store.close();
      const again = await reopen();
      assert.deepEqual(await again.loadAlerts(), [alert('low', 'a', { ack: null, activeAt: 7_000, firedAt: null, state: 'pending' })]);
      assert.equal(await again.setAck('low', 'a', 7_000, bo), true);
      assert.deepEqual((await again.loadAlerts())[0]?.ack, bo);
    });

    test('silences are saved (a second save replaces), listed by id, deleted several at once; they survive a reopen', async () => {
      const { store, reopen } = await fresh();
      await store.saveSilence(silence('s2', 500));
      await store.saveSilence(silence('s1', 600));
      await store.saveSilence(silence('s3', 700));
      await store.saveSilence({ ...silence('s2', 900), updatedAt: 200 });
      await store.close();
      const again = await reopen();
      assert.deepEqual(await again.loadSilences(), [silence('s1', 600), { ...silence('s2', 900), updatedAt: 200 }, silence('s3', 700)]);
      await again.deleteSilences(['s1', 's3', 'unknown']);
      assert.deepEqual(
        (await again.loadSilences()).map((s) => s.id),
        ['s2'],
      );
    });

    test('notifications: attempts recorded, delivered ones forgotten; the rest survive a reopen oldest first', async () => {
      const { store, reopen } = await fresh();
      const [first, second, third] = await store.commit({
        save: [],
        remove: [],
        notifications: [1, 2, 3].map((n) => ({ notifier: 'mqtt', payload: `{"n":${n}}`, createdAt: n })),
      });
      await store.recordNotificationAttempt(first?.id as number, 1);
      await store.recordNotificationAttempt(third?.id as number, 4);
      await store.deleteNotification(second?.id as number);
      await store.close();
      const again = await reopen();
      assert.deepEqual(await again.listNotifications(), [
        { ...(first as NonNullable<typeof first>), attempts: 1 },
        { ...(third as NonNullable<typeof third>), attempts: 4 },
      ]);
    });
  });
}
