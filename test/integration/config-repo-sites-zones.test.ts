// What the hub takes from the configuration repository besides the nodes' configs, end to end: a git
// repository made here (Debian's git), a real hub process pulling it, a real Mosquitto and two real node
// processes. A commit adds a site (name, lat, lon) and a consensus zone: after `fieldmesh config sync` the
// sites API shows the site with its name and position and the zones API the zone with its voters (online:
// the real nodes), both marked `source: repository`; hub.yaml's site and zone of the same id win, with one
// warning in the hub's log; a refused commit changes nothing; a commit removing the zone removes it.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { HubZoneView, ZoneSummary } from '../../src/hub/index.js';
import type { SiteView } from '../../src/protocol/index.js';
import { type FieldmeshProcess, fieldmeshKilledAfter, writeHubConfig } from '../kit/fieldmesh-process.js';
import { type MosquittoInstance, startMosquitto } from '../kit/mosquitto.js';
import { freePort } from '../kit/ports.js';
import { waitFor } from '../kit/wait.js';

const start = fieldmeshKilledAfter();
const NODES = ['n1', 'n2'] as const;
let dir: string;
let repo: string;
let broker: MosquittoInstance;
let hub: FieldmeshProcess;
let hubUrl: string;
const nodes = new Map<string, FieldmeshProcess>();

function git(...args: string[]): string {
  const env = { ...process.env, GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@x', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@x' };
  return execFileSync('git', ['-C', repo, ...args], { encoding: 'utf8', env });
}

/** Writes (or, for null, removes) the files and commits them; answers the commit. */
function commit(files: Record<string, string | null>, message: string): string {
  for (const [path, text] of Object.entries(files)) {
    if (text === null) git('rm', '-q', path);
    else {
      mkdirSync(join(repo, path, '..'), { recursive: true });
      writeFileSync(join(repo, path), text);
      git('add', path);
    }
  }
  git('commit', '-q', '-m', message);
  return git('rev-parse', 'HEAD').trim();
}

async function get<T>(path: string): Promise<{ status: number; body: T }> {
  const res = await fetch(`${hubUrl}${path}`);
  return { status: res.status, body: (await res.json()) as T };
}

const sites = async () => (await get<{ sites: SiteView[] }>('/api/v1/sites')).body.sites;
const site = async (id: string) => (await sites()).find((s) => s.site === id);
const zones = async () => (await get<{ data: { zones: ZoneSummary[] } }>('/api/v1/zones')).body.data.zones;

/** `fieldmesh config sync --hub URL`, the operator's way: its exit code and output. */
async function sync(): Promise<{ code: number | string; out: string }> {
  const p = start(['config', 'sync', '--hub', hubUrl]);
  const code = await p.exited();
  return { code, out: p.stdout() + p.stderr() };
}

/** The hub's log lines (pino JSON on stderr, warn and above) whose message matches. */
const logged = (re: RegExp) =>
  hub
    .stderr()
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => (JSON.parse(l) as { msg?: string }).msg ?? '')
    .filter((m) => re.test(m));

const CREST = [
  'awareness:',
  '  zoneOnly: true',
  'consensus:',
  '  voters: [n1, n2]',
  '  cameras:',
  '    - {id: cam-n1, node: n1}',
  '    - {id: cam-n2, node: n2, weight: 0.8}',
  '  policy: {window: 30s, minCameras: 2, minNodes: 2}',
  '',
].join('\n');
const GATE_REPO = 'consensus:\n  voters: [n1, n2]\n  cameras: [{id: cam-gate, node: n1}]\n  policy: {minCameras: 1, minNodes: 1}\n';

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'fm-config-sites-zones-'));
  repo = join(dir, 'repo');
  mkdirSync(repo);
  execFileSync('git', ['init', '-q', '-b', 'main', repo]);
  const files: Record<string, string> = { 'fleet.yaml': 'collectors:\n  - name: host\n    type: host\n' };
  for (const id of NODES) files[`nodes/${id}.yaml`] = `node: {id: ${id}, site: ridge, zone: crest}\n`;
  commit(files, 'fleet: two ridge nodes, no site file, no consensus zone');
  broker = await startMosquitto();
  const hubYaml = await writeHubConfig(dir, broker.url);
  writeFileSync(
    hubYaml,
    [
      'configRepo:',
      `  git: {url: "${repo}", branch: main, interval: 1h}`,
      'sites:',
      '  - {id: valley, name: Valley (hub.yaml), lat: 45.9237, lon: 6.8694}',
      'zones:',
      '  - id: gate',
      '    site: ridge',
      '    voters: [n1]',
      '    cameras: [{id: cam-gate, node: n1}]',
      '    policy: {minCameras: 1, minNodes: 1}',
      '',
    ].join('\n'),
    { flag: 'a' },
  );
  hub = start(['hub', '--config', hubYaml]);
  hubUrl = (await hub.waitForOutput(/console (http:\/\/\S+)\//))[1] as string;
  for (const id of NODES) {
    const yaml = join(dir, `${id}.yaml`);
    writeFileSync(
      yaml,
      [
        `node: {id: ${id}, site: ridge, zone: crest}`,
        `mqtt: {url: "${broker.url}"}`,
        `dataDir: ${join(dir, id)}`,
        `http: {port: ${await freePort()}}`,
      ].join('\n'),
    );
    const proc = start(['node', '-c', yaml]);
    nodes.set(id, proc);
    await proc.waitForOutput(/HTTP http/);
  }
  await waitFor(async () => (await site('ridge'))?.counts.online === 2, { what: 'both ridge nodes online at the hub', timeoutMs: 20_000 });
});

after(async () => {
  for (const p of nodes.values()) {
    p.kill('SIGTERM');
    await p.exited();
  }
  hub?.kill('SIGTERM');
  await hub?.exited();
  await broker?.stop();
  rmSync(dir, { recursive: true, force: true });
});

test('config repo sites and zones: before the commit the ridge is only what its nodes announce; the hub watches hub.yaml’s zone', async () => {
  const ridge = await site('ridge');
  assert.deepEqual([ridge?.name, ridge?.lat, ridge?.lon, ridge?.configured, ridge?.source], ['ridge', null, null, false, null]);
  assert.deepEqual(
    (await zones()).map((z) => [z.zone, z.source]),
    [['gate', 'hub.yaml']],
  );
  assert.equal((await get('/api/v1/zones/crest')).status, 404);
});

test('config repo sites and zones: a commit adds the site with its name and position and the consensus zone with its voters', async () => {
  commit(
    {
      'sites/ridge.yaml': 'name: Ridge lookout\nlat: 45.8326\nlon: 6.8652\naddress: Col de la Crête\n',
      'zones/crest.yaml': CREST,
      'sites/valley.yaml': 'name: Valley (repository)\nlat: 45.0\nlon: 6.0\n',
      'zones/gate.yaml': GATE_REPO,
    },
    'ridge: the site and its consensus zone',
  );
  const { code, out } = await sync();
  assert.equal(code, 0, out);

  // At once after the sync: the sync answers once the revision's sites and zones are in place.
  const ridge = await site('ridge');
  assert.deepEqual(
    [ridge?.name, ridge?.lat, ridge?.lon, ridge?.address, ridge?.configured, ridge?.source],
    ['Ridge lookout', 45.8326, 6.8652, 'Col de la Crête', true, 'repository'],
  );
  assert.deepEqual(ridge?.nodes, ['n1', 'n2']);
  const map = (await get<{ sites: { id: string; name: string; lat: number | null; lon: number | null }[] }>('/api/v1/console')).body;
  assert.deepEqual(
    map.sites.find((s) => s.id === 'ridge'),
    { id: 'ridge', name: 'Ridge lookout', lat: 45.8326, lon: 6.8652 },
    "the console's map places it",
  );

  const crest = (await zones()).find((z) => z.zone === 'crest');
  assert.deepEqual([crest?.site, crest?.source, crest?.voters, crest?.majorityNeeded], ['ridge', 'repository', 2, 2]);
  // Its voters are the real nodes, online at the hub: the hub watches the zone as it watches hub.yaml's.
  const view = await waitFor(
    async () => {
      const v = (await get<{ data: HubZoneView }>('/api/v1/zones/crest')).body.data;
      return v.votersOnline === 2 ? v : undefined;
    },
    { what: "crest's two voters online in its view" },
  );
  assert.deepEqual(
    view.voters.map((v) => [v.node, v.state]),
    [
      ['n1', 'online'],
      ['n2', 'online'],
    ],
  );
  assert.deepEqual(
    view.cameras.map((c) => [c.camera, c.node, c.weight]),
    [
      ['cam-n1', 'n1', 1],
      ['cam-n2', 'n2', 0.8],
    ],
  );
  assert.equal(view.policy.windowSeconds, 30);
  const metrics = await (await fetch(`${hubUrl}/metrics`)).text();
  assert.match(metrics, /^fieldmesh_zone_voters_online\{[^}]*zone="crest"[^}]*\} 2$/m, 'the zone series the QuorumLost rule reads');
});

test('config repo sites and zones: hub.yaml’s site and zone of the same id win, and the difference is logged once', async () => {
  const valley = await site('valley');
  assert.deepEqual([valley?.name, valley?.lat, valley?.source], ['Valley (hub.yaml)', 45.9237, 'hub.yaml']);
  const gate = (await get<{ data: HubZoneView }>('/api/v1/zones/gate')).body.data;
  assert.equal(gate.source, 'hub.yaml');
  assert.deepEqual(
    gate.voters.map((v) => v.node),
    ['n1'],
    "hub.yaml's voters, not the repository's",
  );
  const head = git('rev-parse', 'HEAD').trim().slice(0, 12);
  assert.deepEqual(logged(/hub\.yaml's definition is used/).sort(), [
    `site valley: hub.yaml's definition is used, the repository's revision ${head} differs`,
    `zone gate: hub.yaml's definition is used, the repository's revision ${head} differs`,
  ]);
  // Read again: the same definitions, no second warning.
  const again = await fetch(`${hubUrl}/api/v1/config/sync`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: '{}',
  });
  assert.equal(again.status, 200);
  assert.equal(logged(/hub\.yaml's definition is used/).length, 2);
});

test('config repo sites and zones: a refused commit changes nothing; a commit removing the zone removes it', async () => {
  commit({ 'zones/crest.yaml': CREST.replace('window: 30s', 'window: soon') }, 'crest: a typo');
  const refused = await sync();
  assert.equal(refused.code, 1, refused.out);
  assert.match(refused.out, /REFUSED/);
  assert.deepEqual(
    (await zones()).map((z) => `${z.zone}:${z.source}`),
    ['gate:hub.yaml', 'crest:repository'],
    'the last good revision’s zone stays',
  );
  assert.equal((await site('ridge'))?.name, 'Ridge lookout');

  commit(
    { 'zones/crest.yaml': 'awareness:\n  zoneOnly: true\n', 'sites/ridge.yaml': null },
    'crest: no consensus zone any more; ridge file gone',
  );
  const removed = await sync();
  assert.equal(removed.code, 0, removed.out);
  assert.deepEqual(
    (await zones()).map((z) => z.zone),
    ['gate'],
  );
  const gone = await get<{ code: string; message: string }>('/api/v1/zones/crest');
  assert.equal(gone.status, 404);
  assert.match(gone.body.message, /zone "crest" is not watched by this hub/);
  const ridge = await site('ridge');
  assert.deepEqual(
    [ridge?.name, ridge?.lat, ridge?.configured, ridge?.source],
    ['ridge', null, false, null],
    'back to what its nodes announce',
  );
});
