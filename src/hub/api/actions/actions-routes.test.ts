// The bulk action API through fastify inject on a whole hub with login on (in-memory broker, manual
// clock, nodes played by the test): roles, 400/404/409, a rebirth run that the nodes answer, the audit
// entry that names the action, and the live feed's `action` messages.
// calendar: the routes run on a manual clock.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { waitFor } from '../../../../test/kit/wait.js';
import { ManualClock } from '../../../kit/index.js';
import { type ActionPreview, type ActionView, decodeWireFrame, nodeTopic, SessionEncoder } from '../../../protocol/index.js';
import type { MemoryBroker } from '../../../transport/index.js';
import type { Hub } from '../../hub.js';
import { batterySoc, birthOf, hubTestKit } from '../../hub-test-kit.js';

const SERIES = [batterySoc()];

const { defer, startHub, connectClient } = hubTestKit();

/** A node played by the test: born at once, and born again whenever the hub asks for a rebirth. */
async function playNode(broker: MemoryBroker, clock: ManualClock, site: string, node: string) {
  const enc = new SessionEncoder(1);
  const rebirthRequests: string[] = [];
  const { transport } = await connectClient(broker, `node-${site}-${node}`);
  const birth = () => transport.publish(nodeTopic('fieldmesh', site, node, 'birth'), birthOf(enc, clock.now(), SERIES), { qos: 1 });
  await transport.subscribe(`fieldmesh/${site}/${node}/cmd/#`, (m) => {
    const decoded = decodeWireFrame(m.payload);
    if (decoded.ok && decoded.frame.type === 'rebirth') {
      rebirthRequests.push(decoded.frame.reason);
      void birth();
    }
  }).ready;
  await birth();
  return { rebirthRequests };
}

async function setup() {
  const { hub, clock, broker } = await startHub({
    prefix: 'fieldmesh-actions-api-',
    clock: new ManualClock(Date.UTC(2026, 10, 24, 9)),
    config: { auth: { mode: 'on' } },
  });
  const operator = { authorization: `Bearer ${(await hub.auth.createToken('ops', 'operator', null)).token}` };
  const viewer = { authorization: `Bearer ${(await hub.auth.createToken('wall', 'viewer', null)).token}` };
  const nodes = {
    s1n1: await playNode(broker, clock, 's1', 'n1'),
    s1n2: await playNode(broker, clock, 's1', 'n2'),
    s2n1: await playNode(broker, clock, 's2', 'n1'),
  };
  await waitFor(() => hub.fleet.nodes().filter((n) => n.state === 'online').length === 3, { what: 'three nodes online' });
  return { hub, clock, operator, viewer, nodes };
}

function post(hub: Hub, url: string, headers: Record<string, string>, payload: unknown) {
  return hub.app.inject({ method: 'POST', url, headers, payload: payload as object });
}

test('actions API: an operator previews and runs a rebirth of two nodes; they re-announce, the run is audited and streamed live', async () => {
  const { hub, operator, viewer, nodes } = await setup();
  const live = await hub.app.inject({ method: 'GET', url: '/api/v1/live', headers: viewer, payloadAsStream: true });
  const stream = live.stream();
  defer(() => {
    stream.destroy();
  });
  let sse = '';
  stream.on('data', (chunk: Buffer) => {
    sse += chunk.toString('utf8');
  });

  const res = await post(hub, '/api/v1/actions/preview', operator, { action: 'rebirth', selector: { sites: ['s1'] } });
  assert.equal(res.statusCode, 200, res.body);
  const preview = res.json() as ActionPreview;
  assert.deepEqual(
    preview.targets.map((t) => [t.site, t.node, t.zone, t.state, t.plan, t.skip]),
    [
      ['s1', 'n1', 'z1', 'online', 'request rebirth', null],
      ['s1', 'n2', 'z1', 'online', 'request rebirth', null],
    ],
  );
  assert.deepEqual(preview.counts, { act: 2, skip: 0 });
  assert.deepEqual(nodes.s1n1.rebirthRequests, [], 'a preview acts on nothing');

  const run = await post(hub, '/api/v1/actions', operator, { previewId: preview.previewId });
  assert.equal(run.statusCode, 202, run.body);
  const started = run.json() as ActionView;
  assert.equal(started.action, 'rebirth');
  assert.equal(started.createdBy, 'ops');
  assert.equal(started.previewId, preview.previewId);

  const done = await waitFor(
    async () => {
      const view = (await hub.app.inject({ url: `/api/v1/actions/${started.id}`, headers: viewer })).json() as ActionView;
      return view.state === 'done' && view;
    },
    { what: 'the rebirth action done' },
  );
  assert.deepEqual(
    done.targets.map((t) => [t.site, t.node, t.status]),
    [
      ['s1', 'n1', 'ok'],
      ['s1', 'n2', 'ok'],
    ],
  );
  assert.match(done.targets[0]?.detail ?? '', /^new birth \d+ ms after the request$/);
  assert.deepEqual(nodes.s1n1.rebirthRequests, ['operator']);
  assert.deepEqual(nodes.s1n2.rebirthRequests, ['operator']);
  assert.deepEqual(nodes.s2n1.rebirthRequests, [], 'not selected, not asked');

  const again = await post(hub, '/api/v1/actions', operator, { previewId: preview.previewId });
  assert.equal(again.statusCode, 409);
  assert.equal(again.json().code, 'FM_ACTION_CONFLICT');
  assert.match(again.json().message, new RegExp(`run already as action ${started.id}`));

  const list = (await hub.app.inject({ url: '/api/v1/actions', headers: viewer })).json() as { actions: ActionView[] };
  assert.deepEqual(
    list.actions.map((a) => a.id),
    [started.id],
  );

  const audit = await hub.auth.listAudit({ limit: 20 });
  const entries = audit.filter((e) => e.route.startsWith('/api/v1/actions'));
  assert.deepEqual(
    entries.map((e) => [e.route, e.actor, e.status, e.target]),
    [
      ['/api/v1/actions', 'ops', 409, `preview ${preview.previewId}`],
      ['/api/v1/actions', 'ops', 202, `rebirth ${started.id}: 2 targets, 0 skipped (preview ${preview.previewId})`],
    ],
    'runs are audited naming the action; previews are not',
  );

  await waitFor(() => sse.includes('event: action') && sse.includes('"state":"done"'), { what: 'a final action message on the live feed' });
  const messages = sse
    .split('\n\n')
    .filter((m) => m.includes('event: action'))
    .map((m) => JSON.parse(m.slice(m.indexOf('data: ') + 6)) as ActionView);
  assert.ok(messages.length >= 2, `${messages.length} action messages`);
  assert.equal(messages[0]?.state, 'running');
  assert.deepEqual(messages.at(-1)?.counts, { pending: 0, ok: 2, failed: 0, skipped: 0 });
});

test('actions API: viewers and anonymous callers cannot preview or run; bad bodies are 400, unknown ids 404', async () => {
  const { hub, operator, viewer } = await setup();
  const body = { action: 'ping', selector: { all: true } };
  assert.equal((await post(hub, '/api/v1/actions/preview', viewer, body)).statusCode, 403);
  assert.equal((await post(hub, '/api/v1/actions/preview', {}, body)).statusCode, 401);
  const preview = (await post(hub, '/api/v1/actions/preview', operator, body)).json() as ActionPreview;
  const denied = await post(hub, '/api/v1/actions', viewer, { previewId: preview.previewId });
  assert.equal(denied.statusCode, 403);
  assert.equal(denied.json().code, 'FM_AUTH_FORBIDDEN');
  assert.equal((await hub.app.inject({ url: '/api/v1/actions', headers: viewer })).statusCode, 200, 'viewers read');

  const empty = await post(hub, '/api/v1/actions/preview', operator, { action: 'ping', selector: {} });
  assert.equal(empty.statusCode, 400);
  assert.equal(empty.json().code, 'FM_REQUEST_INVALID');
  assert.match(empty.json().message, /^select at least one criterion/);
  const badGlob = await post(hub, '/api/v1/actions/preview', operator, { action: 'ping', selector: { match: 'bess-*' } });
  assert.equal(badGlob.statusCode, 400);
  assert.match(badGlob.json().message, /selector\.match/);
  assert.equal((await post(hub, '/api/v1/actions', operator, {})).statusCode, 400);
  assert.equal((await post(hub, '/api/v1/actions', operator, { previewId: preview.previewId, all: true })).statusCode, 400);

  const unknown = await post(hub, '/api/v1/actions', operator, { previewId: 'no-such-preview' });
  assert.equal(unknown.statusCode, 404);
  assert.equal(unknown.json().code, 'FM_NOT_FOUND');
  assert.equal((await hub.app.inject({ url: '/api/v1/actions/nope', headers: viewer })).statusCode, 404);
});

test('actions API: an expired preview is 404; a ping the node never answers fails at the timeout', async () => {
  const { hub, clock, operator } = await setup();
  const body = { action: 'ping', selector: { nodes: ['s1/n1'] } };
  const old = (await post(hub, '/api/v1/actions/preview', operator, body)).json() as ActionPreview;
  clock.advance(10 * 60_000);
  assert.equal((await post(hub, '/api/v1/actions', operator, { previewId: old.previewId })).statusCode, 404);

  // The node played here does not answer pings.
  const fresh = (await post(hub, '/api/v1/actions/preview', operator, { ...body, params: { timeout: '2s' } })).json() as ActionPreview;
  const run = await post(hub, '/api/v1/actions', operator, { previewId: fresh.previewId });
  assert.equal(run.statusCode, 202);
  assert.equal(run.json().targets[0].status, 'running');
  clock.advance(2_000);
  const view = await waitFor(
    async () => {
      const v = (await hub.app.inject({ url: `/api/v1/actions/${run.json().id}`, headers: operator })).json() as ActionView;
      return v.state === 'done' && v;
    },
    { what: 'the ping action done' },
  );
  assert.equal(view.targets[0]?.status, 'failed');
  assert.equal(view.targets[0]?.detail, 'timed out after 2s');
});
