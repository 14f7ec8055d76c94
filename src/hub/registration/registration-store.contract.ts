// The RegistrationStore contract: one suite every durable implementation (SQLite, PostgreSQL) must pass:
// registrations listed by site and node, replaced by a second put, and the last mode, surviving a reopen.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { type ContractTarget, useContractTarget } from '../storage/contract-test-kit.js';
import { blankRegistration, type RegistrationRecord, type RegistrationStore } from './registration-store.js';

export type RegistrationStoreTarget = ContractTarget<RegistrationStore, void>;

const pending = (site: string, node: string): RegistrationRecord => ({
  ...blankRegistration(site, node),
  zone: 'z1',
  agentVersion: '0.1.0',
  bootTime: 1_000,
  configVersion: 'abc123',
  firstSeen: 2_000,
  lastSeen: 3_000,
  births: 2,
  framesIgnored: 40,
});

export function runRegistrationStoreContract(name: string, setup: () => Promise<RegistrationStoreTarget>): void {
  describe(`registration store contract: ${name}`, () => {
    const fresh = useContractTarget(setup);

    test('a new store holds no registration and no last mode', async () => {
      const { store } = await fresh();
      assert.deepEqual(store.list(), []);
      assert.equal(store.lastMode(), undefined);
    });

    test('registrations are listed by site then node, a second put replaces the first, and all survive a reopen', async () => {
      const { store, reopen } = await fresh();
      store.put(pending('s2', 'a'));
      store.put(pending('s1', 'b'));
      store.put(pending('s1', 'a'));
      const approved: RegistrationRecord = {
        ...pending('s1', 'b'),
        status: 'approved',
        decidedBy: 'ann',
        decidedAt: 4_000,
        origin: 'admin',
        assignedSite: 's9',
        assignedZone: 'z9',
        assignmentState: 'publish',
      };
      store.put(approved);
      const grandfathered: RegistrationRecord = {
        ...blankRegistration('s2', 'a'),
        status: 'approved',
        decidedBy: 'hub',
        decidedAt: 5_000,
        origin: 'grandfathered',
      };
      store.put(grandfathered);
      const expected = [pending('s1', 'a'), approved, grandfathered];
      assert.deepEqual(store.list(), expected);
      await store.close();
      const again = await reopen();
      assert.deepEqual(again.list(), expected);
    });

    test('the last mode is kept and replaced; it survives a reopen', async () => {
      const { store, reopen } = await fresh();
      store.setLastMode('open');
      store.setLastMode('approve');
      assert.equal(store.lastMode(), 'approve');
      await store.close();
      assert.equal((await reopen()).lastMode(), 'approve');
    });
  });
}
