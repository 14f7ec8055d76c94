// `fieldmesh status --node`: the fleet as one node knows it, the node itself marked, and exit codes that say
// when a member is suspect, unreachable or dead, or the node itself hears nobody.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fleetExitCode, formatFleet } from './status.js';

const member = (node: string, state: string, extra: object = {}) =>
  ({
    site: 'ranch',
    zone: 'north',
    node,
    state,
    lastHeardAgeMs: 1_500,
    series: [{ name: 'battery_soc', value: 71.4, unit: '' }],
    ...extra,
  }) as Parameters<typeof formatFleet>[0][number];

test('cli status --node: the node itself is listed and marked, a member that hears nobody is said so', () => {
  const lines = formatFleet([
    member('bess-01', 'alive', { self: true, lastHeardAgeMs: 200 }),
    member('bess-02', 'alive', { isolated: true }),
  ]);
  assert.match(lines[0] as string, /bess-01 \(self\)\s+alive\s+sent just now\s+battery_soc=71.4/);
  assert.match(lines[0] as string, /bess-02\s+alive, hears nobody\s+1 s ago/);
  assert.equal(lines[1], '2/2 members alive');
  assert.equal(lines.length, 2);
});

test('cli status --node: an isolated node says so, and its others are unreachable, not dead', () => {
  const nodes = [
    member('bess-01', 'isolated', { self: true, isolated: true }),
    member('bess-02', 'unreachable'),
    member('bess-03', 'unreachable'),
  ];
  const lines = formatFleet(nodes);
  assert.match(lines[0] as string, /bess-01 \(self\)\s+isolated/);
  assert.equal(lines[1], '0/3 members alive');
  assert.match(lines[2] as string, /this node hears nobody \(isolated\): the others are unreachable from here, not known dead/);
  assert.equal(fleetExitCode(nodes), 2);
});

test('cli status --node: exit 0 all alive or left, 1 a suspect or unreachable member, 2 a dead one', () => {
  const code = (...states: string[]) => fleetExitCode(states.map((s, i) => member(`n${i}`, s)));
  assert.equal(code('alive', 'left'), 0);
  assert.equal(code('alive', 'suspect'), 1);
  assert.equal(code('alive', 'unreachable'), 1);
  assert.equal(code('alive', 'suspect', 'dead'), 2);
});
