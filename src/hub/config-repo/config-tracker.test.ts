import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { ManualClock, silentLogger } from '../../kit/index.js';
import { configHashOf, decodeConfigFrame, type NodeStateName } from '../../protocol/index.js';
import { createMemoryTransport, MemoryBroker, type TransportMessage } from '../../transport/index.js';
import { ConfigReconciler } from './config-reconciler.js';
import { configRepoSchema } from './config-repo-config.js';
import type { ConfigRepoRender, RenderedNodeConfig } from './config-repo-port.js';
import type { ConfigRepoSource, RepoSnapshot } from './config-source.js';
import { ConfigTracker, parseConfigReport, parseHandEditReport, summarizeConfigStates } from './config-tracker.js';

function rendered(site: string, nodeId: string, extra: Record<string, unknown> = {}): RenderedNodeConfig {
  const config = { node: { id: nodeId, site }, ...extra };
  return {
    nodeId,
    site,
    zone: 'z1',
    config,
    configHash: configHashOf(config),
    provenance: { 'node.id': { layer: 'node', file: `nodes/${nodeId}.yaml`, line: 2, col: 7 } },
  };
}

const applied = (hash: string, at: number, pendingRestart: string[] = []) =>
  parseConfigReport('config_applied', { hash, commit: 'c1', applied: ['collectors'], pendingRestart }, at);

test('config tracker: states from reports and the fleet (pending, offline, in-sync, pending-restart, failed)', () => {
  const t = new ConfigTracker();
  const [a, b, c] = [rendered('north', 'a'), rendered('north', 'b'), rendered('south', 'c')];
  const { changed, removed } = t.setRevision([a, b, c], 'c1');
  assert.equal(changed.length, 3);
  assert.deepEqual(removed, []);
  for (const n of changed) t.markPublished(n.site, n.nodeId, n.configHash, 'c1', 1);
  const fleet = (state: NodeStateName) => [
    { site: 'north', node: 'a', zone: 'z1', state },
    { site: 'north', node: 'b', zone: 'z1', state: 'online' as NodeStateName },
  ];
  let views = t.views(fleet('online'));
  assert.deepEqual(
    views.map((v) => `${v.node}:${v.state}`),
    ['a:pending', 'b:pending', 'c:offline'],
  );
  t.receiveReport('north', 'a', applied(a.configHash, 10) as never);
  t.receiveReport('north', 'b', applied(b.configHash, 10, ['mqtt']) as never);
  t.receiveReport(
    'south',
    'c',
    parseConfigReport(
      'config_rejected',
      { hash: c.configHash, commit: 'c1', stage: 'schema', error: 'bad', problems: [{ path: 'x', message: 'y' }] },
      10,
    ) as never,
  );
  views = t.views(fleet('offline'));
  assert.deepEqual(
    views.map((v) => `${v.node}:${v.state}`),
    ['a:in-sync', 'b:pending-restart', 'c:failed'],
  );
  assert.equal(views[2]?.reported?.error, 'bad');
  // An older report (by event time) never replaces a newer one.
  assert.equal(t.receiveReport('north', 'a', applied('0'.repeat(64), 5) as never), false);
  assert.equal(t.views(fleet('online'))[0]?.state, 'in-sync');
  assert.deepEqual(summarizeConfigStates(views).states, {
    'in-sync': 1,
    pending: 0,
    failed: 1,
    'pending-restart': 1,
    offline: 0,
    'unknown-node': 0,
    removed: 0,
  });
});

test('config tracker: drift is a hash the hub never issued; an old issued hash is pending, not drift', () => {
  const t = new ConfigTracker();
  const v1 = rendered('north', 'a', { store: { retention: '1d' } });
  const v2 = rendered('north', 'a', { store: { retention: '2d' } });
  t.setRevision([v1], 'c1');
  t.markPublished('north', 'a', v1.configHash, 'c1', 1);
  t.setRevision([v2], 'c2');
  t.markPublished('north', 'a', v2.configHash, 'c2', 2);
  const fleet = [{ site: 'north', node: 'a', zone: 'z1', state: 'online' as NodeStateName }];
  t.receiveReport('north', 'a', applied(v1.configHash, 10) as never);
  assert.deepEqual([t.views(fleet)[0]?.state, t.views(fleet)[0]?.drift], ['pending', false]);
  t.receiveReport('north', 'a', applied(configHashOf({ hand: 'edit' }), 11) as never);
  assert.deepEqual([t.views(fleet)[0]?.state, t.views(fleet)[0]?.drift], ['pending', true]);
  assert.deepEqual(t.views(fleet)[0]?.driftReason, { kind: 'unissued-hash', hash: configHashOf({ hand: 'edit' }) });
  t.receiveReport('north', 'a', applied(v2.configHash, 12) as never);
  assert.deepEqual([t.views(fleet)[0]?.state, t.views(fleet)[0]?.drift, t.views(fleet)[0]?.driftReason], ['in-sync', false, null]);
});

test('config tracker: hand edits of node.yaml are drift with their keys, from config_hand_edit and config_applied reports; an empty list clears it', () => {
  const t = new ConfigTracker();
  const v1 = rendered('north', 'a', { store: { retention: '1d' } });
  const v2 = rendered('north', 'a', { store: { retention: '2d' } });
  t.setRevision([v1], 'c1');
  t.markPublished('north', 'a', v1.configHash, 'c1', 1);
  const fleet = [{ site: 'north', node: 'a', zone: 'z1', state: 'online' as NodeStateName }];
  const view = () => t.views(fleet)[0];
  t.receiveReport(
    'north',
    'a',
    parseConfigReport(
      'config_applied',
      { hash: v1.configHash, commit: 'c1', applied: [], pendingRestart: [], handEdited: [] },
      10,
    ) as never,
  );
  assert.deepEqual([view()?.state, view()?.drift, view()?.driftReason], ['in-sync', false, null]);
  // node.yaml edited on the node: its report names the keys; the node stays in sync (the repository's config runs).
  const edit = parseHandEditReport({ hash: v1.configHash, commit: 'c1', handEdited: ['collectors', 'store'] }, 20);
  assert.deepEqual(edit, { hash: v1.configHash, commit: 'c1', keys: ['collectors', 'store'], at: 20 });
  t.receiveHandEdit('north', 'a', edit as never);
  assert.deepEqual([view()?.state, view()?.drift], ['in-sync', true]);
  assert.deepEqual(view()?.driftReason, { kind: 'hand-edit', keys: ['collectors', 'store'], at: 20 });
  assert.equal(summarizeConfigStates(t.views(fleet)).drift, 1);
  // An older report (replayed out of order) changes nothing; the revert clears it.
  assert.equal(t.receiveHandEdit('north', 'a', { hash: v1.configHash, commit: 'c1', keys: [], at: 15 }), false);
  assert.equal(view()?.drift, true);
  t.receiveHandEdit('north', 'a', { hash: v1.configHash, commit: 'c1', keys: [], at: 30 });
  assert.deepEqual([view()?.drift, view()?.driftReason], [false, null]);
  // A new config applied with node.yaml still disagreeing carries the keys itself; one from an older agent (no
  // handEdited) leaves the last word as it was.
  t.setRevision([v2], 'c2');
  t.markPublished('north', 'a', v2.configHash, 'c2', 2);
  t.receiveReport(
    'north',
    'a',
    parseConfigReport(
      'config_applied',
      { hash: v2.configHash, commit: 'c2', applied: [], pendingRestart: ['store'], handEdited: ['store'] },
      40,
    ) as never,
  );
  assert.deepEqual([view()?.state, view()?.driftReason], ['pending-restart', { kind: 'hand-edit', keys: ['store'], at: 40 }]);
  t.receiveReport('north', 'a', applied(v2.configHash, 50) as never);
  assert.deepEqual(view()?.driftReason, { kind: 'hand-edit', keys: ['store'], at: 40 });
  assert.equal(parseHandEditReport({ hash: 'x' }, 1), undefined);
});

test('config tracker: a node the repository drops is removed (to clear); one online in no file is unknown-node; a restart keeps both', () => {
  const t = new ConfigTracker();
  const [a, b] = [rendered('north', 'a'), rendered('north', 'b')];
  t.setRevision([a, b], 'c1');
  t.markPublished('north', 'a', a.configHash, 'c1', 1);
  t.markPublished('north', 'b', b.configHash, 'c1', 1);
  const again = new ConfigTracker();
  again.restore(JSON.parse(JSON.stringify(t.snapshot())));
  for (const tracker of [t, again]) {
    const { changed, removed } = tracker.setRevision([a], 'c2');
    assert.deepEqual(changed, tracker === t ? [] : [], 'a is unchanged: nothing to publish');
    assert.deepEqual(removed, [{ site: 'north', node: 'b' }]);
    tracker.markCleared('north', 'b');
    const views = tracker.views([{ site: 'west', node: 'stray', zone: 'z9', state: 'online' }]);
    assert.deepEqual(
      views.map((v) => `${v.site}/${v.node}:${v.state}`),
      ['north/a:offline', 'north/b:removed', 'west/stray:unknown-node'],
    );
  }
});

/** A source whose next snapshot the test sets. */
function scriptedSource(): ConfigRepoSource & { next(s: RepoSnapshot): void } {
  let pending: RepoSnapshot | undefined;
  let last: RepoSnapshot | undefined;
  return {
    label: 'dir:/test',
    intervalMs: 10_000,
    next(s) {
      pending = s;
    },
    async poll(force) {
      const s = pending ?? (force ? last : undefined);
      pending = undefined;
      if (s !== undefined) last = s;
      return s;
    },
  };
}

/** Lets the memory broker's deliveries (setImmediate) and the reconciler's awaits run. */
async function flush(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
}

/** Turns the event loop until `predicate` holds (compression and the broker's deliveries are asynchronous). */
async function until(predicate: () => boolean): Promise<void> {
  for (let i = 0; i < 10_000 && !predicate(); i++) await new Promise((r) => setImmediate(r));
  assert.ok(predicate(), 'condition never held');
}

async function setup(rollout: 'auto' | 'manual') {
  const dataDir = mkdtempSync(join(tmpdir(), 'fm-config-repo-'));
  const clock = new ManualClock();
  const broker = new MemoryBroker();
  const hubTransport = createMemoryTransport(broker, { clientId: 'hub', clock });
  hubTransport.start();
  const node = createMemoryTransport(broker, { clientId: 'watcher', clock });
  const seen: TransportMessage[] = [];
  node.start();
  await flush();
  await node.subscribe('fm/_hub/config/#', (m) => seen.push(m)).ready;
  const renders = new Map<string, ConfigRepoRender>();
  const source = scriptedSource();
  const fleet: { site: string; node: string; zone: string; state: NodeStateName }[] = [];
  const reconciler = new ConfigReconciler({
    config: configRepoSchema.parse({ dir: '/test', rollout }),
    dataDir,
    renderer: (files) => renders.get(files.get('rev') as string) as ConfigRepoRender,
    prefix: 'fm',
    transport: () => hubTransport,
    clock,
    logger: silentLogger,
    fleetNodes: () => fleet,
    source,
  });
  const revision = async (rev: string, render: ConfigRepoRender) => {
    renders.set(rev, render);
    source.next({ revision: rev, commit: rev, files: new Map([['rev', rev]]) });
    const summary = await reconciler.sync();
    await flush();
    return summary;
  };
  const report = (site: string, nodeId: string, kind: string, payload: unknown) =>
    reconciler.receiveEvent({ site, node: nodeId, kind, payload: new TextEncoder().encode(JSON.stringify(payload)), time: clock.now() });
  const cleanup = () => {
    reconciler.stop();
    rmSync(dataDir, { recursive: true, force: true });
  };
  return { clock, seen, reconciler, revision, report, fleet, cleanup };
}

test('config reconciler: a valid revision is published retained per node, only the changed ones; an invalid one is refused as a whole', async () => {
  const s = await setup('auto');
  try {
    const a1 = rendered('north', 'a', { store: { retention: '1d' } });
    const b1 = rendered('south', 'b', { store: { retention: '1d' } });
    await s.revision('r1', { ok: true, nodes: [a1, b1] });
    assert.deepEqual(s.seen.map((m) => m.topic).sort(), ['fm/_hub/config/north/a', 'fm/_hub/config/south/b']);
    const doc = await decodeConfigFrame(s.seen[0]?.payload as Uint8Array);
    assert.equal(doc.commit, 'r1');
    assert.equal(doc.source, 'dir:/test');
    assert.ok([a1.configHash, b1.configHash].includes(doc.hash));
    s.seen.length = 0;
    // A site change: only b.
    const b2 = rendered('south', 'b', { store: { retention: '9d' } });
    await s.revision('r2', { ok: true, nodes: [a1, b2] });
    assert.deepEqual(
      s.seen.map((m) => m.topic),
      ['fm/_hub/config/south/b'],
    );
    s.seen.length = 0;
    // An invalid revision: nothing goes out, the last good stays, the problems are kept.
    const problems = [{ kind: 'schema', file: 'fleet.yaml', line: 3, col: 5, path: 'store.retention', message: 'expected a duration' }];
    const summary = await s.revision('r3', { ok: false, problems });
    assert.equal(s.seen.length, 0);
    assert.equal(summary.refused, true);
    assert.equal(summary.lastGood?.revision, 'r2');
    assert.deepEqual(summary.lastRefused?.problems, problems);
    assert.equal(s.reconciler.nodes().find((v) => v.node === 'b')?.desired?.hash, b2.configHash);
    // The node drops out: its retained config is cleared.
    await s.revision('r4', { ok: true, nodes: [a1] });
    assert.deepEqual(
      s.seen.map((m) => [m.topic, m.payload.length]),
      [['fm/_hub/config/south/b', 0]],
    );
    assert.equal(s.reconciler.nodes().find((v) => v.node === 'b')?.state, 'removed');
    assert.equal(s.reconciler.summary().refused, false);
  } finally {
    s.cleanup();
  }
});

test('config reconciler: manual rollout waits for apply; waves stop at the first failing wave', async () => {
  const s = await setup('manual');
  try {
    const nodes = ['n1', 'n2', 'n3', 'n4'].map((id) => rendered('north', id, { v: 1 }));
    for (const n of nodes) s.fleet.push({ site: 'north', node: n.nodeId, zone: 'z1', state: 'online' });
    const summary = await s.revision('r1', { ok: true, nodes });
    assert.equal(summary.awaitingApply, true);
    assert.equal(s.seen.length, 0, 'manual: nothing published before apply');
    const { finished } = s.reconciler.apply({ waves: [1, 2], timeoutMs: 5_000 }, 'tester');
    await until(() => s.seen.length >= 1);
    await flush();
    assert.deepEqual(
      s.seen.map((m) => m.topic),
      ['fm/_hub/config/north/n1'],
      'wave 1 is one node',
    );
    s.report('north', 'n1', 'config_applied', { hash: nodes[0]?.configHash, commit: 'r1', applied: ['v'], pendingRestart: [] });
    await until(() => s.seen.length >= 3);
    await flush();
    assert.deepEqual(s.seen.map((m) => m.topic).slice(1), ['fm/_hub/config/north/n2', 'fm/_hub/config/north/n3']);
    s.report('north', 'n2', 'config_applied', { hash: nodes[1]?.configHash, commit: 'r1', applied: ['v'], pendingRestart: [] });
    s.report('north', 'n3', 'config_rejected', { hash: nodes[2]?.configHash, commit: 'r1', stage: 'apply', error: 'collector failed' });
    await flush();
    const run = await finished;
    assert.equal(run.state, 'stopped');
    assert.deepEqual(
      run.waves.map((w) => w.state),
      ['ok', 'failed', 'skipped'],
    );
    assert.deepEqual(
      run.waves[1]?.nodes.map((n) => n.result),
      ['applied', 'failed'],
    );
    assert.deepEqual(
      run.waves[2]?.nodes.map((n) => n.result),
      ['skipped'],
    );
    assert.match(run.stoppedBy ?? '', /north\/n3 failed \(apply: collector failed\)/);
    await flush();
    assert.equal(s.seen.length, 3, 'n4 never got the config');
    // A wave whose node never answers times out (manual clock).
    const again = s.reconciler.apply({ target: { nodes: ['north/n4'] }, timeoutMs: 5_000 }, 'tester');
    await until(() => s.seen.length >= 4);
    await flush();
    s.clock.advance(5_000);
    const timedOut = await again.finished;
    assert.deepEqual([timedOut.state, timedOut.waves[0]?.nodes[0]?.result], ['stopped', 'timeout']);
  } finally {
    s.cleanup();
  }
});

test('config reconciler: apply waves plan (sizes then the rest, or fixed size)', () => {
  const xs = [1, 2, 3, 4, 5, 6, 7];
  assert.deepEqual(ConfigReconciler.planWaves(xs, [1, 2]), [[1], [2, 3], [4, 5, 6, 7]]);
  assert.deepEqual(ConfigReconciler.planWaves(xs, { size: 3 }), [[1, 2, 3], [4, 5, 6], [7]]);
  assert.deepEqual(ConfigReconciler.planWaves(xs, undefined), [xs]);
  assert.deepEqual(ConfigReconciler.planWaves([1], [5, 5]), [[1]]);
});
