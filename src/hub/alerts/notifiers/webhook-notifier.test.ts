// The webhook notifier against a real HTTP server on a free port: the payload has exactly the shape
// Alertmanager documents for webhook receivers (written out below from its docs), a 5xx is retried with
// backoff, a 4xx is given up and counted, and a receiver that hangs never holds up evaluation.
// calendar: the notifier runs on a manual clock; 0001-01-01 is Alertmanager's zero time.
import assert from 'node:assert/strict';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { Registry } from 'prom-client';
import { waitFor } from '../../../../test/kit/wait.js';
import { ManualClock } from '../../../kit/index.js';
import { hubConfigSchema } from '../../config.js';
import { hubTestKit } from '../../hub-test-kit.js';
import type { AlertEngine } from '../alert-engine.js';
import { createAlertEngine } from '../create-alert-engine.js';
import { fingerprint } from '../fingerprint.js';
import type { AlertNode } from '../fleet-series.js';

const START = Date.UTC(2026, 10, 24, 9, 0, 0);
const EVAL_MS = 15_000;

/**
 * Alertmanager's webhook_config payload, as its configuration docs give it:
 *   { "version": "4", "groupKey": <string>, "truncatedAlerts": <int>, "status": "<resolved|firing>",
 *     "receiver": <string>, "groupLabels": <object>, "commonLabels": <object>,
 *     "commonAnnotations": <object>, "externalURL": <string>,
 *     "alerts": [ { "status": "<resolved|firing>", "labels": <object>, "annotations": <object>,
 *                   "startsAt": "<rfc3339>", "endsAt": "<rfc3339>", "generatorURL": <string>,
 *                   "fingerprint": <string> }, ... ] }
 */
const PAYLOAD_SHAPE = {
  version: 'string',
  groupKey: 'string',
  truncatedAlerts: 'number',
  status: 'string',
  receiver: 'string',
  groupLabels: 'object',
  commonLabels: 'object',
  commonAnnotations: 'object',
  externalURL: 'string',
  alerts: 'array',
} as const;
const ALERT_SHAPE = {
  status: 'string',
  labels: 'object',
  annotations: 'object',
  startsAt: 'string',
  endsAt: 'string',
  generatorURL: 'string',
  fingerprint: 'string',
} as const;
const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

function assertShape(value: unknown, shape: Record<string, string>, where: string): void {
  assert.ok(typeof value === 'object' && value !== null && !Array.isArray(value), `${where} is an object`);
  const v = value as Record<string, unknown>;
  assert.deepEqual(Object.keys(v).sort(), Object.keys(shape).sort(), `${where} has exactly Alertmanager's fields`);
  for (const [k, type] of Object.entries(shape)) {
    const actual = Array.isArray(v[k]) ? 'array' : v[k] === null ? 'null' : typeof v[k];
    assert.equal(actual, type, `${where}.${k} is a ${type}`);
    if (type === 'object')
      for (const [lk, lv] of Object.entries(v[k] as object)) assert.equal(typeof lv, 'string', `${where}.${k}.${lk} is a string`);
  }
}

function assertAlertmanagerPayload(body: unknown): void {
  assertShape(body, PAYLOAD_SHAPE, 'payload');
  const p = body as { version: string; status: string; alerts: unknown[] };
  assert.equal(p.version, '4');
  assert.ok(['firing', 'resolved'].includes(p.status));
  assert.ok(p.alerts.length > 0);
  p.alerts.forEach((a, i) => {
    assertShape(a, ALERT_SHAPE, `alerts[${i}]`);
    const alert = a as { status: string; startsAt: string; endsAt: string; fingerprint: string; labels: Record<string, string> };
    assert.ok(['firing', 'resolved'].includes(alert.status));
    assert.match(alert.startsAt, RFC3339);
    assert.match(alert.endsAt, RFC3339);
    assert.match(alert.fingerprint, /^[0-9a-f]{16}$/);
  });
}

interface Received {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: unknown;
}

const { defer } = hubTestKit();

/** A receiver on a free port; `answer` gives the status for the n-th request (0-based), or 'hang'. */
async function receiver(answer: (n: number) => number | 'hang' = () => 200): Promise<{ url: string; received: Received[] }> {
  const received: Received[] = [];
  const server: Server = createServer((req, res) => {
    let text = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => {
      text += chunk;
    });
    req.on('end', () => {
      const status = answer(received.length);
      received.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: JSON.parse(text) });
      if (status === 'hang') return;
      res.writeHead(status, { 'content-type': 'text/plain' }).end('ok');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  defer(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`, received };
}

async function engineWithWebhook(url: string, nodes: AlertNode[], webhook: Record<string, unknown> = {}) {
  const clock = new ManualClock(START);
  const registry = new Registry();
  const config = hubConfigSchema.parse({
    storage: { path: ':memory:' },
    alerts: {
      externalUrl: 'http://hub.example:18800/',
      builtins: { siteOffline: { enabled: false }, lowSoc: { enabled: false }, backlogAge: { enabled: false } },
      webhooks: [{ url, receiver: 'ops', headers: { authorization: 'Bearer s3cret' }, ...webhook }],
      mqtt: { enabled: false },
    },
  });
  const engine: AlertEngine = createAlertEngine(config, {
    fleet: { nodes: () => nodes, backlog: () => undefined },
    storage: { querySeries: async () => [] },
    clock,
    logger: undefined as never,
    registry,
    topicPrefix: 'fieldmesh',
    transport: () => undefined,
    listenUrl: () => '',
  });
  defer(() => engine.stop());
  await engine.start();
  const run = async (ms: number) => {
    for (let t = 0; t < ms; t += EVAL_MS) {
      clock.advance(EVAL_MS);
      await engine.evaluate();
    }
  };
  const counter = async (name: string) => {
    const metric = (await registry.getMetricsAsJSON()).find((m) => m.name === name);
    return (metric?.values ?? []).reduce((sum, v) => sum + v.value, 0);
  };
  return { clock, engine, run, counter };
}

test('webhook: firing and resolved notifications arrive in the shape Alertmanager documents', async () => {
  const { url, received } = await receiver();
  const nodes: AlertNode[] = [{ site: 'bess-a', zone: 'rack-1', node: 'n1', state: 'offline', lastHeard: START, lastChanged: START }];
  const { engine, run, counter } = await engineWithWebhook(url, nodes);
  await run(2 * 60_000);
  await waitFor(() => received.length === 1, { what: 'the firing notification' });
  const firing = received[0] as Received;
  assert.equal(firing.method, 'POST');
  assert.equal(firing.url, '/hook');
  assert.equal(firing.headers['content-type'], 'application/json');
  assert.equal(firing.headers.authorization, 'Bearer s3cret');
  assertAlertmanagerPayload(firing.body);
  const labels = { alertname: 'NodeDown', node: 'n1', severity: 'critical', site: 'bess-a', zone: 'rack-1' };
  const fp = fingerprint(labels);
  assert.deepEqual(firing.body, {
    version: '4',
    groupKey: '{}:{alertname="NodeDown"}',
    truncatedAlerts: 0,
    status: 'firing',
    receiver: 'ops',
    groupLabels: { alertname: 'NodeDown' },
    commonLabels: labels,
    commonAnnotations: {
      summary: 'Node bess-a/n1 is offline',
      description: 'The hub has had no session with node n1 (site bess-a, zone rack-1) for 2m 0s: its link died or it said goodbye.',
    },
    externalURL: 'http://hub.example:18800',
    alerts: [
      {
        status: 'firing',
        labels,
        annotations: {
          summary: 'Node bess-a/n1 is offline',
          description: 'The hub has had no session with node n1 (site bess-a, zone rack-1) for 2m 0s: its link died or it said goodbye.',
        },
        startsAt: new Date(START + 2 * 60_000).toISOString(),
        endsAt: '0001-01-01T00:00:00Z',
        generatorURL: `http://hub.example:18800/api/v1/alerts/${fp}`,
        fingerprint: fp,
      },
    ],
  });

  nodes[0] = { ...(nodes[0] as AlertNode), state: 'online', lastHeard: START + 150_000, lastChanged: START + 150_000 };
  await run(EVAL_MS);
  await waitFor(() => received.length === 2, { what: 'the resolved notification' });
  const resolved = received[1]?.body as {
    status: string;
    alerts: Array<{ status: string; startsAt: string; endsAt: string; fingerprint: string }>;
  };
  assertAlertmanagerPayload(resolved);
  assert.equal(resolved.status, 'resolved');
  assert.equal(resolved.alerts[0]?.status, 'resolved');
  assert.equal(resolved.alerts[0]?.startsAt, new Date(START + 2 * 60_000).toISOString());
  assert.equal(resolved.alerts[0]?.endsAt, new Date(START + 2 * 60_000 + EVAL_MS).toISOString());
  assert.equal(resolved.alerts[0]?.fingerprint, fp);
  await engine.idle();
  assert.equal(await counter('fieldmesh_hub_alert_notifications_total'), 2);
  assert.equal(await counter('fieldmesh_hub_alert_notifications_failed_total'), 0);
});

test('webhook: a 503 is retried with backoff until the receiver takes it', async () => {
  const { url, received } = await receiver((n) => (n < 2 ? 503 : 200));
  const nodes: AlertNode[] = [{ site: 's1', zone: 'z', node: 'n1', state: 'offline', lastHeard: START, lastChanged: START }];
  const { clock, engine, run, counter } = await engineWithWebhook(url, nodes);
  await run(2 * 60_000);
  await waitFor(() => received.length === 1, { what: 'the first attempt' });
  // The retries wait on the hub's clock: 1 s, then 2 s (with jitter), never on evaluation.
  await waitFor(
    () => {
      clock.advance(500);
      return received.length === 3;
    },
    { what: 'two retries' },
  );
  await engine.idle();
  assert.deepEqual(received[2]?.body, received[0]?.body, 'the same payload again');
  assert.equal(await counter('fieldmesh_hub_alert_notification_attempts_failed_total'), 2);
  assert.equal(await counter('fieldmesh_hub_alert_notifications_total'), 1);
  assert.equal(await counter('fieldmesh_hub_alert_notifications_failed_total'), 0);
});

test('webhook: a 4xx is given up at once and counted; maxAttempts bounds the retries of a 5xx', async () => {
  const refusing = await receiver(() => 400);
  const nodes: AlertNode[] = [{ site: 's1', zone: 'z', node: 'n1', state: 'offline', lastHeard: START, lastChanged: START }];
  const a = await engineWithWebhook(refusing.url, nodes);
  await a.run(2 * 60_000);
  await waitFor(async () => (await a.counter('fieldmesh_hub_alert_notifications_failed_total')) === 1, { what: 'given up' });
  assert.equal(refusing.received.length, 1);

  const failing = await receiver(() => 500);
  const b = await engineWithWebhook(failing.url, nodes, { maxAttempts: 3 });
  await b.run(2 * 60_000);
  await waitFor(
    async () => {
      b.clock.advance(1_000);
      return (await b.counter('fieldmesh_hub_alert_notifications_failed_total')) === 1;
    },
    { what: 'given up after 3 attempts' },
  );
  assert.equal(failing.received.length, 3);
  assert.equal(await b.counter('fieldmesh_hub_alert_notification_attempts_failed_total'), 3);
});

test('webhook: a receiver that never answers does not hold up evaluation', async () => {
  const { url, received } = await receiver(() => 'hang');
  const nodes: AlertNode[] = [{ site: 's1', zone: 'z', node: 'n1', state: 'offline', lastHeard: START, lastChanged: START }];
  const { engine, run } = await engineWithWebhook(url, nodes, { timeout: '30s' });
  await run(2 * 60_000);
  await waitFor(() => received.length === 1, { what: 'the request to hang' });
  nodes[0] = { ...(nodes[0] as AlertNode), state: 'online' };
  await run(EVAL_MS);
  assert.deepEqual(
    engine.list(['firing', 'resolved']).map((a) => a.alert.state),
    ['resolved'],
    'evaluation went on while the POST hangs',
  );
  await engine.stop();
});
