// The repository's sites and consensus zones at the hub, with the real site and zone monitors: added beside
// hub.yaml's, hub.yaml winning for the same id (warned once), replaced at each accepted revision, untouched
// by a refused one (through the reconciler), and kept across a restart.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { ManualClock, silentLogger } from '../../kit/index.js';
import type { NodeRecord } from '../fleet/fleet-state.js';
import { SiteMonitor, type SourcedSiteConfig } from '../health/site-monitor.js';
import { type HubZone, hubZonesSchema } from '../zones/hub-zone-config.js';
import { ZoneMonitor } from '../zones/zone-monitor.js';
import { ConfigReconciler } from './config-reconciler.js';
import { configRepoSchema } from './config-repo-config.js';
import type { ConfigRepoRender, RepoSiteConfig } from './config-repo-port.js';
import type { ConfigRepoSource } from './config-source.js';
import { REPO_DEFINITIONS_FILE, RepoDefinitions } from './repo-definitions.js';

const zone = (id: string, voters: string[], site?: string): HubZone =>
  (
    hubZonesSchema.parse([
      {
        id,
        voters,
        cameras: [{ id: `cam-${voters[0]}`, node: voters[0] }],
        policy: { minCameras: 1, minNodes: 1 },
        ...(site ? { site } : {}),
      },
    ]) as HubZone[]
  )[0] as HubZone;

const HUB_SITES: SourcedSiteConfig[] = [{ id: 'north', name: 'North', lat: 46.1, lon: 7.1, zones: {} }];
const HUB_ZONES = [zone('crest', ['n1', 'n2'], 'north')];

function setup(dataDir?: string) {
  const clock = new ManualClock();
  const records = [{ site: 'north', node: 'n1', zone: 'crest', state: 'online', lastHeard: clock.now(), lastChanged: clock.now() }];
  const fleet = { nodes: () => records as unknown as NodeRecord[] };
  const sites = new SiteMonitor({ clock, fleet, sites: HUB_SITES });
  const zones = new ZoneMonitor({ zones: HUB_ZONES, clock, fleet });
  const warnings: string[] = [];
  const logger = { ...silentLogger, warn: (_o: object, msg?: string) => warnings.push(msg ?? ''), child: () => logger };
  const definitions = new RepoDefinitions({
    hubSites: HUB_SITES,
    hubZones: HUB_ZONES,
    sites,
    zones,
    logger,
    ...(dataDir === undefined ? {} : { dataDir }),
  });
  const siteFacts = () => sites.sites().map((s) => `${s.site}:${s.name}:${s.source}`);
  const zoneFacts = () => zones.summaries().map((z) => `${z.zone}@${z.site}:${z.voters}:${z.source}`);
  return { clock, sites, zones, definitions, warnings, siteFacts, zoneFacts };
}

const VALLEY: RepoSiteConfig = { id: 'valley', name: 'Valley', lat: 45.9, lon: 6.9 };

test('repo definitions: the repository adds its sites and zones; hub.yaml wins for the same id, warned once per definition', async () => {
  const s = setup();
  const revision = 'a1b2c3d4e5f60718293a4b5c6d7e8f9012345678';
  await s.definitions.accept(revision, {
    sites: [{ id: 'north', name: 'North station', lat: 46.1, lon: 7.1 }, VALLEY],
    zones: [zone('crest', ['n1']), zone('floor', ['v1'])],
  });
  assert.deepEqual(s.siteFacts(), ['north:North:hub.yaml', 'valley:Valley:repository']);
  assert.equal(s.sites.site('valley')?.lat, 45.9);
  assert.deepEqual(s.zoneFacts(), ['crest@north:2:hub.yaml', 'floor@null:1:repository']);
  assert.deepEqual(s.warnings, [
    "site north: hub.yaml's definition is used, the repository's revision a1b2c3d4e5f6 differs",
    "zone crest: hub.yaml's definition is used, the repository's revision a1b2c3d4e5f6 differs",
  ]);
  assert.equal(s.definitions.current()?.revision, revision);

  // The same definitions in the next revision: no new warning. The repository agreeing with hub.yaml: none.
  await s.definitions.accept('b'.repeat(40), {
    sites: [{ id: 'north', name: 'North station', lat: 46.1, lon: 7.1 }, VALLEY],
    zones: [zone('crest', ['n1']), zone('floor', ['v1'])],
  });
  // Its zone has no site (its voters are nowhere in the repository): only hub.yaml says, no difference.
  await s.definitions.accept('c'.repeat(40), {
    sites: [{ id: 'north', name: 'North', lat: 46.1, lon: 7.1 }],
    zones: [zone('crest', ['n1', 'n2'])],
  });
  assert.equal(s.warnings.length, 2);
  assert.deepEqual(s.siteFacts(), ['north:North:hub.yaml'], 'valley no longer described and no node of it known: gone');
  assert.deepEqual(s.zoneFacts(), ['crest@north:2:hub.yaml'], 'floor removed');
  // Differing again after agreeing is warned again, with that revision; so is a zone placed at another site.
  await s.definitions.accept('e'.repeat(40), { zones: [{ ...zone('crest', ['n1', 'n2']), site: 'south' }] });
  assert.deepEqual(s.warnings.slice(2), ["zone crest: hub.yaml's definition is used, the repository's revision eeeeeeeeeeee differs"]);
});

test('repo definitions: a refused revision changes nothing, the last good revision’s sites and zones stay', async () => {
  const s = setup();
  const dir = mkdtempSync(join(tmpdir(), 'fm-repo-defs-'));
  const revisions: { revision: string; render: ConfigRepoRender }[] = [
    { revision: 'r1', render: { ok: true, nodes: [], sites: [VALLEY], zones: [zone('floor', ['v1'])] } },
    {
      revision: 'r2',
      render: { ok: false, problems: [{ kind: 'zone', file: 'zones/floor.yaml', line: 2, col: 3, path: 'x', message: 'bad' }] },
    },
    { revision: 'r3', render: { ok: true, nodes: [], sites: [VALLEY] } },
  ];
  let at = 0;
  const source: ConfigRepoSource = {
    label: 'dir:/test',
    intervalMs: 3_600_000,
    poll: async () => {
      const r = revisions[at++];
      return r === undefined ? undefined : { revision: r.revision, commit: null, files: new Map() };
    },
  };
  const reconciler = new ConfigReconciler({
    config: configRepoSchema.parse({ dir: '/test' }),
    dataDir: dir,
    renderer: () => (revisions[at - 1] as { render: ConfigRepoRender }).render,
    prefix: 'fm',
    transport: () => undefined,
    clock: s.clock,
    logger: silentLogger,
    fleetNodes: () => [],
    source,
    definitions: s.definitions,
  });
  try {
    await reconciler.sync();
    assert.deepEqual(s.zoneFacts(), ['crest@north:2:hub.yaml', 'floor@null:1:repository']);
    const refused = await reconciler.sync();
    assert.equal(refused.refused, true);
    assert.deepEqual(s.zoneFacts(), ['crest@north:2:hub.yaml', 'floor@null:1:repository'], 'the refused revision changed nothing');
    assert.equal(s.definitions.current()?.revision, 'r1');
    await reconciler.sync();
    assert.deepEqual(s.zoneFacts(), ['crest@north:2:hub.yaml'], 'r3 has no zone floor');
    assert.deepEqual(s.siteFacts(), ['north:North:hub.yaml', 'valley:Valley:repository']);
  } finally {
    reconciler.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('repo definitions: kept in the data dir, a restarted hub watches the last good revision’s zones before it reads the repository', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'fm-repo-defs-'));
  try {
    const first = setup(dir);
    const floor = { ...zone('floor', ['v1']), site: 'valley' };
    await first.definitions.accept('d'.repeat(40), { sites: [VALLEY], zones: [floor] });

    const second = setup(dir);
    assert.deepEqual(second.zoneFacts(), ['crest@north:2:hub.yaml']);
    await second.definitions.start();
    assert.deepEqual(second.zoneFacts(), ['crest@north:2:hub.yaml', 'floor@valley:1:repository']);
    assert.deepEqual(second.zones.config('floor'), { ...floor, source: 'repository' }, 'the zone comes back as it was, durations in ms');
    assert.deepEqual(second.siteFacts(), ['north:North:hub.yaml', 'valley:Valley:repository']);

    // A kept file that does not read is said, and nothing is taken from it.
    writeFileSync(join(dir, REPO_DEFINITIONS_FILE), '{"revision": 1');
    const third = setup(dir);
    await third.definitions.start();
    assert.deepEqual(third.zoneFacts(), ['crest@north:2:hub.yaml']);
    assert.equal(third.warnings.length, 1);
    assert.match(third.warnings[0] as string, /kept from the last run are unreadable/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
