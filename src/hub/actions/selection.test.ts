// Bulk action selection: the "site/node" glob, selector validation with clear 400 messages, and the
// AND of criteria over the fleet.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isFieldmeshError } from '../../kit/index.js';
import { globToRegExp, parseSelector, type SelectableNode, selectNodes } from './selection.js';

const FLEET: SelectableNode[] = [
  { site: 'farm-1', node: 'bess-01', zone: 'bank-a', state: 'online' },
  { site: 'farm-1', node: 'bess-02', zone: 'bank-b', state: 'offline' },
  { site: 'farm-1', node: 'bess-10', zone: 'bank-a', state: 'online' },
  { site: 'farm-2', node: 'bess-01', zone: 'bank-a', state: 'stale' },
  { site: 'ridge-1', node: 'cam-01', zone: 'north', state: 'online' },
];

const keys = (nodes: readonly SelectableNode[]) => nodes.map((n) => `${n.site}/${n.node}`);

function refused(fn: () => unknown, pattern: RegExp): void {
  assert.throws(fn, (err: unknown) => isFieldmeshError(err, 'FM_REQUEST_INVALID') && pattern.test(err.message));
}

test('selection glob: * and ? stay within one side of the "/", sets and negated sets match one character', () => {
  const g = globToRegExp('farm-*/bess-0?');
  assert.ok(g.test('farm-1/bess-01'));
  assert.ok(g.test('farm-12/bess-09'));
  assert.ok(!g.test('farm-1/bess-10'), '? is one character');
  assert.ok(!g.test('farm-1/x/bess-01'), '* does not cross "/"');
  assert.ok(!g.test('xfarm-1/bess-01'), 'anchored');
  assert.ok(globToRegExp('farm-[12]/*').test('farm-2/anything'));
  assert.ok(!globToRegExp('farm-[12]/*').test('farm-3/anything'));
  assert.ok(globToRegExp('farm-[!1]/*').test('farm-3/n'));
  assert.ok(!globToRegExp('farm-[!1]/*').test('farm-1/n'));
  assert.ok(globToRegExp('*/bess-0[1-3]').test('farm-9/bess-02'));
  assert.ok(!globToRegExp('a.b/*').test('axb/n'), '"." is literal');
});

test('selection glob: a pattern without exactly one "/" or with a broken set is refused, naming the field', () => {
  refused(() => globToRegExp('bess-*'), /selector\.match.*exactly one "\/"/);
  refused(() => globToRegExp('a/b/c'), /exactly one/);
  refused(() => globToRegExp('farm-[12/bess'), /must start a set/);
  refused(() => globToRegExp('farm-[]]/x'), /must start a set/);
});

test('selection: an empty selector is refused unless all is true; every field is checked', () => {
  refused(() => parseSelector({}), /^select at least one criterion/);
  refused(() => parseSelector({ all: false }), /^select at least one criterion/);
  assert.deepEqual(parseSelector({ all: true }), { all: true });
  refused(() => parseSelector({ sites: [] }), /selector\.sites.*non-empty array/);
  refused(() => parseSelector({ states: ['up'] }), /selector\.states.*"up"/);
  refused(() => parseSelector({ nodes: ['bess-01'] }), /selector\.nodes\[0\].*"site\/node"/);
  refused(() => parseSelector({ site: ['farm-1'] }), /selector\.site" is unknown/);
  refused(() => parseSelector({ match: 3 }), /selector\.match/);
  refused(() => parseSelector([]), /expected an object/);
});

test('selection: criteria AND together over the fleet, in fleet order', () => {
  const pick = (body: unknown) => keys(selectNodes(FLEET, parseSelector(body)));
  assert.deepEqual(pick({ sites: ['farm-1'] }), ['farm-1/bess-01', 'farm-1/bess-02', 'farm-1/bess-10']);
  assert.deepEqual(pick({ sites: ['farm-1'], states: ['online'] }), ['farm-1/bess-01', 'farm-1/bess-10']);
  assert.deepEqual(pick({ zones: ['bank-a'], match: 'farm-*/bess-0?' }), ['farm-1/bess-01', 'farm-2/bess-01']);
  assert.deepEqual(pick({ nodes: ['farm-2/bess-01', 'ridge-1/cam-01', 'nowhere/x'] }), ['farm-2/bess-01', 'ridge-1/cam-01']);
  assert.deepEqual(pick({ nodes: ['farm-2/bess-01'], states: ['online'] }), [], 'AND, not OR');
  assert.deepEqual(pick({ all: true }), keys(FLEET));
  assert.deepEqual(pick({ states: ['stale', 'offline'] }), ['farm-1/bess-02', 'farm-2/bess-01']);
});
