// Node services end to end with real processes: an in-process agent (createAgent) runs its services, shows
// them on its API and /metrics, sends their events and fieldmesh_service_up to a real hub through a real
// Mosquitto, and stops them when it stops; a node process (the built CLI) killed with SIGTERM leaves no
// service behind, one killed with SIGKILL leaves them to the next start, which stops them; the
// `fieldmesh node service` commands against a running node.

import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type Agent, agentConfigSchema, createAgent, parseProcStat } from '../../src/agent/index.js';
import { createHub, type Hub, hubConfigSchema } from '../../src/hub/index.js';
import { type FieldmeshProcess, fieldmeshKilledAfter } from '../kit/fieldmesh-process.js';
import { type MosquittoInstance, startMosquitto } from '../kit/mosquitto.js';
import { freePort } from '../kit/ports.js';
import { waitFor } from '../kit/wait.js';

const NODE = process.execPath;
const TOKEN = 'services-token-0123456789';
const dir = mkdtempSync(join(tmpdir(), 'fm-services-it-'));
const tokenFile = join(dir, 'token');
writeFileSync(tokenFile, `${TOKEN}\n`);
/** Every service pid seen, SIGKILLed (with its group) at the end whatever happened. */
const seen = new Set<number>();
after(() => {
  for (const pid of seen) {
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
  rmSync(dir, { recursive: true, force: true });
});
const run = fieldmeshKilledAfter();

function alive(pid: number): boolean {
  try {
    return parseProcStat(readFileSync(`/proc/${pid}/stat`, 'utf8'))?.state !== 'Z';
  } catch {
    return false;
  }
}

/** The live processes of a process group. */
function groupMembers(pgid: number): number[] {
  return readdirSync('/proc')
    .filter((e) => /^\d+$/.test(e))
    .filter((e) => {
      try {
        const s = parseProcStat(readFileSync(`/proc/${e}/stat`, 'utf8'));
        return s?.pgrp === pgid && s.state !== 'Z';
      } catch {
        return false;
      }
    })
    .map(Number);
}

const CAMERA = { name: 'camera-exporter', command: [NODE, '-e', "console.log('camera rtsp://cam-1 up'); setInterval(() => {}, 1000)"] };
/** A service with a child of its own: a stop must end both. */
const DETECTOR = { name: 'detector', command: ['sh', '-c', 'echo detector ready; sleep 300 & wait'] };

async function api(url: string, path: string, init: RequestInit = {}) {
  const res = await fetch(`${url}${path}`, init);
  return {
    status: res.status,
    body: (await res.json()) as {
      data?: Record<string, unknown> & { services?: Record<string, unknown>[] };
      code?: string;
      error?: string;
    },
  };
}

/** The service in a POST's answer (asserting there is one). */
function serviceOf(r: Awaited<ReturnType<typeof api>>): { state: string; pid: number; restarts: number } {
  const s = r.body.data?.service;
  assert.ok(s, JSON.stringify(r.body));
  return s as { state: string; pid: number; restarts: number };
}

describe('node services in an agent, with a hub', () => {
  let mosquitto: MosquittoInstance;
  let hub: Hub;
  let agent: Agent;
  let url: string;

  before(async () => {
    mosquitto = await startMosquitto();
    hub = createHub(
      hubConfigSchema.parse({ dataDir: dir, storage: { path: join(dir, 'hub.db') }, mqtt: { url: mosquitto.url, clientId: 'hub' } }),
    );
    await hub.start({ listen: false });
    agent = createAgent(
      agentConfigSchema.parse({
        dataDir: join(dir, 'agent'),
        node: { id: 'jetson-1', site: 'farm' },
        mqtt: { url: mosquitto.url },
        http: { port: 0 },
        publish: { tick: '200ms' },
        outbox: { historyInterval: '200ms' },
        commands: { token: TOKEN },
        services: [CAMERA, DETECTOR, { name: 'probe', command: ['sh', '-c', 'exit 0'], autostart: false }],
      }),
    );
    url = (await agent.start()).httpUrl as string;
    for (const s of agent.services.list()) if (s.pid !== null) seen.add(s.pid);
  });

  after(async () => {
    await agent?.stop();
    await hub?.stop();
    await mosquitto?.stop();
  });

  test('the API lists the services with state, pid and usage; one service; its logs', async () => {
    const list = await api(url, '/api/v1/services');
    assert.equal(list.status, 200);
    const services = list.body.data?.services ?? [];
    assert.deepEqual(
      services.map((s) => [s.name, s.state]),
      [
        ['camera-exporter', 'running'],
        ['detector', 'running'],
        ['probe', 'stopped'],
      ],
    );
    const cam = await api(url, '/api/v1/services/camera-exporter');
    assert.equal(cam.body.data?.pid, agent.services.status('camera-exporter')?.pid);
    assert.ok(alive(cam.body.data?.pid as number));
    await waitFor(
      async () => ((await api(url, '/api/v1/services/camera-exporter/logs?lines=5')).body.data?.lines as unknown[])?.length === 1,
      {
        what: 'the camera line in the logs',
      },
    );
    const logs = await api(url, '/api/v1/services/camera-exporter/logs?lines=5');
    assert.deepEqual(
      ((logs.body.data?.lines ?? []) as { stream: string; line: string }[]).map((l) => [l.stream, l.line]),
      [['stdout', 'camera rtsp://cam-1 up']],
    );
    const unknown = await api(url, '/api/v1/services/nope');
    assert.equal(unknown.status, 404);
    assert.equal(unknown.body.code, 'FM_NOT_FOUND');
    assert.match(unknown.body.error ?? '', /camera-exporter, detector, probe/);
    const bad = await api(url, '/api/v1/services/camera-exporter/logs?lines=zero');
    assert.equal(bad.status, 400);
    assert.equal(bad.body.code, 'FM_QUERY_INVALID');
  });

  test('POSTs need commands.token: 401 without or with a wrong one, then start, stop, restart', async () => {
    const post = (path: string, token?: string) =>
      api(url, path, {
        method: 'POST',
        headers: token === undefined ? {} : { authorization: `Bearer ${token}`, 'x-fieldmesh-operator': 'ana' },
      });
    assert.equal((await post('/api/v1/services/probe/start')).status, 401);
    assert.equal((await post('/api/v1/services/probe/start', 'wrong-token-0123456789')).status, 401);
    assert.equal((await post('/api/v1/services/probe/launch', TOKEN)).status, 400);
    const before = agent.services.status('camera-exporter')?.pid as number;
    const restarted = await post('/api/v1/services/camera-exporter/restart', TOKEN);
    assert.equal(restarted.status, 200);
    const after = serviceOf(restarted).pid;
    seen.add(after);
    assert.notEqual(after, before);
    assert.equal(restarted.body.data?.by, 'api:ana');
    await waitFor(() => !alive(before), { what: 'the old camera process gone' });
    const stopped = await post('/api/v1/services/camera-exporter/stop', TOKEN);
    assert.equal(serviceOf(stopped).state, 'stopped');
    await waitFor(() => !alive(after), { what: 'the camera process gone' });
    const started = await post('/api/v1/services/camera-exporter/start', TOKEN);
    assert.equal(serviceOf(started).state, 'running');
    seen.add(serviceOf(started).pid);
    const metrics = await (await fetch(`${url}/metrics`)).text();
    assert.match(metrics, /fieldmesh_service_commands_total\{action="restart",result="ok"[^}]*\} 1/);
    assert.match(metrics, /fieldmesh_service_commands_total\{action="start",result="unauthorized"[^}]*\} 2/);
  });

  test('/metrics: up, restarts, CPU seconds and memory per service', async () => {
    const metrics = await (await fetch(`${url}/metrics`)).text();
    const value = (name: string, service: string) => {
      const line = metrics.split('\n').find((l) => l.startsWith(`${name}{`) && l.includes(`service="${service}"`));
      return line === undefined ? undefined : Number(line.split(' ').at(-1));
    };
    assert.equal(value('fieldmesh_service_up', 'detector'), 1);
    assert.equal(value('fieldmesh_service_up', 'probe'), 0);
    assert.equal(value('fieldmesh_service_restarts_total', 'camera-exporter'), 2);
    assert.ok((value('fieldmesh_service_memory_bytes', 'detector') as number) > 0);
    assert.ok((value('fieldmesh_service_cpu_seconds_total', 'camera-exporter') as number) >= 0);
  });

  test('the hub gets the service events and fieldmesh_service_up as a live value', async () => {
    const events = await waitFor(
      async () => {
        const body = (await hub.app.inject('/api/v1/events?kind=service_started&limit=50')).json() as { events?: { kind: string }[] };
        const list = body.events ?? [];
        return list.length >= 4 ? list : undefined;
      },
      { what: 'service_started events at the hub', timeoutMs: 10_000 },
    );
    assert.ok(events.every((e) => e.kind === 'service_started'));
    const exited = (await hub.app.inject('/api/v1/events?kind=service_exited&limit=50')).json() as { events: unknown[] };
    assert.ok(exited.events.length >= 2);
    await waitFor(
      () => {
        const node = hub.fleet.get('farm', 'jetson-1');
        const values = [...(node?.values.values() ?? [])];
        return values.find((v) => v.def.name === 'fieldmesh_service_up' && v.def.labels.service === 'detector' && v.value === 1);
      },
      { what: 'fieldmesh_service_up{service="detector"} 1 live at the hub', timeoutMs: 10_000 },
    );
  });

  test('stopping the agent stops every service, children included', async () => {
    const pids = agent.services
      .list()
      .map((s) => s.pid)
      .filter((p): p is number => p !== null);
    const members = pids.flatMap(groupMembers);
    assert.ok(members.length >= 3, `camera, detector and its sleep: ${members}`);
    await agent.stop();
    await waitFor(() => members.every((p) => !alive(p)), { what: 'every service process gone' });
    assert.deepEqual(
      agent.services.list().map((s) => s.state),
      ['stopped', 'stopped', 'stopped'],
    );
  });
});

describe('node services in a node process', () => {
  async function writeNodeConfig(name: string, withToken = true): Promise<{ path: string; url: string }> {
    const port = await freePort();
    const path = join(dir, `${name}.yaml`);
    const services = [CAMERA, DETECTOR];
    writeFileSync(
      path,
      [
        'node: {id: cam-node, site: farm}',
        'mqtt: {enabled: false}',
        `dataDir: ${join(dir, name)}`,
        `http: {port: ${port}}`,
        ...(withToken ? [`commands: {token: ${TOKEN}}`] : []),
        `services: ${JSON.stringify(services)}`,
      ].join('\n'),
    );
    return { path, url: `http://127.0.0.1:${port}` };
  }

  async function startNode(path: string): Promise<FieldmeshProcess> {
    const node = run(['node', '-c', path]);
    await node.waitForOutput(/HTTP http/);
    return node;
  }

  async function servicePids(url: string): Promise<number[]> {
    const body = (await (await fetch(`${url}/api/v1/services`)).json()) as { data: { services: { pid: number | null }[] } };
    const pids = body.data.services.map((s) => s.pid).filter((p): p is number => p !== null);
    for (const p of pids) seen.add(p);
    return pids;
  }

  async function cli(args: string[]): Promise<{ code: number | string; out: string; err: string }> {
    const p = run(['node', 'service', ...args]);
    const code = await p.exited();
    return { code, out: p.stdout(), err: p.stderr() };
  }

  test('fieldmesh node service status, logs, restart, stop against a running node; exit codes', async () => {
    const { path, url } = await writeNodeConfig('cli');
    const node = await startNode(path);
    try {
      const pids = await waitFor(async () => ((await servicePids(url)).length === 2 ? servicePids(url) : undefined), { what: 'two pids' });
      const status = await cli(['status', '--node', url]);
      assert.equal(status.code, 0, status.err);
      assert.match(status.out, /^SERVICE\s+STATE\s+SINCE\s+PID\s+RESTARTS\s+LAST EXIT\s+CPU\s+MEMORY$/m);
      assert.match(status.out, new RegExp(`^camera-exporter\\s+running\\s+.*\\s${pids[0]}\\s+0\\s+-\\s`, 'm'));
      const json = await cli(['status', 'detector', '--node', url, '--json']);
      assert.equal(JSON.parse(json.out).state, 'running');
      await waitFor(async () => (await cli(['logs', 'detector', '--node', url])).out.includes('detector ready'), { what: 'the log line' });
      const logs = await cli(['logs', 'detector', '--node', url, '-n', '1']);
      assert.match(logs.out, /^\d{4}-\d\d-\d\dT\S+Z out detector ready$/m);
      const noToken = await cli(['restart', 'camera-exporter', '--node', url]);
      assert.equal(noToken.code, 2);
      assert.match(noToken.err, /FM_AUTH_REQUIRED: .*commands\.token/);
      const restart = await cli(['restart', 'camera-exporter', '--node', url, '--token-file', tokenFile, '--by', 'ana']);
      assert.equal(restart.code, 0, restart.err);
      assert.match(restart.out, /^restart camera-exporter at http:\/\/127\.0\.0\.1:\d+: running \(pid \d+\), by api:ana$/m);
      await servicePids(url);
      const stop = await cli(['stop', 'detector', '--node', url, '--token', TOKEN]);
      assert.equal(stop.code, 0, stop.err);
      const down = await cli(['status', '--node', url]);
      assert.equal(down.code, 1, 'a stopped service makes status exit 1');
      assert.match(down.out, /^detector\s+stopped\s/m);
      const unknown = await cli(['status', 'nope', '--node', url]);
      assert.equal(unknown.code, 2);
      assert.match(unknown.err, /FM_NOT_FOUND: .*service "nope" is not one of this node's \(camera-exporter, detector\)/);
    } finally {
      node.kill('SIGTERM');
      await node.exited();
    }
    const unreachable = await cli(['status', '--node', url]);
    assert.equal(unreachable.code, 2);
    assert.match(unreachable.err, /FM_TRANSPORT_UNAVAILABLE: the node at .* is unreachable/);
  });

  test('a node without commands.token answers service commands 403', async () => {
    const { path, url } = await writeNodeConfig('no-token', false);
    const node = await startNode(path);
    try {
      await waitFor(async () => (await servicePids(url)).length === 2, { what: 'two services up' });
      const res = await fetch(`${url}/api/v1/services/detector/stop`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` } });
      assert.equal(res.status, 403);
      const r = await cli(['stop', 'detector', '--node', url, '--token', TOKEN]);
      assert.equal(r.code, 2);
      assert.match(r.err, /FM_AUTH_FORBIDDEN: .*set commands\.token in node\.yaml/);
    } finally {
      node.kill('SIGTERM');
      await node.exited();
    }
  });

  test('SIGTERM to the node leaves no service process behind', async () => {
    const { path, url } = await writeNodeConfig('sigterm');
    const node = await startNode(path);
    const pids = await waitFor(async () => ((await servicePids(url)).length === 2 ? servicePids(url) : undefined), { what: 'two pids' });
    const members = await waitFor(
      () => {
        const m = pids.flatMap(groupMembers);
        return m.length === 3 ? m : undefined;
      },
      { what: 'camera, detector and its child' },
    );
    node.kill('SIGTERM');
    assert.equal(await node.exited(), 0);
    assert.deepEqual(
      members.filter((p) => alive(p)),
      [],
      'no service process outlives the node',
    );
  });

  test('SIGKILL of the node orphans its services; the next start stops them (pid files) and starts its own', async () => {
    const { path, url } = await writeNodeConfig('sigkill');
    const first = await startNode(path);
    const pids = await waitFor(async () => ((await servicePids(url)).length === 2 ? servicePids(url) : undefined), { what: 'two pids' });
    const orphans = await waitFor(
      () => {
        const m = pids.flatMap(groupMembers);
        return m.length === 3 ? m : undefined;
      },
      { what: 'camera, detector and its child' },
    );
    first.kill('SIGKILL');
    await first.exited();
    assert.ok(orphans.every(alive), 'after SIGKILL the services run on as orphans (documented)');
    const second = await startNode(path);
    try {
      assert.deepEqual(orphans.filter(alive), [], 'the next node stopped the orphans before starting its services');
      const fresh = await waitFor(async () => ((await servicePids(url)).length === 2 ? servicePids(url) : undefined), {
        what: 'two new pids',
      });
      assert.ok(fresh.every((p) => !pids.includes(p)));
    } finally {
      second.kill('SIGTERM');
      await second.exited();
    }
  });
});
