// Commands to any set of nodes through a real Mosquitto, a hub listening on a free port (login on) and
// three real agents in-process with a zone and a sim pump, driven by the real CLI (`fieldmesh cmd`,
// `fieldmesh get`, in-process through main()): ping, set-log-level, get, restart-collector and a pump
// test on the zone (executed once by the pump's owner though three members pass it on); an offline node
// fails fast as offline (exit 1) or, with --wait, is asked once it comes back (exit 0); usage and
// connection errors exit 2; the table and --json.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import {
  type Agent,
  type AgentConfig,
  agentConfigSchema,
  type Collector,
  type CollectorContext,
  createAgent,
} from '../../src/agent/index.js';
import { main } from '../../src/cli/main.js';
import { createHub, type Hub, hubConfigSchema } from '../../src/hub/index.js';
import type { CommandRunView, KeyValues } from '../../src/protocol/index.js';
import { type MosquittoInstance, startMosquitto } from '../kit/mosquitto.js';
import { freePort } from '../kit/ports.js';
import { waitFor } from '../kit/wait.js';

const SITE = 'ranch';
const ZONES = [
  {
    id: 'north',
    voters: ['a', 'b', 'c'],
    cameras: [
      { id: 'cam-a1', node: 'a' },
      { id: 'cam-b1', node: 'b' },
    ],
    pumps: [{ id: 'pump-1', node: 'c', driver: { type: 'sim' }, envelope: { minOff: '0s' } }],
    policy: { window: '60s', minCameras: 2, minNodes: 2, threshold: 1, voteTtl: '3s' },
  },
];

/** A collector the test watches: it counts its starts and records one value. */
function feed(): Collector & { starts: number } {
  const c = {
    kind: 'feed',
    name: 'feed',
    starts: 0,
    async start(ctx: CollectorContext) {
      c.starts++;
      await ctx.record([{ name: 'cabinet_temp', labels: {}, value: 30 + c.starts, time: ctx.clock.now() }]);
    },
    async stop() {},
  };
  return c;
}

let mosquitto: MosquittoInstance;
let hub: Hub;
let hubUrl: string;
let dataDir: string;
let token: string;
const agents = new Map<string, { agent: Agent; feed: Collector & { starts: number }; config: AgentConfig }>();

/** Node a's HTTP API, for `fieldmesh get --node`. */
let nodeAUrl: string;

function startAgent(id: string, httpPort?: number): Agent {
  const config = agentConfigSchema.parse({
    dataDir,
    node: { id, site: SITE, zone: 'north' },
    mqtt: { url: mosquitto.url },
    http: httpPort === undefined ? { enabled: false } : { host: '127.0.0.1', port: httpPort },
    publish: { tick: '250ms', heartbeat: '1s' },
    zones: ZONES,
  });
  const f = feed();
  const agent = createAgent(config, { collectors: [f], logLevel: 'info' });
  agents.set(id, { agent, feed: f, config });
  return agent;
}

before(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'fm-commands-it-'));
  mosquitto = await startMosquitto();
  hub = createHub(
    hubConfigSchema.parse({
      dataDir,
      storage: { path: join(dataDir, 'hub.db') },
      mqtt: { url: mosquitto.url, clientId: 'hub' },
      http: { host: '127.0.0.1', port: await freePort() },
      auth: { mode: 'on' },
    }),
  );
  ({ httpUrl: hubUrl } = (await hub.start()) as { httpUrl: string });
  token = (await hub.auth.createToken('ops', 'operator', null)).token;
  nodeAUrl = (await startAgent('a', await freePort()).start()).httpUrl as string;
  for (const id of ['b', 'c']) await startAgent(id).start();
  await waitFor(() => ['a', 'b', 'c'].every((n) => hub.fleet.get(SITE, n)?.state === 'online'), {
    what: 'the three nodes online at the hub',
    timeoutMs: 15_000,
  });
});

after(async () => {
  for (const a of agents.values()) await a.agent.stop().catch(() => {});
  await hub?.stop();
  await mosquitto?.stop();
  if (dataDir !== undefined) rmSync(dataDir, { recursive: true, force: true });
});

/** Runs the CLI in-process; the hub URL and the token are added. */
async function cli(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await main([...args, '--hub', hubUrl, '--token', token], {
    out: (t) => {
      out += t.endsWith('\n') ? t : `${t}\n`;
    },
    err: (t) => {
      err += t.endsWith('\n') ? t : `${t}\n`;
    },
  });
  return { code, out, err };
}

test('fieldmesh cmd: ping all through Mosquitto, a table with one ok row per node, exit 0', async () => {
  const { code, out, err } = await cli('cmd', 'all', 'ping');
  assert.equal(code, 0, err);
  const lines = out.trim().split('\n');
  assert.match(lines[0] ?? '', /^SITE\s+NODE\s+STATUS\s+MS\s+RESULT$/);
  assert.deepEqual(
    lines.slice(1, 4).map((l) => l.split(/\s+/).slice(0, 3)),
    [
      [SITE, 'a', 'ok'],
      [SITE, 'b', 'ok'],
      [SITE, 'c', 'ok'],
    ],
  );
  assert.match(lines[1] ?? '', /pong in \d+ ms \(agent \S+, epoch \d+\)/);
  assert.match(lines.at(-1) ?? '', /^3 nodes: 3 ok in \d+\.\d s$/);
});

test('fieldmesh cmd: set-log-level with --for answers the new and previous level and when it reverts', async () => {
  const { code, out } = await cli('cmd', `node:${SITE}/a`, 'set-log-level', 'debug', '--for', '10m', '--json');
  assert.equal(code, 0);
  const view = JSON.parse(out) as CommandRunView;
  const r = view.results[0]?.result as { level: string; previous: string; revertsTo: string; revertsAt: string };
  assert.deepEqual([r.level, r.previous, r.revertsTo], ['debug', 'info', 'info']);
  const inMs = Date.parse(r.revertsAt) - Date.now();
  assert.ok(inMs > 590_000 && inMs <= 600_000, `reverts in ${inMs} ms`);
  const back = await cli('cmd', 'node:a', 'set-log-level', 'info');
  assert.equal(back.code, 0);
  assert.match(back.out, /info \(was debug\)/);
});

test("fieldmesh get: health from the hub, a config value and a local metric from the nodes, one node's API through --node; exit 1 when nothing matches", async () => {
  let fromNode = '';
  const health = await cli('get', `site/${SITE}/node/*/health`, '--json');
  assert.equal(health.code, 0, health.err);
  const kv = JSON.parse(health.out) as KeyValues;
  assert.deepEqual(
    kv.values.map((v) => [v.key, (v.value as { state: string }).state, v.source]),
    ['a', 'b', 'c'].map((n) => [`site/${SITE}/node/${n}/health`, 'online', 'hub']),
  );
  const tick = await cli('get', `site/${SITE}/node/b/config/publish/tick`);
  assert.equal(tick.code, 0, tick.err);
  assert.match(tick.out, /^KEY\s+LABELS\s+VALUE\s+AGE\s+SOURCE\n/);
  assert.match(tick.out, new RegExp(`site/${SITE}/node/b/config/publish/tick\\s+250\\s+node`));
  const temp = await cli('get', `site/${SITE}/node/c/cabinet_temp`);
  assert.equal(temp.code, 0, temp.err);
  assert.match(temp.out, /cabinet_temp\s+3\d\s+\d+s\s+node/);
  // One node's own API: its values, the expression's site and node matched against its identity.
  const own = await main(['get', `site/${SITE}/node/a/config/publish/*`, '--node', nodeAUrl, '--json'], {
    out: (t) => {
      fromNode += t;
    },
    err: () => {},
  });
  assert.equal(own, 0);
  assert.deepEqual(
    (JSON.parse(fromNode) as KeyValues).values.map((v) => [v.key, v.value, v.source]),
    [
      [`site/${SITE}/node/a/config/publish/heartbeat`, 1000, 'node'],
      [`site/${SITE}/node/a/config/publish/tick`, 250, 'node'],
    ],
  );
  const none = await cli('get', 'site/elsewhere/node/*/health');
  assert.equal(none.code, 1);
  assert.match(none.out, /no value matched/);
  const bad = await cli('get', 'nodes/a');
  assert.equal(bad.code, 2);
  assert.match(bad.err, /expected site\/<site>\/node\/<node>\/<key>/);
});

test('fieldmesh cmd: restart-collector restarts it by name; an unknown name fails the run (exit 1)', async () => {
  const before = agents.get('b')?.feed.starts ?? 0;
  const ok = await cli('cmd', 'node:b', 'restart-collector', 'feed');
  assert.equal(ok.code, 0, ok.out);
  assert.match(ok.out, /feed \(feed\) restarted in \d+ ms/);
  assert.match(ok.out, /\n1 node: 1 ok in \d+\.\d s\n$/);
  assert.equal(agents.get('b')?.feed.starts, before + 1);
  const unknown = await cli('cmd', 'node:b', 'restart-collector', 'nope');
  assert.equal(unknown.code, 1);
  assert.match(unknown.out, /failed\s+\d+\s+FM_NOT_FOUND: restart-collector: no collector "nope" on this node; it runs feed/);
});

test('fieldmesh cmd: pump-test through every member of the zone; the owner runs the test once', async () => {
  const owner = agents.get('c')?.agent;
  const starts = () => owner?.zones?.stats().pumps.find((p) => p.pump === 'pump-1')?.starts.test ?? 0;
  assert.equal(starts(), 0);
  const { code, out } = await cli('cmd', `site:${SITE}`, 'pump-test', 'north', 'pump-1');
  assert.equal(code, 0, out);
  assert.equal((out.match(/test handed to the zone/g) ?? []).length, 3);
  await waitFor(() => starts() === 1, { what: 'one test run at the pump owner', timeoutMs: 10_000 });
  // Three members handed on one command id: the owner ran it once.
  assert.equal(starts(), 1);
});

test('fieldmesh cmd: an offline node fails fast (exit 1); with --wait it is asked once it is back (exit 0)', async () => {
  const b = agents.get('b');
  await b?.agent.stop();
  await waitFor(() => hub.fleet.get(SITE, 'b')?.state === 'offline', { what: 'b offline', timeoutMs: 10_000 });
  const began = Date.now();
  const fast = await cli('cmd', 'all', 'ping', '--timeout', '5s');
  assert.equal(fast.code, 1);
  assert.ok(Date.now() - began < 5_000, 'offline fails fast, not at the timeout');
  assert.match(fast.out, new RegExp(`${SITE}\\s+b\\s+offline\\s+\\d+\\s+FM_NODE_OFFLINE`));
  assert.match(fast.out, /3 nodes: 2 ok, 1 offline/);

  const waiting = cli('cmd', 'node:b', 'ping', '--wait', '30s');
  await waitFor(
    async () => {
      const runs = (await hub.app.inject({ url: '/api/v1/commands', headers: { authorization: `Bearer ${token}` } })).json() as {
        commands: CommandRunView[];
      };
      return runs.commands.some((c) => c.state === 'running' && c.waitMs === 30_000);
    },
    { what: 'the waiting run started' },
  );
  await startAgent('b').start();
  const waited = await waiting;
  assert.equal(waited.code, 0, waited.out);
  assert.match(waited.out, new RegExp(`${SITE}\\s+b\\s+ok\\s+\\d+\\s+pong in`));
});

test('fieldmesh cmd: usage and connection errors exit 2', async () => {
  const unknown = await cli('cmd', 'all', 'reboot');
  assert.equal(unknown.code, 2);
  assert.match(unknown.err, /unknown command "reboot"; commands: ping, rebirth, set-log-level/);
  const missing = await cli('cmd', 'all', 'set-log-level');
  assert.equal(missing.code, 2);
  assert.match(missing.err, /set-log-level takes LEVEL, got none/);
  const target = await cli('cmd', 'site:nowhere', 'ping');
  assert.equal(target.code, 2);
  assert.match(target.err, /FM_NOT_FOUND: .*names no node/);
  let err = '';
  const refused = await main(['cmd', 'all', 'ping', '--hub', `http://127.0.0.1:${await freePort()}`], {
    out: () => {},
    err: (t) => {
      err += t;
    },
  });
  assert.equal(refused, 2);
  assert.match(err, /FM_TRANSPORT_UNAVAILABLE: hub at http:\/\/127\.0\.0\.1:\d+ is unreachable/);
});
