// `fieldmesh hub nodes approve SITE/NODE [--site S] [--zone Z]`: the flags as the approval's body (ids checked
// before the hub is asked) and the line it prints. docs/registration.md "Assigning a site and a zone".
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { approvalText, assignmentBody, type RegistrationAnswer } from './hub-nodes.js';

const answer = (fields: Partial<RegistrationAnswer>): RegistrationAnswer => ({
  site: 'ranch',
  node: 'bravo',
  status: 'approved',
  zone: 'west',
  agentVersion: '0.1.0',
  bootTime: null,
  configVersion: null,
  firstSeen: null,
  lastSeen: null,
  births: 1,
  framesIgnored: 3,
  decidedBy: 'ada',
  decidedAt: 1,
  origin: 'admin',
  ...fields,
});

test('hub nodes approve: --site and --zone make the body; none makes none; a bad id is a usage error', () => {
  assert.equal(assignmentBody({}), undefined);
  assert.deepEqual(assignmentBody({ site: 'farm', zone: 'east' }), { site: 'farm', zone: 'east' });
  assert.deepEqual(assignmentBody({ zone: 'east' }), { zone: 'east' });
  assert.throws(() => assignmentBody({ site: 'Farm' }), { code: 'FM_CLI_USAGE', message: /--site "Farm": expected an id/ });
  assert.throws(() => assignmentBody({ zone: 'east/1' }), { code: 'FM_CLI_USAGE', message: /--zone "east\/1"/ });
});

test('hub nodes approve: the line says what the hub did with the assignment', () => {
  assert.equal(
    approvalText(answer({ assignedSite: 'farm', assignedZone: 'east', assignmentState: 'retained', assignmentSent: true })),
    'ranch/bravo approved as farm/bravo in zone east: assignment sent; the node restarts under it and its outbox drains to the hub',
  );
  assert.equal(
    approvalText(answer({ assignedSite: 'farm', assignedZone: 'east', assignmentState: 'publish', assignmentSent: false })),
    'ranch/bravo approved as farm/bravo in zone east; the hub is not on the broker: the assignment goes out when it is',
  );
  assert.equal(
    approvalText(answer({ assignedSite: null, assignmentState: null, rebirthRequested: true })),
    'ranch/bravo approved: rebirth requested, its outbox drains to the hub',
  );
});
