// The registration gate alone: open mode admits all; approve mode keeps unknown nodes pending, admits nodes
// approved by an admin, defined by the repository or grandfathered, keeps rejected ones out; restart-safe.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import Database from 'better-sqlite3';
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
      assignedSite: null,
      assignedZone: null,
      assignmentState: null,
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

test('registration gate: approval with another site admits the assigned key, ignores the old one (moved), and owes the assignment', async () => {
  const { g, clock, registry, changes } = gate('approve');
  g.start([]);
  g.admit('ranch', 'bravo', birth(clock));
  const view = g.approve('ranch', 'bravo', 'ada', { site: 'farm', zone: 'east' });
  assert.deepEqual(
    [view.status, view.assignedSite, view.assignedZone, view.assignmentState, view.decidedBy],
    ['approved', 'farm', 'east', 'publish', 'ada'],
  );
  assert.equal(g.admit('farm', 'bravo'), true, 'admitted under its assigned key');
  assert.equal(g.admit('ranch', 'bravo', birth(clock)), false, 'its frames under the old key are ignored');
  assert.equal(await ignored(registry, 'moved'), 1);
  assert.deepEqual(g.list().registrations, [], 'nobody waits');
  assert.equal(g.list().approved, 1, 'one node, approved once');
  assert.deepEqual(
    changes.map((c) => `${c.site}/${c.node} ${c.status}`),
    ['ranch/bravo pending', 'ranch/bravo approved', 'farm/bravo approved', 'ranch/bravo approved'],
  );
  assert.deepEqual(
    g.assignmentsOwed().map((r) => `${r.site}/${r.node} ${r.assignmentState}`),
    ['ranch/bravo publish'],
  );
  g.setAssignmentState('ranch', 'bravo', 'retained');
  assert.deepEqual(g.assignmentsOwed(), []);
  // [FM-ASSIGN-5] A birth under the assigned key but another zone is not the assignment applied; one in the zone is.
  assert.equal(g.announced('farm', 'bravo', 'west'), undefined);
  assert.equal(g.announced('ranch', 'bravo', 'east'), undefined);
  assert.equal(g.announced('farm', 'bravo', 'east')?.assignmentState, 'clear');
  g.setAssignmentState('ranch', 'bravo', null);
  assert.equal(g.announced('farm', 'bravo', 'east'), undefined, 'cleared once');
  assert.equal(g.get('ranch', 'bravo')?.assignedSite, 'farm', 'the assignment stays on record');
});

test('registration gate: an assignment equal to what the node announced is a plain approval; a zone alone keeps the key', () => {
  const { g, clock } = gate('approve');
  g.start([]);
  g.admit('ranch', 'bravo', birth(clock));
  g.admit('ranch', 'charlie', birth(clock));
  const plain = g.approve('ranch', 'bravo', 'ada', { site: 'ranch', zone: 'west' });
  assert.deepEqual([plain.assignedSite, plain.assignedZone, plain.assignmentState], [null, null, null]);
  const zoned = g.approve('ranch', 'charlie', 'ada', { zone: 'east' });
  assert.deepEqual([zoned.assignedSite, zoned.assignedZone, zoned.assignmentState], ['ranch', 'east', 'publish']);
  assert.equal(g.admit('ranch', 'charlie'), true, 'same key: admitted');
  assert.equal(g.announced('ranch', 'charlie', 'west'), undefined, 'still in its old zone');
  assert.equal(g.announced('ranch', 'charlie', 'east')?.assignmentState, 'clear');
  // A plain approval again withdraws an assignment: its retained message is owed a clearing.
  g.setAssignmentState('ranch', 'charlie', 'retained');
  const withdrawn = g.approve('ranch', 'charlie', 'ada');
  assert.deepEqual([withdrawn.assignedSite, withdrawn.assignmentState], [null, 'clear']);
});

test('registration gate: an assignment is refused in open mode, without a zone the hub knows, or onto another registration', () => {
  assert.throws(() => gate('open').g.approve('ranch', 'bravo', 'ada', { site: 'farm' }), {
    code: 'FM_REQUEST_INVALID',
    message: /registration.mode is open/,
  });
  const { g, clock } = gate('approve');
  g.start([]);
  assert.throws(() => g.approve('ranch', 'never-seen', 'ada', { site: 'farm' }), {
    code: 'FM_REQUEST_INVALID',
    message: /zone: ranch\/never-seen has not announced itself yet/,
  });
  assert.equal(g.approve('ranch', 'never-seen', 'ada', { site: 'farm', zone: 'east' }).assignmentState, 'publish', 'with a zone: fine');
  g.admit('ranch', 'bravo', birth(clock));
  g.admit('farm', 'bravo', birth(clock));
  assert.throws(() => g.approve('ranch', 'bravo', 'ada', { site: 'farm' }), {
    code: 'FM_REQUEST_INVALID',
    message: /site: farm\/bravo is a registration of its own \(pending\)/,
  });
  assert.equal(g.get('ranch', 'bravo')?.status, 'pending', 'nothing decided');
});

test('registration gate: a database of an older hub gains the assignment columns; an assignment survives a restart (SQLite)', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'fieldmesh-registration-migrate-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'hub.db');
  // The table as the first release made it, with one pending node.
  const old = new Database(path);
  old.exec(`CREATE TABLE node_registrations (site TEXT NOT NULL, node TEXT NOT NULL, status TEXT NOT NULL, zone TEXT,
    agent_version TEXT, boot_time INTEGER, config_version TEXT, first_seen INTEGER, last_seen INTEGER, births INTEGER NOT NULL,
    frames_ignored INTEGER NOT NULL, decided_by TEXT, decided_at INTEGER, origin TEXT, PRIMARY KEY (site, node));
    CREATE TABLE registration_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    INSERT INTO registration_meta VALUES ('mode', 'approve');
    INSERT INTO node_registrations VALUES ('ranch', 'bravo', 'pending', 'west', '0.1.0', 1, 'abc', 2, 3, 1, 7, NULL, NULL, NULL);`);
  old.close();

  let store = createSqliteRegistrationStore({ path });
  let run = gate('approve', store);
  run.g.start([]);
  const kept = run.g.get('ranch', 'bravo');
  assert.deepEqual(
    [kept?.status, kept?.framesIgnored, kept?.assignedSite, kept?.assignedZone, kept?.assignmentState],
    ['pending', 7, null, null, null],
  );
  run.g.approve('ranch', 'bravo', 'ada', { site: 'farm', zone: 'east' });
  run.g.setAssignmentState('ranch', 'bravo', 'retained');
  store.close();

  store = createSqliteRegistrationStore({ path });
  run = gate('approve', store);
  run.g.start([]);
  assert.equal(run.g.admit('farm', 'bravo'), true);
  assert.equal(run.g.admit('ranch', 'bravo'), false);
  assert.equal(run.g.announced('farm', 'bravo', 'east')?.assignmentState, 'clear', 'the retained assignment is still owed its clearing');
  store.close();
  store = createSqliteRegistrationStore({ path });
  assert.equal(store.list().find((r) => r.site === 'ranch')?.assignmentState, 'clear');
  store.close();
});
