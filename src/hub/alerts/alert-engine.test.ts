// The alert engine on a manual clock: for/pending/firing/resolved, the built-ins (NodeDown,
// SiteOffline grouped per site and resolved on reconnect, LowSOC, BacklogAge), silences with expiry,
// acknowledgements, repeat notifications, and state that survives a restart of the engine.
// calendar: the engine runs on a manual clock.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { ManualClock } from '../../kit/index.js';
import { hubConfigSchema } from '../config.js';
import { hubTestKit } from '../hub-test-kit.js';
import type { NodeBacklog } from '../ledger/completeness.js';
import { createSqliteStorage } from '../storage/sqlite/sqlite-storage.js';
import type { HubStorage } from '../storage/storage.js';
import type { AlertEvent, AlertRecord, AlertState } from './alert.js';
import type { AlertEngine } from './alert-engine.js';
import type { AlertStore, PendingNotification } from './alert-store.js';
import { createAlertEngine } from './create-alert-engine.js';
import type { AlertNode } from './fleet-series.js';
import type { Notifier, NotifierContext } from './notifiers/notifier.js';
import { createSqliteAlertStore } from './sqlite/sqlite-alert-store.js';
import type { WebhookPayload } from './webhook-payload.js';

const EVAL_MS = 15_000;
const START = Date.UTC(2026, 10, 24, 9, 0, 0);

const { defer, tempDir } = hubTestKit();

/** A notifier that records every payload and reports it delivered at once. */
function recordingNotifier(received: WebhookPayload[], options: { deliver?: boolean } = {}): Notifier {
  let ctx: NotifierContext | undefined;
  return {
    name: 'recorder',
    receiver: 'test',
    sendResolved: true,
    start: (c) => {
      ctx = c;
    },
    enqueue: (n: PendingNotification) => {
      received.push(JSON.parse(n.payload) as WebhookPayload);
      if (options.deliver !== false) void ctx?.store.deleteNotification(n.id);
    },
    idle: async () => {},
    stop: async () => {},
  };
}

interface Fleet {
  readonly nodes: AlertNode[];
  readonly backlogs: Map<string, NodeBacklog>;
}

interface Setup {
  readonly clock: ManualClock;
  readonly engine: AlertEngine;
  readonly store: AlertStore;
  readonly storage: HubStorage;
  readonly fleet: Fleet;
  readonly sent: WebhookPayload[];
  readonly events: AlertEvent[];
  /** Moves the clock on in evaluation steps, awaiting each evaluation. */
  run(ms: number, each?: () => Promise<void> | void): Promise<void>;
}

interface SetupOptions {
  readonly alerts?: Record<string, unknown>;
  readonly rules?: string;
  readonly statePath?: string;
  readonly clock?: ManualClock;
  readonly fleet?: Fleet;
  readonly storage?: HubStorage;
  readonly notifier?: (sent: WebhookPayload[]) => Notifier;
  /** A store shared with another engine: not closed by this one. */
  readonly store?: AlertStore;
  readonly syncIntervalMs?: number;
  /** Follow the store instead of starting (a process that does not lead). */
  readonly follow?: boolean;
}

async function setup(options: SetupOptions = {}): Promise<Setup> {
  const dir = tempDir('fieldmesh-alerts-');
  const ruleFiles: string[] = [];
  if (options.rules !== undefined) {
    const file = join(dir, 'rules.yaml');
    writeFileSync(file, options.rules);
    ruleFiles.push(file);
  }
  const config = hubConfigSchema.parse({
    storage: { path: ':memory:' },
    alerts: { ruleFiles, externalUrl: 'http://hub.test:18800', ...options.alerts },
  });
  const clock = options.clock ?? new ManualClock(START);
  const storage = options.storage ?? createSqliteStorage({ path: ':memory:', retentionMs: 86_400_000 });
  if (options.storage === undefined) defer(() => storage.close());
  const fleet = options.fleet ?? { nodes: [], backlogs: new Map() };
  const sent: WebhookPayload[] = [];
  const events: AlertEvent[] = [];
  const store: AlertStore =
    options.store === undefined
      ? createSqliteAlertStore({ path: options.statePath ?? ':memory:' })
      : { ...options.store, close: async () => {} };
  const engine = createAlertEngine(config, {
    fleet: { nodes: () => fleet.nodes, backlog: (site, node) => fleet.backlogs.get(`${site}/${node}`) },
    storage,
    clock,
    logger: undefined as never,
    topicPrefix: 'fieldmesh',
    transport: () => undefined,
    listenUrl: () => '',
    store,
    notifiers: [(options.notifier ?? recordingNotifier)(sent)],
    onEvent: (e) => events.push(e),
    ...(options.syncIntervalMs === undefined ? {} : { syncIntervalMs: options.syncIntervalMs }),
  });
  defer(() => engine.stop());
  if (options.follow === true) await engine.follow();
  else await engine.start();
  return {
    clock,
    engine,
    store,
    storage,
    fleet,
    sent,
    events,
    async run(ms, each) {
      for (let t = 0; t < ms; t += EVAL_MS) {
        await each?.();
        clock.advance(EVAL_MS);
        await engine.idle();
      }
    },
  };
}

function node(site: string, name: string, state: AlertNode['state'], at: number, zone = 'z1'): AlertNode {
  return { site, zone, node: name, state, lastHeard: at, lastChanged: at };
}

function setState(fleet: Fleet, site: string, name: string, state: AlertNode['state'], at: number): void {
  const i = fleet.nodes.findIndex((n) => n.site === site && n.node === name);
  const old = fleet.nodes[i] as AlertNode;
  fleet.nodes[i] = { ...old, state, lastChanged: at, lastHeard: state === 'online' ? at : old.lastHeard };
}

function soc(storage: HubStorage, site: string, nodeName: string, value: number, ts: number): Promise<number> {
  return storage.appendSamples([
    {
      series: { name: 'battery_soc', labels: { device: 'bms', site, node: nodeName, zone: 'z1' }, unit: 'percent', type: 'gauge' },
      ts,
      value,
    },
  ]);
}

const names = (s: Setup, states: readonly AlertState[] = ['pending', 'firing']) =>
  s.engine
    .list(states)
    .map((a) => `${a.alert.labels.alertname}:${a.alert.state}:${a.alert.labels.site ?? ''}/${a.alert.labels.node ?? ''}`);

const onlyBuiltin = (name: string) => ({
  builtins: Object.fromEntries(['nodeDown', 'siteOffline', 'lowSoc', 'backlogAge'].map((k) => [k, { enabled: k === name }])),
});

test('alerts: LowSOC pends, fires after its 5 min "for", and resolves when the charge comes back', async () => {
  const s = await setup({ alerts: onlyBuiltin('lowSoc') });
  let value = 15.5;
  const feed = async () => {
    await soc(s.storage, 's1', 'n1', value, s.clock.now());
  };
  await s.run(EVAL_MS, feed);
  assert.deepEqual(names(s), ['LowSOC:pending:s1/n1']);
  const pending = s.engine.list()[0]?.alert;
  assert.equal(pending?.activeAt, START + EVAL_MS);
  assert.equal(pending?.annotations.description, 'State of charge is 15.5 %, below 20 %.');
  assert.equal(s.sent.length, 0, 'a pending alert notifies nobody');

  // Firing at the first evaluation at least 5 min after activeAt.
  await s.run(4 * 60_000 + 45_000, feed);
  assert.deepEqual(names(s), ['LowSOC:pending:s1/n1']);
  await s.run(EVAL_MS, feed);
  assert.deepEqual(names(s), ['LowSOC:firing:s1/n1']);
  const firing = s.engine.list()[0]?.alert;
  assert.equal(firing?.firedAt, START + EVAL_MS + 5 * 60_000);
  assert.equal(s.sent.length, 1);
  assert.equal(s.sent[0]?.status, 'firing');
  assert.deepEqual(s.sent[0]?.alerts[0]?.labels, {
    alertname: 'LowSOC',
    device: 'bms',
    node: 'n1',
    severity: 'warning',
    site: 's1',
    zone: 'z1',
  });

  // Still low: no second notification (repeatInterval is 4 h).
  await s.run(2 * EVAL_MS, feed);
  assert.equal(s.sent.length, 1);

  value = 64;
  await s.run(EVAL_MS, feed);
  assert.deepEqual(names(s), []);
  assert.deepEqual(names(s, ['resolved']), ['LowSOC:resolved:s1/n1']);
  assert.equal(s.sent.length, 2);
  assert.equal(s.sent[1]?.status, 'resolved');
  assert.equal(s.sent[1]?.alerts[0]?.endsAt, new Date(s.clock.now()).toISOString());
  assert.deepEqual(
    s.events.map((e) => e.type),
    ['alertPending', 'alertRaised', 'alertResolved'],
  );

  // A resolved alert is listed for 15 min, then forgotten.
  await s.run(15 * 60_000, feed);
  assert.deepEqual(names(s, ['resolved']), []);
});

test('alerts: a pending alert whose condition clears before its "for" is dropped without a notification', async () => {
  const s = await setup({ alerts: onlyBuiltin('lowSoc') });
  await s.run(2 * 60_000, async () => {
    await soc(s.storage, 's1', 'n1', 10, s.clock.now());
  });
  assert.deepEqual(names(s), ['LowSOC:pending:s1/n1']);
  await s.run(EVAL_MS, async () => {
    await soc(s.storage, 's1', 'n1', 30, s.clock.now());
  });
  assert.deepEqual(names(s, ['pending', 'firing', 'resolved']), []);
  assert.equal(s.sent.length, 0);
});

test('alerts: the LowSOC threshold, metric and "for" come from config', async () => {
  const s = await setup({
    alerts: { builtins: { ...onlyBuiltin('lowSoc').builtins, lowSoc: { threshold: 40, for: '0s', severity: 'page' } } },
  });
  await s.run(EVAL_MS, async () => {
    await soc(s.storage, 's1', 'n1', 35, s.clock.now());
  });
  assert.deepEqual(names(s), ['LowSOC:firing:s1/n1']);
  assert.equal(s.engine.list()[0]?.alert.labels.severity, 'page');
});

test('alerts: NodeDown fires when a node has been offline for 2 min, and never for a shorter outage', async () => {
  const fleet: Fleet = { nodes: [node('s1', 'n1', 'online', START), node('s1', 'n2', 'online', START)], backlogs: new Map() };
  const s = await setup({ fleet, alerts: onlyBuiltin('nodeDown') });
  // n2: down for 1 min only.
  setState(fleet, 's1', 'n2', 'offline', START);
  await s.run(60_000);
  assert.deepEqual(names(s), ['NodeDown:pending:s1/n2']);
  setState(fleet, 's1', 'n2', 'online', s.clock.now());
  // n1: down for good.
  setState(fleet, 's1', 'n1', 'offline', s.clock.now());
  const downAt = s.clock.now();
  await s.run(EVAL_MS);
  assert.deepEqual(names(s), ['NodeDown:pending:s1/n1']);
  await s.run(2 * 60_000 - EVAL_MS);
  assert.deepEqual(names(s), ['NodeDown:firing:s1/n1']);
  const a = s.engine.list()[0]?.alert;
  assert.equal(a?.activeAt, downAt, 'activeAt is when the node went offline, not when the engine noticed');
  assert.equal(a?.firedAt, downAt + 2 * 60_000);
  assert.equal(a?.annotations.summary, 'Node s1/n1 is offline');
  assert.match(a?.annotations.description ?? '', /for 2m 0s: /);
  assert.equal(s.sent.length, 1);
  assert.deepEqual(s.sent[0]?.groupLabels, { alertname: 'NodeDown' });
});

test('alerts: SiteOffline is one alert per site once every node is silent for 5 min, resolved when any node reconnects', async () => {
  const fleet: Fleet = {
    nodes: [
      node('s1', 'a', 'online', START),
      node('s1', 'b', 'online', START),
      node('s1', 'c', 'online', START),
      node('s2', 'x', 'online', START),
    ],
    backlogs: new Map(),
  };
  const s = await setup({ fleet, alerts: onlyBuiltin('siteOffline') });
  // The site's last word is from node c, 10 s later than the others.
  await s.run(EVAL_MS);
  const silentAt = s.clock.now();
  fleet.nodes[2] = { ...(fleet.nodes[2] as AlertNode), lastHeard: silentAt };
  setState(fleet, 's1', 'a', 'offline', silentAt - 5_000);
  setState(fleet, 's1', 'b', 'stale', silentAt);
  setState(fleet, 's1', 'c', 'offline', silentAt + 20_000);
  await s.run(4 * 60_000 + 45_000);
  assert.deepEqual(names(s), ['SiteOffline:pending:s1/']);
  assert.equal(s.sent.length, 0, 'silent for 4:45: nothing fires');
  await s.run(EVAL_MS);
  assert.deepEqual(names(s), ['SiteOffline:firing:s1/']);
  const a = s.engine.list()[0]?.alert;
  assert.deepEqual(a?.labels, { alertname: 'SiteOffline', severity: 'critical', site: 's1' });
  assert.equal(a?.activeAt, silentAt);
  assert.equal(s.sent.length, 1);
  assert.equal(s.sent[0]?.alerts.length, 1, 'one grouped alert, not one per node');

  // Node b comes back: the site is no longer offline.
  await s.run(60_000);
  setState(fleet, 's1', 'b', 'online', s.clock.now());
  await s.run(EVAL_MS);
  assert.deepEqual(names(s), []);
  assert.equal(s.sent.length, 2);
  assert.equal(s.sent[1]?.status, 'resolved');
  assert.deepEqual(s.sent[1]?.alerts[0]?.labels, { alertname: 'SiteOffline', severity: 'critical', site: 's1' });
});

test('alerts: after an engine start, fleet silences count from the start (the hub cannot vouch for before)', async () => {
  const longAgo = START - 3_600_000;
  const fleet: Fleet = { nodes: [node('s1', 'a', 'unknown', longAgo), node('s1', 'b', 'offline', longAgo)], backlogs: new Map() };
  const s = await setup({ fleet, alerts: { builtins: { lowSoc: { enabled: false }, backlogAge: { enabled: false } } } });
  await s.run(EVAL_MS);
  assert.deepEqual(names(s).sort(), ['NodeDown:pending:s1/b', 'SiteOffline:pending:s1/']);
  await s.run(2 * 60_000);
  assert.deepEqual(names(s).sort(), ['NodeDown:firing:s1/b', 'SiteOffline:pending:s1/']);
  await s.run(3 * 60_000);
  assert.deepEqual(names(s).sort(), ['NodeDown:firing:s1/b', 'SiteOffline:firing:s1/']);
});

test('alerts: BacklogAge fires at once for a node whose oldest unsent row is older than 1 h', async () => {
  const fleet: Fleet = { nodes: [node('s1', 'n1', 'online', START), node('s1', 'n2', 'online', START)], backlogs: new Map() };
  fleet.backlogs.set('s1/n1', { pendingRows: 1204, oldestPendingMs: START - 3_600_000 - 60_000, pendingBytes: 38_912, reportedAt: START });
  fleet.backlogs.set('s1/n2', { pendingRows: 10, oldestPendingMs: START - 60_000, pendingBytes: 300, reportedAt: START });
  const s = await setup({ fleet, alerts: onlyBuiltin('backlogAge') });
  await s.run(EVAL_MS);
  assert.deepEqual(names(s), ['BacklogAge:firing:s1/n1']);
  assert.match(s.engine.list()[0]?.alert.annotations.description ?? '', /^The oldest row of its outbox backlog is 1h 1m 15s old/);
  fleet.backlogs.set('s1/n1', { pendingRows: 0, oldestPendingMs: null, pendingBytes: 0, reportedAt: s.clock.now() });
  await s.run(EVAL_MS);
  assert.deepEqual(names(s), []);
});

test('alerts: a rule file rule with an aggregation, templated labels and annotations, and the fleet series', async () => {
  const fleet: Fleet = { nodes: [node('s1', 'n1', 'online', START), node('s2', 'n9', 'offline', START)], backlogs: new Map() };
  const s = await setup({
    fleet,
    alerts: {
      builtins: {
        nodeDown: { enabled: false },
        siteOffline: { enabled: false },
        lowSoc: { enabled: false },
        backlogAge: { enabled: false },
      },
    },
    rules: `
groups:
  - name: power
    rules:
      - alert: BusVoltageHigh
        expr: avg by (site) (dc_voltage) > 54
        for: 30s
        labels:
          severity: warning
          team: 'power-{{ $labels.site }}'
        annotations:
          summary: 'Bus voltage high at {{ $labels.site }}'
          description: 'Average {{ $value }} V ({{ printf "%.1f" $value }}); see {{ $externalURL }}'
      - alert: NodeSilent
        expr: fieldmesh_node_up{site="s2"} == 0
`,
  });
  const feed = async () => {
    const ts = s.clock.now();
    for (const [n, v] of [
      ['n1', 54.5],
      ['n2', 55.75],
    ] as const) {
      await s.storage.appendSamples([
        { series: { name: 'dc_voltage', labels: { site: 's1', node: n, zone: 'z1' }, unit: 'volts', type: 'gauge' }, ts, value: v },
      ]);
    }
  };
  await s.run(3 * EVAL_MS, feed);
  const list = s.engine.list();
  assert.deepEqual(names(s).sort(), ['BusVoltageHigh:firing:s1/', 'NodeSilent:firing:s2/n9']);
  const bus = list.find((a) => a.alert.labels.alertname === 'BusVoltageHigh')?.alert;
  assert.deepEqual(bus?.labels, { alertname: 'BusVoltageHigh', severity: 'warning', site: 's1', team: 'power-s1' });
  assert.deepEqual(bus?.annotations, {
    summary: 'Bus voltage high at s1',
    description: 'Average 55.125 V (55.1); see http://hub.test:18800',
  });
  assert.equal(bus?.generatorUrl, `http://hub.test:18800/api/v1/alerts/${bus?.fingerprint}`);
  assert.equal(bus?.ruleId, 'power/BusVoltageHigh');
  // One notification per alertname group.
  assert.deepEqual(s.sent.map((p) => p.groupKey).sort(), ['{}:{alertname="BusVoltageHigh"}', '{}:{alertname="NodeSilent"}']);
});

test('alerts: a silence mutes matching alerts until it expires; then the firing alert notifies', async () => {
  const fleet: Fleet = { nodes: [node('s1', 'n1', 'online', START), node('s2', 'n2', 'online', START)], backlogs: new Map() };
  const s = await setup({ fleet, alerts: onlyBuiltin('nodeDown') });
  const silence = await s.engine.createSilence({
    matchers: [
      { name: 'alertname', value: 'NodeDown', isRegex: false, isEqual: true },
      { name: 'site', value: 's1|s3', isRegex: true, isEqual: true },
    ],
    startsAt: START,
    endsAt: START + 10 * 60_000,
    createdBy: 'ana',
    comment: 'maintenance at s1',
  });
  setState(fleet, 's1', 'n1', 'offline', START);
  setState(fleet, 's2', 'n2', 'offline', START);
  await s.run(3 * 60_000);
  assert.deepEqual(names(s).sort(), ['NodeDown:firing:s1/n1', 'NodeDown:firing:s2/n2']);
  const [n1] = s.engine.find(s.engine.list().find((a) => a.alert.labels.node === 'n1')?.alert.fingerprint ?? '');
  assert.deepEqual(n1?.silencedBy, [silence.id]);
  assert.equal(s.sent.length, 1, 'only the unsilenced alert notified');
  assert.deepEqual(
    s.sent[0]?.alerts.map((a) => a.labels.node),
    ['n2'],
  );

  // The silence runs out at 10 min: the next evaluation notifies n1 (with n2, its group's other firing alert).
  await s.run(10 * 60_000 - 3 * 60_000 - EVAL_MS);
  assert.equal(s.sent.length, 1);
  await s.run(EVAL_MS);
  assert.equal(s.sent.length, 2);
  assert.deepEqual(s.sent[1]?.alerts.map((a) => a.labels.node).sort(), ['n1', 'n2']);
  assert.equal(s.engine.getSilence(silence.id) !== undefined, true, 'expired silences stay listed');
  assert.deepEqual(s.engine.find(n1?.alert.fingerprint ?? '')[0]?.silencedBy, []);
});

test('alerts: expiring a silence early ends it at once; a pending silence mutes nothing yet', async () => {
  const s = await setup({ alerts: onlyBuiltin('nodeDown') });
  const matchers = [{ name: 'alertname', value: 'NodeDown', isRegex: false, isEqual: true }];
  const later = await s.engine.createSilence({
    matchers,
    startsAt: START + 3_600_000,
    endsAt: START + 7_200_000,
    createdBy: 'a',
    comment: 'c',
  });
  assert.deepEqual(s.engine.silencedBy({ alertname: 'NodeDown' }), []);
  const now = await s.engine.createSilence({ matchers, startsAt: START, endsAt: START + 7_200_000, createdBy: 'a', comment: 'c' });
  assert.deepEqual(s.engine.silencedBy({ alertname: 'NodeDown' }), [now.id]);
  const expired = await s.engine.expireSilence(now.id);
  assert.equal(expired?.endsAt, START);
  assert.deepEqual(s.engine.silencedBy({ alertname: 'NodeDown' }), []);
  assert.equal(await s.engine.expireSilence('nope'), undefined);
  assert.equal(s.engine.listSilences().length, 2);
  assert.ok(later);
});

test('alerts: an acknowledged alert records who and when, and is not notified again after repeatInterval', async () => {
  const fleet: Fleet = { nodes: [node('s1', 'n1', 'offline', START), node('s1', 'n2', 'offline', START)], backlogs: new Map() };
  const s = await setup({ fleet, alerts: { ...onlyBuiltin('nodeDown'), repeatInterval: '1h', groupBy: ['alertname', 'node'] } });
  await s.run(2 * 60_000 + EVAL_MS);
  assert.equal(s.sent.length, 2, 'one group per node');
  const n1 = s.engine.list().find((a) => a.alert.labels.node === 'n1')?.alert.fingerprint ?? '';
  s.clock.advance(1_000);
  const [acked] = await s.engine.acknowledge(n1, 'ana', 'on my way');
  assert.deepEqual(acked?.alert.ack, { by: 'ana', at: s.clock.now(), comment: 'on my way' });
  await assert.rejects(s.engine.acknowledge('0123456789abcdef', 'ana', ''), /no alert with fingerprint/);
  await s.run(60 * 60_000);
  assert.deepEqual(
    s.sent.slice(2).map((p) => p.alerts.map((a) => a.labels.node)),
    [['n2']],
    'only the unacknowledged alert is repeated',
  );
  assert.ok(s.events.some((e) => e.type === 'alertAcknowledged'));
});

test('alerts: an engine that follows a shared store lists the evaluator’s alerts; its silences and acknowledgements reach the evaluator; it takes over without a second page', async () => {
  // Two api processes on one store: the leader evaluates, the other follows; neither hears notices (SQLite has
  // none), so each reads the store again every 5 s.
  const shared = createSqliteAlertStore({ path: ':memory:' });
  defer(() => shared.close());
  const fleet: Fleet = { nodes: [node('s1', 'n1', 'offline', START), node('s1', 'n2', 'offline', START)], backlogs: new Map() };
  const clock = new ManualClock(START);
  const alerts = { ...onlyBuiltin('nodeDown'), repeatInterval: '1m', groupBy: ['alertname', 'node'] };
  const common = { fleet, clock, store: shared, syncIntervalMs: 5_000, alerts };
  const leader = await setup(common);
  const follower = await setup({ ...common, storage: leader.storage, follow: true });
  assert.deepEqual(names(follower), []);
  await leader.run(2 * 60_000 + EVAL_MS);
  await follower.engine.idle();
  assert.deepEqual(names(follower), names(leader), 'the follower lists the leader’s alerts');
  assert.deepEqual(names(follower).sort(), ['NodeDown:firing:s1/n1', 'NodeDown:firing:s1/n2']);
  assert.equal(follower.sent.length, 0, 'a follower notifies nobody');
  const paged = leader.sent.length;

  // A silence for n1 and an acknowledgement of n2, both through the follower: the leader applies them at its next read.
  const silence = await follower.engine.createSilence({
    matchers: [{ name: 'node', value: 'n1', isRegex: false, isEqual: true }],
    startsAt: clock.now(),
    endsAt: clock.now() + 3_600_000,
    createdBy: 'ana',
    comment: 'swap',
  });
  const n2 = follower.engine.list().find((a) => a.alert.labels.node === 'n2')?.alert.fingerprint ?? '';
  await follower.engine.acknowledge(n2, 'bo', 'driving');
  const n1Labels = leader.engine.list().find((a) => a.alert.labels.node === 'n1')?.alert.labels ?? {};
  assert.deepEqual(leader.engine.silencedBy(n1Labels), [], 'not read yet');
  clock.advance(5_000);
  await leader.engine.idle();
  assert.deepEqual(leader.engine.silencedBy(n1Labels), [silence.id]);
  assert.equal(leader.engine.find(n2)[0]?.alert.ack?.by, 'bo');
  // With repeatInterval 1m, neither is paged again: one is silenced, the other acknowledged; the evaluations keep the ack.
  await leader.run(3 * 60_000);
  assert.equal(leader.sent.length, paged, 'no repeat of the silenced nor of the acknowledged alert');
  assert.equal((await shared.loadAlerts()).find((a) => a.fingerprint === n2)?.ack?.by, 'bo');

  // The follower expires the silence, then the leader stops: the follower takes over from the store, and pages n1
  // (silence over, never acknowledged, due again), not n2 (acknowledged).
  await follower.engine.expireSilence(silence.id);
  await leader.engine.stop();
  await follower.engine.start();
  await follower.run(EVAL_MS);
  assert.deepEqual(names(follower).sort(), ['NodeDown:firing:s1/n1', 'NodeDown:firing:s1/n2']);
  assert.deepEqual(
    follower.sent.map((p) => p.alerts.map((a) => a.labels.node)),
    [['n1']],
  );
});

test('alerts: firing alerts, acknowledgements and silences survive a restart, without a second page', async () => {
  const dir = tempDir('fieldmesh-alert-state-');
  const statePath = join(dir, 'alerts.db');
  const clock = new ManualClock(START);
  const fleet: Fleet = { nodes: [node('s1', 'n1', 'offline', START), node('s2', 'n2', 'online', START)], backlogs: new Map() };
  const first = await setup({ fleet, clock, statePath, alerts: onlyBuiltin('nodeDown') });
  await first.run(2 * 60_000 + EVAL_MS);
  const fp = first.engine.list()[0]?.alert.fingerprint ?? '';
  await first.engine.acknowledge(fp, 'ana', 'looking');
  const silence = await first.engine.createSilence({
    matchers: [{ name: 'site', value: 's2', isRegex: false, isEqual: true }],
    startsAt: clock.now(),
    endsAt: clock.now() + 3_600_000,
    createdBy: 'bo',
    comment: 'flaky link',
  });
  assert.equal(first.sent.length, 1);
  await first.engine.stop();

  const second = await setup({ fleet, clock, statePath, alerts: onlyBuiltin('nodeDown') });
  const [restored] = second.engine.find(fp);
  assert.equal(restored?.alert.state, 'firing');
  assert.equal(restored?.alert.ack?.by, 'ana');
  assert.deepEqual(second.engine.listSilences(), [silence]);
  await second.run(2 * EVAL_MS);
  assert.equal(second.sent.length, 0, 'the page went out before the restart');
  setState(fleet, 's1', 'n1', 'online', clock.now());
  await second.run(EVAL_MS);
  assert.equal(second.sent.length, 1);
  assert.equal(second.sent[0]?.status, 'resolved');
  assert.equal(second.sent[0]?.alerts[0]?.fingerprint, fp);
});

test('alerts: a pending alert keeps its activeAt across a restart, so "for" is not started again', async () => {
  const dir = tempDir('fieldmesh-alert-state-');
  const statePath = join(dir, 'alerts.db');
  const clock = new ManualClock(START);
  const storage = createSqliteStorage({ path: ':memory:', retentionMs: 86_400_000 });
  defer(() => storage.close());
  const first = await setup({ clock, storage, statePath, alerts: onlyBuiltin('lowSoc') });
  const feed = async () => {
    await soc(storage, 's1', 'n1', 5, clock.now());
  };
  await first.run(3 * 60_000, feed);
  assert.deepEqual(names(first), ['LowSOC:pending:s1/n1']);
  await first.engine.stop();
  const second = await setup({ clock, storage, statePath, alerts: onlyBuiltin('lowSoc') });
  await second.run(2 * 60_000 + EVAL_MS, feed);
  assert.deepEqual(names(second), ['LowSOC:firing:s1/n1']);
  assert.equal(second.engine.list()[0]?.alert.activeAt, START + EVAL_MS);
});

test('alerts: notifications queued but not delivered are delivered after a restart', async () => {
  const dir = tempDir('fieldmesh-alert-state-');
  const statePath = join(dir, 'alerts.db');
  const clock = new ManualClock(START);
  const fleet: Fleet = { nodes: [node('s1', 'n1', 'offline', START)], backlogs: new Map() };
  const first = await setup({
    fleet,
    clock,
    statePath,
    alerts: onlyBuiltin('nodeDown'),
    notifier: (sent) => recordingNotifier(sent, { deliver: false }),
  });
  await first.run(2 * 60_000 + EVAL_MS);
  assert.equal(first.sent.length, 1);
  await first.engine.stop();
  const second = await setup({ fleet, clock, statePath, alerts: onlyBuiltin('nodeDown') });
  assert.equal(second.sent.length, 1, 'the queued payload went to the notifier at start');
  assert.equal(second.sent[0]?.status, 'firing');
  await second.run(2 * EVAL_MS);
  assert.equal(second.sent.length, 1);
});

test('alerts: a rule whose evaluation fails keeps its alerts as they were and reports the error', async () => {
  let broken = false;
  const storage = createSqliteStorage({ path: ':memory:', retentionMs: 86_400_000 });
  defer(() => storage.close());
  const flaky: HubStorage = {
    ...storage,
    isOpen: true,
    querySeries: async (...args) => {
      if (broken) throw new Error('disk on fire');
      return storage.querySeries(...args);
    },
  };
  const s = await setup({
    storage: flaky,
    alerts: { ...onlyBuiltin('lowSoc'), builtins: { ...onlyBuiltin('lowSoc').builtins, lowSoc: { for: '0s' } } },
  });
  await s.run(EVAL_MS, async () => {
    await soc(storage, 's1', 'n1', 3, s.clock.now());
  });
  assert.deepEqual(names(s), ['LowSOC:firing:s1/n1']);
  broken = true;
  await s.run(EVAL_MS);
  assert.deepEqual(names(s), ['LowSOC:firing:s1/n1']);
  const health = s.engine.ruleHealth().find((h) => h.rule.id === 'builtin/LowSOC');
  assert.equal(health?.lastError, 'disk on fire');
  assert.equal(s.sent.length, 1);
});

const noFleetBuiltins = { lowSoc: { enabled: false }, backlogAge: { enabled: false } };
const fpOf = (s: Setup, alertname: string, nodeName?: string) =>
  s.engine.list(['pending', 'firing', 'resolved']).find((a) => a.alert.labels.alertname === alertname && a.alert.labels.node === nodeName)
    ?.alert.fingerprint ?? '';
const inhibitedNodes = (s: Setup) =>
  s.engine
    .list()
    .filter((a) => a.inhibitedBy.length > 0)
    .map((a) => `${a.alert.labels.alertname}:${a.alert.labels.site}/${a.alert.labels.node}`)
    .sort();

test('inhibition: a firing SiteOffline inhibits the NodeDown alerts of its site only; none is notified until it resolves', async () => {
  const fleet: Fleet = {
    nodes: [
      node('A', 'a1', 'offline', START),
      node('A', 'a2', 'offline', START),
      node('B', 'b1', 'offline', START),
      node('B', 'b2', 'online', START),
    ],
    backlogs: new Map(),
  };
  const s = await setup({ fleet, alerts: { builtins: { ...noFleetBuiltins, siteOffline: { for: '1m' } } } });
  await s.run(EVAL_MS);
  assert.deepEqual(inhibitedNodes(s), [], 'a pending SiteOffline inhibits nothing');
  await s.run(60_000);
  assert.deepEqual(names(s).sort(), ['NodeDown:pending:A/a1', 'NodeDown:pending:A/a2', 'NodeDown:pending:B/b1', 'SiteOffline:firing:A/']);
  const siteA = fpOf(s, 'SiteOffline');
  // Pending targets show as inhibited already; the change is an event of its own, for the live console.
  assert.deepEqual(inhibitedNodes(s), ['NodeDown:A/a1', 'NodeDown:A/a2']);
  const changes = s.events.filter((e) => e.type === 'alertInhibitionChanged');
  assert.deepEqual(changes.map((e) => (e.type === 'alertInhibitionChanged' ? [e.alert.labels.node, e.inhibitedBy] : [])).sort(), [
    ['a1', [siteA]],
    ['a2', [siteA]],
  ]);

  await s.run(2 * 60_000);
  assert.deepEqual(names(s).sort(), ['NodeDown:firing:A/a1', 'NodeDown:firing:A/a2', 'NodeDown:firing:B/b1', 'SiteOffline:firing:A/']);
  const [a1] = s.engine.find(fpOf(s, 'NodeDown', 'a1'));
  assert.deepEqual(a1?.inhibitedBy, [siteA]);
  assert.deepEqual(s.engine.inhibitedBy(a1?.alert as AlertRecord), [siteA]);
  assert.deepEqual(s.engine.find(fpOf(s, 'NodeDown', 'b1'))[0]?.inhibitedBy, [], 'site B has no SiteOffline');
  assert.deepEqual(s.engine.find(siteA)[0]?.inhibitedBy, []);

  const inhibitedFps = new Set([fpOf(s, 'NodeDown', 'a1'), fpOf(s, 'NodeDown', 'a2')]);
  await s.run(30 * 60_000);
  assert.ok(s.sent.length >= 2);
  for (const p of s.sent) {
    assert.deepEqual(
      p.alerts.filter((a) => inhibitedFps.has(a.fingerprint)),
      [],
      `no payload carries an inhibited alert (${p.groupKey})`,
    );
  }
  assert.deepEqual(
    s.sent.filter((p) => p.groupLabels.alertname === 'NodeDown').map((p) => p.alerts.map((a) => a.labels.node)),
    [['b1']],
  );

  // a1 comes back: SiteOffline resolves, a1's NodeDown resolves (never notified: no resolution sent), a2
  // still fires and is no longer inhibited: notified now.
  const before = s.sent.length;
  s.events.length = 0;
  setState(fleet, 'A', 'a1', 'online', s.clock.now());
  await s.run(EVAL_MS);
  assert.deepEqual(inhibitedNodes(s), []);
  const after = s.sent.slice(before);
  assert.deepEqual(
    after
      .map((p) => [p.groupLabels.alertname, p.status, p.alerts.map((a) => `${a.labels.site}/${a.labels.node ?? ''}:${a.status}`).sort()])
      .sort(),
    [
      ['NodeDown', 'firing', ['A/a2:firing', 'B/b1:firing']],
      ['SiteOffline', 'resolved', ['A/:resolved']],
    ],
  );
  assert.deepEqual(
    s.events
      .filter((e) => e.type === 'alertInhibitionChanged')
      .map((e) => (e.type === 'alertInhibitionChanged' ? [e.alert.labels.node, e.inhibitedBy] : []))
      .sort(),
    [
      ['a1', []],
      ['a2', []],
    ],
    'the targets are reported when their source stops firing',
  );
});

test('inhibition: a target notified before its source fired still has its resolution notified; its repeats are held back', async () => {
  const fleet: Fleet = { nodes: [node('A', 'a1', 'offline', START), node('A', 'a2', 'offline', START)], backlogs: new Map() };
  // The defaults: NodeDown after 2 min, SiteOffline after 5 min.
  const s = await setup({ fleet, alerts: { builtins: noFleetBuiltins, repeatInterval: '10m' } });
  await s.run(2 * 60_000 + EVAL_MS);
  assert.deepEqual(names(s).sort(), ['NodeDown:firing:A/a1', 'NodeDown:firing:A/a2', 'SiteOffline:pending:A/']);
  assert.deepEqual(inhibitedNodes(s), [], 'a pending source inhibits nothing');
  assert.deepEqual(
    s.sent.map((p) => p.alerts.map((a) => a.labels.node).sort()),
    [['a1', 'a2']],
    'notified while SiteOffline pends',
  );

  await s.run(3 * 60_000);
  assert.deepEqual(names(s).sort(), ['NodeDown:firing:A/a1', 'NodeDown:firing:A/a2', 'SiteOffline:firing:A/']);
  assert.deepEqual(inhibitedNodes(s), ['NodeDown:A/a1', 'NodeDown:A/a2']);
  // Past repeatInterval: SiteOffline repeats, the inhibited NodeDowns do not.
  await s.run(12 * 60_000);
  assert.deepEqual(
    s.sent.slice(1).map((p) => p.groupLabels.alertname),
    ['SiteOffline', 'SiteOffline'],
  );

  // a1 is no longer offline (stale), the site still has no node online: SiteOffline keeps firing, a1's
  // NodeDown resolves, and the receivers that were told it fired are told it ended.
  const before = s.sent.length;
  setState(fleet, 'A', 'a1', 'stale', s.clock.now());
  await s.run(EVAL_MS);
  assert.deepEqual(names(s).sort(), ['NodeDown:firing:A/a2', 'SiteOffline:firing:A/']);
  const after = s.sent.slice(before);
  assert.equal(after.length, 1);
  assert.equal(after[0]?.status, 'resolved');
  assert.deepEqual(
    after[0]?.alerts.map((a) => [a.labels.node, a.status]),
    [['a1', 'resolved']],
    'the resolution goes out; a2, still inhibited, is not in the payload',
  );
});

test('inhibition: an alert matching both sides never inhibits itself nor others like it; equal compares the labels', async () => {
  const fleet: Fleet = {
    nodes: [node('A', 'a1', 'offline', START), node('A', 'a2', 'offline', START), node('B', 'b1', 'offline', START)],
    backlogs: new Map(),
  };
  fleet.backlogs.set('A/a1', { pendingRows: 5, oldestPendingMs: START - 2 * 3_600_000, pendingBytes: 100, reportedAt: START });
  fleet.backlogs.set('B/b1', { pendingRows: 5, oldestPendingMs: START - 2 * 3_600_000, pendingBytes: 100, reportedAt: START });
  const s = await setup({
    fleet,
    alerts: {
      builtins: { lowSoc: { enabled: false }, siteOffline: { enabled: false }, nodeDown: { for: '0s' } },
      inhibitRules: [{ sourceMatchers: ['severity="critical"'], targetMatchers: ['severity=~"critical|warning"'], equal: ['site'] }],
    },
  });
  await s.run(EVAL_MS);
  assert.deepEqual(names(s).sort(), [
    'BacklogAge:firing:A/a1',
    'BacklogAge:firing:B/b1',
    'NodeDown:firing:A/a1',
    'NodeDown:firing:A/a2',
    'NodeDown:firing:B/b1',
  ]);
  // Every NodeDown is critical (source) and matches the target side: none inhibits itself or another NodeDown.
  assert.deepEqual(inhibitedNodes(s), ['BacklogAge:A/a1', 'BacklogAge:B/b1']);
  const backlogA = s.engine.find(fpOf(s, 'BacklogAge', 'a1'))[0];
  assert.deepEqual(
    backlogA?.inhibitedBy,
    [fpOf(s, 'NodeDown', 'a1'), fpOf(s, 'NodeDown', 'a2')].sort(),
    'only the sources of its own site',
  );
  assert.deepEqual(s.engine.find(fpOf(s, 'BacklogAge', 'b1'))[0]?.inhibitedBy, [fpOf(s, 'NodeDown', 'b1')]);
  assert.deepEqual(
    s.sent.map((p) => p.groupLabels.alertname),
    ['NodeDown'],
  );
});

test('inhibition: inhibitRules: [] turns the default rule off', async () => {
  const fleet: Fleet = { nodes: [node('A', 'a1', 'offline', START)], backlogs: new Map() };
  const s = await setup({ fleet, alerts: { builtins: { ...noFleetBuiltins, siteOffline: { for: '0s' } }, inhibitRules: [] } });
  await s.run(2 * 60_000 + EVAL_MS);
  assert.deepEqual(names(s).sort(), ['NodeDown:firing:A/a1', 'SiteOffline:firing:A/']);
  assert.deepEqual(inhibitedNodes(s), []);
  assert.deepEqual(s.sent.map((p) => p.groupLabels.alertname).sort(), ['NodeDown', 'SiteOffline']);
});
