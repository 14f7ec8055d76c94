// A whole hub on a memory broker in registration.mode approve: a pending node's birth, events and history are
// neither applied, stored nor acknowledged; approval over the API asks it for an unknown-node rebirth and its
// frames are then handled as usual; a rejected node stays out; admins only.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { waitFor } from '../../../test/kit/wait.js';
import { commandTopic, encodeEvent, encodeHistory, nodeTopic, SessionEncoder } from '../../protocol/index.js';
import { batterySoc, birthOf, hubTestKit, wire } from '../hub-test-kit.js';

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
  const history = encodeHistory({
    epoch: 2,
    zone: 'west',
    firstSeq: 1,
    lastSeq: 1,
    pendingRows: 0,
    oldestPendingMs: null,
    pendingBytes: 0,
    dropped: [],
    repaired: [],
    series: [{ name: 'battery_soc', labels: {}, unit: 'percent', type: 'gauge', samples: [[clock.now() - 1_000, 50]] }],
  });
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
