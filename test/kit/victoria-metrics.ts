// Starts Debian's victoria-metrics for tests, a remote write receiver on a free 127.0.0.1 port with a temp data dir;
// ready once /health answers; stop (SIGTERM: it flushes what it acknowledged) and restart on the same port and dir;
// stopped by its own PID only. Counts what it holds through its export API.

import type { ChildProcess } from 'node:child_process';
import { accessSync, constants, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './ports.js';
import { spawnReaped } from './reaper.js';
import { haltProcess } from './server-process.js';
import { waitFor } from './wait.js';

export interface VictoriaMetrics {
  /** `http://127.0.0.1:<port>`. */
  readonly url: string;
  /** Its remote write endpoint, `<url>/api/v1/write`. */
  readonly writeUrl: string;
  readonly running: boolean;
  log(): string;
  /** Every raw sample it holds of the series `match` selects (a series selector), by series text; flushes first. */
  exportSamples(match: string): Promise<Map<string, Array<[number, number]>>>;
  /** Samples it holds of the series `match` selects. */
  countSamples(match: string): Promise<number>;
  /** Stops it gracefully (SIGTERM): what it acknowledged is written to its data dir. */
  stop(): Promise<void>;
  /** kill -9. */
  kill(): Promise<void>;
  /** Starts it again on the same port and data dir; resolves once ready. */
  restart(): Promise<void>;
  /** Stops it and deletes its data dir. */
  close(): Promise<void>;
}

export function victoriaMetricsBinary(): string {
  for (const c of ['/usr/bin/victoria-metrics', ...(process.env.PATH ?? '').split(':').map((d) => join(d, 'victoria-metrics'))]) {
    try {
      accessSync(c, constants.X_OK);
      return c;
    } catch {}
  }
  throw new Error('victoria-metrics is not installed (Debian package "victoria-metrics")');
}

export async function startVictoriaMetrics(options: { readyTimeoutMs?: number } = {}): Promise<VictoriaMetrics> {
  const binary = victoriaMetricsBinary();
  const dir = mkdtempSync(join(tmpdir(), 'fieldmesh-vm-'));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  let child: ChildProcess | undefined;
  let output = '';

  async function launch(): Promise<void> {
    const proc = spawnReaped(
      binary,
      [
        `-storageDataPath=${join(dir, 'data')}`,
        `-httpListenAddr=127.0.0.1:${port}`,
        '-retentionPeriod=100y',
        // No self-scrape, no telemetry: the test counts only what it sent.
        '-selfScrapeInterval=0',
        '-loggerLevel=INFO',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    child = proc;
    proc.stdout?.on('data', (b: Buffer) => {
      output += b.toString('utf8');
    });
    proc.stderr?.on('data', (b: Buffer) => {
      output += b.toString('utf8');
    });
    try {
      await waitFor(
        async () => {
          if (proc.exitCode !== null || proc.signalCode !== null) throw new Error(`victoria-metrics exited:\n${output}`);
          const res = await fetch(`${url}/health`).catch(() => undefined);
          return res?.ok === true;
        },
        { what: 'victoria-metrics /health', timeoutMs: options.readyTimeoutMs ?? 20_000, intervalMs: 50 },
      );
    } catch (err) {
      await haltProcess(proc, 'SIGKILL');
      throw err;
    }
  }

  async function halt(signal: NodeJS.Signals): Promise<void> {
    const proc = child;
    child = undefined;
    await haltProcess(proc, signal, 15_000);
  }

  async function exportSamples(match: string): Promise<Map<string, Array<[number, number]>>> {
    // Ingested rows become searchable after an in-memory buffer is flushed: flush it now.
    const flushed = await fetch(`${url}/internal/force_flush`);
    if (!flushed.ok) throw new Error(`force_flush answered ${flushed.status}`);
    const res = await fetch(`${url}/api/v1/export?${new URLSearchParams({ 'match[]': match, start: '0' })}`);
    if (!res.ok) throw new Error(`export answered ${res.status}: ${await res.text()}`);
    const out = new Map<string, Array<[number, number]>>();
    for (const line of (await res.text()).split('\n')) {
      if (line.trim() === '') continue;
      const row = JSON.parse(line) as { metric: Record<string, string>; values: number[]; timestamps: number[] };
      const { __name__: name, ...labels } = row.metric;
      const key = `${name}${JSON.stringify(Object.fromEntries(Object.entries(labels).sort()))}`;
      const points = out.get(key) ?? [];
      for (let i = 0; i < row.timestamps.length; i++) points.push([row.timestamps[i] as number, row.values[i] as number]);
      out.set(key, points);
    }
    return out;
  }

  await launch();
  return {
    url,
    writeUrl: `${url}/api/v1/write`,
    get running() {
      return child !== undefined && child.exitCode === null && child.signalCode === null;
    },
    log: () => output,
    exportSamples,
    async countSamples(match) {
      let n = 0;
      for (const points of (await exportSamples(match)).values()) n += points.length;
      return n;
    },
    stop: () => halt('SIGTERM'),
    kill: () => halt('SIGKILL'),
    async restart() {
      await halt('SIGTERM');
      await launch();
    },
    async close() {
      await halt('SIGTERM');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface Vmagent {
  readonly url: string;
  log(): string;
  /** Stops it (SIGTERM) and deletes its temp dir. */
  close(): Promise<void>;
}

/** Starts Debian's vmagent (shipped in the victoria-metrics package) on a free port with `args`; ready once /health answers. */
export async function startVmagent(args: readonly string[], options: { readyTimeoutMs?: number } = {}): Promise<Vmagent> {
  const dir = mkdtempSync(join(tmpdir(), 'fieldmesh-vmagent-'));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  let output = '';
  const proc = spawnReaped(
    '/usr/bin/vmagent',
    [`-httpListenAddr=127.0.0.1:${port}`, `-remoteWrite.tmpDataPath=${join(dir, 'queue')}`, ...args],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  proc.stdout?.on('data', (b: Buffer) => {
    output += b.toString('utf8');
  });
  proc.stderr?.on('data', (b: Buffer) => {
    output += b.toString('utf8');
  });
  const close = async () => {
    await haltProcess(proc, 'SIGTERM', 10_000);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitFor(
      async () => {
        if (proc.exitCode !== null || proc.signalCode !== null) throw new Error(`vmagent exited:\n${output}`);
        return (await fetch(`${url}/health`).catch(() => undefined))?.ok === true;
      },
      { what: 'vmagent /health', timeoutMs: options.readyTimeoutMs ?? 20_000, intervalMs: 50 },
    );
  } catch (err) {
    await close();
    throw err;
  }
  return { url, log: () => output, close };
}
