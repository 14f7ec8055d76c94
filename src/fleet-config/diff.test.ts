// Diff of the configuration repository: leaf changes with the file that set the new value, nodes added
// and removed, list items matched by their identity key (!merge, !append), two git revisions read with
// Debian's git (no checkout), and the live/restart table.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, test } from 'node:test';
import {
  diffConfig,
  diffRenderedNodes,
  LIVE_KEYS,
  liveOrRestart,
  loadSource,
  parseConfigRepo,
  readGitRevisionFiles,
  renderAllNodes,
} from './index.js';

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function render(files: Record<string, string>) {
  return renderAllNodes(parseConfigRepo(new Map(Object.entries(files)), 'test'));
}

const BASE = {
  'fleet.yaml': [
    'publish: {tick: 2s}',
    'critical:',
    '  - {match: battery_soc, deadband: 1}',
    '  - {match: dc_voltage, deadband: 0.05}',
    'collectors:',
    '  - {name: host, type: host}',
    '  - {name: cam-a, type: prometheus, url: "http://10.0.0.1:9100/metrics"}',
    '  - {name: cam-b, type: prometheus, url: "http://10.0.0.2:9100/metrics"}',
    '',
  ].join('\n'),
  'sites/north.yaml': 'store: {retention: 7d}\n',
  'nodes/n1.yaml': 'node: {id: n1, site: north, zone: z}\n',
  'nodes/n2.yaml': 'node: {id: n2, site: north, zone: z}\n',
};

test('config diff: a changed leaf carries old and new value and the file and line that set the new one', () => {
  const changed = { ...BASE, 'sites/north.yaml': 'store: {retention: 14d}\ncritical: !merge\n  - {match: dc_voltage, deadband: 0.02}\n' };
  const diffs = diffRenderedNodes(render(BASE), render(changed));
  assert.deepEqual(
    diffs.map((d) => [d.nodeId, d.status]),
    [
      ['n1', 'changed'],
      ['n2', 'changed'],
    ],
  );
  const n1 = diffs[0];
  assert.deepEqual(
    n1?.changes.map((c) => [c.path, c.change, c.from, c.to, c.setBy?.file, c.setBy?.line, c.apply]),
    [
      ['critical[match=dc_voltage].deadband', 'changed', 0.05, 0.02, 'sites/north.yaml', 3, 'live'],
      ['store.retention', 'changed', '7d', '14d', 'sites/north.yaml', 1, 'restart'],
    ],
  );
  assert.equal(n1?.restart, true, 'the store takes its retention when it opens');
});

test('config diff: removing a collector in the middle changes only that item (list items matched by name)', () => {
  const removed = {
    ...BASE,
    'nodes/n2.yaml': 'node: {id: n2, site: north, zone: z}\ncollectors: !merge\n  - {name: cam-a, $delete: true}\n',
  };
  const [n1, n2] = diffRenderedNodes(render(BASE), render(removed));
  assert.equal(n1?.status, 'unchanged');
  assert.deepEqual(
    n2?.changes.map((c) => [c.path, c.change, c.setBy?.file]),
    [
      ['collectors[name=cam-a].name', 'removed', 'fleet.yaml'],
      ['collectors[name=cam-a].type', 'removed', 'fleet.yaml'],
      ['collectors[name=cam-a].url', 'removed', 'fleet.yaml'],
    ],
  );
  const appended = {
    ...BASE,
    'sites/north.yaml': 'collectors: !append\n  - {name: cam-c, type: prometheus, url: "http://10.0.0.3:9100/metrics"}\n',
  };
  const [a1] = diffRenderedNodes(render(BASE), render(appended));
  assert.deepEqual(
    a1?.changes.filter((c) => c.change === 'added').map((c) => [c.path, c.setBy?.file, c.setBy?.line]),
    [
      ['collectors[name=cam-c].name', 'sites/north.yaml', 2],
      ['collectors[name=cam-c].type', 'sites/north.yaml', 2],
      ['collectors[name=cam-c].url', 'sites/north.yaml', 2],
    ],
  );
  // The site's retention went away with the rewrite: shown removed, where it was.
  assert.deepEqual(
    a1?.changes.filter((c) => c.change === 'removed').map((c) => [c.path, c.from, c.setBy?.file]),
    [['store.retention', '7d', 'sites/north.yaml']],
  );
});

test('config diff: nodes added and removed; a restart key marks the node', () => {
  const next = {
    ...BASE,
    'nodes/n3.yaml': 'node: {id: n3, site: north, zone: z}\n',
    'fleet.yaml': `${BASE['fleet.yaml']}mqtt: {qos: 0}\n`,
  };
  delete (next as Record<string, string>)['nodes/n2.yaml'];
  const diffs = diffRenderedNodes(render(BASE), render(next));
  assert.deepEqual(
    diffs.map((d) => [d.nodeId, d.status, d.restart]),
    [
      ['n1', 'changed', true],
      ['n2', 'removed', false],
      ['n3', 'added', true],
    ],
  );
  assert.deepEqual(
    diffs[0]?.changes.map((c) => [c.path, c.apply]),
    [['mqtt.qos', 'restart']],
  );
});

test("config live keys: the node's table (collectors, critical, zones, services) is live; the rest restarts", () => {
  assert.deepEqual(LIVE_KEYS, ['collectors', 'critical', 'zones', 'services']);
  for (const path of [
    'collectors[name=cam-a].url',
    'collectors[2].interval',
    'critical[0].deadband',
    'critical[match=x].maxSilence',
    'zones[id=a].voters[0]',
    'services[name=d].command',
    'collectors',
  ])
    assert.equal(liveOrRestart(path), 'live', path);
  for (const path of [
    'store.retention',
    'log.level',
    'store.rollups[0].retention',
    'store.maxBytes',
    'publish.tick',
    'mqtt.url',
    'awareness.transport',
    'node.zone',
    'outbox.historyInterval',
    'storeretention',
    'criticalx',
    '(root)',
  ])
    assert.equal(liveOrRestart(path), 'restart', path);
});

function sh(dir: string, ...args: string[]): string {
  return execFileSync('git', ['-C', dir, ...args], {
    encoding: 'utf8',
    env: {
      ...process.env,
      GIT_AUTHOR_NAME: 't',
      GIT_AUTHOR_EMAIL: 't@example.net',
      GIT_COMMITTER_NAME: 't',
      GIT_COMMITTER_EMAIL: 't@example.net',
    },
  });
}

function write(dir: string, files: Record<string, string>): void {
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
}

test('config diff: two git revisions of a folder inside a repository, read without a checkout', () => {
  const root = mkdtempSync(join(tmpdir(), 'fm-diff-git-'));
  dirs.push(root);
  sh(root, 'init', '-q');
  const dir = join(root, 'fleet');
  write(dir, BASE);
  write(root, { 'other.yaml': 'not: config\n' });
  sh(root, 'add', '.');
  sh(root, 'commit', '-qm', 'fleet');
  write(dir, { 'sites/north.yaml': 'store: {retention: 90d}\n' });
  sh(root, 'commit', '-qam', 'site');
  write(dir, { 'sites/north.yaml': 'store: {retention: 1d}\n' }); // the working tree, not committed
  const files = readGitRevisionFiles(dir, 'HEAD~1');
  assert.deepEqual([...files.keys()].sort(), ['fleet.yaml', 'nodes/n1.yaml', 'nodes/n2.yaml', 'sites/north.yaml']);
  const from = renderAllNodes(loadSource({ kind: 'git', dir, rev: 'HEAD~1' }) as never);
  const to = renderAllNodes(loadSource({ kind: 'git', dir, rev: 'HEAD' }) as never);
  const work = renderAllNodes(loadSource({ kind: 'dir', dir }) as never);
  assert.deepEqual(
    diffRenderedNodes(from, to)[0]?.changes.map((c) => [c.path, c.from, c.to]),
    [['store.retention', '7d', '90d']],
  );
  assert.deepEqual(
    diffRenderedNodes(to, work)[0]?.changes.map((c) => [c.path, c.from, c.to]),
    [['store.retention', '90d', '1d']],
  );
  assert.throws(
    () => readGitRevisionFiles(dir, 'no-such-rev'),
    (err: Error & { code?: string }) => err.code === 'FM_FLEET_CONFIG_UNREADABLE' && /no revision "no-such-rev"/.test(err.message),
  );
});

test('config diff: a change touching an http_push collector makes every collectors change wait for a restart (the node cannot add routes live)', () => {
  const cfg = (collectors: unknown[]) => ({ node: { id: 'n', site: 's', zone: 'z' }, collectors });
  const host = { name: 'host', type: 'host' };
  const push = { name: 'push', type: 'http_push' };
  const live = diffConfig(cfg([host]), cfg([{ ...host, interval: '5s' }]));
  assert.deepEqual(
    live.map((c) => c.apply),
    ['live'],
  );
  const added = diffConfig(cfg([host]), cfg([{ ...host, interval: '5s' }, push]));
  assert.ok(added.length >= 2);
  assert.ok(
    added.every((c) => c.apply === 'restart'),
    JSON.stringify(added),
  );
});
