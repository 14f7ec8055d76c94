import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatNodes, formatRun, formatSummary, parseTarget, parseWaves } from './config-hub.js';

test('config apply: --waves reads sizes then the rest, or a fixed size; anything else is a usage error', () => {
  assert.deepEqual(parseWaves('1,5,all'), [1, 5]);
  assert.deepEqual(parseWaves('2'), [2]);
  assert.deepEqual(parseWaves('size:10'), { size: 10 });
  for (const bad of ['0', '1,x', 'all,1', 'size:0', '']) assert.throws(() => parseWaves(bad), { code: 'FM_CLI_USAGE' }, bad);
});

test('config apply: --target takes the command targets and a JSON selector', () => {
  assert.deepEqual(parseTarget('all'), { all: true });
  assert.deepEqual(parseTarget('site:north'), { sites: ['north'] });
  assert.deepEqual(parseTarget('zone:z1'), { zones: ['z1'] });
  assert.deepEqual(parseTarget('node:north/n1'), { nodes: ['north/n1'] });
  assert.deepEqual(parseTarget('north/n*'), { match: 'north/n*' });
  assert.deepEqual(parseTarget('{"states": ["online"]}'), { states: ['online'] });
  assert.throws(() => parseTarget('node:n1'), { code: 'FM_CLI_USAGE' });
  assert.throws(() => parseTarget('n1'), { code: 'FM_CLI_USAGE' });
});

test('config status: a refused revision is shown with every problem; a run with its waves and where it stopped', () => {
  const rev = (r: string, at: number) => ({ revision: r, commit: r, at });
  const text = formatSummary(
    {
      source: 'git:/repo@main',
      rollout: 'auto',
      lastRead: rev('bbbbbbbbbbbbbbbb', 9_000),
      lastGood: rev('aaaaaaaaaaaaaaaa', 1_000),
      lastRefused: {
        ...rev('bbbbbbbbbbbbbbbb', 9_000),
        problems: [{ file: 'fleet.yaml', line: 4, col: 5, path: 'x', message: 'unknown key' }],
      },
      refused: true,
      lastError: null,
      awaitingApply: false,
      nodes: { total: 2, states: { 'in-sync': 1, failed: 1, pending: 0 }, drift: 1 },
      lastRun: null,
    },
    10_000,
  );
  assert.match(text, /^REFUSED: bbbbbbbbbbbb \(1 problem; no node got anything from it\)$/m);
  assert.match(text, /^ {2}fleet\.yaml:4:5: x: unknown key$/m);
  assert.match(text, /^nodes: 2 \(1 in-sync, 1 failed\), 1 drifted$/m);
  const run = formatRun({
    id: 'r',
    state: 'stopped',
    startedAt: 0,
    finishedAt: 1_500,
    revision: 'aaaaaaaaaaaaaaaa',
    commit: 'aaaaaaaaaaaaaaaa',
    stoppedBy: 'wave 1: north/n1 failed (apply: boom)',
    waves: [
      { index: 0, state: 'failed', nodes: [{ site: 'north', node: 'n1', hash: 'c'.repeat(64), result: 'failed', error: 'apply: boom' }] },
      { index: 1, state: 'skipped', nodes: [{ site: 'north', node: 'n2', hash: 'd'.repeat(64), result: 'skipped' }] },
    ],
  });
  assert.match(run, /^apply aaaaaaaaaaaa: 2 waves, stopped in 1\.5 s$/m);
  assert.match(run, /^stopped at wave 1: north\/n1 failed \(apply: boom\)$/m);
  assert.match(run, /^2 +north\/n2 +skipped +dddddddddddd$/m);
});

test('config status: the DRIFT column says why: the node.yaml keys a hand edit set, or a hash the hub never issued', () => {
  const node = (name: string, driftReason: Parameters<typeof formatNodes>[0][number]['driftReason']) => ({
    site: 'north',
    node: name,
    state: 'in-sync',
    drift: driftReason !== null,
    driftReason,
    desired: { hash: 'a'.repeat(64), commit: null },
    reported: { kind: 'applied', hash: 'a'.repeat(64), at: 9_000, pendingRestart: [] },
  });
  const text = formatNodes(
    [
      node('n1', { kind: 'hand-edit', keys: ['collectors', 'store'], at: 9_000 }),
      node('n2', { kind: 'unissued-hash', hash: 'f'.repeat(64) }),
      node('n3', null),
    ],
    10_000,
  );
  const lines = text.split('\n');
  assert.match(lines[0] ?? '', /^NODE\s+STATE\s+DRIFT\s+DESIRED/);
  assert.match(lines[1] ?? '', /^north\/n1\s+in-sync\s+hand-edit: collectors, store\s+aaaaaaaaaaaa/);
  assert.match(lines[2] ?? '', /^north\/n2\s+in-sync\s+unissued hash ffffffffffff\s+aaaaaaaaaaaa/);
  assert.match(lines[3] ?? '', /^north\/n3\s+in-sync\s+aaaaaaaaaaaa/);
});
