// Commands to any set of nodes through a whole hub (fastify inject, login on, in-memory broker, manual
// clock) and two real agents in-process: each node's side of ping, set-log-level (and its revert), get,
// restart-collector, service and reload-config; one result per node; offline nodes fail fast; roles,
// bad bodies and the one audit entry per run; GET /api/v1/get from the hub's state and from the nodes.
// calendar: the routes run on a manual clock.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { agentConfigSchema, type Collector, type CollectorContext, createAgent } from '../../src/agent/index.js';
import type { Hub } from '../../src/hub/hub.js';
import { hubTestKit } from '../../src/hub/hub-test-kit.js';
import { type Logger, ManualClock } from '../../src/kit/index.js';
import type { CommandRunView, KeyValues } from '../../src/protocol/index.js';
import { createMemoryTransport, type MemoryBroker } from '../../src/transport/index.js';
import { waitFor } from '../kit/wait.js';

const { defer, startHub } = hubTestKit();

/** A collector the test drives, counting its starts. */
function manualCollector(name: string) {
  const c = {
    kind: 'manual',
    name,
    starts: 0,
    ctx: undefined as CollectorContext | undefined,
    async start(ctx: CollectorContext) {
      c.starts++;
      c.ctx = ctx;
    },
    async stop() {},
  };
  return c satisfies Collector;
}

/** A base logger that records what passed the agent's level filter. */
function recordingLogger(lines: Array<{ level: string; msg: string | undefined }>): Logger {
  const make = (): Logger => ({
    debug: (_o, msg) => lines.push({ level: 'debug', msg }),
    info: (_o, msg) => lines.push({ level: 'info', msg }),
    warn: (_o, msg) => lines.push({ level: 'warn', msg }),
    error: (_o, msg) => lines.push({ level: 'error', msg }),
    child: () => make(),
  });
  return make();
}

async function startAgent(broker: MemoryBroker, clock: ManualClock, node: string) {
  const dataDir = mkdtempSync(join(tmpdir(), 'fm-cmd-agent-'));
  defer(() => rmSync(dataDir, { recursive: true, force: true }));
  const config = agentConfigSchema.parse({
    dataDir,
    node: { id: node, site: 's1', zone: 'z1' },
    http: { enabled: false },
    publish: { tick: '1s', heartbeat: '5s' },
    critical: [{ match: 'battery_soc', maxSilence: '60s' }],
    mqtt: { password: 'a-very-secret-password' },
  });
  const collector = manualCollector('feed');
  const lines: Array<{ level: string; msg: string | undefined }> = [];
  const agent = createAgent(config, {
    clock,
    epoch: 1,
    logger: recordingLogger(lines),
    logLevel: 'info',
    collectors: [collector],
    createTransport: (will) => createMemoryTransport(broker, { clientId: `agent-${node}`, will, clock }),
  });
  let stopped = false;
  defer(async () => {
    if (!stopped) await agent.stop();
  });
  await agent.start();
  const t = clock.now();
  await collector.ctx?.record([
    { name: 'battery_soc', labels: { device: 'bat' }, value: node === 'n1' ? 55 : 66, time: t },
    { name: 'cabinet_temp', labels: {}, value: 31.5, time: t },
  ]);
  return {
    agent,
    collector,
    lines,
    stop: async () => {
      stopped = true;
      await agent.stop();
    },
  };
}

async function setup() {
  const clock = new ManualClock(Date.UTC(2026, 10, 24, 9));
  const { hub, broker } = await startHub({ prefix: 'fieldmesh-commands-api-', clock, config: { auth: { mode: 'on' } } });
  const operator = { authorization: `Bearer ${(await hub.auth.createToken('ops', 'operator', null)).token}` };
  const viewer = { authorization: `Bearer ${(await hub.auth.createToken('wall', 'viewer', null)).token}` };
  const n1 = await startAgent(broker, clock, 'n1');
  const n2 = await startAgent(broker, clock, 'n2');
  clock.advance(1_000); // the first tick carries the critical values
  await waitFor(() => hub.fleet.nodes().filter((n) => n.state === 'online' && n.values.size > 0).length === 2, {
    what: 'two nodes online with values',
  });
  return { hub, clock, operator, viewer, n1, n2 };
}

async function run(hub: Hub, headers: Record<string, string>, body: unknown) {
  const res = await hub.app.inject({ method: 'POST', url: '/api/v1/commands', headers, payload: body as object });
  return { status: res.statusCode, view: res.json() as CommandRunView & { code?: string; message?: string } };
}

test('commands API: ping all answers one ok result per node; viewers cannot run, may read; the run is audited once', async () => {
  const { hub, operator, viewer } = await setup();
  const { status, view } = await run(hub, operator, { target: 'all', command: 'ping' });
  assert.equal(status, 200, JSON.stringify(view));
  assert.equal(view.state, 'done');
  assert.deepEqual(
    view.results.map((r) => [r.site, r.node, r.status]),
    [
      ['s1', 'n1', 'ok'],
      ['s1', 'n2', 'ok'],
    ],
  );
  assert.equal((view.results[0]!.result as { epoch: number }).epoch, 1);
  assert.deepEqual(view.counts, { pending: 0, ok: 2, failed: 0, timeout: 0, offline: 0, skipped: 0 });
  assert.equal(view.createdBy, 'ops');

  assert.equal((await run(hub, viewer, { target: 'all', command: 'ping' })).status, 403);
  assert.equal((await run(hub, {}, { target: 'all', command: 'ping' })).status, 401);
  const read = await hub.app.inject({ url: `/api/v1/commands/${view.id}`, headers: viewer });
  assert.equal(read.statusCode, 200);
  assert.equal((read.json() as CommandRunView).counts.ok, 2);
  const list = (await hub.app.inject({ url: '/api/v1/commands', headers: viewer })).json() as { commands: CommandRunView[] };
  assert.deepEqual(
    list.commands.map((c) => c.id),
    [view.id],
  );

  const audit = (await hub.auth.listAudit({ limit: 20 })).filter((e) => e.route === '/api/v1/commands');
  assert.deepEqual(
    audit.map((e) => [e.actor, e.status, e.target]).reverse(),
    [
      ['ops', 200, `ping all: 2 nodes: 2 ok (run ${view.id})`],
      ['wall', 403, null],
      [null, 401, null],
    ],
    'every request audited, the run once with its counts (refused ones before the body is read)',
  );
  assert.equal(audit.filter((e) => e.actor === 'ops').length, 1, 'one audit entry per run');
});

test('commands API: bad bodies are 400 naming the field; a target naming no node is 404; node:ID finds the node', async () => {
  const { hub, operator } = await setup();
  const bad = async (body: unknown, pattern: RegExp) => {
    const { status, view } = await run(hub, operator, body);
    assert.equal(status, 400, JSON.stringify(view));
    assert.equal(view.code, 'FM_REQUEST_INVALID');
    assert.match(view.message ?? '', pattern);
  };
  await bad({ target: 'all', command: 'reboot' }, /field "command": expected one of ping, rebirth/);
  await bad({ target: 'all', command: 'set-log-level', args: { level: 'loud' } }, /args.level": expected one of debug, info, warn, error/);
  await bad({ target: 'all', command: 'set-log-level' }, /args.level" is missing/);
  await bad({ target: 'all', command: 'ping', args: { x: '1' } }, /args.x" is unknown for ping; it takes no arguments/);
  await bad({ target: 'everything', command: 'ping' }, /field "target": "everything": expected node:ID/);
  await bad({ target: 'all', command: 'ping', timeoutMs: 5 }, /field "timeoutMs"/);
  await bad(
    { target: 'all', command: 'service', args: { action: 'reload', name: 'x' } },
    /args.action": expected one of start, stop, restart/,
  );
  const missing = await run(hub, operator, { target: 'site:nowhere', command: 'ping' });
  assert.equal(missing.status, 404);
  assert.match(missing.view.message ?? '', /names no node/);
  const one = await run(hub, operator, { target: 'node:n2', command: 'ping' });
  assert.deepEqual(
    one.view.results.map((r) => [r.node, r.status]),
    [['n2', 'ok']],
  );
  const glob = await run(hub, operator, { target: 's1/n*', command: 'ping' });
  assert.equal(glob.view.results.length, 2);
});

test('commands: set-log-level changes the level of every part of the node and reverts after --for', async () => {
  const { hub, clock, operator, n1 } = await setup();
  const { view } = await run(hub, operator, { target: 'node:s1/n1', command: 'set-log-level', args: { level: 'debug', for: '10m' } });
  const r = view.results[0];
  assert.equal(r?.status, 'ok', JSON.stringify(r));
  const answer = r?.result as { level: string; previous: string; revertsAt: string; revertsTo: string };
  assert.equal(answer.level, 'debug');
  assert.equal(answer.previous, 'info');
  assert.equal(answer.revertsTo, 'info');
  assert.equal(answer.revertsAt, new Date(clock.now() + 600_000).toISOString());
  n1.lines.length = 0;
  await run(hub, operator, { target: 'node:s1/n1', command: 'get', args: { key: 'health' } });
  clock.advance(600_000);
  await waitFor(() => n1.lines.some((l) => l.msg === 'log level reverted'), { what: 'the level reverted' });
  const set = await run(hub, operator, { target: 'node:s1/n1', command: 'set-log-level', args: { level: 'warn' } });
  assert.equal((set.view.results[0]!.result as { previous: string }).previous, 'info', 'reverted to info');
  n1.lines.length = 0;
  await run(hub, operator, { target: 'node:s1/n1', command: 'ping' });
  await run(hub, operator, { target: 'node:s1/n1', command: 'get', args: { key: 'health' } });
  assert.deepEqual(
    n1.lines.filter((l) => l.level === 'info' || l.level === 'debug'),
    [],
    'at warn, no info line of the node passes',
  );
});

test('commands: get reads metrics, health and the running config (secrets redacted) at the node', async () => {
  const { hub, operator } = await setup();
  const get = async (key: string) => {
    const { view } = await run(hub, operator, { target: 'node:s1/n1', command: 'get', args: { key } });
    assert.equal(view.results[0]?.status, 'ok', JSON.stringify(view.results[0]));
    return (view.results[0]!.result as { values: Array<{ key: string; value: unknown; labels?: object }> }).values;
  };
  assert.deepEqual(
    (await get('cabinet_temp')).map((v) => [v.key, v.value]),
    [['cabinet_temp', 31.5]],
  );
  assert.deepEqual(
    (await get('config/publish/tick')).map((v) => [v.key, v.value]),
    [['config/publish/tick', 1000]],
  );
  assert.deepEqual(
    (await get('config/mqtt/password')).map((v) => v.value),
    ['(redacted)'],
  );
  const mqtt = await get('config/mqtt/*');
  assert.ok(mqtt.some((v) => v.key === 'config/mqtt/password' && v.value === '(redacted)'));
  assert.ok(!JSON.stringify(mqtt).includes('a-very-secret-password'));
  const health = (await get('health'))[0]?.value as { node: string; logLevel: string; collectors: string[] };
  assert.equal(health.node, 'n1');
  assert.deepEqual(health.collectors.slice(0, 1), ['feed']);
  const missing = await run(hub, operator, { target: 'node:s1/n1', command: 'get', args: { key: 'config/nope' } });
  assert.equal(missing.view.results[0]?.status, 'failed');
  assert.equal(missing.view.results[0]?.error?.code, 'FM_NOT_FOUND');
});

test('commands: restart-collector restarts it by name, an unknown one and a service fail with the node code; reload-config reaches the reconciliation', async () => {
  const { hub, operator, n1 } = await setup();
  assert.equal(n1.collector.starts, 1);
  const { view } = await run(hub, operator, { target: 'node:s1/n1', command: 'restart-collector', args: { name: 'feed' } });
  assert.equal(view.results[0]?.status, 'ok', JSON.stringify(view.results[0]));
  assert.equal(n1.collector.starts, 2);
  assert.deepEqual((view.results[0]!.result as { collector: string }).collector, 'feed');

  const unknown = await run(hub, operator, { target: 'node:s1/n1', command: 'restart-collector', args: { name: 'nope' } });
  assert.equal(unknown.view.results[0]?.error?.code, 'FM_NOT_FOUND');
  assert.match(unknown.view.results[0]?.error?.message ?? '', /no collector "nope" on this node; it runs feed/);
  // reload-config is the reconciliation's: without a config source the node reconciles nothing and says so.
  const reload = await run(hub, operator, { target: 'all', command: 'reload-config' });
  assert.deepEqual(
    reload.view.results.map((r) => [r.node, r.status, (r.result as { running?: { source?: string } } | undefined)?.running?.source]),
    [
      ['n1', 'ok', 'file'],
      ['n2', 'ok', 'file'],
    ],
  );
  const service = await run(hub, operator, { target: 'node:s1/n1', command: 'service', args: { action: 'restart', name: 'ghost' } });
  assert.equal(service.view.results[0]?.status, 'failed');
  assert.match(service.view.results[0]?.error?.code ?? '', /^FM_(NOT_FOUND|COMMAND_UNSUPPORTED)$/);
});

test('commands: an offline node fails fast as offline, the others answer; a detached run is polled to the same end', async () => {
  const { hub, operator, n2 } = await setup();
  await n2.stop();
  await waitFor(() => hub.fleet.get('s1', 'n2')?.state === 'offline', { what: 'n2 offline' });
  const { status, view } = await run(hub, operator, { target: 'site:s1', command: 'ping', detach: true });
  assert.equal(status, 202);
  const done = await waitFor(
    async () => {
      const v = (await hub.app.inject({ url: `/api/v1/commands/${view.id}`, headers: operator })).json() as CommandRunView;
      return v.state === 'done' && v;
    },
    { what: 'the run done' },
  );
  assert.deepEqual(
    done.results.map((r) => [r.node, r.status, r.error?.code]),
    [
      ['n1', 'ok', undefined],
      ['n2', 'offline', 'FM_NODE_OFFLINE'],
    ],
  );
});

test('get API: a critical metric from the hub, another from the node, health from the hub, a wildcard over config', async () => {
  const { hub, viewer } = await setup();
  const get = async (key: string) => {
    const res = await hub.app.inject({ url: `/api/v1/get?key=${encodeURIComponent(key)}`, headers: viewer });
    assert.equal(res.statusCode, 200, res.body);
    return res.json() as KeyValues;
  };
  const soc = await get('site/s1/node/*/battery_soc');
  assert.deepEqual(
    soc.values.map((v) => [v.key, v.value, v.source]),
    [
      ['site/s1/node/n1/battery_soc', 55, 'hub'],
      ['site/s1/node/n2/battery_soc', 66, 'hub'],
    ],
  );
  const temp = await get('site/*/node/n2/cabinet_temp');
  assert.deepEqual(
    temp.values.map((v) => [v.key, v.value, v.source]),
    [['site/s1/node/n2/cabinet_temp', 31.5, 'node']],
  );
  const health = await get('site/s1/node/n1/health');
  assert.equal((health.values[0]?.value as { state?: string } | undefined)?.state, 'online');
  const ticks = await get('site/s1/node/*/config/publish/*');
  assert.deepEqual(
    ticks.values.map((v) => [v.key, v.value]),
    [
      ['site/s1/node/n1/config/publish/heartbeat', 5000],
      ['site/s1/node/n1/config/publish/tick', 1000],
      ['site/s1/node/n2/config/publish/heartbeat', 5000],
      ['site/s1/node/n2/config/publish/tick', 1000],
    ],
  );
  const bad = await hub.app.inject({ url: '/api/v1/get?key=site/a//b', headers: viewer });
  assert.equal(bad.statusCode, 400);
  assert.match(bad.json().message, /empty segment/);
});
