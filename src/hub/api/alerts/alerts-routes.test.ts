// The alert API through fastify inject on a whole hub (in-memory broker, manual clock): a node's will
// makes NodeDown fire, the API lists, acknowledges and silences it with clear 400s and 404s, the
// notification goes out on <prefix>/_hub/alerts, and everything is still there after a hub restart.
// calendar: the routes run on a manual clock.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { waitFor } from '../../../../test/kit/wait.js';
import { ManualClock } from '../../../kit/index.js';
import type { MemoryBroker } from '../../../transport/index.js';
import type { Hub } from '../../hub.js';
import { hubTestKit, runAlerts } from '../../hub-test-kit.js';

const kit = hubTestKit();
const { startHub, connectClient, lostNode } = kit;

const ALERTS = { builtins: { siteOffline: { enabled: false } } };

async function setup() {
  const { hub, clock, broker, dataDir } = await startHub({
    prefix: 'fieldmesh-alert-api-',
    clock: new ManualClock(Date.UTC(2026, 10, 24, 9, 0, 0)),
    config: { alerts: ALERTS },
  });
  const { received: published } = await connectClient(broker, 'watcher', { subscribe: ['fieldmesh/_hub/alerts'] });

  // A node is born, then its link dies: the broker publishes its will.
  await lostNode(hub, broker, clock);

  const run = (ms: number) => runAlerts(hub, clock, ms);
  return { hub, clock, broker, dataDir, published, run };
}

/** The same hub started again on the data of the first. */
const restartHub = async (dataDir: string, clock: ManualClock, broker: MemoryBroker) =>
  (await startHub({ dataDir, clock, broker, config: { alerts: ALERTS } })).hub;

const get = async (hub: Hub, url: string) => hub.app.inject(url);
const post = async (hub: Hub, url: string, payload?: unknown) => hub.app.inject({ method: 'POST', url, payload: payload as object });

test('alerts API: NodeDown fires 2 min after a will and is listed Prometheus-style with state, ack and silencing', async () => {
  const { hub, run, published } = await setup();
  const before = await get(hub, '/api/v1/alerts');
  assert.deepEqual(before.json(), { status: 'success', data: { alerts: [] } });
  await run(15_000);
  assert.equal((await get(hub, '/api/v1/alerts')).json().data.alerts[0].state, 'pending');
  await run(2 * 60_000);
  const res = await get(hub, '/api/v1/alerts');
  assert.equal(res.statusCode, 200);
  const [alert] = res.json().data.alerts;
  assert.deepEqual(Object.keys(alert).sort(), [
    'ack',
    'activeAt',
    'annotations',
    'fingerprint',
    'firedAt',
    'generatorURL',
    'inhibited',
    'inhibitedBy',
    'labels',
    'resolvedAt',
    'rule',
    'silenced',
    'silencedBy',
    'state',
    'value',
  ]);
  assert.equal(alert.state, 'firing');
  assert.deepEqual(alert.labels, { alertname: 'NodeDown', node: 'n1', severity: 'critical', site: 's1', zone: 'z1' });
  assert.equal(alert.rule, 'builtin/NodeDown');
  assert.equal(alert.ack, null);
  assert.equal(alert.silenced, false);
  assert.equal(alert.inhibited, false);
  assert.deepEqual(alert.inhibitedBy, []);
  assert.match(alert.value, /^\d+(\.\d+)?$/);

  // The notification on the MQTT topic, QoS 1, in Alertmanager's shape.
  const message = await waitFor(() => published.find((m) => m.topic === 'fieldmesh/_hub/alerts'), { what: 'an alert on MQTT' });
  const payload = JSON.parse(new TextDecoder().decode(message.payload));
  assert.equal(payload.version, '4');
  assert.equal(payload.status, 'firing');
  assert.equal(payload.alerts[0].fingerprint, alert.fingerprint);

  const one = await get(hub, `/api/v1/alerts/${alert.fingerprint}`);
  assert.equal(one.json().data.alerts[0].fingerprint, alert.fingerprint);
  assert.equal((await get(hub, '/api/v1/alerts/0123456789abcdef')).statusCode, 404);
  assert.equal((await get(hub, '/api/v1/alerts/not-a-fingerprint')).statusCode, 404);

  assert.deepEqual((await get(hub, '/api/v1/alerts?state=resolved')).json().data.alerts, []);
  assert.equal((await get(hub, '/api/v1/alerts?state=firing,pending')).json().data.alerts.length, 1);
  const bad = await get(hub, '/api/v1/alerts?state=burning');
  assert.equal(bad.statusCode, 400);
  assert.equal(bad.json().code, 'FM_QUERY_INVALID');
  assert.match(bad.json().message, /parameter "state" must be pending, firing, resolved or all/);

  const rules = (await get(hub, '/api/v1/rules')).json().data.groups;
  assert.deepEqual(
    rules.map((g: { name: string }) => g.name),
    ['fieldmesh-builtin'],
  );
  const nodeDown = rules[0].rules.find((r: { name: string }) => r.name === 'NodeDown');
  assert.equal(nodeDown.state, 'firing');
  assert.equal(nodeDown.duration, 120);
  assert.equal(nodeDown.health, 'ok');
  assert.equal(nodeDown.alerts.length, 1);
});

test('alerts API: acknowledge names who and when; bad bodies are 400 naming the field; unknown fingerprints 404', async () => {
  const { hub, run, clock } = await setup();
  await run(2 * 60_000 + 15_000);
  const fp = (await get(hub, '/api/v1/alerts')).json().data.alerts[0].fingerprint;
  for (const [body, message] of [
    [undefined, /field "by": expected who acknowledges/],
    [{ by: '' }, /field "by"/],
    [{ by: 'ana', comment: 5 }, /field "comment": expected a string/],
    [{ by: 'ana', when: 'now' }, /field "when" is unknown/],
    [[1, 2], /the body must be a JSON object/],
  ] as const) {
    const res = await post(hub, `/api/v1/alerts/${fp}/ack`, body);
    assert.equal(res.statusCode, 400, JSON.stringify(body));
    assert.equal(res.json().code, 'FM_REQUEST_INVALID');
    assert.match(res.json().message, message);
  }
  const missing = await post(hub, '/api/v1/alerts/0123456789abcdef/ack', { by: 'ana' });
  assert.equal(missing.statusCode, 404);
  assert.equal(missing.json().code, 'FM_NOT_FOUND');

  const ok = await post(hub, `/api/v1/alerts/${fp}/ack`, { by: 'ana', comment: 'driving there' });
  assert.equal(ok.statusCode, 200);
  assert.deepEqual(ok.json().data.alerts[0].ack, { by: 'ana', at: new Date(clock.now()).toISOString(), comment: 'driving there' });
  assert.deepEqual((await get(hub, '/api/v1/alerts')).json().data.alerts[0].ack.by, 'ana');
  const undone = await hub.app.inject({ method: 'DELETE', url: `/api/v1/alerts/${fp}/ack` });
  assert.equal(undone.json().data.alerts[0].ack, null);
});

test('alerts API: silences are created, listed, updated and expired; bad ones are 400 naming the field', async () => {
  const { hub, run, clock } = await setup();
  const now = clock.now();
  const later = new Date(now + 3_600_000).toISOString();
  const matchers = [{ name: 'site', value: 's1', isRegex: false }];
  for (const [body, message] of [
    [{}, /field "matchers": expected a non-empty array/],
    [
      { matchers: [{ name: 'site', value: '(', isRegex: true }], endsAt: later, createdBy: 'a', comment: 'c' },
      /field "matchers\[0\]\.value": invalid regular expression/,
    ],
    [
      { matchers: [{ name: '1x', value: 'a' }], endsAt: later, createdBy: 'a', comment: 'c' },
      /field "matchers\[0\]\.name": expected a label name/,
    ],
    [
      { matchers: [{ name: 'site', value: '.*', isRegex: true }], endsAt: later, createdBy: 'a', comment: 'c' },
      /at least one matcher must not match an empty label value/,
    ],
    [{ matchers, createdBy: 'a', comment: 'c' }, /field "endsAt" is missing/],
    [{ matchers, endsAt: 'tomorrow', createdBy: 'a', comment: 'c' }, /field "endsAt": expected an RFC 3339 time/],
    [
      { matchers, endsAt: new Date(now - 1000).toISOString(), startsAt: new Date(now - 5000).toISOString(), createdBy: 'a', comment: 'c' },
      /field "endsAt" must be in the future/,
    ],
    [{ matchers, duration: 'ages', createdBy: 'a', comment: 'c' }, /field "duration": expected a duration/],
    [{ matchers, endsAt: later, createdBy: 'a' }, /field "comment"/],
    [{ matchers, endsAt: later, comment: 'c' }, /field "createdBy"/],
    [{ matchers, endsAt: later, createdBy: 'a', comment: 'c', colour: 'red' }, /field "colour" is unknown/],
  ] as const) {
    const res = await post(hub, '/api/v1/silences', body);
    assert.equal(res.statusCode, 400, JSON.stringify(body));
    assert.equal(res.json().code, 'FM_REQUEST_INVALID');
    assert.match(res.json().message, message);
  }

  const created = await post(hub, '/api/v1/silences', { matchers, duration: '2h', createdBy: 'ana', comment: 'site visit' });
  assert.equal(created.statusCode, 200);
  const id = created.json().silenceID;
  assert.deepEqual(created.json().silence, {
    id,
    status: { state: 'active' },
    updatedAt: new Date(now).toISOString(),
    matchers: [{ name: 'site', value: 's1', isRegex: false, isEqual: true }],
    startsAt: new Date(now).toISOString(),
    endsAt: new Date(now + 7_200_000).toISOString(),
    createdBy: 'ana',
    comment: 'site visit',
  });
  assert.deepEqual(
    (await get(hub, '/api/v1/silences')).json().silences.map((s: { id: string }) => s.id),
    [id],
  );
  assert.equal((await get(hub, `/api/v1/silences/${id}`)).json().silence.id, id);
  assert.equal((await get(hub, '/api/v1/silences/nope')).statusCode, 404);

  await run(2 * 60_000 + 15_000);
  const [alert] = (await get(hub, '/api/v1/alerts')).json().data.alerts;
  assert.equal(alert.state, 'firing');
  assert.equal(alert.silenced, true);
  assert.deepEqual(alert.silencedBy, [id]);

  const updated = await post(hub, '/api/v1/silences', { id, matchers, duration: '3h', createdBy: 'ana', comment: 'longer visit' });
  assert.equal(updated.json().silenceID, id);
  assert.equal((await get(hub, `/api/v1/silences/${id}`)).json().silence.comment, 'longer visit');
  const unknown = await post(hub, '/api/v1/silences', { id: 'nope', matchers, duration: '1h', createdBy: 'a', comment: 'c' });
  assert.equal(unknown.statusCode, 404);

  const expired = await hub.app.inject({ method: 'DELETE', url: `/api/v1/silences/${id}` });
  assert.equal(expired.statusCode, 200);
  assert.equal(expired.json().silence.status.state, 'expired');
  assert.equal((await get(hub, '/api/v1/alerts')).json().data.alerts[0].silenced, false);
  assert.equal((await hub.app.inject({ method: 'DELETE', url: '/api/v1/silences/nope' })).statusCode, 404);
});

test('alerts API: alerts, acknowledgements and silences are still there after the hub restarts', async () => {
  const { hub, run, clock, broker, dataDir } = await setup();
  await run(2 * 60_000 + 15_000);
  const fp = (await get(hub, '/api/v1/alerts')).json().data.alerts[0].fingerprint;
  await post(hub, `/api/v1/alerts/${fp}/ack`, { by: 'ana' });
  const id = (
    await post(hub, '/api/v1/silences', { matchers: [{ name: 'node', value: 'n9' }], duration: '1h', createdBy: 'bo', comment: 'x' })
  ).json().silenceID;
  await hub.stop();

  const again = await restartHub(dataDir, clock, broker);
  const [alert] = (await get(again, '/api/v1/alerts')).json().data.alerts;
  assert.equal(alert.fingerprint, fp);
  assert.equal(alert.state, 'firing');
  assert.equal(alert.ack.by, 'ana');
  assert.deepEqual(
    (await get(again, '/api/v1/silences')).json().silences.map((s: { id: string }) => s.id),
    [id],
  );
});

test('alerts API: /api/v1/rules lists recording rules beside alerting ones, in file order, and ?type=alert|record filters', async () => {
  const { tempDir, bornNode } = kit;
  const dir = tempDir('fieldmesh-rules-api-');
  const file = join(dir, 'rules.yaml');
  writeFileSync(
    file,
    `groups:
  - name: power
    rules:
      - record: site:up:count
        expr: count by (site) (fieldmesh_node_up)
        labels: {tier: aggregates}
      - alert: SiteEmpty
        expr: site:up:count < 1
      - record: fleet:up:sum
        expr: sum(fieldmesh_node_up)
  - name: only-records
    interval: 30s
    rules:
      - record: fleet:backlog:max
        expr: max(fieldmesh_node_backlog_age_seconds)
`,
  );
  const { hub, clock, broker } = await startHub({
    prefix: 'fieldmesh-rules-api-',
    clock: new ManualClock(Date.UTC(2026, 10, 24, 9, 0, 0)),
    config: { alerts: { ...ALERTS, ruleFiles: [file] } },
  });
  const rulesOf = async (query = '') => {
    const res = await get(hub, `/api/v1/rules${query}`);
    assert.equal(res.statusCode, 200, res.body);
    return res.json().data.groups as Array<{ name: string; rules: Array<Record<string, unknown>> }>;
  };
  // Never evaluated yet: health unknown, Go's zero time.
  const before = (await rulesOf('?type=record')).flatMap((g) => g.rules);
  assert.deepEqual(
    before.map((r) => [r.name, r.health, r.lastEvaluation]),
    [
      ['site:up:count', 'unknown', '0001-01-01T00:00:00Z'],
      ['fleet:up:sum', 'unknown', '0001-01-01T00:00:00Z'],
      ['fleet:backlog:max', 'unknown', '0001-01-01T00:00:00Z'],
    ],
  );

  await bornNode(broker, clock);
  await waitFor(() => hub.fleet.get('s1', 'n1')?.state === 'online', { what: 'n1 online' });
  for (let i = 0; i < 2; i++) {
    clock.advance(15_000);
    await hub.alerts?.idle();
    await hub.recordingRules?.idle();
  }

  const groups = await rulesOf();
  assert.deepEqual(
    groups.map((g) => [g.name, g.rules.map((r) => `${r.type} ${r.name}`)]),
    [
      ['fieldmesh-builtin', groups[0]?.rules.map((r) => `alerting ${r.name}`)],
      ['power', ['recording site:up:count', 'alerting SiteEmpty', 'recording fleet:up:sum']],
      ['only-records', ['recording fleet:backlog:max']],
    ],
  );
  // Prometheus' recording rule: name, query, labels, health, lastError, evaluationTime, lastEvaluation, type.
  const recorded = groups[1]?.rules[0] as Record<string, unknown>;
  assert.deepEqual(Object.keys(recorded).sort(), [
    'evaluationTime',
    'health',
    'labels',
    'lastError',
    'lastEvaluation',
    'name',
    'query',
    'type',
  ]);
  assert.equal(recorded.query, 'count by (site) (fieldmesh_node_up)');
  assert.deepEqual(recorded.labels, { tier: 'aggregates' });
  assert.equal(recorded.health, 'ok');
  assert.equal(recorded.lastError, '');
  assert.equal(recorded.lastEvaluation, new Date(clock.now()).toISOString());
  assert.equal(typeof recorded.evaluationTime, 'number');

  // ?type=record: recording rules only, groups left empty are not listed; ?type=alert: the reverse.
  assert.deepEqual(
    (await rulesOf('?type=record')).map((g) => [g.name, g.rules.map((r) => r.name)]),
    [
      ['power', ['site:up:count', 'fleet:up:sum']],
      ['only-records', ['fleet:backlog:max']],
    ],
  );
  const alerting = await rulesOf('?type=alert');
  assert.deepEqual(
    alerting.map((g) => g.name),
    ['fieldmesh-builtin', 'power'],
  );
  assert.ok(alerting.every((g) => g.rules.every((r) => r.type === 'alerting')));
  assert.equal((await rulesOf('?type=')).length, 3, 'an empty type filters nothing, as in Prometheus');
  const bad = await get(hub, '/api/v1/rules?type=recording');
  assert.equal(bad.statusCode, 400);
  assert.equal(bad.json().code, 'FM_QUERY_INVALID');
  assert.match(bad.json().message, /parameter "type" must be alert or record, got "recording"/);
});
