// fieldmesh config diff|plan through main(): exit 0 without change, 1 with changes, 2 for an invalid side
// (its problems listed), an unknown revision or bad usage; the text and JSON of plan on a git repository
// made here.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, test } from 'node:test';
import { main } from './main.js';

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  return { io: { out: (t: string) => out.push(t), err: (t: string) => err.push(t) }, out, err };
}

function write(dir: string, files: Record<string, string>): void {
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
}

const GIT_ENV = {
  ...process.env,
  GIT_AUTHOR_NAME: 't',
  GIT_AUTHOR_EMAIL: 't@example.net',
  GIT_COMMITTER_NAME: 't',
  GIT_COMMITTER_EMAIL: 't@example.net',
};
const git = (dir: string, ...args: string[]) => execFileSync('git', ['-C', dir, ...args], { encoding: 'utf8', env: GIT_ENV });

const FLEET = [
  'publish: {tick: 2s}',
  'critical:',
  '  - {match: battery_soc, deadband: 0.5}',
  '  - {match: dc_voltage, deadband: 0.05}',
  'collectors:',
  '  - {name: battery, type: sim_battery}',
  '',
].join('\n');

function repo(): string {
  const dir = mkdtempSync(join(tmpdir(), 'fm-cli-diff-'));
  dirs.push(dir);
  git(dir, 'init', '-q');
  write(dir, { 'fleet.yaml': FLEET, 'nodes/b1.yaml': 'node: {id: b1, site: north, zone: z}\n' });
  git(dir, 'add', '.');
  git(dir, 'commit', '-qm', 'fleet');
  return dir;
}

test('cli config diff: no change exits 0; a change exits 1 with the path, values and file', async () => {
  const dir = repo();
  const c = capture();
  assert.equal(await main(['config', 'diff', '--repo', dir], c.io), 0, c.err.join('\n'));
  assert.match(c.out.join('\n'), /0 node\(s\) changed, 0 added, 0 removed, 1 unchanged/);
  write(dir, { 'fleet.yaml': FLEET.replace('deadband: 0.05', 'deadband: 0.01') });
  const d = capture();
  assert.equal(await main(['config', 'diff', '--repo', dir], d.io), 1, d.err.join('\n'));
  assert.ok(d.out.includes('  ~ critical[match=dc_voltage].deadband: 0.05 -> 0.01  (fleet.yaml:4)'), d.out.join('\n'));
  git(dir, 'commit', '-qam', 'tighter');
  const e = capture();
  assert.equal(await main(['config', 'diff', '--repo', dir, 'HEAD~1', 'HEAD', '--json'], e.io), 1);
  const json = JSON.parse(e.out.join('\n'));
  assert.equal(json.changed, true);
  assert.deepEqual(json.nodes[0].changes[0].path, 'critical[match=dc_voltage].deadband');
});

test('cli config plan: live or restart per change, and the link cost before and after', async () => {
  const dir = repo();
  write(dir, { 'fleet.yaml': `${FLEET.replace('deadband: 0.05', 'deadband: 0.01')}mqtt: {qos: 0}\n` });
  const c = capture();
  assert.equal(await main(['config', 'plan', '--repo', dir], c.io), 1, c.err.join('\n'));
  const text = c.out.join('\n');
  assert.match(text, /node b1 \(site north, zone z\): 2 change\(s\); needs a restart; link [\d.]+ B\/s -> [\d.]+ B\/s/);
  assert.match(text, /critical\[match=dc_voltage\]\.deadband: 0\.05 -> 0\.01 {2}\(fleet\.yaml:4\) {2}\[live\]/);
  assert.match(text, /mqtt\.qos: 0 {2}\(fleet\.yaml:7\) {2}\[restart\]/);
  const j = capture();
  assert.equal(await main(['config', 'plan', '--repo', dir, '--json'], j.io), 1);
  const node = JSON.parse(j.out.join('\n')).nodes[0];
  assert.ok(node.linkAfter.liveBps > node.linkBefore.liveBps, JSON.stringify([node.linkBefore, node.linkAfter]));
  assert.equal(node.linkAfter.criticalSeries, 2);
});

test('cli config diff: an invalid side exits 2 with its problems; so do an unknown revision, a folder that is no git repository, and bad usage', async () => {
  const dir = repo();
  write(dir, { 'fleet.yaml': `${FLEET}publish: {tick: soon}\n` });
  const c = capture();
  assert.equal(await main(['config', 'diff', '--repo', dir], c.io), 2);
  assert.match(c.err.join('\n'), /working tree\): \d problem\(s\)/);
  assert.match(c.err.join('\n'), /fleet\.yaml:\d+:\d+: /);
  const r = capture();
  assert.equal(await main(['config', 'diff', '--repo', dir, 'nope', 'HEAD'], r.io), 2);
  assert.match(r.err.join('\n'), /no revision "nope"/);
  const plain = mkdtempSync(join(tmpdir(), 'fm-cli-diff-plain-'));
  dirs.push(plain);
  write(plain, { 'fleet.yaml': FLEET, 'nodes/b1.yaml': 'node: {id: b1, site: north, zone: z}\n' });
  const p = capture();
  assert.equal(await main(['config', 'diff', '--repo', plain], p.io), 2);
  assert.match(p.err.join('\n'), /not a git repository/);
  const u = capture();
  assert.equal(await main(['config', 'diff', '--from', plain], u.io), 2);
  // Two folders: the plain one against the repository's working tree (the same node, one more setting).
  const f = capture();
  write(dir, { 'fleet.yaml': FLEET.replace('tick: 2s', 'tick: 1s') });
  assert.equal(await main(['config', 'plan', '--from', plain, '--to', dir], f.io), 1, f.err.join('\n'));
  assert.match(f.out.join('\n'), /publish\.tick: 2s -> 1s .*\[restart\]/);
});
