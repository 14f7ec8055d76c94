// [FM-CONFIG-DIST] The embedded broker forwards a node user the desired config of its own node only, whatever
// filter it subscribed with; the hub's other topics, hub and admin users are not affected.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { canPublish, canReceive, canSubscribe, type Identity } from './broker-acl.js';

const node = (site: string, id: string): Identity => ({
  kind: 'user',
  user: { username: id, password: 'x', role: 'node', site, node: id },
});
const hub: Identity = { kind: 'user', user: { username: 'hub', password: 'x', role: 'hub' } };

test('broker ACL: a node receives its own desired config only, and may still subscribe to _hub/#', () => {
  const r1 = node('ranch', 'r1');
  assert.equal(canSubscribe(r1, 'fieldmesh', 'fieldmesh/_hub/#'), true);
  assert.equal(canReceive(r1, 'fieldmesh', 'fieldmesh/_hub/config/ranch/r1'), true);
  assert.equal(canReceive(r1, 'fieldmesh', 'fieldmesh/_hub/config/ranch/r2'), false);
  assert.equal(canReceive(r1, 'fieldmesh', 'fieldmesh/_hub/config/valley/r1'), false);
  assert.equal(canReceive(r1, 'fieldmesh', 'fieldmesh/_hub/config/ranch/r1/extra'), false);
  assert.equal(canReceive(r1, 'fieldmesh', 'fieldmesh/_hub/state'), true);
  assert.equal(canReceive(r1, 'fieldmesh', 'fieldmesh/_hub/aware/north'), true);
  assert.equal(canReceive(r1, 'fieldmesh', 'fieldmesh/_hub/digest'), false, "the hub's fleet digest is the hub's");
  assert.equal(canReceive(r1, 'fieldmesh', 'fieldmesh/_hub/alerts'), false);
  assert.equal(canReceive(hub, 'fieldmesh', 'fieldmesh/_hub/config/ranch/r2'), true);
  assert.equal(canReceive({ kind: 'anonymous' }, 'fieldmesh', 'fieldmesh/_hub/config/ranch/r2'), true);
  assert.equal(canPublish(r1, 'fieldmesh', 'fieldmesh/_hub/config/ranch/r1'), false, 'only the hub publishes desired configs');
});

test('broker ACL: a node receives its own assignment only [FM-ASSIGN-1]', () => {
  const r1 = node('ranch', 'r1');
  assert.equal(canReceive(r1, 'fieldmesh', 'fieldmesh/_hub/assign/ranch/r1'), true);
  assert.equal(canReceive(r1, 'fieldmesh', 'fieldmesh/_hub/assign/ranch/r2'), false);
  assert.equal(canReceive(r1, 'fieldmesh', 'fieldmesh/_hub/assign/farm/r1'), false);
  assert.equal(canReceive(hub, 'fieldmesh', 'fieldmesh/_hub/assign/ranch/r2'), true);
  assert.equal(canPublish(r1, 'fieldmesh', 'fieldmesh/_hub/assign/ranch/r1'), false, 'only the hub publishes assignments');
});

test('broker ACL: a node writes its own csr channel and receives the answer to its own certificate request only [FM-CERT-4]', () => {
  const r1 = node('ranch', 'r1');
  assert.equal(canPublish(r1, 'fieldmesh', 'fieldmesh/ranch/r1/csr'), true);
  assert.equal(canPublish(r1, 'fieldmesh', 'fieldmesh/ranch/r2/csr'), false, 'a CSR on another node topic');
  assert.equal(canReceive(r1, 'fieldmesh', 'fieldmesh/_hub/cert/ranch/r1'), true);
  assert.equal(canReceive(r1, 'fieldmesh', 'fieldmesh/_hub/cert/ranch/r2'), false);
  assert.equal(canReceive(r1, 'fieldmesh', 'fieldmesh/_hub/cert/farm/r1'), false);
  assert.equal(canReceive(hub, 'fieldmesh', 'fieldmesh/_hub/cert/ranch/r2'), true);
  assert.equal(canPublish(r1, 'fieldmesh', 'fieldmesh/_hub/cert/ranch/r1'), false, 'only the hub publishes certificates');
});
