// Sites, overview and console routes via inject(): hub.yaml's site facts joined with the fleet, health
// with reasons and since, one site's detail, the overview's counts, the map setup and image; and the
// site monitor telling only what changed.
// calendar: the routes run on a manual clock.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { loadConfig, ManualClock, silentLogger } from '../../../kit/index.js';
import { encodeDeath, SessionEncoder, type SiteView } from '../../../protocol/index.js';
import { hubConfigSchema } from '../../config.js';
import { FleetState } from '../../fleet/fleet-state.js';
import { SiteMonitor } from '../../health/site-monitor.js';
import { createHubMetrics } from '../../hub-metrics.js';
import { batterySoc, birthOf, wire } from '../../hub-test-kit.js';
import type { NodeBacklog } from '../../ledger/completeness.js';
import { createSqliteStorage } from '../../storage/sqlite/sqlite-storage.js';
import { createHubApp } from '../app.js';
import { LiveFeed } from '../live/live-feed.js';

const T0 = Date.UTC(2026, 10, 24, 9, 0, 0);
const SOC = batterySoc();

const dir = mkdtempSync(join(tmpdir(), 'fieldmesh-sites-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function setup(yaml: string) {
  const config = loadConfig(hubConfigSchema, { text: yaml });
  const clock = new ManualClock(T0);
  const fleet = new FleetState({ clock, staleAfterHeartbeats: 2, rebirthMinIntervalMs: 5_000 });
  const backlogs = new Map<string, NodeBacklog>();
  const backlog = (site: string, node: string) => backlogs.get(`${site}/${node}`);
  const sites = new SiteMonitor({ clock, fleet, backlog, sites: config.sites, console: config.console });
  const app = createHubApp({
    fleet,
    storage: createSqliteStorage({ path: ':memory:', retentionMs: 86_400_000 }),
    clock,
    metrics: createHubMetrics(() => fleet.countByState()),
    live: new LiveFeed({ clock, snapshot: () => [], nodeView: () => undefined }),
    readiness: () => ({ ready: true, reasons: [] }),
    logger: silentLogger,
    backlog,
    sites,
  });
  const born = (site: string, node: string, zone = 'z1') =>
    fleet.applyFrame(
      { site, node, channel: 'birth' },
      wire(birthOf(new SessionEncoder(1), clock.now(), [SOC], { zone, heartbeatMs: 60_000 })),
    );
  const died = (site: string, node: string) =>
    fleet.applyFrame({ site, node, channel: 'death' }, wire(encodeDeath({ epoch: 1, reason: 'lost' })));
  const get = async (url: string) => (await app.inject(url)).json();
  return { clock, fleet, app, sites, backlogs, born, died, get };
}

const SITES_YAML = [
  'sites:',
  '  - {id: bess-a, name: Battery A, lat: 47.37, lon: 8.54, address: Hafenstrasse 1, zones: {rack-1: Rack 1, rack-2: Rack 2}}',
  '  - {id: bess-b, name: Battery B, lat: 47.5, lon: 8.7}',
  'console: {title: Acme fleet}',
].join('\n');

test('api sites: configured sites with their facts first, then fleet-only sites without coordinates; health, zones and ages', async () => {
  const { born, clock, get } = setup(SITES_YAML);
  born('bess-a', 'n1', 'rack-1');
  born('bess-a', 'n2', 'rack-3');
  born('other', 'x1');
  clock.advance(12_000);
  const { sites } = (await get('/api/v1/sites')) as { sites: SiteView[] };
  assert.deepEqual(
    sites.map((s) => s.site),
    ['bess-a', 'bess-b', 'other'],
  );
  const [a, b, other] = sites as [SiteView, SiteView, SiteView];
  assert.deepEqual(a, {
    site: 'bess-a',
    worst: 'online',
    counts: { unknown: 0, online: 2, stale: 0, offline: 0 },
    nodes: ['n1', 'n2'],
    name: 'Battery A',
    lat: 47.37,
    lon: 8.54,
    address: 'Hafenstrasse 1',
    configured: true,
    source: 'hub.yaml',
    health: 'green',
    reasons: [],
    since: new Date(T0).toISOString(),
    lastHeard: new Date(T0).toISOString(),
    lastHeardAgeMs: 12_000,
    openAlerts: 0,
    backlogOldest: null,
    zones: [
      { id: 'rack-1', name: 'Rack 1', nodes: ['n1'] },
      { id: 'rack-2', name: 'Rack 2', nodes: [] },
      { id: 'rack-3', name: 'rack-3', nodes: ['n2'] },
    ],
  });
  assert.equal(b.health, 'warn', 'configured, no node heard from');
  assert.deepEqual(
    b.reasons.map((r) => r.code),
    ['no-nodes'],
  );
  assert.equal(b.lastHeard, null);
  assert.deepEqual(
    [other.name, other.lat, other.lon, other.address, other.configured, other.source],
    ['other', null, null, null, false, null],
  );
});

test('api sites: a node going offline turns its site error, since the moment the hub saw it; the backlog shows', async () => {
  const { born, died, clock, get, backlogs } = setup(SITES_YAML);
  born('bess-a', 'n1');
  born('bess-a', 'n2');
  await get('/api/v1/sites');
  clock.advance(60_000);
  died('bess-a', 'n2');
  backlogs.set('bess-a/n1', { pendingRows: 10, oldestPendingMs: T0 - 5_000, pendingBytes: 100, reportedAt: clock.now() });
  clock.advance(4 * 60_000);
  const a = ((await get('/api/v1/sites')) as { sites: SiteView[] }).sites[0] as SiteView;
  assert.equal(a.health, 'error');
  assert.equal(a.worst, 'offline');
  assert.equal(a.since, new Date(T0 + 5 * 60_000).toISOString(), 'when it was first computed as error');
  assert.deepEqual(a.reasons, [
    { code: 'node-offline', level: 'error', text: 'n2 offline for 4 min', since: new Date(T0 + 60_000).toISOString(), node: 'n2' },
  ]);
  assert.equal(a.backlogOldest, new Date(T0 - 5_000).toISOString());
});

test('api sites: one site with its nodes (with values) and alerts; 404 for a site nobody knows', async () => {
  const { born, get, app } = setup(SITES_YAML);
  born('bess-a', 'n1');
  const detail = await get('/api/v1/sites/bess-a');
  assert.equal(detail.name, 'Battery A');
  assert.equal(detail.health, 'green');
  assert.deepEqual(detail.nodes, ['n1']);
  assert.equal(detail.nodeViews.length, 1);
  assert.equal(detail.nodeViews[0].node, 'n1');
  assert.equal(detail.nodeViews[0].values[0].name, 'battery_soc');
  assert.deepEqual(detail.alerts, []);
  const configuredOnly = await get('/api/v1/sites/bess-b');
  assert.deepEqual([configuredOnly.health, configuredOnly.nodeViews], ['warn', []]);
  const missing = await app.inject('/api/v1/sites/nowhere');
  assert.equal(missing.statusCode, 404);
  assert.equal(missing.json().code, 'FM_NOT_FOUND');
});

test('api overview: sites by health, nodes by state, worst sites error first', async () => {
  const { born, died, clock, get } = setup(SITES_YAML);
  born('bess-a', 'n1');
  born('bess-a', 'n2');
  born('other', 'x1');
  clock.advance(1_000);
  died('bess-a', 'n2');
  const o = await get('/api/v1/overview');
  assert.equal(o.generatedAt, new Date(clock.now()).toISOString());
  assert.equal(o.title, 'Acme fleet');
  assert.deepEqual(o.sites, { green: 1, warn: 1, error: 1, total: 3 });
  assert.deepEqual(o.nodes, { online: 2, stale: 0, offline: 1, unknown: 0, total: 3 });
  assert.deepEqual(o.alerts, { firing: 0, pending: 0, acknowledged: 0, silenced: 0, inhibited: 0 });
  assert.deepEqual(
    o.worstSites.map((s: SiteView) => [s.site, s.health]),
    [
      ['bess-a', 'error'],
      ['bess-b', 'warn'],
    ],
  );
});

test('api console: title, map image URL and bounds, every site with coordinates or null', async () => {
  const image = join(dir, 'plan.svg');
  writeFileSync(image, '<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>');
  const { born, get, app } = setup(
    `${SITES_YAML}\n  map: {image: ${JSON.stringify(image)}, bounds: {north: 47.6, south: 47.3, east: 8.8, west: 8.5}}\n`.replace(
      'console: {title: Acme fleet}\n',
      'console:\n  title: Acme fleet\n',
    ),
  );
  born('other', 'x1');
  assert.deepEqual(await get('/api/v1/console'), {
    title: 'Acme fleet',
    map: { image: '/api/v1/console/map-image', bounds: { north: 47.6, south: 47.3, east: 8.8, west: 8.5 } },
    sites: [
      { id: 'bess-a', name: 'Battery A', lat: 47.37, lon: 8.54 },
      { id: 'bess-b', name: 'Battery B', lat: 47.5, lon: 8.7 },
      { id: 'other', name: 'other', lat: null, lon: null },
    ],
  });
  const res = await app.inject('/api/v1/console/map-image');
  assert.equal(res.statusCode, 200);
  assert.equal(res.headers['content-type'], 'image/svg+xml');
  assert.equal(res.headers['x-content-type-options'], 'nosniff');
  assert.match(String(res.headers['content-security-policy']), /default-src 'none'/);
  assert.match(res.body, /^<svg/);
});

test('api console: no map configured answers nulls and a 404 for the image; a missing file is a 404 too', async () => {
  const none = setup('console: {title: t}');
  assert.deepEqual((await none.get('/api/v1/console')).map, { image: null, bounds: null });
  const res = await none.app.inject('/api/v1/console/map-image');
  assert.equal(res.statusCode, 404);
  assert.equal(res.json().code, 'FM_NOT_FOUND');
  const gone = setup(`console: {map: {image: ${JSON.stringify(join(dir, 'gone.png'))}}}`);
  const missing = await gone.app.inject('/api/v1/console/map-image');
  assert.equal(missing.statusCode, 404);
  assert.match(missing.json().message, /gone\.png cannot be read/);
});

test('site monitor: tells every site the first time, then only what changed; ages alone are no change', () => {
  const { born, died, clock, sites } = setup(SITES_YAML);
  born('bess-a', 'n1');
  born('bess-a', 'n2');
  const first = sites.changes();
  assert.deepEqual(
    first.sites.map((s) => s.site),
    ['bess-a', 'bess-b'],
  );
  assert.ok(first.overview !== undefined);
  clock.advance(30_000);
  assert.deepEqual(sites.changes(), { sites: [], overview: undefined }, 'only ages moved');
  died('bess-a', 'n2');
  const changed = sites.changes();
  assert.deepEqual(
    changed.sites.map((s) => [s.site, s.health, s.since]),
    [['bess-a', 'error', new Date(clock.now()).toISOString()]],
  );
  assert.deepEqual(changed.overview?.sites, { green: 0, warn: 1, error: 1, total: 2 });
  clock.advance(60_000);
  assert.deepEqual(sites.changes().sites, [], 'the offline text ages, the reason is the same');
});

test('site monitor: freshness and backlog age change health with time alone', () => {
  const { born, clock, sites, backlogs } = setup(
    `${SITES_YAML}\n  health: {freshness: 1m, backlogWarn: 2m, backlogError: 10m}\n`.replace(
      'console: {title: Acme fleet}\n',
      'console:\n  title: Acme fleet\n',
    ),
  );
  born('bess-a', 'n1');
  backlogs.set('bess-a/n1', { pendingRows: 3, oldestPendingMs: T0, pendingBytes: 30, reportedAt: T0 });
  sites.changes();
  clock.advance(60_000);
  assert.deepEqual(sites.changes().sites, [], 'heard exactly 1 min ago: still fresh');
  clock.advance(1);
  const stale = sites.changes().sites[0];
  assert.deepEqual(
    stale?.reasons.map((r) => r.code),
    ['data-stale'],
  );
  assert.equal(stale?.health, 'warn');
  clock.advance(60_000);
  assert.deepEqual(
    sites.changes().sites[0]?.reasons.map((r) => r.code),
    ['data-stale', 'backlog-old'],
    'both warn, both since T0',
  );
  clock.advance(8 * 60_000);
  const error = sites.changes().sites[0];
  assert.equal(error?.health, 'error');
  assert.equal(error?.since, new Date(clock.now()).toISOString());
});
