// The site monitor's set of described sites at run time: the repository's sites take their names and
// positions, a site that stays keeps its health history, a site no longer described falls back to what
// the fleet says of it, and changes() tells the console each site whose facts changed.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ManualClock } from '../../kit/index.js';
import type { NodeRecord } from '../fleet/fleet-state.js';
import { SiteMonitor, type SourcedSiteConfig } from './site-monitor.js';

function setup() {
  const clock = new ManualClock();
  const node = (site: string, id: string) =>
    ({ site, node: id, zone: 'z1', state: 'online', lastHeard: clock.now(), lastChanged: clock.now() }) as unknown as NodeRecord;
  const records = [node('north', 'n1'), node('valley', 'v1')];
  const north: SourcedSiteConfig = { id: 'north', name: 'North', lat: 46.1, lon: 7.1, zones: {} };
  const monitor = new SiteMonitor({ clock, fleet: { nodes: () => records }, sites: [north] });
  return { clock, monitor, north };
}

const facts = (m: SiteMonitor) => m.sites().map((s) => [s.site, s.name, s.lat, s.lon, s.configured, s.source]);

test('site monitor: a new set of sites gives the repository’s sites their name and position, beside hub.yaml’s', () => {
  const { clock, monitor, north } = setup();
  assert.deepEqual(facts(monitor), [
    ['north', 'North', 46.1, 7.1, true, 'hub.yaml'],
    ['valley', 'valley', null, null, false, null],
  ]);
  const first = monitor.changes();
  assert.equal(first.sites.length, 2);
  const northSince = monitor.site('north')?.since;

  clock.advance(60_000);
  monitor.setSites([
    { ...north, source: 'hub.yaml' },
    { id: 'valley', name: 'Valley station', lat: 45.9237, lon: 6.8694, address: 'Route 1', zones: {}, source: 'repository' },
    { id: 'ridge', name: 'Ridge', lat: 45.8, lon: 6.9, zones: {}, source: 'repository' },
  ]);
  assert.deepEqual(facts(monitor), [
    ['north', 'North', 46.1, 7.1, true, 'hub.yaml'],
    ['valley', 'Valley station', 45.9237, 6.8694, true, 'repository'],
    ['ridge', 'Ridge', 45.8, 6.9, true, 'repository'],
  ]);
  assert.equal(monitor.site('valley')?.address, 'Route 1');
  assert.equal(monitor.site('north')?.since, northSince, 'a site that stays keeps its health history');
  assert.deepEqual(
    monitor.site('ridge')?.reasons.map((r) => r.code),
    ['no-nodes'],
    'a described site with no node yet warns, as a hub.yaml one does',
  );
  assert.deepEqual(
    monitor.consoleView().sites.map((s) => [s.id, s.lat, s.lon]),
    [
      ['north', 46.1, 7.1],
      ['valley', 45.9237, 6.8694],
      ['ridge', 45.8, 6.9],
    ],
  );
  assert.deepEqual(
    monitor.changes().sites.map((s) => s.site),
    ['valley', 'ridge'],
    'the console hears of the two sites whose facts changed',
  );

  // The repository drops both: valley is what its node says of it, ridge (no node) is gone.
  monitor.setSites([north]);
  assert.deepEqual(facts(monitor), [
    ['north', 'North', 46.1, 7.1, true, 'hub.yaml'],
    ['valley', 'valley', null, null, false, null],
  ]);
  assert.deepEqual(
    monitor.changes().sites.map((s) => s.site),
    ['valley'],
  );
});
