// Remote write (issue 14): the node's forwarder to a real VictoriaMetrics. (1) Throughput: a store's history of S series
// x P points forwarded from a cold cursor, samples/s and the process's CPU per million samples; vmagent (Debian's
// victoria-metrics package ships it) forwarding the same samples to the same kind of receiver beside it, fed by remote
// write requests of the same size, its CPU read from /proc. (2) Exactness across an outage: live samples written
// while VictoriaMetrics is stopped for OUTAGE_S seconds (default 60) and started again on its data dir and port;
// samples written = samples VictoriaMetrics holds, no duplicate.
// Standalone: npx tsx bench/remote-write.ts

import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { createNodeRemoteWrites } from '../src/agent/remote-write.js';
import { createSqliteStore } from '../src/agent/store/index.js';
import { silentLogger, systemClock } from '../src/kit/index.js';
import { encodeWriteRequest, REMOTE_WRITE_HEADERS, type RemoteSeries, remoteWritesSchema } from '../src/protocol/remote-write/index.js';
import { freePort } from '../test/kit/ports.js';
import { startVictoriaMetrics, type VictoriaMetrics } from '../test/kit/victoria-metrics.js';
import { waitFor } from '../test/kit/wait.js';

const CLK_TCK = 100;

function procCpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
}

function queue(over: Record<string, unknown> = {}) {
  return { maxSamplesPerSend: 2000, maxShards: 4, batchSendDeadline: '200ms', minBackoff: '30ms', maxBackoff: '1s', ...over };
}

async function throughput(vm: VictoriaMetrics, seriesCount: number, points: number) {
  const dir = mkdtempSync(join(tmpdir(), 'fm-bench-rw-'));
  const store = createSqliteStore({ path: join(dir, 'store.db') });
  const t0 = Date.now() - points * 1000 - 60_000;
  for (let p = 0; p < points; p += 100) {
    const batch = [];
    for (let i = p; i < Math.min(points, p + 100); i++)
      for (let s = 0; s < seriesCount; s++)
        batch.push({ name: 'bench_tp_value', labels: { s: String(s) }, value: Math.sin(i / 10 + s), time: t0 + i * 1000 });
    await store.append(batch);
  }
  const registry = new Registry();
  const rw = createNodeRemoteWrites(remoteWritesSchema.parse([{ url: vm.writeUrl, name: 'tp', history: '1d', queue: queue() }]), {
    store,
    stateDir: dir,
    identity: { site: 'bench', node: 'n1' },
    registry,
    clock: systemClock,
    logger: silentLogger,
  });
  const cpu0 = process.cpuUsage();
  const wall0 = performance.now();
  await rw.start();
  await rw.forwarders[0]?.waitForCursor(t0 + (points - 1) * 1000);
  const wallS = (performance.now() - wall0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  await rw.stop();
  await store.close();
  rmSync(dir, { recursive: true, force: true });
  const samples = seriesCount * points;
  const held = await vm.countSamples('{__name__="bench_tp_value"}');
  const cpuS = (cpu.user + cpu.system) / 1e6;
  return {
    who: 'fieldmesh forwarder (store -> VictoriaMetrics)',
    series: seriesCount,
    samples,
    receivedByVictoriaMetrics: held,
    seconds: Number(wallS.toFixed(2)),
    samplesPerSecond: Math.round(samples / wallS),
    cpuSeconds: Number(cpuS.toFixed(2)),
    cpuSecondsPerMillionSamples: Number(((cpuS * 1e6) / samples).toFixed(2)),
  };
}

/** vmagent forwarding the same samples to a second VictoriaMetrics: fed by remote write requests of 2,000 samples. */
async function vmagentThroughput(seriesCount: number, points: number) {
  const target = await startVictoriaMetrics();
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'fm-bench-vmagent-'));
  let child: ChildProcess | undefined = spawn(
    '/usr/bin/vmagent',
    [
      `-httpListenAddr=127.0.0.1:${port}`,
      `-remoteWrite.url=${target.writeUrl}`,
      `-remoteWrite.tmpDataPath=${dir}`,
      '-remoteWrite.queues=4',
      '-remoteWrite.maxRowsPerBlock=2000',
    ],
    { stdio: 'ignore' },
  );
  try {
    const pid = child.pid as number;
    await waitFor(async () => (await fetch(`http://127.0.0.1:${port}/health`).catch(() => undefined))?.ok === true, {
      what: 'vmagent',
      timeoutMs: 20_000,
    });
    const t0 = Date.now() - points * 1000 - 60_000;
    // The requests are built before the clock starts: what is measured is vmagent's, not this process's encoding.
    const bodies: Uint8Array[] = [];
    const perRequest = Math.max(1, Math.floor(2000 / seriesCount));
    for (let p = 0; p < points; p += perRequest) {
      const timeseries: RemoteSeries[] = [];
      for (let s = 0; s < seriesCount; s++)
        timeseries.push({
          labels: { __name__: 'bench_tp_value', s: String(s), site: 'bench', node: 'n1' },
          samples: Array.from({ length: Math.min(perRequest, points - p) }, (_, k) => ({
            timestampMs: t0 + (p + k) * 1000,
            value: Math.sin((p + k) / 10 + s),
          })),
        });
      bodies.push(encodeWriteRequest({ timeseries }));
    }
    const cpu0 = procCpuSeconds(pid);
    const wall0 = performance.now();
    for (const body of bodies) {
      const res = await fetch(`http://127.0.0.1:${port}/api/v1/write`, { method: 'POST', headers: REMOTE_WRITE_HEADERS, body });
      if (!res.ok) throw new Error(`vmagent answered ${res.status}`);
    }
    const samples = seriesCount * points;
    await waitFor(async () => (await target.countSamples('{__name__="bench_tp_value"}')) >= samples, {
      what: 'vmagent forwarded everything',
      timeoutMs: 120_000,
      intervalMs: 100,
    });
    const wallS = (performance.now() - wall0) / 1000;
    const cpuS = procCpuSeconds(pid) - cpu0;
    return {
      who: 'vmagent (remote write in -> VictoriaMetrics), fed the same samples',
      series: seriesCount,
      samples,
      receivedByVictoriaMetrics: await target.countSamples('{__name__="bench_tp_value"}'),
      seconds: Number(wallS.toFixed(2)),
      samplesPerSecond: Math.round(samples / wallS),
      cpuSeconds: Number(cpuS.toFixed(2)),
      cpuSecondsPerMillionSamples: Number(((cpuS * 1e6) / samples).toFixed(2)),
      note: 'wall time includes polling VictoriaMetrics every 100 ms until it holds every sample; CPU includes decoding the incoming requests',
    };
  } finally {
    const c = child;
    child = undefined;
    if (c !== undefined && c.exitCode === null) {
      const exited = new Promise((resolve) => c.once('exit', resolve));
      c.kill('SIGTERM');
      await exited;
    }
    await target.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function outage(vm: VictoriaMetrics, outageS: number) {
  const dir = mkdtempSync(join(tmpdir(), 'fm-bench-rw-out-'));
  const store = createSqliteStore({ path: join(dir, 'store.db') });
  const registry = new Registry();
  const rw = createNodeRemoteWrites(remoteWritesSchema.parse([{ url: vm.writeUrl, name: 'out', queue: queue({ maxBackoff: '5s' }) }]), {
    store,
    stateDir: dir,
    identity: { site: 'bench', node: 'n2' },
    registry,
    clock: systemClock,
    logger: silentLogger,
  });
  const metric = async (name: string) => (await registry.getSingleMetric(name)?.get())?.values[0]?.value ?? 0;
  await rw.start();
  const series = 50;
  let written = 0;
  let last = 0;
  let stop = false;
  // 50 series, one sample each every 100 ms (500 samples/s), for at most outage + 60 s.
  const writer = (async () => {
    const end = Date.now() + (outageS + 60) * 1000;
    while (!stop && Date.now() < end) {
      const time = Math.max(Date.now(), last + 1);
      last = time;
      await store.append(
        Array.from({ length: series }, (_, s) => ({ name: 'bench_outage_value', labels: { s: String(s) }, value: time % 100_000, time })),
      );
      written += series;
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  await waitFor(async () => (await metric('fieldmesh_remote_write_samples_sent_total')) >= 5000, {
    what: 'samples before the outage',
    timeoutMs: 60_000,
  });
  const down = performance.now();
  await vm.stop();
  await new Promise((r) => setTimeout(r, outageS * 1000));
  await vm.restart();
  const downS = (performance.now() - down) / 1000;
  const pendingAtRestart = written - (await metric('fieldmesh_remote_write_samples_sent_total'));
  const caughtUp0 = performance.now();
  await waitFor(async () => (rw.forwarders[0]?.cursorMs ?? 0) >= last - 1500, { what: 'caught up', timeoutMs: 120_000, intervalMs: 100 });
  const catchUpS = (performance.now() - caughtUp0) / 1000;
  await new Promise((r) => setTimeout(r, 3000));
  stop = true;
  await writer;
  await rw.forwarders[0]?.waitForCursor(last);
  const retried = await metric('fieldmesh_remote_write_samples_retried_total');
  const dropped = await metric('fieldmesh_remote_write_samples_dropped_total');
  const sent = await metric('fieldmesh_remote_write_samples_sent_total');
  await rw.stop();
  await store.close();
  rmSync(dir, { recursive: true, force: true });
  const held = await vm.exportSamples('{__name__="bench_outage_value"}');
  let received = 0;
  let duplicates = 0;
  for (const points of held.values()) {
    received += points.length;
    duplicates += points.length - new Set(points.map(([t]) => t)).size;
  }
  return {
    outageSeconds: Number(downS.toFixed(1)),
    written,
    sentAcknowledged: sent,
    receivedByVictoriaMetrics: received,
    duplicates,
    exact: received === written && duplicates === 0,
    pendingAtRestart,
    catchUpSeconds: Number(catchUpS.toFixed(2)),
    samplesRetried: retried,
    samplesDropped: dropped,
  };
}

export async function benchRemoteWrite(outageS = Number(process.env.OUTAGE_S ?? 60)) {
  const vm = await startVictoriaMetrics();
  try {
    const fieldmesh = await throughput(vm, 100, 3000);
    const vmagent = await vmagentThroughput(100, 3000);
    const exactness = await outage(vm, outageS);
    return { victoriaMetrics: '1.79 (Debian)', throughput: [fieldmesh, vmagent], outage: exactness };
  } finally {
    await vm.close();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) console.log(JSON.stringify(await benchRemoteWrite(), null, 2));
