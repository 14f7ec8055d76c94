// The registration gate alone: open mode admits all; approve mode keeps unknown nodes pending, admits nodes
// approved by an admin, defined by the repository or grandfathered, keeps rejected ones out; restart-safe.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { Registry } from 'prom-client';
import { ManualClock, silentLogger } from '../../kit/index.js';
import { SessionEncoder } from '../../protocol/index.js';
import { batterySoc, birthOf, wire } from '../hub-test-kit.js';
import { RegistrationGate, type RegistrationMode, type RegistrationView } from './registration-gate.js';
import { createMemoryRegistrationStore, createSqliteRegistrationStore, type RegistrationStore } from './registration-store.js';

function gate(mode: RegistrationMode, store: RegistrationStore = createMemoryRegistrationStore(), repo: string[] = []) {
  const clock = new ManualClock();
  const registry = new Registry();
  const changes: RegistrationView[] = [];
  const g = new RegistrationGate({
    mode,
    store,
    clock,
    logger: silentLogger,
    registry,
    repoDefines: (site, node) => repo.includes(`${site}/${node}`),
    onChange: (v) => changes.push(v),
  });
  return { g, clock, registry, changes, store };
}

const birth = (clock: ManualClock) =>
  wire(birthOf(new SessionEncoder(4), clock.now(), [batterySoc()], { zone: 'west', agentVersion: '1.2.3' }));

async function ignored(registry: Registry, status: string): Promise<number> {
  const m = await registry.getSingleMetric('fieldmesh_registration_frames_ignored_total')?.get();
  return m?.values.find((v) => v.labels.status === status)?.value ?? 0;
}

test('registration gate: open mode admits every node and records nothing; decisions are refused', () => {
  const { g, clock } = gate('open');
  g.start([]);
  assert.equal(g.admit('wildfire', 'edge-west-01', birth(clock)), true);
  assert.deepEqual(g.list(), { mode: 'open', registrations: [], approved: 0 });
  assert.throws(() => g.approve('wildfire', 'edge-west-01', 'ada'), { code: 'FM_REQUEST_INVALID', message: /registration.mode is open/ });
});

test('registration gate: approve mode keeps an unknown node pending with its birth facts, counted and announced once', async () => {
  const { g, clock, registry, changes } = gate('approve');
  g.start([]);
  const t0 = clock.now();
  assert.equal(g.admit('wildfire', 'edge-west-01', birth(clock)), false);
  clock.advance(5_000);
  assert.equal(g.admit('wildfire', 'edge-west-01'), false);
  const [r] = g.list().registrations;
  assert.deepEqual(
    { ...r },
    {
      site: 'wildfire',
      node: 'edge-west-01',
      status: 'pending',
      zone: 'west',
      agentVersion: '1.2.3',
      bootTime: t0,
      configVersion: '',
      firstSeen: t0,
      lastSeen: t0 + 5_000,
      births: 1,
      framesIgnored: 2,
      decidedBy: null,
      decidedAt: null,
      origin: null,
    },
  );
  assert.equal(await ignored(registry, 'pending'), 2);
  // One live message when it appeared (its birth), none for the data frame after it.
  assert.equal(changes.length, 1);
});

test('registration gate: approval admits the node; rejection keeps it out and listed until approved', async () => {
  const { g, clock, registry, changes } = gate('approve');
  g.start([]);
  g.admit('s1', 'n1', birth(clock));
  g.admit('s1', 'n2', birth(clock));
  const approved = g.approve('s1', 'n1', 'ada');
  assert.deepEqual([approved.status, approved.origin, approved.decidedBy], ['approved', 'admin', 'ada']);
  assert.equal(g.admit('s1', 'n1'), true);
  g.reject('s1', 'n2', 'ada');
  assert.equal(g.admit('s1', 'n2'), false);
  assert.equal(await ignored(registry, 'rejected'), 1);
  assert.deepEqual(
    g.list().registrations.map((r) => [r.node, r.status, r.decidedBy]),
    [['n2', 'rejected', 'ada']],
  );
  assert.equal(g.list().approved, 1);
  assert.deepEqual(
    changes.map((c) => `${c.node} ${c.status}`),
    ['n1 pending', 'n2 pending', 'n1 approved', 'n2 rejected'],
  );
  // Approving the rejected node admits it; pre-approving a node never heard of works too.
  g.approve('s1', 'n2', 'ada');
  g.approve('s1', 'n3', 'ada');
  assert.equal(g.admit('s1', 'n2'), true);
  assert.equal(g.admit('s1', 'n3'), true);
  assert.deepEqual(g.list().registrations, []);
  // Rejecting an approved node takes its approval away.
  g.reject('s1', 'n1', 'ada');
  assert.equal(g.admit('s1', 'n1'), false);
});

test('registration gate: a node the repository defines is admitted, unless an admin rejected it', () => {
  const { g, clock } = gate('approve', createMemoryRegistrationStore(), ['s1/from-repo']);
  g.start([]);
  assert.equal(g.admit('s1', 'from-repo', birth(clock)), true);
  assert.equal(g.admit('s1', 'other', birth(clock)), false);
  g.reject('s1', 'from-repo', 'ada');
  assert.equal(g.admit('s1', 'from-repo'), false);
});

test('registration gate: switching approve on grandfathers the known nodes, once; decisions survive a restart (SQLite)', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'fieldmesh-registration-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'hub.db');
  const known = [
    { site: 's1', node: 'old-1' },
    { site: 's1', node: 'old-2' },
  ];
  // First start in open mode: nothing grandfathered, the mode remembered.
  let store = createSqliteRegistrationStore({ path });
  gate('open', store).g.start(known);
  store.close();
  // Approve mode switched on: the two known nodes are grandfathered.
  store = createSqliteRegistrationStore({ path });
  let run = gate('approve', store);
  run.g.start(known);
  assert.equal(run.g.admit('s1', 'old-1'), true);
  assert.equal(run.g.get('s1', 'old-2')?.origin, 'grandfathered');
  assert.equal(run.g.admit('s1', 'new-1', birth(run.clock)), false);
  assert.equal(run.g.admit('s1', 'new-2', birth(run.clock)), false);
  run.g.approve('s1', 'new-1', 'ada');
  run.g.admit('s1', 'new-2');
  run.g.flush();
  store.close();
  // A restart still in approve mode: a node known since (say, admitted by the repository) is not
  // grandfathered; the approval, the pending node and its counts are kept.
  store = createSqliteRegistrationStore({ path });
  run = gate('approve', store);
  run.g.start([...known, { site: 's1', node: 'later' }]);
  assert.equal(run.g.admit('s1', 'new-1'), true);
  assert.equal(run.g.admit('s1', 'later'), false);
  const pending = run.g.get('s1', 'new-2');
  assert.deepEqual([pending?.status, pending?.framesIgnored, pending?.births], ['pending', 2, 1]);
  assert.equal(run.g.list().approved, 3);
  store.close();
});
