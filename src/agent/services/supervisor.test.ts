// The service supervisor's state machine on a manual clock with a fake spawner and probe: backoff
// sequence and its reset, restart policies, health checks, stop escalation, reconcile.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { isFieldmeshError, ManualClock } from '../../kit/index.js';
import { type ServiceConfig, serviceConfigSchema, servicesSchema } from './service-config.js';
import {
  createServiceSupervisor,
  type HealthResult,
  type ServiceEvent,
  type ServiceExit,
  type ServiceSupervisor,
  type SpawnHandlers,
} from './supervisor.js';

interface FakeProc {
  readonly pid: number;
  readonly name: string;
  readonly at: number;
  readonly signals: string[];
  /** Ignores SIGTERM (a stubborn service): only SIGKILL ends it. */
  stubborn: boolean;
  alive: boolean;
  exit(exit: ServiceExit): void;
  print(stream: 'stdout' | 'stderr', text: string): void;
}

function fakeHost(clock: ManualClock) {
  const procs: FakeProc[] = [];
  let nextPid = 1000;
  let health: HealthResult = { ok: true, detail: 'HTTP 200' };
  let failSpawn: string | undefined;
  const spawn = (service: ServiceConfig, handlers: SpawnHandlers) => {
    if (failSpawn !== undefined) {
      const error = failSpawn;
      queueMicrotask(() => handlers.exit({ code: null, signal: null, error }));
      return { pid: undefined, kill() {} };
    }
    const p: FakeProc = {
      pid: nextPid++,
      name: service.name,
      at: clock.monotonic(),
      signals: [],
      stubborn: false,
      alive: true,
      exit(exit) {
        if (!p.alive) return;
        p.alive = false;
        handlers.exit(exit);
      },
      print: (stream, text) => handlers.output(stream, text),
    };
    procs.push(p);
    return {
      pid: p.pid,
      kill(signal: 'SIGTERM' | 'SIGKILL') {
        p.signals.push(signal);
        if (signal === 'SIGKILL' || !p.stubborn) queueMicrotask(() => p.exit({ code: null, signal }));
      },
    };
  };
  return {
    procs,
    spawn,
    probe: async () => health,
    setHealth: (h: HealthResult) => {
      health = h;
    },
    failSpawns: (why: string | undefined) => {
      failSpawn = why;
    },
    of: (name: string) => procs.filter((p) => p.name === name),
    last: (name: string) => procs.filter((p) => p.name === name).at(-1) as FakeProc,
  };
}

const settle = () => new Promise((r) => setImmediate(r));

function service(entry: Record<string, unknown>): ServiceConfig {
  return serviceConfigSchema.parse({ name: 'cam', command: ['cam-exporter'], ...entry });
}

function setup(services: ServiceConfig[], random = () => 0) {
  const clock = new ManualClock();
  const host = fakeHost(clock);
  const events: ServiceEvent[] = [];
  const sup: ServiceSupervisor = createServiceSupervisor({
    services,
    spawn: host.spawn,
    probe: host.probe,
    clock,
    random,
    onEvent: (e) => events.push(e),
  });
  const kinds = (name?: string) => events.filter((e) => name === undefined || e.payload.service === name).map((e) => e.kind);
  /** Advances the clock in steps, letting probes and exits settle between them. */
  const advance = async (ms: number, step = 100) => {
    for (let t = 0; t < ms; t += step) {
      clock.advance(Math.min(step, ms - t));
      await settle();
    }
  };
  return { clock, host, events, sup, kinds, advance };
}

describe('service supervisor', () => {
  test('a crash-looping service restarts after delays that double up to the maximum', async () => {
    const { host, sup, events, advance, clock } = setup([service({ backoff: { initial: '1s', max: '8s' } })]);
    await sup.start();
    const exitedAt: number[] = [];
    for (let i = 0; i < 6; i++) {
      exitedAt.push(clock.monotonic());
      host.last('cam').exit({ code: 1, signal: null });
      await settle();
      assert.equal(sup.status('cam')?.state, 'backoff');
      await advance(8_000);
    }
    const delays = events.filter((e) => e.kind === 'service_exited').map((e) => e.payload.restartInMs);
    assert.deepEqual(delays, [1_000, 2_000, 4_000, 8_000, 8_000, 8_000]);
    // Each start came exactly its delay after the exit.
    assert.deepEqual(
      host
        .of('cam')
        .slice(1)
        .map((p, i) => p.at - (exitedAt[i] as number)),
      delays,
    );
    assert.equal(sup.status('cam')?.restarts, 6);
  });

  test('jitter keeps each delay between half its ceiling and the ceiling', async () => {
    const { host, sup, events, advance } = setup([service({ backoff: { initial: '1s', max: '1m' } })], () => 1);
    await sup.start();
    for (let i = 0; i < 4; i++) {
      host.last('cam').exit({ code: 1, signal: null });
      await settle();
      await advance(9_000, 500);
    }
    const delays = events.filter((e) => e.kind === 'service_exited').map((e) => e.payload.restartInMs as number);
    assert.deepEqual(delays, [500, 1_000, 2_000, 4_000]);
  });

  test('backoff starts over after `reset` of running (no health check)', async () => {
    const { host, sup, events, advance } = setup([service({ backoff: { initial: '1s', max: '1m', reset: '60s' } })]);
    await sup.start();
    for (let i = 0; i < 3; i++) {
      host.last('cam').exit({ code: 1, signal: null });
      await settle();
      await advance(5_000, 500);
    }
    // 31 s up: not yet `reset`, the delay keeps growing.
    await advance(30_000, 1_000);
    host.last('cam').exit({ code: 1, signal: null });
    await settle();
    await advance(8_000, 1_000);
    // 60 s up: the next delay is `initial` again.
    await advance(60_000, 1_000);
    host.last('cam').exit({ code: 2, signal: null });
    await settle();
    const delays = events.filter((e) => e.kind === 'service_exited').map((e) => e.payload.restartInMs);
    assert.deepEqual(delays, [1_000, 2_000, 4_000, 8_000, 1_000]);
  });

  test('backoff starts over only after `reset` of healthy running, with a health check', async () => {
    const { host, sup, events, advance } = setup([
      service({ backoff: { initial: '1s', max: '1m', reset: '30s' }, health: { http: 'http://127.0.0.1:9/healthz', interval: '5s' } }),
    ]);
    await sup.start();
    host.last('cam').exit({ code: 1, signal: null });
    await advance(2_000);
    host.last('cam').exit({ code: 1, signal: null });
    await advance(3_000);
    // Unhealthy for a long time: no reset.
    host.setHealth({ ok: false, detail: 'HTTP 503' });
    await advance(60_000, 1_000);
    assert.equal(sup.status('cam')?.state, 'unhealthy');
    host.last('cam').exit({ code: 1, signal: null });
    await settle();
    await advance(5_000, 500);
    // Healthy for 30 s: reset.
    host.setHealth({ ok: true, detail: 'HTTP 200' });
    await advance(40_000, 1_000);
    assert.equal(sup.status('cam')?.state, 'healthy');
    host.last('cam').exit({ code: 1, signal: null });
    await settle();
    const delays = events.filter((e) => e.kind === 'service_exited').map((e) => e.payload.restartInMs);
    assert.deepEqual(delays, [1_000, 2_000, 4_000, 1_000]);
  });

  test('restart policies: always after a clean exit, on-failure only after a failure, never ends in failed', async () => {
    const { host, sup, kinds } = setup([
      service({ name: 'a', restart: 'always' }),
      service({ name: 'f', restart: 'on-failure' }),
      service({ name: 'f0', restart: 'on-failure' }),
      service({ name: 'n', restart: 'never' }),
      service({ name: 'n0', restart: 'never' }),
    ]);
    await sup.start();
    host.last('a').exit({ code: 0, signal: null });
    host.last('f').exit({ code: null, signal: 'SIGSEGV' });
    host.last('f0').exit({ code: 0, signal: null });
    host.last('n').exit({ code: 3, signal: null });
    host.last('n0').exit({ code: 0, signal: null });
    await settle();
    assert.equal(sup.status('a')?.state, 'backoff');
    assert.equal(sup.status('f')?.state, 'backoff');
    assert.equal(sup.status('f0')?.state, 'stopped');
    assert.equal(sup.status('n')?.state, 'failed');
    assert.equal(sup.status('n0')?.state, 'stopped');
    assert.deepEqual(kinds('n'), ['service_started', 'service_exited', 'service_failed']);
    assert.deepEqual(kinds('n0'), ['service_started', 'service_exited']);
    assert.deepEqual(sup.status('n')?.lastExit && { code: sup.status('n')?.lastExit?.code, signal: sup.status('n')?.lastExit?.signal }, {
      code: 3,
      signal: null,
    });
  });

  test('health: starting until a check passes, unhealthy after `failures` in a row, healthy again on success', async () => {
    const { host, sup, kinds, advance, events } = setup([service({ health: { command: ['probe'], interval: '10s', failures: 3 } })]);
    await sup.start();
    assert.equal(sup.status('cam')?.state, 'starting');
    await advance(10_000);
    assert.equal(sup.status('cam')?.state, 'healthy');
    host.setHealth({ ok: false, detail: 'exit 1' });
    await advance(20_000);
    assert.equal(sup.status('cam')?.state, 'healthy', 'two failures are not yet three');
    assert.equal(sup.status('cam')?.health?.consecutiveFailures, 2);
    await advance(10_000);
    assert.equal(sup.status('cam')?.state, 'unhealthy');
    const unhealthy = events.find((e) => e.kind === 'service_unhealthy');
    assert.equal(unhealthy?.payload.failures, 3);
    assert.equal(unhealthy?.payload.detail, 'exit 1');
    host.setHealth({ ok: true, detail: 'exit 0' });
    await advance(10_000);
    assert.equal(sup.status('cam')?.state, 'healthy');
    assert.deepEqual(kinds(), ['service_started', 'service_healthy', 'service_unhealthy', 'service_healthy']);
    assert.equal(host.of('cam').length, 1, 'an unhealthy service is not restarted unless health.restart');
  });

  test('health.restart: an unhealthy service is stopped and started again after its backoff', async () => {
    const { host, sup, advance, events } = setup([
      service({ restart: 'never', health: { command: ['probe'], interval: '1s', failures: 2, restart: true } }),
    ]);
    await sup.start();
    host.setHealth({ ok: false, detail: 'timed out after 2000 ms' });
    await advance(2_000);
    assert.deepEqual(host.of('cam')[0]?.signals, ['SIGTERM']);
    assert.equal(sup.status('cam')?.state, 'backoff');
    await advance(1_000);
    assert.equal(host.of('cam').length, 2);
    assert.equal(events.find((e) => e.kind === 'service_started' && e.payload.cause === 'health')?.payload.restarts, 1);
  });

  test('stop: SIGTERM to the group, SIGKILL after stopTimeout; a stopped service stays down', async () => {
    const { host, sup, clock } = setup([service({ stopTimeout: '5s' })]);
    await sup.start();
    const p = host.last('cam');
    p.stubborn = true;
    let done = false;
    const stopped = sup.stopService('cam').then((s) => {
      done = true;
      return s;
    });
    await settle();
    assert.deepEqual(p.signals, ['SIGTERM']);
    clock.advance(4_999);
    await settle();
    assert.equal(done, false);
    clock.advance(1);
    await settle();
    assert.deepEqual(p.signals, ['SIGTERM', 'SIGKILL']);
    const s = await stopped;
    assert.equal(s.state, 'stopped');
    assert.equal(s.pid, null);
    clock.advance(600_000);
    assert.equal(host.of('cam').length, 1);
  });

  test('operators start, stop and restart; a restart starts at once and counts', async () => {
    const { host, sup, kinds } = setup([service({ autostart: false })]);
    await sup.start();
    assert.equal(sup.status('cam')?.state, 'stopped');
    assert.equal(host.of('cam').length, 0);
    const started = await sup.startService('cam');
    assert.equal(started.state, 'running');
    assert.equal(started.pid, host.last('cam').pid);
    const again = await sup.startService('cam');
    assert.equal(again.pid, started.pid, 'starting a running service changes nothing');
    const restarted = await sup.restartService('cam');
    assert.notEqual(restarted.pid, started.pid);
    assert.equal(restarted.restarts, 1);
    assert.deepEqual(kinds(), ['service_started', 'service_exited', 'service_started']);
    await sup.stopService('cam');
    await assert.rejects(sup.startService('nope'), (err: unknown) => isFieldmeshError(err, 'FM_NOT_FOUND') && /cam/.test(err.message));
  });

  test('a program that cannot start is retried with backoff, its reason kept', async () => {
    const { host, sup, advance } = setup([service({ backoff: { initial: '2s', max: '1m' } })]);
    host.failSpawns('ENOENT: cannot run cam-exporter');
    await sup.start();
    await settle();
    const s = sup.status('cam');
    assert.equal(s?.state, 'backoff');
    assert.equal(s?.lastExit?.error, 'ENOENT: cannot run cam-exporter');
    host.failSpawns(undefined);
    await advance(2_000);
    assert.equal(sup.status('cam')?.state, 'running');
  });

  test('logs: the newest logLines lines with stream and time, partial lines joined', async () => {
    const { host, sup, clock } = setup([service({ logLines: 3 })]);
    await sup.start();
    const p = host.last('cam');
    p.print('stdout', 'one\ntw');
    p.print('stderr', 'warn: lens\n');
    clock.advance(1_000);
    p.print('stdout', 'o\nthree\nfour\n');
    const lines = sup.logs('cam');
    assert.deepEqual(
      lines?.map((l) => `${l.stream}:${l.line}`),
      ['stdout:two', 'stdout:three', 'stdout:four'],
    );
    assert.deepEqual(
      sup.logs('cam', 1)?.map((l) => l.line),
      ['four'],
    );
    assert.equal(sup.logs('nope'), undefined);
  });

  test('reconcile: adds, removes, restarts the changed, leaves the unchanged running', async () => {
    const keep = service({ name: 'keep' });
    const change = service({ name: 'change', command: ['detector', '--threshold', '0.5'] });
    const drop = service({ name: 'drop' });
    const { host, sup } = setup([keep, change, drop]);
    await sup.start();
    const keepPid = host.last('keep').pid;
    const changePid = host.last('change').pid;
    const result = await sup.reconcile([
      // Same entry written differently (keys in another order, defaults spelled out): unchanged.
      serviceConfigSchema.parse({ command: ['cam-exporter'], restart: 'on-failure', name: 'keep', autostart: true }),
      service({ name: 'change', command: ['detector', '--threshold', '0.7'] }),
      service({ name: 'add' }),
    ]);
    assert.deepEqual(result, { added: ['add'], removed: ['drop'], changed: ['change'], unchanged: ['keep'] });
    assert.equal(sup.status('keep')?.pid, keepPid);
    assert.deepEqual(host.last('drop').signals, ['SIGTERM']);
    assert.equal(sup.status('drop'), undefined);
    assert.notEqual(sup.status('change')?.pid, changePid);
    assert.deepEqual(host.last('change').at >= 0 && sup.status('change')?.command, ['detector', '--threshold', '0.7']);
    assert.equal(sup.status('add')?.state, 'running');
    assert.deepEqual(
      sup.list().map((s) => s.name),
      ['keep', 'change', 'add'],
    );
  });

  test('stop() brings every service down and nothing restarts afterwards', async () => {
    const { host, sup, clock } = setup([service({ name: 'a', restart: 'always' }), service({ name: 'b' })]);
    await sup.start();
    await sup.stop();
    assert.deepEqual(
      sup.list().map((s) => s.state),
      ['stopped', 'stopped'],
    );
    clock.advance(600_000);
    assert.equal(host.procs.length, 2);
  });
});

describe('services config', () => {
  test('names are unique, argv non-empty, a health check has exactly one kind', () => {
    const r = servicesSchema.safeParse([
      { name: 'cam', command: ['a'] },
      { name: 'cam', command: [] },
      { name: 'Bad_Name', command: ['b'], health: { http: 'http://x/h', command: ['c'] } },
    ]);
    assert.equal(r.success, false);
    const issues = r.error?.issues.map((i) => `${i.path.join('.')}: ${i.message}`) ?? [];
    assert.ok(
      issues.some((i) => /^1\.command: command needs at least the program/.test(i)),
      issues.join('\n'),
    );
    assert.ok(
      issues.some((i) => /^2\.name: a service name/.test(i)),
      issues.join('\n'),
    );
    assert.ok(
      issues.some((i) => /^2\.health: a health check has exactly one of http or command/.test(i)),
      issues.join('\n'),
    );
  });

  test('defaults: autostart, on-failure, 1s..5m backoff reset after 60s, 10s stop timeout, 500 lines', () => {
    const s = serviceConfigSchema.parse({
      name: 'det',
      command: ['det'],
      env: { THRESHOLD: 0.5 },
      health: { http: 'http://127.0.0.1:8080/h' },
    });
    assert.equal(s.autostart, true);
    assert.equal(s.restart, 'on-failure');
    assert.deepEqual(s.backoff, { initial: 1_000, max: 300_000, reset: 60_000 });
    assert.equal(s.stopTimeout, 10_000);
    assert.equal(s.logLines, 500);
    assert.deepEqual(s.env, { THRESHOLD: '0.5' });
    assert.deepEqual({ ...s.health }, { http: 'http://127.0.0.1:8080/h', interval: 10_000, timeout: 2_000, failures: 3, restart: false });
  });
});
