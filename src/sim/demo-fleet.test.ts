// The demo's sites: names and coordinates the same for the same seed, spread over one region, and a
// valid hub.yaml `sites` list whose ids are the fleet's sites.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { hubConfigSchema } from '../hub/index.js';
import { planDemoFleet, planDemoSites } from './demo-fleet.js';

test('demo sites: deterministic from the seed, spread over the region, valid hub config naming the fleet sites', () => {
  const a = planDemoSites(4, 20241123);
  assert.deepEqual(planDemoSites(4, 20241123), a);
  assert.notDeepEqual(
    planDemoSites(4, 7).map((s) => [s.lat, s.lon]),
    a.map((s) => [s.lat, s.lon]),
  );
  assert.deepEqual(
    a.map((s) => [s.id, s.name]),
    [
      ['solar-farm-1', 'Solar farm 1'],
      ['ridge-watch-1', 'Ridge watch 1'],
      ['solar-farm-2', 'Solar farm 2'],
      ['ridge-watch-2', 'Ridge watch 2'],
    ],
  );
  for (const s of a) {
    assert.ok(s.lat > 46.4 && s.lat < 47.4 && s.lon > 7.1 && s.lon < 9.1, `${s.id} at ${s.lat},${s.lon}`);
  }
  assert.equal(new Set(a.map((s) => `${s.lat},${s.lon}`)).size, 4, 'no two pins on top of each other');
  const config = hubConfigSchema.parse({ sites: a });
  assert.equal(config.sites.length, 4);
  const fleetSites = new Set(planDemoFleet(8, 4).map((p) => p.site));
  assert.deepEqual([...fleetSites].sort(), a.map((s) => s.id).sort());
  const zones = new Set(planDemoFleet(8, 4).map((p) => `${p.site}/${p.zone}`));
  for (const z of zones) {
    const [site, zone] = z.split('/') as [string, string];
    assert.ok(a.find((s) => s.id === site)?.zones[zone] !== undefined, `zone ${z} has a name`);
  }
});
