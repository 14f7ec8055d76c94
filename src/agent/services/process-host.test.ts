// The supervisor with its real ports and real processes (node -e, sh -c): a SIGKILLed service restarted
// after its backoff, a crash loop with growing delays, an HTTP health check turning unhealthy, the log
// tail, a stop that ends the whole process group, usage from /proc, and pid files that let a later
// supervisor stop what an earlier one left running.

import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { freePort, waitFor } from '../../../test/kit/index.js';
import { systemClock } from '../../kit/index.js';
import {
  createHealthProbe,
  createPidRegistry,
  createProcessSpawner,
  createProcUsageReader,
  parseProcStat,
  signalGroup,
} from './process-host.js';
import { type ServiceConfig, serviceConfigSchema } from './service-config.js';
import { createServiceSupervisor, type ServiceEvent, type ServiceSupervisor } from './supervisor.js';

const NODE = process.execPath;
const dir = mkdtempSync(join(tmpdir(), 'fm-services-'));
/** Every group a test started, SIGKILLed at the end whatever happened. */
const groups = new Set<number>();
after(() => {
  for (const g of groups) signalGroup(g, 'SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

/** A live (not zombie) process of that pid. */
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

function service(entry: Record<string, unknown>): ServiceConfig {
  return serviceConfigSchema.parse(entry);
}

function supervise(services: ServiceConfig[], pidDir?: string) {
  const events: ServiceEvent[] = [];
  const host = { baseEnv: process.env };
  const sup: ServiceSupervisor = createServiceSupervisor({
    services,
    spawn: createProcessSpawner(host),
    probe: createHealthProbe(host),
    readUsage: createProcUsageReader(),
    ...(pidDir !== undefined ? { pids: createPidRegistry(pidDir) } : {}),
    clock: systemClock,
  });
  sup.subscribe((e) => {
    events.push(e);
    if (e.kind === 'service_started' && typeof e.payload.pid === 'number') groups.add(e.payload.pid);
  });
  const count = (kind: string, name?: string) =>
    events.filter((e) => e.kind === kind && (name === undefined || e.payload.service === name)).length;
  return { sup, events, count };
}

describe('services with real processes', () => {
  test('a service killed with SIGKILL is restarted after its backoff, the signal kept as its last exit', async () => {
    const { sup, events, count } = supervise([
      service({ name: 'cam', command: [NODE, '-e', 'setInterval(() => {}, 1000)'], backoff: { initial: '300ms' } }),
    ]);
    try {
      await sup.start();
      const first = sup.status('cam')?.pid as number;
      assert.ok(alive(first));
      process.kill(first, 'SIGKILL');
      await waitFor(() => count('service_started', 'cam') === 2, { what: 'a second start' });
      const exited = events.find((e) => e.kind === 'service_exited');
      assert.equal(exited?.payload.signal, 'SIGKILL');
      assert.ok((exited?.payload.restartInMs as number) >= 150 && (exited?.payload.restartInMs as number) <= 300);
      const started = events.filter((e) => e.kind === 'service_started');
      assert.ok((started[1]?.time as number) - (exited?.time as number) >= (exited?.payload.restartInMs as number) - 5);
      const s = sup.status('cam');
      assert.equal(s?.state, 'running');
      assert.notEqual(s?.pid, first);
      assert.equal(s?.restarts, 1);
      assert.equal(s?.lastExit?.signal, 'SIGKILL');
    } finally {
      await sup.stop();
    }
  });

  test('a crash-looping service waits in backoff with delays that grow', async () => {
    const { sup, events, count } = supervise([
      service({
        name: 'det',
        command: [NODE, '-e', 'console.error("model missing"); process.exit(3)'],
        backoff: { initial: '100ms', max: '2s' },
      }),
    ]);
    try {
      await sup.start();
      await waitFor(() => count('service_exited', 'det') >= 5, { what: 'five exits', timeoutMs: 10_000 });
      const delays = events.filter((e) => e.kind === 'service_exited').map((e) => e.payload.restartInMs as number);
      for (let i = 1; i < delays.length; i++)
        assert.ok((delays[i] as number) >= (delays[i - 1] as number), `delays ${delays} never shrink`);
      assert.ok((delays[4] as number) >= 4 * (delays[0] as number), `delays ${delays} grow`);
      assert.ok(events.filter((e) => e.kind === 'service_exited').every((e) => e.payload.code === 3));
      await waitFor(() => sup.status('det')?.state === 'backoff', { what: 'backoff' });
      assert.ok(sup.status('det')?.nextStartAt !== null);
      assert.ok(sup.logs('det')?.some((l) => l.stream === 'stderr' && l.line === 'model missing'));
    } finally {
      await sup.stop();
    }
    assert.equal(sup.status('det')?.state, 'stopped');
  });

  test('an HTTP health check: healthy while it answers 2xx, unhealthy after `failures` errors', async () => {
    const port = await freePort();
    const sick = join(dir, 'sick');
    const program = `require('http').createServer((q, r) => { r.statusCode = require('fs').existsSync(${JSON.stringify(sick)}) ? 503 : 200; r.end(); }).listen(${port}, '127.0.0.1')`;
    const { sup, events } = supervise([
      service({
        name: 'det',
        command: [NODE, '-e', program],
        health: { http: `http://127.0.0.1:${port}/healthz`, interval: '100ms', timeout: '500ms', failures: 2 },
      }),
    ]);
    try {
      await sup.start();
      await waitFor(() => sup.status('det')?.state === 'healthy', { what: 'healthy' });
      writeFileSync(sick, '');
      await waitFor(() => sup.status('det')?.state === 'unhealthy', { what: 'unhealthy' });
      const e = events.find((x) => x.kind === 'service_unhealthy');
      assert.equal(e?.payload.detail, 'HTTP 503');
      assert.equal(e?.payload.failures, 2);
      rmSync(sick);
      await waitFor(() => sup.status('det')?.state === 'healthy', { what: 'healthy again' });
      assert.deepEqual(
        events.map((x) => x.kind),
        ['service_started', 'service_healthy', 'service_unhealthy', 'service_healthy'],
      );
    } finally {
      await sup.stop();
    }
  });

  test('a command health check: exit 0 is healthy; one past its timeout is killed and counts as failed', async () => {
    const idle = [NODE, '-e', 'setInterval(() => {}, 1000)'];
    const { sup, events } = supervise([
      service({
        name: 'ok',
        command: idle,
        health: { command: ['sh', '-c', 'test -n "$PROBE_ENV"'], interval: '100ms' },
        env: { PROBE_ENV: 1 },
      }),
      service({ name: 'slow', command: idle, health: { command: ['sleep', '30'], interval: '100ms', timeout: '200ms', failures: 1 } }),
    ]);
    try {
      await sup.start();
      await waitFor(() => sup.status('ok')?.state === 'healthy' && sup.status('slow')?.state === 'unhealthy', {
        what: 'ok healthy, slow unhealthy',
      });
      assert.equal(events.find((e) => e.kind === 'service_unhealthy')?.payload.detail, 'timed out after 200 ms');
      assert.equal(sup.status('ok')?.health?.lastResult?.detail, 'exit 0');
    } finally {
      await sup.stop();
    }
  });

  test('logs: the newest lines of stdout and stderr with their stream, across restarts', async () => {
    const { sup, count } = supervise([
      service({
        name: 'probe',
        command: ['sh', '-c', 'for i in 1 2 3 4 5 6; do echo "reading $i"; done; echo "disk low" >&2; exit 1'],
        logLines: 4,
        backoff: { initial: '100ms' },
      }),
    ]);
    try {
      await sup.start();
      await waitFor(() => count('service_exited') >= 2, { what: 'two runs' });
      const lines = sup.logs('probe') ?? [];
      assert.equal(lines.length, 4);
      assert.deepEqual(
        lines.slice(-4).map((l) => `${l.stream} ${l.line}`),
        ['stdout reading 4', 'stdout reading 5', 'stdout reading 6', 'stderr disk low'],
      );
      assert.deepEqual(
        sup.logs('probe', 1)?.map((l) => l.line),
        ['disk low'],
      );
    } finally {
      await sup.stop();
    }
  });

  test('stop ends the whole process group: children that ignore SIGTERM get SIGKILL after stopTimeout', async () => {
    const { sup, events } = supervise([
      service({ name: 'cam', command: ['sh', '-c', 'trap "" TERM; sleep 300 & sleep 300 & wait'], stopTimeout: '300ms' }),
    ]);
    await sup.start();
    const pgid = sup.status('cam')?.pid as number;
    await waitFor(() => groupMembers(pgid).length === 3, { what: 'sh and two sleeps' });
    const usage = await waitFor(
      () => {
        const u = sup.status('cam')?.usage;
        return u?.processes === 3 ? u : undefined;
      },
      { what: 'usage of three processes' },
    );
    assert.ok(usage.memoryBytes > 0);
    const members = groupMembers(pgid);
    const t0 = Date.now();
    const s = await sup.stopService('cam');
    assert.ok(Date.now() - t0 >= 250, 'SIGTERM was ignored: SIGKILL came after stopTimeout');
    assert.equal(s.state, 'stopped');
    assert.equal(s.lastExit?.signal, 'SIGKILL');
    await waitFor(() => members.every((p) => !alive(p)), { what: 'every process of the group gone' });
    assert.equal(events.at(-1)?.payload.expected, true);
    await sup.stop();
  });

  test('a command that does not exist is reported and retried, not thrown', async () => {
    const { sup, count } = supervise([service({ name: 'ghost', command: [join(dir, 'no-such-program')], backoff: { initial: '100ms' } })]);
    try {
      await sup.start();
      await waitFor(() => count('service_exited') >= 2, { what: 'two failed starts' });
      assert.match(sup.status('ghost')?.lastExit?.error ?? '', /ENOENT/);
      assert.equal(count('service_started'), 0);
    } finally {
      await sup.stop();
    }
  });

  test('reconcile with real processes: the unchanged keep their pid, the changed and added start, the removed stop', async () => {
    const idle = (name: string, arg = 'a') => service({ name, command: [NODE, '-e', 'setInterval(() => {}, 1000)', arg] });
    const { sup } = supervise([idle('keep'), idle('change'), idle('drop')]);
    try {
      await sup.start();
      const before = Object.fromEntries(sup.list().map((s) => [s.name, s.pid as number]));
      const result = await sup.reconcile([idle('keep'), idle('change', 'b'), idle('add')]);
      assert.deepEqual(result, { added: ['add'], removed: ['drop'], changed: ['change'], unchanged: ['keep'] });
      assert.equal(sup.status('keep')?.pid, before.keep);
      assert.ok(!alive(before.drop as number) && !alive(before.change as number));
      for (const name of ['change', 'add']) {
        const s = sup.status(name);
        assert.equal(s?.state, 'running');
        assert.ok(alive(s?.pid as number));
      }
      assert.deepEqual(sup.status('change')?.command.at(-1), 'b');
    } finally {
      await sup.stop();
    }
  });

  test('an agent whose event loop crashes (an uncaught exception) takes its services with it', async () => {
    // A process that supervises one service (with a child of its own), prints the pid, then throws.
    const script = join(dir, 'crash.mts');
    writeFileSync(
      script,
      [
        `import { systemClock } from ${JSON.stringify(new URL('../../kit/index.ts', import.meta.url).pathname)};`,
        `import { createProcessSpawner, createHealthProbe } from ${JSON.stringify(new URL('./process-host.ts', import.meta.url).pathname)};`,
        `import { serviceConfigSchema } from ${JSON.stringify(new URL('./service-config.ts', import.meta.url).pathname)};`,
        `import { createServiceSupervisor } from ${JSON.stringify(new URL('./supervisor.ts', import.meta.url).pathname)};`,
        "const sup = createServiceSupervisor({ services: [serviceConfigSchema.parse({ name: 'cam', command: ['sh', '-c', 'sleep 300 & wait'] })],",
        '  spawn: createProcessSpawner({ baseEnv: process.env }), probe: createHealthProbe({ baseEnv: process.env }), clock: systemClock });',
        'await sup.start();',
        "console.log('pid', sup.status('cam')?.pid);",
        "setTimeout(() => { throw new Error('event loop crash'); }, 300);",
      ].join('\n'),
    );
    const { spawn } = await import('node:child_process');
    const child = spawn(NODE, ['--import', 'tsx', script], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      err += d.toString();
    });
    const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
    const pid = Number(/pid (\d+)/.exec(out)?.[1]);
    assert.ok(pid > 0, `the script printed its service's pid: ${out} ${err}`);
    groups.add(pid);
    assert.equal(code, 1);
    assert.match(err, /event loop crash/);
    await waitFor(() => groupMembers(pid).length === 0, { what: "the service's group gone with the crashed agent" });
  });

  test('pid files: a later supervisor stops the group an earlier one left running, and starts its own', async () => {
    const pidDir = join(dir, 'pids');
    const spec = service({ name: 'cam', command: ['sh', '-c', 'sleep 300 & sleep 300; wait'] });
    const first = supervise([spec], pidDir);
    await first.sup.start();
    const orphan = first.sup.status('cam')?.pid as number;
    await waitFor(() => groupMembers(orphan).length === 3, { what: 'the first group' });
    const orphans = groupMembers(orphan);
    assert.deepEqual(readdirSync(pidDir), ['cam.pid.json']);
    // The first supervisor's agent "dies" without stopping anything (as after SIGKILL): its group keeps running.
    const second = supervise([spec], pidDir);
    try {
      await second.sup.start();
      assert.ok(
        orphans.every((p) => !alive(p)),
        'the orphaned group is gone',
      );
      const mine = second.sup.status('cam')?.pid as number;
      assert.notEqual(mine, orphan);
      assert.ok(alive(mine));
      assert.equal(JSON.parse(readFileSync(join(pidDir, 'cam.pid.json'), 'utf8')).pid, mine);
    } finally {
      await second.sup.stop();
    }
    assert.deepEqual(readdirSync(pidDir), []);
  });

  test('pid files: a recorded pid now used by another process is left alone', async () => {
    const pidDir = join(dir, 'reused');
    const bystander = createServer().listen(0);
    try {
      // This test process stands for "someone else" holding the pid, with another start time.
      writeFileSync(join(dir, 'x'), '');
      const registry = createPidRegistry(pidDir);
      registry.record(service({ name: 'cam', command: ['x'] }), process.pid);
      const path = join(pidDir, 'cam.pid.json');
      const body = JSON.parse(readFileSync(path, 'utf8'));
      writeFileSync(path, JSON.stringify({ ...body, startTicks: body.startTicks - 1 }));
      const reaped = await registry.reapOrphans(() => 100);
      assert.deepEqual(reaped, []);
      assert.deepEqual(readdirSync(pidDir), []);
    } finally {
      bystander.close();
    }
  });
});
