// The demo's sites: names and coordinates the same for the same seed, spread over one region, and a
// valid hub.yaml `sites` list whose ids are the fleet's sites; fire-watch sites' nodes and zones.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { hubConfigSchema } from '../hub/index.js';
import { zoneConfigHash } from '../protocol/index.js';
import { demoNodeConfig, planDemoFleet, planDemoSites, planDemoZones } from './demo-fleet.js';

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

test('demo fleet: fire-watch sites get three nodes where the fleet allows, and zones every node of the site agrees on', () => {
  const count = (nodes: number, sites: number) => {
    const perSite = new Map<string, number>();
    for (const p of planDemoFleet(nodes, sites)) perSite.set(p.site, (perSite.get(p.site) ?? 0) + 1);
    return [...perSite.values()];
  };
  assert.deepEqual(count(8, 2), [4, 4], 'the default plan is unchanged');
  assert.deepEqual(count(8, 4), [1, 3, 1, 3]);
  assert.deepEqual(count(3, 2), [1, 2], 'too few nodes: the fire-watch site has no zones');
  assert.deepEqual(planDemoZones(planDemoFleet(3, 2)), []);

  const plans = planDemoFleet(10, 4);
  const sites = planDemoZones(plans);
  assert.deepEqual(
    sites.map((s) => [s.site, s.zones.map((z) => `${z.id}:${(z.voters as string[]).join('+')}`)]),
    [
      ['ridge-watch-1', ['north:cam-01+cam-02+cam-03', 'south:cam-01+cam-02+cam-03']],
      ['ridge-watch-2', ['north-2:cam-01+cam-02+cam-03', 'south-2:cam-01+cam-02+cam-03']],
    ],
  );
  // The default plan: four nodes, north on the first three, south on the last three.
  assert.deepEqual(
    planDemoZones(planDemoFleet(8, 2)).map((s) => s.zones.map((z) => `${z.id}:${(z.voters as string[]).join('+')}`)),
    [['north:cam-01+cam-02+cam-03', 'south:cam-02+cam-03+cam-04']],
  );
  assert.deepEqual(sites[0]?.fire, {
    zone: 'north',
    cameras: [
      { node: 'cam-01', camera: 'cam1' },
      { node: 'cam-02', camera: 'cam1' },
    ],
  });
  for (const site of sites) {
    const hashes = new Set<string>();
    for (const plan of plans.filter((p) => p.site === site.site)) {
      const config = demoNodeConfig(plan, 'mqtt://127.0.0.1:1', '/tmp/unused', 1, { zones: site.zones });
      hashes.add((config.zones ?? []).map((z) => `${z.id}=${zoneConfigHash(z)}`).join(','));
    }
    assert.equal(hashes.size, 1, `every node of ${site.site} has the same zones`);
  }
  // The fire cameras see nothing before the fire: random episodes are off in sites with zones.
  const config = demoNodeConfig(plans[1] as (typeof plans)[number], 'mqtt://127.0.0.1:1', '/tmp/unused', 1, {
    zones: sites[0]?.zones,
    fireAtMs: 30_000,
    fireCameras: ['cam1'],
  });
  assert.deepEqual(config.collectors[0], {
    ...config.collectors[0],
    fire_probability: 0,
    camera_prefix: 'cam-01-',
    fires: [{ at: 30_000, cameras: ['cam1'], length: 180_000, peak: 0.9 }],
  });
});
