// The node's side of the hub's assignment [FM-ASSIGN-1..4]: the kept file (durable, validated, an unreadable one
// ignored), the identity applied at start with the state dir moved once (a crash between keeping and moving
// finishes at the next start; a dir already at the target is kept aside), and the listener: a bad assignment is
// refused and counted with nothing changed, one equal to the running identity is nothing to do, a new one is kept
// and handed over once.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type TestContext, test } from 'node:test';
import { Registry } from 'prom-client';
import { waitFor } from '../../../test/kit/wait.js';
import { silentLogger } from '../../kit/index.js';
import { encodeAssignment } from '../../protocol/index.js';
import { createMemoryTransport, MemoryBroker } from '../../transport/index.js';
import { agentConfigSchema } from '../config.js';
import { recordingLogger } from '../store/store-test-kit.js';
import { resolveAssignedIdentity } from './assigned-identity.js';
import { createAssignmentListener } from './assignment-listener.js';
import { assignmentPath, loadAssignment, type StoredAssignment, saveAssignment } from './assignment-store.js';

function tempDir(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'fieldmesh-assignment-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const nodeYaml = (dataDir: string) => agentConfigSchema.parse({ dataDir, node: { id: 'bravo', site: 'ranch', zone: 'west' } });
const toFarm: StoredAssignment = { site: 'farm', zone: 'east', by: 'ada', at: 1_000, from: { site: 'ranch', zone: 'west' }, moved: false };

test('assignment store: kept durably in the dataDir after node.yaml identity; an unreadable file is ignored and logged', (t) => {
  const dir = tempDir(t);
  const yaml = { site: 'ranch', id: 'bravo' };
  assert.equal(loadAssignment(dir, yaml, silentLogger), undefined);
  saveAssignment(dir, yaml, toFarm);
  assert.equal(assignmentPath(dir, yaml), join(dir, 'assignment.ranch.bravo.json'));
  assert.deepEqual(loadAssignment(dir, yaml, silentLogger), toFarm);
  assert.deepEqual(readdirSync(dir), ['assignment.ranch.bravo.json'], 'no temporary file left behind');
  assert.equal(loadAssignment(dir, { site: 'ranch', id: 'charlie' }, silentLogger), undefined, "another node's is its own");

  const lines: string[] = [];
  writeFileSync(assignmentPath(dir, yaml), JSON.stringify({ ...toFarm, site: 'Farm' }));
  assert.equal(loadAssignment(dir, yaml, recordingLogger(lines)), undefined);
  assert.match(lines.join('\n'), /assignment\.ranch\.bravo\.json is unreadable \(site: .*\); running node.yaml's site and zone/);
  writeFileSync(assignmentPath(dir, yaml), '{');
  assert.equal(loadAssignment(dir, yaml, silentLogger), undefined);
});

test('assigned identity: at start the kept assignment replaces node.yaml site and zone and the state dir moves once', (t) => {
  const dir = tempDir(t);
  const local = nodeYaml(dir);
  assert.equal(resolveAssignedIdentity(local, silentLogger).config, local, 'no assignment: node.yaml as it is');

  mkdirSync(join(dir, 'ranch', 'bravo'), { recursive: true });
  writeFileSync(join(dir, 'ranch', 'bravo', 'outbox.db'), 'rows kept while pending');
  saveAssignment(dir, local.node, toFarm);
  const lines: string[] = [];
  const { config, assigned } = resolveAssignedIdentity(local, recordingLogger(lines));
  assert.deepEqual(config.node, { id: 'bravo', site: 'farm', zone: 'east' });
  assert.deepEqual(local.node, { id: 'bravo', site: 'ranch', zone: 'west' }, "node.yaml's config is untouched");
  assert.equal(assigned?.moved, true);
  assert.equal(readFileSync(join(dir, 'farm', 'bravo', 'outbox.db'), 'utf8'), 'rows kept while pending');
  assert.equal(existsSync(join(dir, 'ranch', 'bravo')), false);
  assert.equal(loadAssignment(dir, local.node, silentLogger)?.moved, true, 'the move is kept as done');
  assert.ok(lines.includes('identity assigned by the hub: site farm zone east (node.yaml says site ranch zone west)'), lines.join('\n'));

  // The next start: nothing moves again (a new dir under the old site, say, stays where it is).
  mkdirSync(join(dir, 'ranch', 'bravo'));
  assert.deepEqual(resolveAssignedIdentity(local, silentLogger).config.node.site, 'farm');
  assert.equal(existsSync(join(dir, 'ranch', 'bravo')), true);
  assert.equal(readFileSync(join(dir, 'farm', 'bravo', 'outbox.db'), 'utf8'), 'rows kept while pending');
});

test('assigned identity: a state dir already under the assigned site is kept aside, never merged', (t) => {
  const dir = tempDir(t);
  const local = nodeYaml(dir);
  mkdirSync(join(dir, 'ranch', 'bravo'), { recursive: true });
  mkdirSync(join(dir, 'farm', 'bravo'), { recursive: true });
  writeFileSync(join(dir, 'ranch', 'bravo', 'outbox.db'), 'pending');
  writeFileSync(join(dir, 'farm', 'bravo', 'outbox.db'), 'from an earlier life');
  saveAssignment(dir, local.node, toFarm);
  resolveAssignedIdentity(local, silentLogger);
  assert.equal(readFileSync(join(dir, 'farm', 'bravo', 'outbox.db'), 'utf8'), 'pending');
  const aside = readdirSync(join(dir, 'farm')).filter((n) => n.startsWith('bravo.replaced-'));
  assert.equal(aside.length, 1);
  assert.equal(readFileSync(join(dir, 'farm', aside[0] as string, 'outbox.db'), 'utf8'), 'from an earlier life');
});

async function listening(t: TestContext, identity = { site: 'ranch', zone: 'west', node: 'bravo' }) {
  const dir = tempDir(t);
  const broker = new MemoryBroker();
  const hub = createMemoryTransport(broker, { clientId: 'hub' });
  const node = createMemoryTransport(broker, { clientId: 'node' });
  hub.start();
  node.start();
  await waitFor(() => hub.connected && node.connected, { what: 'both connected' });
  t.after(async () => {
    await node.close();
    await hub.close();
  });
  const registry = new Registry();
  const lines: string[] = [];
  const assigned: StoredAssignment[] = [];
  const listener = createAssignmentListener({
    transport: node,
    prefix: 'fieldmesh',
    identity,
    nodeYaml: { site: 'ranch', id: 'bravo' },
    dataDir: dir,
    logger: recordingLogger(lines),
    registry,
    onAssigned: (a) => assigned.push(a),
  });
  const count = async (result: string) =>
    (await registry.getSingleMetric('fieldmesh_agent_assignments_total')?.get())?.values.find((v) => v.labels.result === result)?.value;
  return { dir, hub, listener, lines, assigned, count };
}

test('assignment listener: a retained assignment on its own topic is kept on disk and handed over once', async (t) => {
  const { dir, hub, listener, lines, assigned, count } = await listening(t);
  await hub.publish('fieldmesh/_hub/assign/ranch/bravo', encodeAssignment({ site: 'farm', zone: 'east', by: 'ada', at: 7 }), {
    qos: 1,
    retain: true,
  });
  await hub.publish('fieldmesh/_hub/assign/ranch/charlie', encodeAssignment({ site: 'farm', zone: 'x', by: 'ada', at: 7 }), {
    qos: 1,
    retain: true,
  });
  listener.start();
  await waitFor(() => assigned.length === 1, { what: 'assignment handed over' });
  assert.deepEqual(assigned[0], { site: 'farm', zone: 'east', by: 'ada', at: 7, from: { site: 'ranch', zone: 'west' }, moved: false });
  assert.deepEqual(loadAssignment(dir, { site: 'ranch', id: 'bravo' }, silentLogger), assigned[0]);
  assert.match(
    lines.join('\n'),
    /identity assigned by the hub: site farm zone east \(it ran as site ranch zone west\); restarting under it/,
  );
  assert.equal(await count('applied'), 1);
  // A second one while the agent restarts waits for the next agent; a cleared one is nothing.
  assert.equal(listener.accept(encodeAssignment({ site: 'orchard', zone: 'north', by: 'ada', at: 8 })), 'ignored');
  assert.equal(listener.accept(new Uint8Array()), 'cleared');
  assert.equal(assigned.length, 1);
  listener.stop();
});

test('assignment listener: a bad assignment is refused with a log line and a count, nothing else changes', async (t) => {
  const { dir, listener, lines, assigned, count } = await listening(t);
  const bad = new TextEncoder().encode(JSON.stringify({ site: 'Farm!', zone: 'east', by: 'ada', at: 7 }));
  assert.equal(listener.accept(bad), 'refused');
  assert.equal(listener.accept(new TextEncoder().encode('not json')), 'refused');
  assert.equal(await count('refused'), 2);
  assert.deepEqual(assigned, []);
  assert.deepEqual(readdirSync(dir), [], 'nothing kept');
  assert.match(
    lines.join('\n'),
    /identity: FM_ASSIGNMENT_INVALID: assignment refused: site: expected an id.*; the node keeps site ranch zone west/,
  );
});

test('assignment listener: an assignment equal to the identity it runs under (replayed after a restart) is nothing to do', async (t) => {
  const { dir, listener, assigned, count } = await listening(t, { site: 'farm', zone: 'east', node: 'bravo' });
  assert.equal(listener.topic, 'fieldmesh/_hub/assign/farm/bravo');
  assert.equal(listener.accept(encodeAssignment({ site: 'farm', zone: 'east', by: 'ada', at: 7 })), 'unchanged');
  assert.equal(await count('unchanged'), 1);
  assert.deepEqual(assigned, []);
  assert.deepEqual(readdirSync(dir), []);
});
