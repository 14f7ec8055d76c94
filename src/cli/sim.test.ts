// `fieldmesh sim` through the CLI: a small scenario writes the report files and prints one line per design;
// bad overrides and unknown scenarios are one clear line and exit 2.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { main } from './main.js';

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  return { io: { out: (t: string) => out.push(t), err: (t: string) => err.push(t) }, out, err };
}

test('cli sim: a scenario file writes report.json, report.md and the plots, and prints a line per design', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'fm-cli-sim-'));
  const file = join(dir, 'tiny.yaml');
  writeFileSync(
    file,
    'name: tiny\nnodes: 4\ndurationS: 20\nwarmupS: 6\nloss: 0.05\nfaults:\n  - {atS: 10, action: kill, nodes: [node002]}\n',
  );
  const c = capture();
  assert.equal(
    await main(['sim', '--scenario', file, '--out', join(dir, 'out'), '--no-baseline', '--no-progress'], c.io),
    0,
    c.err.join('\n'),
  );
  assert.match(c.out[0] ?? '', /^fieldmesh udp: [\d.]+ kbps on air, airtime [\d.]+ %/);
  assert.match(c.out[1] ?? '', /^fieldmesh mqtt digest: /);
  for (const f of ['report.json', 'report.md', 'bytes-per-second.svg', 'completeness.svg', 'age-p99.svg'])
    assert.ok(existsSync(join(dir, 'out', f)), f);
  const report = JSON.parse(readFileSync(join(dir, 'out', 'report.json'), 'utf8')) as {
    designs: { name: string; measures: { detectionP99Ms: number } }[];
  };
  assert.deepEqual(
    report.designs.map((d) => d.name),
    ['fieldmesh udp', 'fieldmesh mqtt digest'],
  );
  assert.ok((report.designs[0]?.measures.detectionP99Ms ?? 0) > 0, 'the kill was detected');
});

test('cli sim: a bad override or an unknown scenario exits 2 with one line naming it', async () => {
  const a = capture();
  assert.equal(await main(['sim', '--nodes', 'many'], a.io), 2);
  assert.deepEqual(a.err, ['error: FM_CLI_USAGE: --nodes must be a positive integer, got "many"']);
  const b = capture();
  assert.equal(await main(['sim', '--scenario', '/nonexistent/x.yaml'], b.io), 2);
  assert.match(b.err.join('\n'), /x\.yaml/);
});
