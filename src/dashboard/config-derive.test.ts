// The configuration screens' derivations, pure: state marks, filters and headline, the Apply dialog's target
// preview and waves (the hub's rules), the provenance rows and their search, and the config routes.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  CONFIG_STATE_MARK,
  CONFIG_STATES,
  driftLine,
  filesOf,
  filterConfigNodes,
  globRegExp,
  leafRows,
  leafText,
  parseWaves,
  planWaves,
  problemLine,
  searchLeaves,
  selectApplyNodes,
  short,
  sinceOf,
  syncHeadline,
} from './config-derive.js';
import type { ConfigNodeRow } from './config-types.js';
import { configNodeHref, parseRoute } from './router.js';

function row(site: string, node: string, over: Partial<ConfigNodeRow> = {}): ConfigNodeRow {
  return {
    site,
    node,
    zone: 'z1',
    state: 'in-sync',
    drift: false,
    driftReason: null,
    desired: { hash: 'a'.repeat(64), commit: 'c'.repeat(40) },
    published: { hash: 'a'.repeat(64), commit: 'c'.repeat(40), at: 1_000 },
    reported: null,
    fleetState: 'online',
    ...over,
  };
}

test('every config state has a word, a shape and a tone, shapes distinct', () => {
  const icons = new Set(CONFIG_STATES.map((s) => CONFIG_STATE_MARK[s].icon));
  assert.equal(icons.size, CONFIG_STATES.length);
  for (const s of CONFIG_STATES) assert.match(CONFIG_STATE_MARK[s].title, new RegExp(`^${s}: `));
});

test('filters by state and site; the headline counts what the repository defines', () => {
  const rows = [row('north', 'n1'), row('north', 'n2', { state: 'failed' }), row('south', 's1', { state: 'pending' })];
  assert.deepEqual(
    filterConfigNodes(rows, { states: ['failed', 'pending'], site: '' }).map((r) => r.node),
    ['n2', 's1'],
  );
  assert.deepEqual(
    filterConfigNodes(rows, { states: [], site: 'north' }).map((r) => r.node),
    ['n1', 'n2'],
  );
  assert.equal(syncHeadline(rows), '1 of 3 nodes in sync, 1 pending, 1 failed');
  assert.equal(syncHeadline([row('a', 'b'), row('a', 'x', { state: 'unknown-node', desired: null })]), 'All 1 node in sync');
  assert.equal(syncHeadline([]), 'No node defined by the repository yet');
});

test('since is the last report, else the last publish; short hashes', () => {
  assert.equal(sinceOf(row('a', 'b')), 1_000);
  const reported = { kind: 'applied' as const, hash: 'h', commit: null, at: 5_000, applied: [], pendingRestart: [] };
  assert.equal(sinceOf(row('a', 'b', { reported })), 5_000);
  assert.equal(sinceOf(row('a', 'b', { published: null })), null);
  assert.equal(short('0123456789abcdef'), '0123456789ab');
  assert.equal(short(null), '–');
});

test('drift says why: the keys a hand edit of node.yaml set, or the hash the hub never issued', () => {
  assert.equal(driftLine(row('north', 'n1')), null);
  assert.equal(
    driftLine(row('north', 'n1', { drift: true, driftReason: { kind: 'hand-edit', keys: ['collectors', 'store'], at: 5 } })),
    'hand edit of node.yaml: collectors, store (differ from the repository; not applied)',
  );
  assert.equal(
    driftLine(row('north', 'n1', { drift: true, driftReason: { kind: 'hand-edit', keys: ['store'], at: 5 } })),
    'hand edit of node.yaml: store (differs from the repository; not applied)',
  );
  assert.equal(
    driftLine(row('north', 'n1', { drift: true, driftReason: { kind: 'unissued-hash', hash: 'f'.repeat(64) } })),
    'runs hash ffffffffffff, which the hub never issued',
  );
});

test('a problem prints file:line:col: path: message', () => {
  assert.equal(
    problemLine({ kind: 'schema', file: 'fleet.yaml', line: 8, col: 14, path: 'store.retention', message: 'expected a duration' }),
    'fleet.yaml:8:14: store.retention: expected a duration',
  );
});

test('apply target: the AND of sites, zones, names, fleet states and a glob over nodes with a desired config', () => {
  const rows = [
    row('south', 's1', { zone: 'z2' }),
    row('north', 'n2', { fleetState: 'offline' }),
    row('north', 'n1'),
    row('north', 'ghost', { state: 'unknown-node', desired: null }),
  ];
  const names = (s: Parameters<typeof selectApplyNodes>[1]) => selectApplyNodes(rows, s).map((r) => `${r.site}/${r.node}`);
  assert.deepEqual(names({}), ['north/n1', 'north/n2', 'south/s1']);
  assert.deepEqual(names({ sites: ['north'] }), ['north/n1', 'north/n2']);
  assert.deepEqual(names({ zones: ['z2'] }), ['south/s1']);
  assert.deepEqual(names({ nodes: ['north/n2', 'south/s1'], states: ['online'] }), ['south/s1']);
  assert.deepEqual(names({ match: 'north/n?' }), ['north/n1', 'north/n2']);
  assert.deepEqual(names({ match: '*/[s]1' }), ['south/s1']);
  assert.equal(globRegExp('a.b/*').test('aXb/x'), false, 'a dot is a dot');
  assert.equal(globRegExp('*').test('a/b'), false, '* does not cross "/"');
});

test('waves: the field parses to the hub value, and the plan splits as the hub does', () => {
  assert.deepEqual(parseWaves(''), { waves: undefined });
  assert.deepEqual(parseWaves('1, 5'), { waves: [1, 5] });
  assert.deepEqual(parseWaves('each 2'), { waves: { size: 2 } });
  assert.ok('error' in parseWaves('0'));
  assert.ok('error' in parseWaves('half'));
  const seven = [1, 2, 3, 4, 5, 6, 7];
  assert.deepEqual(planWaves(seven, undefined), [seven]);
  assert.deepEqual(planWaves(seven, [1, 2]), [[1], [2, 3], [4, 5, 6, 7]]);
  assert.deepEqual(planWaves(seven, [10]), [seven]);
  assert.deepEqual(planWaves(seven, { size: 3 }), [[1, 2, 3], [4, 5, 6], [7]]);
  assert.deepEqual(planWaves([], [1]), []);
});

test('provenance rows: every leaf in order with the origin fleet-config recorded under its path', () => {
  const config = {
    node: { id: 'n1', site: 'north' },
    store: { retention: '7d' },
    collectors: [{ name: 'host', type: 'host' }],
    critical: [],
  };
  const prov = {
    'node.id': { layer: 'node', file: 'nodes/n1.yaml', line: 1, col: 11 },
    'store.retention': { layer: 'site', file: 'sites/north.yaml', line: 3, col: 14 },
    'collectors[0].type': { layer: 'fleet', file: 'fleet.yaml', line: 3, col: 11 },
  };
  const rows = leafRows(config, prov);
  assert.deepEqual(
    rows.map((r) => r.path),
    ['node.id', 'node.site', 'store.retention', 'collectors[0].name', 'collectors[0].type', 'critical'],
  );
  assert.deepEqual(rows.find((r) => r.path === 'store.retention')?.origin, prov['store.retention']);
  assert.equal(rows.find((r) => r.path === 'node.site')?.origin, null);
  assert.equal(rows.find((r) => r.path === 'collectors[0].type')?.depth, 2);
  assert.deepEqual(
    searchLeaves(rows, 'SITES/north').map((r) => r.path),
    ['store.retention'],
  );
  assert.deepEqual(
    searchLeaves(rows, 'collectors host').map((r) => r.path),
    ['collectors[0].name', 'collectors[0].type'],
  );
  assert.equal(searchLeaves(rows, '  ').length, rows.length);
  assert.deepEqual(
    filesOf(rows).map((f) => `${f.file} ${f.leaves}`),
    ['nodes/n1.yaml 1', 'sites/north.yaml 1', 'fleet.yaml 1'],
  );
  assert.equal(leafText('7d'), '7d');
  assert.equal(leafText('true'), '"true"');
  assert.equal(leafText([]), '[]');
  assert.equal(leafText(2), '2');
});

test('config routes: the page, its filters, the provenance view', () => {
  assert.deepEqual(parseRoute('#/config').page, 'config');
  const r = parseRoute('#/config?state=failed&site=north');
  assert.equal(r.page, 'config');
  assert.equal(r.page === 'config' && r.query.get('state'), 'failed');
  assert.deepEqual(parseRoute(configNodeHref('north farm', 'n/1')), { page: 'config-node', site: 'north farm', node: 'n/1' });
});
