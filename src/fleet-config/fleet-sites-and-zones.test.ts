// What the hub takes from the repository: the sites' metadata and the consensus zones in the hub's shape,
// each zone with the site of its voters (or of the site repository that defines it).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isFieldmeshError } from '../kit/index.js';
import { fleetSitesAndZones, loadConfigRepo, parseConfigRepo, validateConfigRepo } from './index.js';

const repo = (files: Record<string, string>) => parseConfigRepo(new Map(Object.entries(files)), 'test');
const NODE = (id: string, site: string, zone = 'crest') => `node: {id: ${id}, site: ${site}, zone: ${zone}}\n`;
/** The smallest consensus zone: its voters, one camera on the first, a policy one camera can meet. */
const ZONE = (...voters: string[]) =>
  `consensus:\n  voters: [${voters.join(', ')}]\n  cameras: [{id: cam-${voters[0]}, node: ${voters[0]}}]\n  policy: {minCameras: 1, minNodes: 1}\n`;

const PLAIN = {
  'fleet.yaml': 'collectors:\n  - name: host\n    type: host\n',
  'sites/ridge.yaml': 'name: Ridge\nlat: 45.8\nlon: 6.8\naddress: Col 1\nstore:\n  retention: 14d\n',
  'sites/valley.yaml': 'store:\n  retention: 90d\n',
  'zones/crest.yaml': [
    'consensus:',
    '  voters: [r1, r2]',
    '  cameras:',
    '    - {id: cam-1, node: r1}',
    '    - {id: cam-2, node: r2}',
    '  pumps:',
    '    - {id: pump-1, node: r2, driver: {type: sim}, envelope: {maxRuntime: 5m}}',
    '  policy: {window: 30s, minCameras: 2, minNodes: 2}',
    '',
  ].join('\n'),
  'nodes/r1.yaml': NODE('r1', 'ridge'),
  'nodes/r2.yaml': NODE('r2', 'ridge'),
  'nodes/v1.yaml': NODE('v1', 'valley', 'floor'),
};

test('fleet-config sites and zones: site files give the sites (metadata only), a consensus zone its parsed shape and its voters’ site', () => {
  const r = repo(PLAIN);
  assert.deepEqual(validateConfigRepo(r).problems, []);
  const { sites, zones } = fleetSitesAndZones(r);
  assert.deepEqual(sites, [{ id: 'ridge', name: 'Ridge', lat: 45.8, lon: 6.8, address: 'Col 1' }, { id: 'valley' }]);
  assert.equal(zones.length, 1);
  const [crest] = zones;
  assert.equal(crest?.id, 'crest');
  assert.equal(crest?.site, 'ridge');
  assert.deepEqual(crest?.voters, ['r1', 'r2']);
  assert.deepEqual(
    crest?.cameras.map((c) => [c.id, c.node, c.weight]),
    [
      ['cam-1', 'r1', 1],
      ['cam-2', 'r2', 1],
    ],
  );
  // Durations in ms, defaults filled in, the pump's driver kept: what hub.yaml `zones:` parses to.
  assert.equal(crest?.policy.windowMs, 30_000);
  assert.equal(crest?.policy.cooldownMs, 300_000);
  assert.equal(crest?.pumps[0]?.envelope.maxRuntimeMs, 300_000);
  assert.equal(crest?.pumps[0]?.driver.type, 'sim');
});

test('fleet-config sites and zones: voters in two sites give no site; a zone of a site repository belongs to that site', () => {
  const spread = fleetSitesAndZones(repo({ ...PLAIN, 'nodes/v1.yaml': NODE('v1', 'valley'), 'zones/crest.yaml': ZONE('r1', 'v1') }));
  assert.deepEqual(
    spread.zones.map((z) => [z.id, z.site]),
    [['crest', null]],
  );
  const pair = fleetSitesAndZones(
    repo({
      'fleet-config/fleet.yaml': 'collectors:\n  - name: host\n    type: host\n',
      'fleet-config/zones/crest.yaml': ZONE('r1'),
      'site-config-ridge/site.yaml': 'name: Ridge\n',
      'site-config-ridge/nodes/r1.yaml': NODE('r1', 'ridge'),
      'site-config-valley/site.yaml': 'name: Valley\nlat: 45.9\nlon: 6.9\n',
      'site-config-valley/nodes/v1.yaml': NODE('v1', 'valley', 'floor'),
      'site-config-valley/zones/floor.yaml': ZONE('v1'),
    }),
  );
  assert.deepEqual(
    pair.zones.map((z) => [z.id, z.site]),
    [
      ['crest', 'ridge'],
      ['floor', 'valley'],
    ],
  );
  assert.deepEqual(
    pair.sites.map((s) => [s.id, s.name, s.lat ?? null]),
    [
      ['ridge', 'Ridge', null],
      ['valley', 'Valley', 45.9],
    ],
  );
});

test('fleet-config sites and zones: the shipped example gives both sites with their positions and ridge-crest at the ridge', () => {
  const { sites, zones } = fleetSitesAndZones(loadConfigRepo(new URL('../../examples/fleet-as-code', import.meta.url).pathname));
  assert.deepEqual(sites, [
    { id: 'ridge', name: 'Ridge lookout', lat: 45.8326, lon: 6.8652 },
    { id: 'valley', name: 'Valley station', lat: 45.9237, lon: 6.8694 },
  ]);
  assert.deepEqual(
    zones.map((z) => [z.id, z.site, z.voters.join(',')]),
    [['ridge-crest', 'ridge', 'ridge-01,ridge-02,ridge-03']],
  );
});

test('fleet-config sites and zones: zones that do not parse throw FM_FLEET_CONFIG_INVALID naming the zone and path', () => {
  assert.throws(
    () =>
      fleetSitesAndZones(
        repo({ ...PLAIN, 'zones/crest.yaml': 'consensus:\n  voters: [r1]\n  policy: {window: soon, minCameras: 0, minNodes: 0}\n' }),
      ),
    (err: unknown) => isFieldmeshError(err) && err.code === 'FM_FLEET_CONFIG_INVALID' && /crest\.policy\.window/.test(err.message),
  );
});
