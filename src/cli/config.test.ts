// fieldmesh config validate|render|nodes through main(): exit codes 0 / 1 / 2, every problem listed,
// the annotated YAML and the JSON shape of render, on the shipped example and on repositories made here.

import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, test } from 'node:test';
import { main } from './main.js';

const EXAMPLE = new URL('../../examples/fleet-as-code', import.meta.url).pathname;
const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  return { io: { out: (t: string) => out.push(t), err: (t: string) => err.push(t) }, out, err };
}

function makeRepo(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'fm-config-'));
  dirs.push(dir);
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
  return dir;
}

test('cli config validate: the shipped example is valid (exit 0)', async () => {
  const c = capture();
  assert.equal(await main(['config', 'validate', EXAMPLE], c.io), 0, c.err.join('\n'));
  assert.match(c.out.join('\n'), /valid \(pair layout\): 5 node\(s\), 2 site\(s\), 1 consensus zone\(s\), 1 alert file\(s\)/);
});

test('cli config validate: every problem is listed with file:line:col (exit 1); an unreadable folder exits 2', async () => {
  const dir = makeRepo({
    'fleet.yaml': 'publish:\n  tick: soon\n',
    'nodes/a.yaml': 'node: {id: a, site: s, zone: z}\nmqtt: {urll: x}\n',
    'nodes/b.yaml': 'node: {id: c, site: s, zone: z}\n',
    'alerts/r.yaml': 'groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: holt_winters(x[5m], 0.5, 0.5) > 1\n',
  });
  const c = capture();
  assert.equal(await main(['config', 'validate', dir], c.io), 1);
  const lines = c.err.join('\n').split('\n');
  assert.ok(
    lines.some((l) => l.startsWith('fleet.yaml:2:9: publish.tick: expected a duration')),
    lines.join('\n'),
  );
  assert.ok(lines.includes('nodes/a.yaml:2:8: mqtt.urll: unknown key'), lines.join('\n'));
  assert.ok(
    lines.some((l) => l.startsWith('nodes/b.yaml:1:12: node.id: node.id is "c"')),
    lines.join('\n'),
  );
  // The hub's own rule loader checks expressions: holt_winters() is a function fieldmesh does not evaluate.
  assert.ok(
    lines.some((l) => l.startsWith('alerts/r.yaml:5:15: groups[0].rules[0].expr:') && l.includes('function holt_winters is not supported')),
    lines.join('\n'),
  );
  assert.equal(lines.at(-1), `4 problem(s) in ${dir}`);
  const missing = capture();
  assert.equal(await main(['config', 'validate', join(dir, 'nope')], missing.io), 2);
  assert.match(missing.err.join('\n'), /FM_FLEET_CONFIG_UNREADABLE: .*nope: no such directory/);
});

test('cli config render: YAML with each leaf annotated by its file and line; --json gives config, provenance and hash', async () => {
  const c = capture();
  assert.equal(await main(['config', 'render', 'valley-01', '--repo', EXAMPLE], c.io), 0, c.err.join('\n'));
  const text = c.out.join('\n');
  assert.match(text, /^# node valley-01 \(site valley, zone valley-floor\) sha256:[0-9a-f]{64}$/m);
  assert.match(text, /^ {2}retention: 90d # site-config-valley\/site\.yaml:7$/m);
  assert.match(text, /^ {2}url: mqtts:\/\/hub\.example\.net:8883 # fleet-config\/fleet\.yaml:4$/m);
  const j = capture();
  assert.equal(await main(['config', 'render', 'valley-01', '--repo', EXAMPLE, '--json'], j.io), 0);
  const json = JSON.parse(j.out.join('\n')) as {
    config: { store: { retention: string } };
    provenance: Record<string, unknown>;
    hash: string;
  };
  assert.equal(json.config.store.retention, '90d');
  assert.deepEqual(json.provenance['store.retention'], { layer: 'site', file: 'site-config-valley/site.yaml', line: 7, col: 14 });
  assert.match(json.hash, /^[0-9a-f]{64}$/);
  const unknown = capture();
  assert.equal(await main(['config', 'render', 'nobody', '--repo', EXAMPLE], unknown.io), 2);
  assert.match(unknown.err.join('\n'), /FM_FLEET_CONFIG_NODE_UNKNOWN: no node "nobody"/);
});

test('cli config nodes: the nodes with site, zone and hash', async () => {
  const c = capture();
  assert.equal(await main(['config', 'nodes', EXAMPLE], c.io), 0);
  assert.equal(c.out[0], 'NODE       SITE    ZONE          HASH          VALID');
  assert.equal(c.out.length, 6);
  assert.match(c.out[4] as string, /^valley-01 {2}valley {2}valley-floor {2}[0-9a-f]{12} {2}yes$/);
});
