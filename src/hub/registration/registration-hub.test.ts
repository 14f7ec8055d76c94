// A whole hub on a memory broker in registration.mode approve: a pending node's birth, events and history are
// neither applied, stored nor acknowledged; approval over the API asks it for an unknown-node rebirth and its
// frames are then handled as usual; a rejected node stays out; admins only.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { waitFor } from '../../../test/kit/wait.js';
import { commandTopic, encodeEvent, hubAssignTopic, nodeTopic, SessionEncoder } from '../../protocol/index.js';
import { batterySoc, birthOf, historyOf, hubTestKit, wire } from '../hub-test-kit.js';

const kit = hubTestKit();

test('registration at the hub: pending until approved, nothing stored or acknowledged meanwhile; then the node is admitted', async () => {
  const { hub, clock, broker } = await kit.startHub({ prefix: 'fieldmesh-reg-hub-', config: { registration: { mode: 'approve' } } });
  const { transport: node, received } = await kit.connectClient(broker, 'node-w-e1', {
    subscribe: [
      commandTopic('fieldmesh', 'wildfire', 'edge-west-01', 'ack'),
      commandTopic('fieldmesh', 'wildfire', 'edge-west-01', 'rebirth'),
    ],
  });
  const topic = (ch: 'birth' | 'event' | 'history') => nodeTopic('fieldmesh', 'wildfire', 'edge-west-01', ch);
  const enc = new SessionEncoder(2);
  const event = encodeEvent({ epoch: 2, seq: 7, time: clock.now(), id: 'e7', priority: 'high', kind: 'smoke', payload: new Uint8Array() });
  const history = historyOf(2, clock.now() - 1_000, 'west');
  await node.publish(topic('birth'), birthOf(enc, clock.now(), [batterySoc()], { zone: 'west' }), { qos: 1 });
  await node.publish(topic('event'), event, { qos: 1 });
  await node.publish(topic('history'), history, { qos: 1 });

  const list = async () => (await hub.app.inject('/api/v1/registrations')).json().data;
  await waitFor(async () => (await list()).registrations[0]?.framesIgnored === 3, { what: 'three frames ignored' });
  const [pending] = (await list()).registrations;
  assert.deepEqual([pending.status, pending.zone, pending.births], ['pending', 'west', 1]);
  assert.equal(hub.fleet.get('wildfire', 'edge-west-01'), undefined, 'not in the fleet');
  assert.equal(hub.stats().eventsStored + hub.stats().historySamplesStored + hub.stats().acksSent, 0);
  assert.deepEqual((await hub.app.inject('/api/v1/events')).json().events, []);
  assert.match((await hub.app.inject('/metrics')).body, /fieldmesh_registration_frames_ignored_total\{status="pending"\} 3/);

  const approved = await hub.app.inject({ method: 'POST', url: '/api/v1/registrations/wildfire/edge-west-01/approve' });
  assert.equal(approved.statusCode, 200);
  assert.deepEqual([approved.json().data.status, approved.json().data.rebirthRequested], ['approved', true]);
  const rebirth = await waitFor(() => received.find((m) => m.topic.endsWith('/cmd/rebirth')), { what: 'rebirth request' });
  assert.deepEqual(wire(rebirth.payload), { type: 'rebirth', reason: 'unknown-node' });
  // The node re-announces and resends what was never acknowledged.
  await node.publish(topic('birth'), birthOf(enc, clock.now(), [batterySoc()], { zone: 'west' }), { qos: 1 });
  await node.publish(topic('event'), event, { qos: 1 });
  await node.publish(topic('history'), history, { qos: 1 });
  await waitFor(() => hub.fleet.get('wildfire', 'edge-west-01')?.state === 'online', { what: 'node online' });
  await waitFor(() => received.filter((m) => m.topic.endsWith('/cmd/ack')).length === 2, { what: 'event and history acknowledged' });
  assert.equal(hub.stats().eventsStored, 1);
  assert.equal(hub.stats().historySamplesStored, 1);
  assert.deepEqual((await list()).registrations, []);
});

test('registration at the hub: a rejected node stays out; the routes are for admins and audited', async () => {
  const { hub, broker, clock } = await kit.startHub({
    prefix: 'fieldmesh-reg-auth-',
    config: { registration: { mode: 'approve' }, auth: { mode: 'on' } },
  });
  const { transport: node } = await kit.connectClient(broker, 'node-s1-x');
  const enc = new SessionEncoder(1);
  await node.publish(nodeTopic('fieldmesh', 's1', 'x', 'birth'), birthOf(enc, clock.now(), [batterySoc()]), { qos: 1 });
  const admin = { authorization: `Bearer ${(await hub.auth.createToken('root', 'admin', null)).token}` };
  const operator = { authorization: `Bearer ${(await hub.auth.createToken('ops', 'operator', null)).token}` };
  await waitFor(
    async () => (await hub.app.inject({ url: '/api/v1/registrations', headers: admin })).json().data.registrations.length === 1,
    {
      what: 'x pending',
    },
  );
  assert.equal((await hub.app.inject({ url: '/api/v1/registrations', headers: operator })).statusCode, 403);
  const refused = await hub.app.inject({ method: 'POST', url: '/api/v1/registrations/s1/x/approve', headers: operator });
  assert.deepEqual([refused.statusCode, refused.json().code], [403, 'FM_AUTH_FORBIDDEN']);
  const bad = await hub.app.inject({ method: 'POST', url: '/api/v1/registrations/S1/x!/approve', headers: admin });
  assert.deepEqual([bad.statusCode, bad.json().code], [400, 'FM_REQUEST_INVALID']);

  const rejected = await hub.app.inject({ method: 'POST', url: '/api/v1/registrations/s1/x/reject', headers: admin });
  assert.equal(rejected.json().data.status, 'rejected');
  await node.publish(nodeTopic('fieldmesh', 's1', 'x', 'birth'), birthOf(enc, clock.now(), [batterySoc()]), { qos: 1 });
  await waitFor(
    async () => (await hub.app.inject({ url: '/api/v1/registrations', headers: admin })).json().data.registrations[0].births === 2,
    {
      what: 'second birth seen',
    },
  );
  assert.equal(hub.fleet.get('s1', 'x'), undefined);
  const audit = (await hub.app.inject({ url: '/api/v1/audit', headers: admin })).json();
  const targets = (audit.data?.entries ?? audit.entries ?? audit.data ?? []).map(
    (e: { target: string; result: string }) => `${e.target} ${e.result}`,
  );
  assert.ok(targets.includes('reject s1/x ok'), JSON.stringify(targets));
  assert.ok(targets.includes('s1/x denied'), `the operator's refused approval is audited: ${JSON.stringify(targets)}`);
});

test('registration at the hub: switching approve on grandfathers the nodes the hub knew; a new one waits', async () => {
  const dataDir = kit.tempDir('fieldmesh-reg-grandfather-');
  const first = await kit.startHub({ dataDir });
  const old = await kit.bornNode(first.broker, first.clock);
  await waitFor(() => first.hub.fleet.get('s1', 'n1')?.state === 'online', { what: 'n1 online in open mode' });
  await old.close();
  await first.hub.stop();

  const { hub, broker, clock } = await kit.startHub({ dataDir, config: { registration: { mode: 'approve' } } });
  assert.equal(hub.registrations.get('s1', 'n1')?.origin, 'grandfathered');
  await kit.bornNode(broker, clock);
  const { transport: newcomer } = await kit.connectClient(broker, 'node-s1-n9');
  await newcomer.publish(nodeTopic('fieldmesh', 's1', 'n9', 'birth'), birthOf(new SessionEncoder(1), clock.now(), [batterySoc()]), {
    qos: 1,
  });
  await waitFor(() => hub.fleet.get('s1', 'n1')?.state === 'online', { what: 'grandfathered n1 online' });
  await waitFor(() => hub.registrations.get('s1', 'n9')?.status === 'pending', { what: 'n9 pending' });
  assert.equal(hub.fleet.get('s1', 'n9'), undefined);
});

test('registration at the hub: approval with a site and zone publishes the assignment retained, admits the node under it, clears it once it runs so', async () => {
  const { hub, clock, broker } = await kit.startHub({
    prefix: 'fieldmesh-reg-assign-',
    config: { registration: { mode: 'approve' }, sites: [{ id: 'orchard', zones: { north: 'North rows' } }] },
  });
  const assignTopic = hubAssignTopic('fieldmesh', 'ranch', 'bravo');
  const { transport: node, received } = await kit.connectClient(broker, 'node-ranch-bravo', {
    subscribe: [assignTopic, commandTopic('fieldmesh', 'ranch', 'bravo', 'rebirth')],
  });
  const enc = new SessionEncoder(2);
  await node.publish(nodeTopic('fieldmesh', 'ranch', 'bravo', 'birth'), birthOf(enc, clock.now(), [batterySoc()], { zone: 'west' }), {
    qos: 1,
  });
  await waitFor(() => hub.registrations.get('ranch', 'bravo')?.zone === 'west', { what: 'bravo pending in west' });
  const approve = (body: unknown, node = 'bravo') =>
    hub.app.inject({ method: 'POST', url: `/api/v1/registrations/ranch/${node}/approve`, payload: body as Record<string, unknown> });

  // Bad inputs: an unknown field, an id that is not one; nothing decided.
  const unknown = await approve({ site: 'farm', zome: 'east' });
  assert.deepEqual([unknown.statusCode, unknown.json().code], [400, 'FM_REQUEST_INVALID']);
  assert.match(unknown.json().message, /body: unknown field "zome"; an approval takes "site" and "zone"/);
  const badId = await approve({ site: 'Farm 1' });
  assert.deepEqual([badId.statusCode, badId.json().code], [400, 'FM_REQUEST_INVALID']);
  assert.match(badId.json().message, /body\.site "Farm 1": expected an id/);
  const notObject = await approve(['farm']);
  assert.deepEqual([notObject.statusCode, notObject.json().code], [400, 'FM_REQUEST_INVALID']);
  assert.equal(hub.registrations.get('ranch', 'bravo')?.status, 'pending');

  const answer = await approve({ site: 'farm', zone: 'east' });
  assert.equal(answer.statusCode, 200, answer.body);
  const data = answer.json().data;
  assert.deepEqual(
    [data.status, data.assignedSite, data.assignedZone, data.assignmentState, data.assignmentSent, data.rebirthRequested],
    ['approved', 'farm', 'east', 'retained', true, false],
  );
  const assignment = await waitFor(() => received.find((m) => m.topic === assignTopic), { what: 'assignment received' });
  const sent = JSON.parse(new TextDecoder().decode(assignment.payload));
  assert.deepEqual(sent, { site: 'farm', zone: 'east', by: data.decidedBy, at: clock.now() });
  assert.ok(!received.some((m) => m.topic.endsWith('/cmd/rebirth')), 'no rebirth: the node restarts under the assignment');
  // Retained: a node that subscribes later (it restarted) gets it at once.
  const late = await kit.connectClient(broker, 'late', { subscribe: [assignTopic] });
  await waitFor(() => late.received.some((m) => m.topic === assignTopic && m.payload.length > 0), { what: 'retained assignment' });

  // The node goes on under its old key until it has the assignment: ignored, not in the fleet.
  await node.publish(nodeTopic('fieldmesh', 'ranch', 'bravo', 'birth'), birthOf(enc, clock.now(), [batterySoc()], { zone: 'west' }), {
    qos: 1,
  });
  await waitFor(() => (hub.registrations.get('ranch', 'bravo')?.births ?? 0) === 2, { what: 'old-key birth seen' });
  assert.equal(hub.fleet.get('ranch', 'bravo'), undefined);
  assert.match((await hub.app.inject('/metrics')).body, /fieldmesh_registration_frames_ignored_total\{status="moved"\} 1/);

  // It runs under the assignment: admitted, and the retained assignment of its old key is cleared.
  const moved = await kit.connectClient(broker, 'node-farm-bravo');
  await moved.transport.publish(
    nodeTopic('fieldmesh', 'farm', 'bravo', 'birth'),
    birthOf(new SessionEncoder(3), clock.now(), [batterySoc()], { zone: 'east' }),
    { qos: 1 },
  );
  await waitFor(() => hub.fleet.get('farm', 'bravo')?.state === 'online', { what: 'farm/bravo online' });
  assert.equal(hub.fleet.get('farm', 'bravo')?.zone, 'east');
  await waitFor(() => late.received.some((m) => m.topic === assignTopic && m.payload.length === 0), {
    what: 'retained assignment cleared',
  });
  assert.equal(hub.registrations.get('ranch', 'bravo')?.assignmentState, null);
  const again = await kit.connectClient(broker, 'later', { subscribe: [assignTopic] });
  assert.deepEqual(again.received, [], 'nothing retained any more');
  assert.equal(hub.fleet.get('ranch', 'bravo'), undefined);

  // Plain approval of another node: the body may be empty, or equal to what it announced.
  await node.publish(nodeTopic('fieldmesh', 'ranch', 'charlie', 'birth'), birthOf(enc, clock.now(), [batterySoc()], { zone: 'west' }), {
    qos: 1,
  });
  await waitFor(() => hub.registrations.get('ranch', 'charlie')?.zone === 'west', { what: 'charlie pending' });
  const plain = (await approve({ site: 'ranch', zone: 'west' }, 'charlie')).json().data;
  assert.deepEqual([plain.assignedSite, plain.assignmentState, plain.assignmentSent, plain.rebirthRequested], [null, null, false, true]);
  const known = (await hub.app.inject('/api/v1/registrations')).json().data.known;
  // The fleet's sites and zones, and those hub.yaml describes.
  assert.deepEqual(known, { sites: ['farm', 'orchard'], zones: ['east', 'north'] });
});

test('registration at the hub: an assignment in open mode is refused like any decision; the audit names the assignment', async () => {
  const open = await kit.startHub({ prefix: 'fieldmesh-reg-assign-open-' });
  const refused = await open.hub.app.inject({
    method: 'POST',
    url: '/api/v1/registrations/ranch/bravo/approve',
    payload: { site: 'farm', zone: 'east' },
  });
  assert.deepEqual([refused.statusCode, refused.json().code], [400, 'FM_REQUEST_INVALID']);
  assert.match(refused.json().message, /registration.mode is open/);

  const { hub } = await kit.startHub({
    prefix: 'fieldmesh-reg-assign-audit-',
    config: { registration: { mode: 'approve' }, auth: { mode: 'on' } },
  });
  const admin = { authorization: `Bearer ${(await hub.auth.createToken('root', 'admin', null)).token}` };
  const ok = await hub.app.inject({
    method: 'POST',
    url: '/api/v1/registrations/ranch/delta/approve',
    headers: admin,
    payload: { site: 'farm', zone: 'east' },
  });
  assert.equal(ok.statusCode, 200, ok.body);
  assert.equal(ok.json().data.decidedBy, 'root');
  const audit = (await hub.app.inject({ url: '/api/v1/audit', headers: admin })).json();
  const targets = (audit.data?.entries ?? audit.entries ?? audit.data ?? []).map((e: { target: string }) => e.target);
  assert.ok(targets.includes('approve ranch/delta site farm zone east'), JSON.stringify(targets));
});
