// The live feed's console messages on a whole hub (in-memory broker, manual clock, the SSE stream over a
// socket on port 0): the snapshot carries sites and alerts; a node's death sends its site's new health;
// NodeDown going pending, firing and acknowledged sends `alert` messages; time alone (freshness) sends a
// site message through the hub's timer.
// calendar: the hub runs on a manual clock.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { waitFor } from '../../../../test/kit/wait.js';
import { ManualClock } from '../../../kit/index.js';
import type { AlertView, LiveAlertMessage, LiveSnapshot, OverviewView, SiteView } from '../../../protocol/index.js';
import { hubTestKit, runAlerts } from '../../hub-test-kit.js';

const { defer, startHub, bornNode, lostNode } = hubTestKit();

interface Message {
  readonly event: string;
  readonly data: unknown;
}

/** Reads an SSE stream into parsed messages as they arrive. */
async function subscribe(url: string): Promise<Message[]> {
  const controller = new AbortController();
  const res = await fetch(url, { signal: controller.signal });
  assert.equal(res.status, 200);
  const messages: Message[] = [];
  const reader = (res.body as ReadableStream<Uint8Array>).getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  const pump = (async () => {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      buffer += decoder.decode(value, { stream: true });
      for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const event = /^event: (.+)$/m.exec(block)?.[1];
        const data = /^data: (.+)$/m.exec(block)?.[1];
        if (event !== undefined && data !== undefined) messages.push({ event, data: JSON.parse(data) });
      }
    }
  })().catch(() => {});
  defer(async () => {
    controller.abort();
    await pump;
  });
  return messages;
}

async function setup(alerts: Record<string, unknown> = { builtins: { siteOffline: { enabled: false } } }) {
  const { hub, clock, broker, httpUrl } = await startHub({
    prefix: 'fieldmesh-live-console-',
    clock: new ManualClock(Date.UTC(2026, 10, 24, 9, 0, 0)),
    config: { http: { port: 0 }, alerts, sites: [{ id: 's1', name: 'Site one', lat: 47.4, lon: 8.5 }] },
    listen: true,
  });
  return { hub, clock, broker, httpUrl };
}

const of = <T>(messages: readonly Message[], event: string) => messages.filter((m) => m.event === event).map((m) => m.data as T);

test('live console: the snapshot carries nodes, sites and alerts; a death sends the site error and the overview', async () => {
  const { hub, clock, broker, httpUrl } = await setup();
  const messages = await subscribe(`${httpUrl}/api/v1/live`);
  const snapshot = await waitFor(() => of<LiveSnapshot>(messages, 'snapshot')[0], { what: 'snapshot' });
  assert.deepEqual(snapshot.nodes, []);
  assert.deepEqual(snapshot.alerts, []);
  assert.deepEqual(
    snapshot.sites.map((s) => [s.site, s.name, s.lat, s.lon, s.health]),
    [['s1', 'Site one', 47.4, 8.5, 'warn']],
  );

  const node = await bornNode(broker, clock);
  const green = await waitFor(() => of<SiteView>(messages, 'site').find((s) => s.health === 'green'), { what: 's1 green' });
  assert.deepEqual(green.nodes, ['n1']);
  await waitFor(() => of<OverviewView>(messages, 'overview').some((o) => o.sites.green === 1), { what: 'overview: one green site' });

  await node.close({ graceful: false });
  const error = await waitFor(() => of<SiteView>(messages, 'site').find((s) => s.health === 'error'), { what: 's1 error' });
  assert.deepEqual(
    error.reasons.map((r) => [r.code, r.node]),
    [['node-offline', 'n1']],
  );
  assert.equal(error.since, new Date(clock.now()).toISOString());
  const overview = await waitFor(() => of<OverviewView>(messages, 'overview').find((o) => o.sites.error === 1), { what: 'overview error' });
  assert.deepEqual(overview.nodes, { online: 0, stale: 0, offline: 1, unknown: 0, total: 1 });
  assert.equal(hub.fleet.get('s1', 'n1')?.state, 'offline');
});

test('live console: NodeDown pending, firing and acknowledged each send an alert message; the site counts the alert', async () => {
  const { hub, clock, broker, httpUrl } = await setup();
  await lostNode(hub, broker, clock);
  const messages = await subscribe(`${httpUrl}/api/v1/live`);
  await waitFor(() => of(messages, 'snapshot').length === 1, { what: 'snapshot' });

  const run = (ms: number) => runAlerts(hub, clock, ms);
  await run(15_000);
  const pending = await waitFor(() => of<AlertView>(messages, 'alert').find((a) => a.state === 'pending'), { what: 'pending alert' });
  assert.equal(pending.labels.alertname, 'NodeDown');
  await run(2 * 60_000);
  const firing = await waitFor(() => of<AlertView>(messages, 'alert').find((a) => a.state === 'firing'), { what: 'firing alert' });
  assert.equal(firing.fingerprint, pending.fingerprint);
  const site = await waitFor(() => of<SiteView>(messages, 'site').find((s) => s.openAlerts === 1), { what: 'site with the alert' });
  assert.ok(site.reasons.some((r) => r.code === 'alert-critical' && r.alert === firing.fingerprint));

  const res = await hub.app.inject({ method: 'POST', url: `/api/v1/alerts/${firing.fingerprint}/ack`, payload: { by: 'ana' } });
  assert.equal(res.statusCode, 200);
  const acked = await waitFor(() => of<AlertView>(messages, 'alert').find((a) => a.ack !== null), { what: 'acknowledged alert' });
  assert.equal(acked.ack?.by, 'ana');
  await waitFor(() => of<SiteView>(messages, 'site').some((s) => s.reasons.some((r) => r.acknowledged === true)), {
    what: 'site reason marked acknowledged',
  });

  const detail = (await hub.app.inject('/api/v1/sites/s1')).json();
  assert.deepEqual(
    detail.alerts.map((a: AlertView) => [a.labels.alertname, a.state]),
    [['NodeDown', 'firing']],
  );
  assert.equal(detail.nodeViews[0].state, 'offline');
  const overview = (await hub.app.inject('/api/v1/overview')).json();
  assert.deepEqual(overview.alerts, { firing: 1, pending: 0, acknowledged: 1, silenced: 0, inhibited: 0 });
});

test('live console: SiteOffline starting to fire sends its NodeDown again, inhibited; the site and overview stop counting it', async () => {
  const { hub, clock, broker, httpUrl } = await setup({});
  await lostNode(hub, broker, clock);
  const messages = await subscribe(`${httpUrl}/api/v1/live`);
  await waitFor(() => of(messages, 'snapshot').length === 1, { what: 'snapshot' });
  const run = (ms: number) => runAlerts(hub, clock, ms);
  await run(2 * 60_000 + 15_000);
  const nodeDown = await waitFor(
    () => of<AlertView>(messages, 'alert').find((a) => a.labels.alertname === 'NodeDown' && a.state === 'firing'),
    {
      what: 'NodeDown firing',
    },
  );
  assert.equal(nodeDown.inhibited, false, 'SiteOffline is still pending');
  await run(3 * 60_000);
  const siteOffline = await waitFor(
    () => of<AlertView>(messages, 'alert').find((a) => a.labels.alertname === 'SiteOffline' && a.state === 'firing'),
    { what: 'SiteOffline firing' },
  );
  const inhibited = await waitFor(
    () => of<AlertView>(messages, 'alert').find((a) => a.fingerprint === nodeDown.fingerprint && a.inhibited),
    {
      what: 'NodeDown sent again, inhibited',
    },
  );
  assert.equal(inhibited.state, 'firing');
  assert.deepEqual(inhibited.inhibitedBy, [siteOffline.fingerprint]);
  const overview = await waitFor(() => of<OverviewView>(messages, 'overview').find((o) => o.alerts.inhibited === 1), {
    what: 'overview counting the inhibited alert',
  });
  assert.deepEqual(overview.alerts, { firing: 1, pending: 0, acknowledged: 0, silenced: 0, inhibited: 1 });
  const site = await waitFor(() => of<SiteView>(messages, 'site').find((s) => s.reasons.some((r) => r.alert === siteOffline.fingerprint)), {
    what: 'site listing SiteOffline',
  });
  assert.equal(site.health, 'error');
  assert.equal(site.openAlerts, 1);
  assert.deepEqual(
    site.reasons.filter((r) => r.alert !== undefined).map((r) => r.alert),
    [siteOffline.fingerprint],
    'the inhibited NodeDown is not a reason of its own',
  );
  assert.ok(site.reasons.some((r) => r.code === 'node-offline' && r.node === 'n1'));
});

test('live console: time alone makes a site not fresh, told by the hub timer; a pending alert that clears is sent removed', async () => {
  const { hub, clock, broker, httpUrl } = await setup();
  await lostNode(hub, broker, clock);
  const messages = await subscribe(`${httpUrl}/api/v1/live`);
  await waitFor(() => of(messages, 'snapshot').length === 1, { what: 'snapshot' });
  clock.advance(15_000);
  await hub.alerts?.idle();
  await waitFor(() => of<AlertView>(messages, 'alert').some((a) => a.state === 'pending'), { what: 'pending alert' });

  // Back online before NodeDown's 2 min: the pending alert is dropped at the next evaluation.
  await bornNode(broker, clock);
  await waitFor(() => hub.fleet.get('s1', 'n1')?.state === 'online', { what: 'n1 online again' });
  clock.advance(15_000);
  await hub.alerts?.idle();
  await waitFor(() => of<LiveAlertMessage>(messages, 'alert').some((a) => a.removed === true), { what: 'removed alert' });

  // Nothing heard for more than 5 min (the memory node sends no heartbeats; the fleet sweep would call it stale first).
  const before = of<SiteView>(messages, 'site').length;
  clock.advance(5 * 60_000 + 5_000);
  const notFresh = await waitFor(
    () =>
      of<SiteView>(messages, 'site')
        .slice(before)
        .find((s) => s.reasons.some((r) => r.code === 'data-stale')),
    { what: 'site not fresh' },
  );
  assert.notEqual(notFresh.health, 'green');
});
