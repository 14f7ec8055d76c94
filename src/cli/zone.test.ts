// `fieldmesh zone`: status, pump commands and elections against real agents running zones (in-process, one
// in-memory broker, a manual clock starting now) and against a hub speaking the zone API contract; exit
// codes 0 ok, 1 a zone without a visible majority, 2 for usage, connection, authorization and unknown zones.
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { waitFor } from '../../test/kit/wait.js';
import { type Agent, agentConfigSchema, createAgent } from '../agent/index.js';
import { testDetector as detector } from '../agent/zones/zone-test-kit.js';
import { ManualClock } from '../kit/index.js';
import { createMemoryTransport, MemoryBroker } from '../transport/index.js';
import { main } from './main.js';
import { formatZoneDetail, formatZoneTable, nodeZoneDetail, zoneStatusExitCode } from './zone.js';

const TOKEN = 'zone-commands-token-0123456789';

const ZONES = [
  {
    id: 'north',
    voters: ['a', 'b', 'c'],
    cameras: [
      { id: 'cam-a1', node: 'a' },
      { id: 'cam-b1', node: 'b' },
    ],
    pumps: [{ id: 'pump-1', node: 'c', driver: { type: 'sim' }, envelope: { minOff: '0s' } }],
    policy: { window: '60s', threshold: 1, voteTtl: '3s' },
  },
];

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  return { io: { out: (t: string) => out.push(t), err: (t: string) => err.push(t) }, out, err, text: () => out.join('\n') };
}

async function fleet() {
  const clock = new ManualClock(Date.now());
  const broker = new MemoryBroker();
  const dir = mkdtempSync(join(tmpdir(), 'fm-cli-zone-'));
  const nodes: { id: string; agent: Agent; eyes: ReturnType<typeof detector>; url: string }[] = [];
  for (const id of ['a', 'b', 'c']) {
    const eyes = detector();
    const agent = createAgent(
      agentConfigSchema.parse({
        dataDir: dir,
        node: { id, site: 'ranch' },
        http: { port: 0 },
        publish: { tick: '500ms', heartbeat: '5s' },
        zones: ZONES,
        zoneCommands: { token: TOKEN },
      }),
      {
        clock,
        epoch: 1,
        collectors: [eyes],
        createTransport: (will) => createMemoryTransport(broker, { clientId: id, will, clock }),
        fallbackToFreePort: true,
      },
    );
    const { httpUrl } = await agent.start();
    nodes.push({ id, agent, eyes, url: httpUrl as string });
  }
  const url = (id: string) => nodes.find((n) => n.id === id)?.url as string;
  /** Cameras on a and b keep seeing fire while the clock moves a tick at a time, until `predicate` holds. */
  const burnUntil = <T>(predicate: () => Promise<T>, what: string) =>
    waitFor(
      async () => {
        await nodes[0]?.eyes.see('cam-a1', 0.95);
        await nodes[1]?.eyes.see('cam-b1', 0.9);
        clock.advance(250);
        return predicate();
      },
      { timeoutMs: 15_000, intervalMs: 5, what },
    );
  const stop = async () => {
    for (const n of nodes) await n.agent.stop();
  };
  return { clock, url, burnUntil, stop };
}

async function withEnv<T>(vars: Record<string, string | undefined>, fn: () => Promise<T>): Promise<T> {
  const before = Object.fromEntries(Object.keys(vars).map((k) => [k, process.env[k]]));
  for (const [k, v] of Object.entries(vars)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  try {
    return await fn();
  } finally {
    for (const [k, v] of Object.entries(before)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}

const noTokens = { FIELDMESH_TOKEN: undefined, FIELDMESH_ZONE_TOKEN: undefined };

test('cli zone --node: exit 1 exactly while no majority is visible; a fire shows votes, the majority and the pump running, exit 0', async () => {
  const f = await fleet();
  try {
    await withEnv(noTokens, async () => {
      // A quiet zone sends no zone frames: the node has heard no other voter on the zone link. Whether it
      // sees a majority then is the node's word (its awareness plane's live members, when it has them).
      const quietJson = capture();
      const quietCode = await main(['zone', 'status', 'north', '--node', f.url('c'), '--json'], quietJson.io);
      const quietView = JSON.parse(quietJson.text());
      assert.equal(quietCode, quietView.majorityVisible ? 0 : 1, 'exit 1 exactly when no majority is visible');
      const quiet = capture();
      assert.equal(await main(['zone', 'status', '--node', f.url('c')], quiet.io), quietCode, quiet.err.join('\n'));
      assert.match(quiet.text(), /^ZONE\s+SITE\s+EPOCH\s+VOTERS\s+MAJORITY/m);
      assert.match(quiet.text(), /north\s+-\s+0\s+1\/3 online\s+2 needed, (visible|NOT VISIBLE)/);
      if (!quietView.majorityVisible) assert.match(quiet.text(), /no majority visible: north/);

      await f.burnUntil(async () => {
        const c = capture();
        return (await main(['zone', 'status', 'north', '--node', f.url('c'), '--json'], c.io)) === 0 &&
          JSON.parse(c.text()).pumpsRunning === 1
          ? true
          : undefined;
      }, 'the pump running and a majority visible at c');

      const table = capture();
      assert.equal(await main(['zone', 'status', '--node', f.url('c')], table.io), 0);
      assert.match(table.text(), /north\s+-\s+0\s+3\/3 online\s+2 needed, visible\s+yes\s+\d+\s+1\/1 running/);

      const detail = capture();
      assert.equal(await main(['zone', 'status', 'north', '--node', f.url('c')], detail.io), 0);
      const text = detail.text();
      assert.match(text, /^zone north {2}epoch 0 {2}\(from node http/m);
      assert.match(text, /majority: 2 of 3 voters needed, 3 online: visible/);
      assert.match(text, /^a\s+online/m);
      assert.match(text, /evaluation: FIRE \(2 cameras on 2 nodes, score 1\.\d{3}\)/, 'c has no camera but votes on what it holds');
      assert.match(text, /^\d\d:\d\d:\d\d\s+c\s+majority\s+0/m, 'the majority decision, recorded at the pump owner');
      assert.match(text, /^pump-1\s+c\s+running\s+majority\s+\d+s\s+(just now|\d+ s ago) \(majority, by zone:north@0\)/m);

      // a hears of the pump from its owner's pump-state frames.
      const view = await f.burnUntil(async () => {
        const json = capture();
        const code = await main(['zone', 'status', 'north', '--node', f.url('a'), '--json'], json.io);
        const v = JSON.parse(json.text());
        return code === 0 && v.pumpList[0].state === 'running' ? v : undefined;
      }, 'a hearing that the pump runs');
      assert.equal(view.evaluation.fire, true);
      assert.ok(view.detections.length >= 2);
      assert.equal(view.pumpList[0].runtimeSeconds, null, 'but not its runtime: a does not drive it');
    });
  } finally {
    await f.stop();
  }
});

test('cli zone --node: pump commands need the zone token (hint on 401), then an emergency stop wins; elect moves the epoch', async () => {
  const f = await fleet();
  try {
    await withEnv(noTokens, async () => {
      const denied = capture();
      assert.equal(await main(['zone', 'pump', 'north', 'pump-1', 'estop', '--node', f.url('b')], denied.io), 2);
      assert.match(
        denied.err.join('\n'),
        /FM_AUTH_REQUIRED: the node at http:\/\/\S+ asks for its zone command token \(no token was given\): pass the node's zoneCommands.token with --token-file <file>, --token or FIELDMESH_ZONE_TOKEN/,
      );
      const wrong = capture();
      assert.equal(
        await main(['zone', 'pump', 'north', 'pump-1', 'estop', '--node', f.url('b'), '--token', 'not-the-token-at-all'], wrong.io),
        2,
      );
      assert.match(wrong.err.join('\n'), /the token from --token was refused/);

      await f.burnUntil(async () => {
        const c = capture();
        await main(['zone', 'status', 'north', '--node', f.url('c'), '--json'], c.io);
        return JSON.parse(c.text()).pumpsRunning === 1;
      }, 'the pump running');
    });
    await withEnv({ ...noTokens, FIELDMESH_ZONE_TOKEN: TOKEN }, async () => {
      const estop = capture();
      assert.equal(
        await main(['zone', 'pump', 'north', 'pump-1', 'estop', '--node', f.url('b'), '--by', 'olga'], estop.io),
        0,
        estop.err.join('\n'),
      );
      assert.match(estop.text(), /^estop of pump pump-1 in zone north accepted by node http\S+ \(command api:olga:\S+, epoch 0\)/);
      const held = await f.burnUntil(async () => {
        const c = capture();
        await main(['zone', 'status', 'north', '--node', f.url('c'), '--json'], c.io);
        const p = JSON.parse(c.text()).pumpList[0];
        return p.state === 'estop' ? p : undefined;
      }, 'the pump latched in estop on its owner');
      assert.deepEqual({ reason: held.lastStop.reason, by: held.lastStop.by }, { reason: 'estop', by: 'api:olga' });

      const elect = capture();
      assert.equal(await main(['zone', 'elect', 'north', '--node', f.url('a')], elect.io), 0, elect.err.join('\n'));
      assert.match(elect.text(), /^zone north: epoch 1 elected at node http/);
      const unknown = capture();
      assert.equal(await main(['zone', 'elect', 'west', '--node', f.url('a')], unknown.io), 2);
      assert.match(
        unknown.err.join('\n'),
        /FM_ZONE_UNKNOWN: the node at \S+ answered 404: zone "west" is not one of this node's \(north\)/,
      );
      const noPump = capture();
      assert.equal(await main(['zone', 'pump', 'north', 'pump-9', 'stop', '--node', f.url('a')], noPump.io), 2);
      assert.match(noPump.err.join('\n'), /zone "north" has no pump "pump-9"/);
    });
  } finally {
    await f.stop();
  }
});

test('cli zone: usage and connection errors exit 2 with one line naming what is wrong', async () => {
  await withEnv(noTokens, async () => {
    const bad = capture();
    assert.equal(await main(['zone', 'pump', 'north', 'pump-1', 'explode', '--node', 'http://127.0.0.1:9'], bad.io), 2);
    assert.deepEqual(bad.err, ['error: FM_CLI_USAGE: pump action "explode": expected one of start, stop, estop, clear, test']);
    const both = capture();
    assert.equal(await main(['zone', 'status', '--node', 'http://127.0.0.1:9', '--hub', 'http://127.0.0.1:9'], both.io), 2);
    assert.deepEqual(both.err, ['error: FM_CLI_USAGE: give --node or --hub, not both']);
    const notUrl = capture();
    assert.equal(await main(['zone', 'status', '--node', 'edge-north-01'], notUrl.io), 2);
    assert.match(notUrl.err.join('\n'), /--node edge-north-01: expected an http:\/\/ or https:\/\/ URL/);
    // A port nothing listens on (bound, then closed).
    const port = await new Promise<number>((resolve) => {
      const s = createServer().listen(0, '127.0.0.1', () => {
        const p = (s.address() as { port: number }).port;
        s.close(() => resolve(p));
      });
    });
    const down = capture();
    assert.equal(await main(['zone', 'status', '--node', `http://127.0.0.1:${port}`], down.io), 2);
    assert.match(
      down.err.join('\n'),
      new RegExp(`FM_TRANSPORT_UNAVAILABLE: node at http://127.0.0.1:${port} is unreachable: ECONNREFUSED`),
    );
  });
});

// ---------------------------------------------------------------------------------------------------------
// The hub's zone API (the contract in docs/consensus.md): a fixture server answering its shapes, with a
// viewer token and an operator token, until the hub's own API is tested end to end.

const VIEWER = 'fm_viewer_token_0123456789';
const OPERATOR = 'fm_operator_token_0123456789';

function hubFixture(now: number) {
  const ago = (s: number) => new Date(now - s * 1000).toISOString();
  const summary = (zone: string, site: string, majorityVisible: boolean) => ({
    zone,
    site,
    epoch: 3,
    voters: 3,
    votersOnline: majorityVisible ? 3 : 1,
    majorityNeeded: 2,
    majorityVisible,
    fire: zone === 'north',
    detectionsInWindow: zone === 'north' ? 4 : 0,
    pumps: 1,
    pumpsRunning: zone === 'north' ? 1 : 0,
    lastDecisionAt: zone === 'north' ? ago(70) : null,
    overlaps: [],
    activates: [],
  });
  const zones = [summary('north', 'ridge-watch-1', true), summary('south', 'ridge-watch-1', true)];
  const detail = (zone: string) => ({
    ...(zones.find((z) => z.zone === zone) as ReturnType<typeof summary>),
    voters: [
      { node: 'cam-01', state: 'online', lastHeard: ago(1), voting: zone === 'north', lastVote: null },
      { node: 'cam-02', state: 'online', lastHeard: ago(2), voting: zone === 'north', lastVote: null },
      { node: 'cam-03', state: 'online', lastHeard: ago(1), voting: false, lastVote: null },
    ],
    cameras: [],
    detections:
      zone === 'north' ? [{ id: 'd2', camera: 'cam-02-cam1', node: 'cam-02', class: 'fire', confidence: 0.88, time: ago(71) }] : [],
    evaluation: {
      at: ago(1),
      fire: zone === 'north',
      missing: zone === 'north' ? [] : ['0 of 2 cameras'],
      evidence: { detections: [], cameras: [], distinctCameras: 2, distinctNodes: 2, score: 1.73 },
    },
    policy: {},
    decisions: zone === 'north' ? [{ at: ago(70), node: 'cam-01', kind: 'majority', epoch: 3, cause: 'majority' }] : [],
    pumps: [
      {
        pump: `pump-${zone}`,
        owner: 'cam-01',
        state: zone === 'north' ? 'running' : zone === 'south' && faulted ? 'fault' : 'stopped',
        cause: zone === 'north' ? 'majority' : null,
        since: ago(70),
        runtimeSeconds: zone === 'north' ? 70 : 0,
        maxRuntimeSeconds: 1200,
        atMaxRuntime: 'stop',
        overRuntime: false,
        lastStart: zone === 'north' ? { at: ago(70), cause: 'majority', by: 'zone:north@3' } : null,
        lastStop: null,
      },
    ],
    alerts: [],
  });
  let faulted = false;
  const posts: { path: string; token: string }[] = [];
  const server: Server = createServer((req, res) => {
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    const auth = req.headers.authorization?.replace(/^Bearer /, '');
    const role = auth === OPERATOR ? 'operator' : auth === VIEWER ? 'viewer' : undefined;
    if (role === undefined)
      return send(401, { status: 'error', code: 'FM_AUTH_REQUIRED', message: 'log in or send an API token', error: 'log in' });
    const url = req.url ?? '';
    if (req.method === 'GET' && url === '/api/v1/zones') return send(200, { status: 'success', data: { zones } });
    const one = url.match(/^\/api\/v1\/zones\/([^/]+)$/);
    if (req.method === 'GET' && one !== null) {
      const zone = decodeURIComponent(one[1] as string);
      if (!zones.some((z) => z.zone === zone)) return send(404, { status: 'error', code: 'FM_NOT_FOUND', message: `no zone "${zone}"` });
      return send(200, { status: 'success', data: detail(zone) });
    }
    const m = url.match(/^\/api\/v1\/zones\/([^/]+)\/(elect|pumps\/([^/]+)\/([^/]+))$/);
    if (req.method === 'POST' && m !== null) {
      if (role !== 'operator')
        return send(403, { status: 'error', code: 'FM_AUTH_FORBIDDEN', message: `POST ${url} needs the operator role; ci is viewer` });
      posts.push({ path: url, token: auth as string });
      if (m[2] === 'elect') return send(202, { status: 'success', data: { zone: m[1], via: 'cam-02', epoch: 4 } });
      return send(202, { status: 'success', data: { zone: m[1], pump: m[3], action: m[4], id: 'cmd-7', via: 'cam-01' } });
    }
    return send(404, { status: 'error', code: 'FM_NOT_FOUND', message: `no route ${req.method} ${url}` });
  });
  return {
    server,
    posts,
    setFault: (v: boolean) => {
      faulted = v;
    },
    listen: () =>
      new Promise<string>((resolve) =>
        server.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${(server.address() as { port: number }).port}`)),
      ),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

test('cli zone --hub: the table and a zone in detail from the hub, a pump in fault exits 1, tokens as fieldmesh status takes them', async () => {
  const hub = hubFixture(Date.now());
  const base = await hub.listen();
  try {
    await withEnv(noTokens, async () => {
      const anon = capture();
      assert.equal(await main(['zone', 'status', '--hub', base], anon.io), 2);
      assert.match(
        anon.err.join('\n'),
        /FM_AUTH_REQUIRED: the hub at http:\/\/\S+ needs a token: set FIELDMESH_TOKEN or pass --token-file/,
      );
    });
    await withEnv({ ...noTokens, FIELDMESH_TOKEN: VIEWER }, async () => {
      const table = capture();
      assert.equal(await main(['zone', 'status', '--hub', base], table.io), 0, table.err.join('\n'));
      assert.match(table.text(), /^north\s+ridge-watch-1\s+3\s+3\/3 online\s+2 needed, visible\s+yes\s+4\s+1\/1 running\s+1 min ago$/m);
      assert.match(table.text(), /^south\s+ridge-watch-1\s+3\s+3\/3 online\s+2 needed, visible\s+no\s+0\s+0\/1 running\s+never$/m);
      hub.setFault(true);
      const faulted = capture();
      assert.equal(await main(['zone', 'status', '--hub', base], faulted.io), 1);
      assert.match(faulted.text(), /^south\s+.*0\/1 running, 1 FAULT/m);

      const detail = capture();
      assert.equal(await main(['zone', 'status', 'north', '--hub', base], detail.io), 0);
      assert.match(detail.text(), /^zone north \(site ridge-watch-1\) {2}epoch 3/m);
      assert.match(detail.text(), /^cam-01\s+online\s+1 s ago\s+yes$/m);
      assert.match(detail.text(), /evaluation: FIRE \(2 cameras on 2 nodes, score 1.730\)/);
      assert.match(
        detail.text(),
        /^pump-north\s+cam-01\s+running\s+majority\s+1m10s of 20m\s+1 min ago \(majority, by zone:north@3\)\s+-$/m,
      );
      const missing = capture();
      assert.equal(await main(['zone', 'status', 'east', '--hub', base], missing.io), 2);
      assert.match(missing.err.join('\n'), /FM_NOT_FOUND: the hub at \S+ answered 404: no zone "east"/);

      const viewerPost = capture();
      assert.equal(await main(['zone', 'pump', 'north', 'pump-north', 'stop', '--hub', base], viewerPost.io), 2);
      assert.match(
        viewerPost.err.join('\n'),
        /FM_AUTH_FORBIDDEN: the hub at \S+ refused the request \(token from FIELDMESH_TOKEN\): .*needs the operator role.*--role operator/,
      );
    });
    const dir = mkdtempSync(join(tmpdir(), 'fm-cli-zone-token-'));
    const { writeFileSync } = await import('node:fs');
    writeFileSync(join(dir, 'token'), `${OPERATOR}\n`);
    await withEnv(noTokens, async () => {
      const stop = capture();
      assert.equal(
        await main(['zone', 'pump', 'north', 'pump-north', 'stop', '--hub', base, '--token-file', join(dir, 'token')], stop.io),
        0,
      );
      assert.match(stop.text(), /^stop of pump pump-north in zone north accepted by node cam-01 \(command cmd-7\)/);
      const elect = capture();
      assert.equal(await main(['zone', 'elect', 'north', '--hub', base, '--token-file', join(dir, 'token'), '--json'], elect.io), 0);
      assert.deepEqual(JSON.parse(elect.text()), { zone: 'north', via: 'cam-02', epoch: 4 });
      assert.deepEqual(
        hub.posts.map((p) => p.path),
        ['/api/v1/zones/north/pumps/pump-north/stop', '/api/v1/zones/north/elect'],
      );
    });
  } finally {
    await hub.close();
  }
});

test('cli zone: formatting a node status without evaluation or pump views, and exit codes', () => {
  const now = Date.now();
  const detail = nodeZoneDetail(
    {
      zone: 'east',
      epoch: 2,
      voters: [
        { id: 'p', heardRecently: true, lastHeard: now },
        { id: 'q', heardRecently: false, lastHeard: now - 30_000 },
        { id: 'r', heardRecently: false, lastHeard: null },
      ],
      majorityNeeded: 2,
      majorityVisible: false,
      detections: [],
      voting: false,
      decisions: [],
      pumps: [{ id: 'pump-e', owner: 'q', running: false, cause: null }],
    },
    'node http://p',
    'p',
  );
  assert.deepEqual(
    detail.voterList.map((v) => [v.node, v.state, v.voting]),
    [
      ['p', 'online', false],
      ['q', 'stale', null],
      ['r', 'unknown', null],
    ],
  );
  const lines = formatZoneDetail(detail, now).join('\n');
  assert.match(lines, /NOT VISIBLE \(a fire here cannot start the pumps by vote\)/);
  assert.match(lines, /^q\s+stale\s+30 s ago\s+-$/m);
  assert.match(lines, /^pump-e\s+q\s+stopped\s+-\s+-\s+-\s+-$/m);
  assert.match(lines, /ask the pump's owner or the hub for the others/);
  assert.equal(zoneStatusExitCode([detail]), 1);
  assert.equal(zoneStatusExitCode([{ majorityVisible: true, pumpsFaulted: 0 }]), 0);
  assert.deepEqual(formatZoneTable([], now), [
    'ZONE  SITE  EPOCH  VOTERS  MAJORITY  FIRE  DETECTIONS  PUMPS  LAST DECISION',
    '0/0 zones see a majority of their voters',
  ]);
});
