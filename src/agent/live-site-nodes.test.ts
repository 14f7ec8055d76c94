// [FM-ZONE-REACH] The awareness plane's live members as a zone counts them: node ids of this node's site, from the
// plane's `site/node` names; members judged lost, and nodes of another site, are no reachable voters.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ManualClock } from '../kit/index.js';
import { liveSiteNodes } from './agent.js';
import { reachableVoters } from './zones/zone-runtime.js';

const NAMES = new Map([
  [1, 'ranch/a1'],
  [2, 'ranch/a2'],
  [3, 'ranch/b1'],
  [4, 'ranch/b2'],
  [5, 'orchard/b2'],
  [6, 'ranchland/a1'],
]);

function plane(states: Record<number, string>) {
  return {
    membership: {
      view: () => Object.entries(states).map(([origin, state]) => ({ origin: Number(origin), state }) as never),
    },
    fleet: { nameOf: (origin: number) => NAMES.get(origin) },
  };
}

test('agent: the live nodes a zone counts are the node ids of its own site the plane holds alive or suspect [FM-ZONE-REACH]', () => {
  const clock = new ManualClock();
  const live = liveSiteNodes(
    plane({ 1: 'alive', 2: 'suspect', 3: 'dead', 4: 'unreachable', 5: 'alive', 6: 'alive', 7: 'alive' }),
    'ranch',
    clock,
  );
  // b1 lost, b2 unreachable, origin 7 unnamed (no announce yet); orchard/b2 and ranchland/a1 are other sites.
  assert.deepEqual(live(), ['a1', 'a2']);
  // As the zone sees it: a2 live through the plane and a1 itself make 2 of 4 reachable, b2 of another site none.
  const zones = [{ id: 'split', voters: ['a1', 'a2', 'b1', 'b2'] }] as never;
  assert.deepEqual(reachableVoters(zones, 'a1', live)('split'), ['a1', 'a2']);
  const healed = liveSiteNodes(plane({ 1: 'alive', 2: 'alive', 3: 'alive', 4: 'suspect' }), 'ranch', clock);
  assert.deepEqual(reachableVoters(zones, 'a1', healed)('split'), ['a1', 'a2', 'b1', 'b2']);
});
