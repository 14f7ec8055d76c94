// The bulk action engine with fake ports and a manual clock: previews say per node what will happen
// or why not, a run acts on exactly the previewed targets whatever the fleet did since, at most N at
// once, with per-target timeouts, and reports progress throttled with the final view always sent.
// calendar: the engine runs on a manual clock.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FieldmeshError, isFieldmeshError, ManualClock } from '../../kit/index.js';
import type { ActionView } from '../../protocol/index.js';
import { ActionEngine, type ActionEngineOptions } from './action-engine.js';
import type { ActionAlerts, ActionPorts, ActiveAlert, PingResult } from './action-ports.js';
import type { SelectableNode } from './selection.js';

interface Deferred<T> {
  readonly promise: Promise<T>;
  resolve(value: T): void;
  reject(err: unknown): void;
}

function deferred<T>(): Deferred<T> {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Lets every settled promise run its continuations (one macrotask turn; no time passes). */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

function node(site: string, name: string, state: SelectableNode['state'] = 'online', zone = 'z1'): SelectableNode {
  return { site, node: name, zone, state };
}

function setup(nodes: SelectableNode[], options: Partial<ActionEngineOptions> & { alerts?: ActiveAlert[] | null } = {}) {
  const clock = new ManualClock(Date.UTC(2026, 10, 24, 9));
  const pings = new Map<string, Deferred<PingResult>>();
  const rebirths = new Map<string, { done: Deferred<void>; signal: AbortSignal }>();
  const calls: string[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  const track = <T>(p: Promise<T>): Promise<T> => {
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    return p.finally(() => inFlight--);
  };
  const active: ActiveAlert[] = options.alerts === null ? [] : [...(options.alerts ?? [])];
  const acked: Array<{ fingerprint: string; by: string; comment: string }> = [];
  const silences: Array<Parameters<ActionAlerts['silence']>[0]> = [];
  const alerts: ActionAlerts = {
    active: () => active,
    async acknowledge(fingerprint, by, comment) {
      calls.push(`ack ${fingerprint}`);
      if (!active.some((a) => a.fingerprint === fingerprint))
        throw new FieldmeshError('FM_NOT_FOUND', `no alert with fingerprint ${fingerprint}`);
      acked.push({ fingerprint, by, comment });
    },
    async silence(request) {
      silences.push(request);
      return { id: `sil-${silences.length}`, endsAt: clock.now() + request.durationMs };
    },
  };
  const ports: ActionPorts = {
    nodes: () => nodes,
    ping(site, name, timeoutMs) {
      calls.push(`ping ${site}/${name} ${timeoutMs}`);
      const d = deferred<PingResult>();
      pings.set(`${site}/${name}`, d);
      return track(d.promise);
    },
    rebirth(site, name, signal) {
      calls.push(`rebirth ${site}/${name}`);
      const done = deferred<void>();
      signal.addEventListener('abort', () => done.reject(signal.reason), { once: true });
      rebirths.set(`${site}/${name}`, { done, signal });
      return track(done.promise);
    },
    ...(options.alerts === null ? {} : { alerts }),
  };
  const progress: Array<{ at: number; view: ActionView }> = [];
  let ids = 0;
  const engine = new ActionEngine({
    ports,
    clock,
    onProgress: (view) => progress.push({ at: clock.monotonic(), view }),
    newId: () => `id-${++ids}`,
    ...options,
  });
  return { clock, engine, pings, rebirths, calls, active, acked, silences, progress, maxInFlight: () => maxInFlight };
}

function alert(
  fingerprint: string,
  alertname: string,
  site: string | undefined,
  nodeName: string | undefined,
  acknowledged = false,
): ActiveAlert {
  return { fingerprint, alertname, site, node: nodeName, acknowledged };
}

const statuses = (view: ActionView | undefined) => view?.targets.map((t) => `${t.site}/${t.node}=${t.status}`);

test('actions preview: ping and rebirth plan every selected node and skip offline ones with the reason', () => {
  const { engine, clock } = setup([node('farm-1', 'bess-01'), node('farm-1', 'bess-02', 'offline'), node('farm-2', 'bess-01', 'stale')]);
  const ping = engine.preview({ action: 'ping', selector: { match: 'farm-*/bess-0?' } });
  assert.equal(ping.previewId, 'id-1');
  assert.deepEqual(ping.params, { timeout: '15s' });
  assert.deepEqual(
    ping.targets.map((t) => [`${t.site}/${t.node}`, t.state, t.plan, t.skip]),
    [
      ['farm-1/bess-01', 'online', 'send ping', null],
      ['farm-1/bess-02', 'offline', 'send ping', 'offline: ping would time out'],
      ['farm-2/bess-01', 'stale', 'send ping', null],
    ],
  );
  assert.deepEqual(ping.counts, { act: 2, skip: 1 });
  assert.equal(ping.expiresAt, new Date(clock.now() + 10 * 60_000).toISOString());
  const rebirth = engine.preview({ action: 'rebirth', selector: { sites: ['farm-1'] }, params: { timeout: '10s' } });
  assert.deepEqual(rebirth.params, { timeout: '10s' });
  assert.deepEqual(
    rebirth.targets.map((t) => [t.plan, t.skip]),
    [
      ['request rebirth', null],
      ['request rebirth', 'offline: rebirth would time out'],
    ],
  );
});

test('actions preview: ack-alerts names the unacknowledged alerts of each node; nodes without any are skipped; silence plans a new silence', () => {
  const { engine } = setup([node('s', 'n1'), node('s', 'n2', 'offline'), node('s', 'n3'), node('s', 'n4')], {
    alerts: [
      alert('f1', 'NodeDown', 's', 'n2'),
      alert('f2', 'LowSOC', 's', 'n2'),
      alert('f3', 'LowSOC', 's', 'n1'),
      alert('f4', 'LowSOC', 's', 'n1'),
      alert('f5', 'SiteOffline', 's', undefined),
      alert('f6', 'NodeDown', 's', 'n4', true),
    ],
  });
  const ack = engine.preview({ action: 'ack-alerts', selector: { sites: ['s'] }, params: { comment: 'on it' } });
  assert.deepEqual(
    ack.targets.map((t) => [t.node, t.plan, t.skip]),
    [
      ['n1', 'acknowledge 2 alerts: LowSOC (2)', null],
      ['n2', 'acknowledge 2 alerts: NodeDown, LowSOC', null],
      ['n3', 'acknowledge 0 alerts', 'no active alerts'],
      ['n4', 'acknowledge 0 alerts', '1 active alert, all acknowledged already'],
    ],
  );
  assert.deepEqual(ack.counts, { act: 2, skip: 2 });
  assert.deepEqual(ack.params, { comment: 'on it', timeout: '15s' });
  const silence = engine.preview({ action: 'silence-alerts', selector: { nodes: ['s/n2'] }, params: { comment: 'maintenance' } });
  assert.deepEqual(
    silence.targets.map((t) => [t.plan, t.skip]),
    [['silence for 2h (new silence site=s node=n2)', null]],
  );
  assert.deepEqual(silence.params, { comment: 'maintenance', duration: '2h', timeout: '15s' });
  const longer = engine.preview({ action: 'silence-alerts', selector: { nodes: ['s/n2'] }, params: { comment: 'm', duration: '90m' } });
  assert.equal(longer.targets[0]?.plan, 'silence for 1h30m (new silence site=s node=n2)');
});

test('actions preview: bad requests are refused naming the field; alert actions without an alert engine are unavailable', () => {
  const { engine } = setup([node('s', 'n1')], { alerts: null });
  const refused = (body: unknown, pattern: RegExp, code: 'FM_REQUEST_INVALID' | 'FM_ACTION_UNAVAILABLE' = 'FM_REQUEST_INVALID') =>
    assert.throws(
      () => engine.preview(body),
      (err: unknown) => isFieldmeshError(err, code) && pattern.test(err.message),
    );
  refused({ action: 'ping', selector: {} }, /^select at least one criterion/);
  refused({ action: 'reboot', selector: { all: true } }, /field "action": expected one of ping, rebirth, ack-alerts, silence-alerts/);
  refused({ action: 'ping' }, /field "selector" is missing/);
  refused({ action: 'ping', selector: { all: true }, params: { duration: '2h' } }, /applies to silence-alerts only/);
  refused({ action: 'ping', selector: { all: true }, params: { timeout: 'soon' } }, /params\.timeout/);
  refused({ action: 'ping', selector: { all: true }, params: { timeout: '1h' } }, /params\.timeout/);
  refused({ action: 'ping', selector: { all: true }, extra: 1 }, /field "extra" is unknown/);
  refused({ action: 'ack-alerts', selector: { all: true } }, /alerts are disabled/, 'FM_ACTION_UNAVAILABLE');
  const withAlerts = setup([node('s', 'n1')]).engine;
  assert.throws(
    () => withAlerts.preview({ action: 'silence-alerts', selector: { all: true } }),
    (err: unknown) => isFieldmeshError(err, 'FM_REQUEST_INVALID') && /params\.comment/.test(err.message),
  );
});

test('actions run: acts on exactly the previewed targets even when the fleet changed since the preview', async () => {
  const nodes = [node('farm-1', 'bess-01'), node('farm-1', 'bess-02'), node('farm-1', 'bess-03', 'offline')];
  const { engine, rebirths, calls } = setup(nodes);
  const preview = engine.preview({ action: 'rebirth', selector: { sites: ['farm-1'] } });
  // Since the preview: a new node joined, bess-02 went offline, bess-03 came back.
  nodes.push(node('farm-1', 'bess-04'));
  nodes[1] = node('farm-1', 'bess-02', 'offline');
  nodes[2] = node('farm-1', 'bess-03', 'online');
  const started = engine.run(preview.previewId, 'olivia');
  assert.equal(started.state, 'running');
  assert.equal(started.createdBy, 'olivia');
  assert.deepEqual(started.counts, { pending: 2, ok: 0, failed: 0, skipped: 1 });
  assert.deepEqual(calls, ['rebirth farm-1/bess-01', 'rebirth farm-1/bess-02']);
  rebirths.get('farm-1/bess-01')?.done.resolve();
  rebirths.get('farm-1/bess-02')?.done.resolve();
  const done = await engine.finished(started.id);
  assert.deepEqual(statuses(done), ['farm-1/bess-01=ok', 'farm-1/bess-02=ok', 'farm-1/bess-03=skipped']);
  assert.equal(done?.targets[2]?.detail, 'offline: rebirth would time out');
  assert.equal(done?.state, 'done');
  assert.notEqual(done?.finishedAt, null);
  assert.deepEqual(calls, ['rebirth farm-1/bess-01', 'rebirth farm-1/bess-02'], 'bess-03 and bess-04 untouched');
});

test('actions run: an unknown or expired preview is not found, a preview runs once', async () => {
  const { engine, clock, pings } = setup([node('s', 'n1')]);
  const code = (fn: () => unknown) => {
    try {
      fn();
    } catch (err) {
      return isFieldmeshError(err) ? err.code : 'other';
    }
    return 'none';
  };
  assert.equal(
    code(() => engine.run('nope', null)),
    'FM_NOT_FOUND',
  );
  const p = engine.preview({ action: 'ping', selector: { all: true } });
  const first = engine.run(p.previewId, null);
  assert.equal(
    code(() => engine.run(p.previewId, null)),
    'FM_ACTION_CONFLICT',
  );
  pings.get('s/n1')?.resolve({ rttMs: 41.6 });
  await engine.finished(first.id);
  const stale = engine.preview({ action: 'ping', selector: { all: true } });
  clock.advance(10 * 60_000 - 1);
  assert.equal(
    code(() => engine.preview({ action: 'ping', selector: { all: true } })),
    'none',
  );
  clock.advance(1);
  assert.equal(
    code(() => engine.run(stale.previewId, null)),
    'FM_NOT_FOUND',
  );
});

test('actions run: at most 8 targets at once; each finished one lets the next start', async () => {
  const nodes = Array.from({ length: 20 }, (_, i) => node('s', `n${String(i).padStart(2, '0')}`));
  const { engine, pings, maxInFlight } = setup(nodes);
  const view = engine.run(engine.preview({ action: 'ping', selector: { all: true } }).previewId, null);
  assert.equal(pings.size, 8);
  assert.equal(engine.get(view.id)?.targets.filter((t) => t.status === 'running').length, 8);
  pings.get('s/n00')?.resolve({ rttMs: 5 });
  await settle();
  assert.equal(pings.size, 9, 'n08 started when n00 finished');
  assert.ok(pings.has('s/n08'));
  for (let i = 0; i < 20; i++) {
    pings.get(`s/n${String(i).padStart(2, '0')}`)?.resolve({ rttMs: i });
    await settle();
  }
  const done = await engine.finished(view.id);
  assert.equal(maxInFlight(), 8);
  assert.deepEqual(done?.counts, { pending: 0, ok: 20, failed: 0, skipped: 0 });
  assert.equal(done?.targets[3]?.rttMs, 3);
  assert.equal(done?.targets[3]?.detail, 'pong in 3 ms');
});

test('actions run: a target past its timeout fails and its rebirth wait is aborted; errors fail with their message', async () => {
  const { engine, clock, rebirths, pings } = setup([node('s', 'n1'), node('s', 'n2'), node('s', 'n3')]);
  const view = engine.run(engine.preview({ action: 'rebirth', selector: { all: true }, params: { timeout: '10s' } }).previewId, null);
  rebirths.get('s/n1')?.done.resolve();
  rebirths.get('s/n2')?.done.reject(new FieldmeshError('FM_TRANSPORT_UNAVAILABLE', 'the hub is not connected to the broker'));
  await settle();
  assert.deepEqual(statuses(engine.get(view.id)), ['s/n1=ok', 's/n2=failed', 's/n3=running']);
  clock.advance(9_999);
  await settle();
  assert.equal(engine.get(view.id)?.targets[2]?.status, 'running');
  clock.advance(1);
  const done = await engine.finished(view.id);
  assert.deepEqual(
    done?.targets.map((t) => [t.status, t.detail]),
    [
      ['ok', 'new birth 0 ms after the request'],
      ['failed', 'the hub is not connected to the broker'],
      ['failed', 'timed out after 10s'],
    ],
  );
  assert.equal(rebirths.get('s/n3')?.signal.aborted, true, 'the birth watch is given up');
  assert.equal(done?.targets[2]?.at, new Date(clock.now()).toISOString());

  const ping = engine.run(engine.preview({ action: 'ping', selector: { nodes: ['s/n1'] }, params: { timeout: '2s' } }).previewId, null);
  assert.ok(pings.has('s/n1'));
  clock.advance(2_000);
  assert.equal((await engine.finished(ping.id))?.targets[0]?.detail, 'timed out after 2s');
});

test('actions run: progress goes out at most 4 times a second per action, and the final view always goes at once', async () => {
  const nodes = Array.from({ length: 4 }, (_, i) => node('s', `n${i}`));
  const { engine, clock, pings, progress } = setup(nodes);
  const view = engine.run(engine.preview({ action: 'ping', selector: { all: true } }).previewId, null);
  // The first change goes at once; four targets started at the same instant are one message.
  assert.equal(progress.length, 1);
  pings.get('s/n0')?.resolve({ rttMs: 1 });
  await settle();
  assert.equal(progress.length, 1, 'within 250 ms of the last message: held back');
  clock.advance(100);
  pings.get('s/n1')?.resolve({ rttMs: 1 });
  await settle();
  assert.equal(progress.length, 1);
  clock.advance(150);
  assert.equal(progress.length, 2, 'the trailing message 250 ms after the first');
  assert.deepEqual(progress[1]?.view.counts, { pending: 2, ok: 2, failed: 0, skipped: 0 });
  pings.get('s/n2')?.resolve({ rttMs: 1 });
  pings.get('s/n3')?.resolve({ rttMs: 1 });
  await engine.finished(view.id);
  assert.equal(progress.length, 3, 'the final view is not held back');
  assert.equal(progress[2]?.view.state, 'done');
  assert.deepEqual(progress[2]?.view.counts, { pending: 0, ok: 4, failed: 0, skipped: 0 });
  for (let i = 1; i < progress.length - 1; i++)
    assert.ok((progress[i]?.at ?? 0) - (progress[i - 1]?.at ?? 0) >= 250, 'non-final messages are 250 ms apart');
  clock.advance(1_000);
  assert.equal(progress.length, 3, 'nothing after the final view');
});

test('actions run: ack-alerts acknowledges exactly the previewed alerts, reports the gone ones, never touches new ones', async () => {
  const { engine, active, acked } = setup([node('s', 'n1'), node('s', 'n2'), node('s', 'n3')], {
    alerts: [
      alert('f1', 'NodeDown', 's', 'n1'),
      alert('f2', 'LowSOC', 's', 'n1'),
      alert('f3', 'LowSOC', 's', 'n2'),
      alert('f9', 'LowSOC', 's', 'n3'),
    ],
  });
  const preview = engine.preview({ action: 'ack-alerts', selector: { nodes: ['s/n1', 's/n2'] }, params: { comment: 'crew sent' } });
  // Since the preview: f2 cleared, f3 cleared, a new alert on n1.
  active.splice(1, 2);
  active.push(alert('f4', 'Backlog', 's', 'n1'));
  const done = await engine.finished(engine.run(preview.previewId, 'olivia').id);
  assert.deepEqual(acked, [{ fingerprint: 'f1', by: 'olivia', comment: 'crew sent' }]);
  assert.deepEqual(
    done?.targets.map((t) => [t.node, t.status, t.detail]),
    [
      ['n1', 'ok', 'acknowledged 1 alert: NodeDown; gone since the preview: LowSOC'],
      ['n2', 'failed', 'nothing acknowledged; gone since the preview: LowSOC'],
    ],
  );
});

test('actions run: silence-alerts makes one silence per target with its site and node, duration and comment', async () => {
  const { engine, silences, clock } = setup([node('s', 'n1'), node('s', 'n2', 'offline')]);
  const preview = engine.preview({
    action: 'silence-alerts',
    selector: { sites: ['s'] },
    params: { comment: 'maintenance', duration: '3h' },
  });
  assert.deepEqual(preview.counts, { act: 2, skip: 0 }, 'offline nodes can be silenced');
  const done = await engine.finished(engine.run(preview.previewId, null).id);
  assert.deepEqual(silences, [
    { site: 's', node: 'n1', durationMs: 3 * 3_600_000, createdBy: 'bulk-action', comment: 'maintenance' },
    { site: 's', node: 'n2', durationMs: 3 * 3_600_000, createdBy: 'bulk-action', comment: 'maintenance' },
  ]);
  assert.equal(done?.targets[0]?.detail, `silence sil-1 until ${new Date(clock.now() + 3 * 3_600_000).toISOString()}`);
});

test('actions: the list is newest first and bounded; close fails targets in flight and sends the final view', async () => {
  const { engine, pings, progress } = setup([node('s', 'n1')]);
  const ids: string[] = [];
  for (let i = 0; i < 101; i++) {
    const v = engine.run(engine.preview({ action: 'ping', selector: { all: true } }).previewId, null);
    ids.push(v.id);
    pings.get('s/n1')?.resolve({ rttMs: 1 });
    await engine.finished(v.id);
  }
  const list = engine.list();
  assert.equal(list.length, 100);
  assert.equal(list[0]?.id, ids[100]);
  assert.equal(engine.get(ids[0] as string), undefined, 'the oldest finished one is forgotten');
  const hanging = engine.run(engine.preview({ action: 'ping', selector: { all: true } }).previewId, null);
  await engine.close();
  const final = progress.at(-1)?.view;
  assert.equal(final?.id, hanging.id);
  assert.equal(final?.state, 'done');
  assert.deepEqual(
    final?.targets.map((t) => [t.status, t.detail]),
    [['failed', 'stopped: the hub is stopping']],
  );
});
