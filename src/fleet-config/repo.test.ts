// The configuration repository: both layouts, every error class with its exact file:line:col, a corpus
// of invalid repositories each refused with its reason, consensus zones reaching their nodes with one
// hash, and the shipped example (examples/fleet-as-code) valid.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { zoneConfigHash } from '../protocol/index.js';
import {
  type ConfigRepoProblem,
  formatProblem,
  loadConfigRepo,
  parseConfigRepo,
  renderAllNodes,
  renderNode,
  renderValidConfigRepo,
  validateConfigRepo,
} from './index.js';

const repo = (files: Record<string, string>) => parseConfigRepo(new Map(Object.entries(files)), 'test');
const problemsOf = (files: Record<string, string>): string[] => validateConfigRepo(repo(files)).problems.map(formatProblem);
const kinds = (files: Record<string, string>): ConfigRepoProblem['kind'][] => validateConfigRepo(repo(files)).problems.map((p) => p.kind);

const NODE = (id: string, site = 'ridge', zone = 'crest') => `node: {id: ${id}, site: ${site}, zone: ${zone}}\n`;

const PLAIN = {
  'fleet.yaml': 'store:\n  retention: 30d\ncollectors:\n  - name: host\n    type: host\n',
  'zones/crest.yaml': 'awareness:\n  zoneOnly: true\n',
  'sites/ridge.yaml': 'name: Ridge\nlat: 45.8\nlon: 6.8\nstore:\n  retention: 14d\n',
  'nodes/r1.yaml': NODE('r1'),
  'nodes/r2.yaml': `${NODE('r2')}store:\n  retention: 7d\n`,
  'nodes/v1.yaml': NODE('v1', 'valley', 'floor'),
};

test('fleet-config repo: a plain folder merges fleet, zone, site and node, each leaf with the file and line that set it', () => {
  const r = repo(PLAIN);
  assert.equal(r.layout, 'plain');
  assert.deepEqual(r.siteMetadata, [{ id: 'ridge', name: 'Ridge', lat: 45.8, lon: 6.8 }]);
  const r1 = renderNode(r, 'r1');
  assert.deepEqual(r1.problems, []);
  assert.deepEqual(r1.config, {
    node: { id: 'r1', site: 'ridge', zone: 'crest' },
    store: { retention: '14d' },
    collectors: [{ name: 'host', type: 'host' }],
    awareness: { zoneOnly: true },
  });
  assert.deepEqual(r1.provenance['store.retention'], { layer: 'site', file: 'sites/ridge.yaml', line: 5, col: 14 });
  assert.deepEqual(r1.provenance['collectors[0].type'], { layer: 'fleet', file: 'fleet.yaml', line: 5, col: 11 });
  assert.deepEqual(r1.provenance['awareness.zoneOnly'], { layer: 'zone', file: 'zones/crest.yaml', line: 2, col: 13 });
  assert.equal(r1.parsed?.store.retention, 14 * 86_400_000);
  assert.equal(renderNode(r, 'r2').provenance['store.retention']?.file, 'nodes/r2.yaml');
  // The valley node has no site or zone file: the fleet's values.
  assert.equal(renderNode(r, 'v1').config.store && (renderNode(r, 'v1').config.store as { retention: string }).retention, '30d');
  // The content address: the same config gives the same hash, another config another.
  assert.match(r1.configHash, /^[0-9a-f]{64}$/);
  assert.equal(renderNode(repo(PLAIN), 'r1').configHash, r1.configHash);
  assert.notEqual(renderNode(r, 'r2').configHash, r1.configHash);
});

test('fleet-config repo: a YAML syntax error is reported with file, line and column, and validation goes on', () => {
  const problems = problemsOf({
    ...PLAIN,
    'sites/ridge.yaml': 'store:\n  retention: [14d\n',
    'nodes/r2.yaml': `${NODE('r2')}mqtt: {urll: x}\n`,
  });
  assert.equal(problems.length, 2, problems.join('\n'));
  assert.match(problems[0] as string, /^nodes\/r2\.yaml:2:8: mqtt\.urll: unknown key$/);
  assert.match(problems[1] as string, /^sites\/ridge\.yaml:3:1: \(root\): /);
});

test('fleet-config repo: a schema error names the file that set the value, not the node file', () => {
  assert.deepEqual(problemsOf({ ...PLAIN, 'sites/ridge.yaml': 'store:\n  retention: soon\n' }), [
    'sites/ridge.yaml:2:14: store.retention: expected a duration like "500ms", "2s", "5m" or a number of ms, got "soon"',
  ]);
});

test('fleet-config repo: unknown keys are refused where they are written, once however many nodes inherit them', () => {
  assert.deepEqual(problemsOf({ ...PLAIN, 'fleet.yaml': 'publish:\n  tick: 2s\n  tik: 3s\nretention: 30d\n' }), [
    'fleet.yaml:3:3: publish.tik: unknown key',
    'fleet.yaml:4:1: retention: unknown key',
  ]);
});

test('fleet-config repo: a required key missing is reported on the node file', () => {
  const problems = problemsOf({ ...PLAIN, 'nodes/r1.yaml': `${NODE('r1')}collectors: !append\n  - name: bus\n    type: mqtt\n` });
  assert.deepEqual(problems, ['nodes/r1.yaml:3:5: collectors[1].topics: Invalid input: expected array, received undefined']);
});

test('fleet-config repo: a bad list merge names the file, line and path of the item', () => {
  assert.deepEqual(problemsOf({ ...PLAIN, 'sites/ridge.yaml': 'collectors: !merge\n  - type: host\n    interval: 5s\n' }), [
    'sites/ridge.yaml:2:5: collectors[0]: an item of a !merge list needs its name (this item has none); add name: to it',
  ]);
  assert.deepEqual(problemsOf({ ...PLAIN, 'sites/ridge.yaml': 'store: !append\n  retention: 1d\n' }), [
    'sites/ridge.yaml:2:3: store: !append applies to a list, not to a mapping',
  ]);
  assert.deepEqual(problemsOf({ ...PLAIN, 'sites/ridge.yaml': 'collectors: !concat []\n' }), [
    'sites/ridge.yaml:1:21: collectors: unknown tag !concat; lists take !replace, !append or !merge',
  ]);
});

test('fleet-config repo: collector names are unique per node, the default <type>-<index> included', () => {
  const problems = problemsOf({
    ...PLAIN,
    'nodes/r1.yaml': `${NODE('r1')}collectors: !append\n  - type: host\n  - {type: host, name: host-1}\n`,
  });
  assert.deepEqual(problems, [
    'nodes/r1.yaml:4:24: collectors[2].name: collector name "host-1" is taken by collectors[1]; names are unique per node',
  ]);
});

test('fleet-config repo: node identity: missing, not matching its file name, duplicated across site repositories', () => {
  assert.deepEqual(problemsOf({ ...PLAIN, 'nodes/r3.yaml': 'store: {retention: 1d}\n' }), [
    'nodes/r3.yaml:1:1: node: a node file must give node: {id: r3, site, zone}',
  ]);
  assert.deepEqual(problemsOf({ ...PLAIN, 'nodes/r3.yaml': 'node: {id: r4, site: ridge}\n' }), [
    'nodes/r3.yaml:1:7: node.zone: a node file must give node.zone',
  ]);
  assert.deepEqual(problemsOf({ ...PLAIN, 'nodes/r3.yaml': NODE('r4') }), [
    'nodes/r3.yaml:1:12: node.id: node.id is "r4" and the file is r3.yaml: name the file after the node',
  ]);
  assert.deepEqual(problemsOf({ ...PLAIN, 'fleet.yaml': 'node: {zone: x}\n' }), [
    "fleet.yaml:1:1: node: a node's identity (node: {id, site, zone}) belongs in its own nodes/<id>.yaml",
  ]);
  const pair = {
    'fleet-config/fleet.yaml': 'store: {retention: 30d}\n',
    'site-config-ridge/site.yaml': 'name: Ridge\n',
    'site-config-ridge/nodes/n1.yaml': NODE('n1'),
    'site-config-valley/site.yaml': 'name: Valley\n',
    'site-config-valley/nodes/n1.yaml': NODE('n1', 'valley'),
    'site-config-valley/nodes/n2.yaml': NODE('n2', 'ridge'),
  };
  assert.deepEqual(problemsOf(pair), [
    'site-config-valley/nodes/n1.yaml:1:12: node.id: node "n1" is defined already in site-config-ridge/nodes/n1.yaml',
    'site-config-valley/nodes/n2.yaml:1:22: node.site: node.site is "ridge" in the repository of site "valley" (site-config-valley)',
  ]);
});

const ZONE = [
  'awareness: {zoneOnly: true}',
  'consensus:',
  '  voters: [r1, r2]',
  '  cameras:',
  '    - {id: c1, node: r1}',
  '    - {id: c2, node: r2}',
  '  pumps:',
  '    - {id: p1, node: r2, driver: {type: sim}}',
  '',
].join('\n');

test('fleet-config repo: a consensus zone reaches every node it names, with the same zone hash, and no other node', () => {
  const r = repo({ ...PLAIN, 'zones/crest.yaml': ZONE });
  const { problems, nodes } = validateConfigRepo(r);
  assert.deepEqual(problems.map(formatProblem), []);
  const zonesOf = (id: string) => nodes.find((n) => n.nodeId === id)?.parsed?.zones ?? [];
  assert.deepEqual(
    zonesOf('r1').map((z) => z.id),
    ['crest'],
  );
  assert.equal(zoneConfigHash(zonesOf('r1')[0] as never), zoneConfigHash(zonesOf('r2')[0] as never));
  assert.deepEqual(zonesOf('v1'), []);
  const r1 = nodes.find((n) => n.nodeId === 'r1');
  assert.deepEqual(r1?.provenance['zones[0].id'], { layer: 'zone', file: 'zones/crest.yaml', line: 2, col: 1 });
  assert.deepEqual(r1?.provenance['zones[0].cameras[1].node'], { layer: 'zone', file: 'zones/crest.yaml', line: 6, col: 22 });
});

test('fleet-config repo: a zone naming a node that no node file defines is refused with file, line and path', () => {
  assert.deepEqual(problemsOf({ ...PLAIN, 'zones/crest.yaml': ZONE.replace('voters: [r1, r2]', 'voters: [r1, r2, r9]') }), [
    'zones/crest.yaml:3:20: consensus.voters[2]: zone "crest" names node "r9", which no nodes/r9.yaml defines',
  ]);
  assert.deepEqual(problemsOf({ ...PLAIN, 'zones/crest.yaml': ZONE.replace('{id: c2, node: r2}', '{id: c2, node: r5}') }), [
    'zones/crest.yaml:6:22: consensus.cameras[1].node: zone "crest" names node "r5", which no nodes/r5.yaml defines',
    'zones/crest.yaml:6:22: consensus.cameras[1].node: "r5" is not a voter of zone "crest" (voters: r1, r2)',
  ]);
  assert.deepEqual(problemsOf({ ...PLAIN, 'zones/crest.yaml': ZONE.replace('  voters', '  id: crest\n  voters') }), [
    'zones/crest.yaml:3:7: consensus.id: the file name gives the zone\'s id ("crest"); drop id',
  ]);
  assert.deepEqual(problemsOf({ ...PLAIN, 'nodes/r1.yaml': `${NODE('r1')}zones: []\n` }), [
    'nodes/r1.yaml:2:1: zones: consensus zones are defined in zones/<zone>.yaml under consensus:, and reach their nodes from there',
  ]);
});

test('fleet-config repo: alert rule files are checked for their shape', () => {
  assert.deepEqual(problemsOf({ ...PLAIN, 'alerts/a.yaml': 'groups:\n  - name: g\n    rules:\n      - alert: A\n        exp: x > 1\n' }), [
    'alerts/a.yaml:4:9: groups[0].rules[0].expr: expected an expression (a non-empty string)',
    'alerts/a.yaml:5:9: groups[0].rules[0].exp: unknown key; an alerting rule has alert, expr, for, labels, annotations',
  ]);
});

/** Invalid repositories, each refused (no node of it renders a parsed config) with its reason. */
const CORPUS: { name: string; files: Record<string, string>; kind: ConfigRepoProblem['kind']; reason: RegExp }[] = [
  {
    name: 'schema error',
    files: { 'fleet.yaml': 'publish: {tick: fast}\n' },
    kind: 'schema',
    reason: /publish\.tick: expected a duration/,
  },
  { name: 'wrong type', files: { 'sites/ridge.yaml': 'http: {port: 99999}\n' }, kind: 'schema', reason: /http\.port: Too big/ },
  { name: 'unknown key', files: { 'zones/crest.yaml': 'mqtt: {host: x}\n' }, kind: 'unknown-key', reason: /mqtt\.host: unknown key/ },
  { name: 'bad list merge', files: { 'fleet.yaml': 'critical: !merge\n  - deadband: 1\n' }, kind: 'list-merge', reason: /needs its match/ },
  {
    name: '$delete in a replace list',
    files: { 'fleet.yaml': 'collectors:\n  - {name: host, $delete: true}\n' },
    kind: 'list-merge',
    reason: /\$delete works only/,
  },
  {
    name: 'zone naming an unknown node',
    files: { 'zones/crest.yaml': ZONE.replace('node: r2, driver', 'node: r7, driver') },
    kind: 'zone',
    reason: /names node "r7"/,
  },
  {
    name: 'node file without identity',
    files: { 'nodes/r1.yaml': 'store: {retention: 1d}\n' },
    kind: 'identity',
    reason: /must give node/,
  },
  { name: 'YAML syntax', files: { 'nodes/r2.yaml': 'node: {id: r2\n' }, kind: 'syntax', reason: /./ },
  { name: 'invalid selector', files: { 'fleet.yaml': "critical:\n  - match: 'a{'\n" }, kind: 'schema', reason: /critical\[0\]\.match/ },
];

test('fleet-config repo: a corpus of invalid repositories is refused, each with its reason', () => {
  for (const c of CORPUS) {
    const { problems, nodes } = validateConfigRepo(repo({ ...PLAIN, 'zones/crest.yaml': ZONE, ...c.files }));
    assert.ok(problems.length > 0, `${c.name}: accepted`);
    assert.ok(
      problems.some((p) => p.kind === c.kind && c.reason.test(formatProblem(p))),
      `${c.name}: ${problems.map(formatProblem).join('\n')}`,
    );
    // Nothing invalid would reach a node: a node whose config has problems renders no parsed config.
    for (const n of nodes) if (n.problems.length > 0) assert.equal(n.parsed, undefined);
    assert.ok(kinds({ ...PLAIN, ...c.files }).length > 0 || c.kind === 'zone');
  }
});

test('fleet-config repo: the shipped example (examples/fleet-as-code, the seed’s two-repository layout) is valid', () => {
  const r = loadConfigRepo(new URL('../../examples/fleet-as-code', import.meta.url).pathname);
  assert.equal(r.layout, 'pair');
  const { problems, nodes } = validateConfigRepo(r);
  assert.deepEqual(problems.map(formatProblem), []);
  assert.ok(nodes.length >= 5);
  assert.deepEqual(
    renderAllNodes(r).map((n) => [n.nodeId, n.site]),
    [
      ['ridge-01', 'ridge'],
      ['ridge-02', 'ridge'],
      ['ridge-03', 'ridge'],
      ['valley-01', 'valley'],
      ['valley-02', 'valley'],
    ],
  );
  const hashes = nodes.flatMap((n) => (n.parsed?.zones ?? []).map((z) => zoneConfigHash(z)));
  assert.equal(hashes.length, 3);
  assert.equal(new Set(hashes).size, 1);
});

test('fleet-config repo: renderValidConfigRepo throws FM_FLEET_CONFIG_INVALID listing every problem', () => {
  assert.throws(
    () => renderValidConfigRepo(repo({ ...PLAIN, 'fleet.yaml': 'publish: {tick: fast}\nfoo: 1\n' })),
    (err: Error & { code?: string; details?: { problems?: unknown[] } }) =>
      err.code === 'FM_FLEET_CONFIG_INVALID' &&
      err.details?.problems?.length === 2 &&
      /fleet\.yaml:2:1: foo: unknown key/.test(err.message),
  );
  assert.equal(renderValidConfigRepo(repo(PLAIN)).length, 3);
});
