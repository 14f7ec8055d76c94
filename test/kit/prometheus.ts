// Starts Debian's prometheus for tests on a free 127.0.0.1 port with its TSDB in a temp dir: as a remote write
// receiver (--web.enable-remote-write-receiver) and, given a config, as a scraper and remote write sender. Ready once
// /-/ready answers 200; stopped by its own PID on every path.

import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { accessSync, constants, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './ports.js';
import { spawnReaped } from './reaper.js';
import { haltProcess } from './server-process.js';
import { waitFor } from './wait.js';

export interface PrometheusServer {
  /** `http://127.0.0.1:<port>`. */
  readonly url: string;
  /** Its remote write receiver, `<url>/api/v1/write`. */
  readonly writeUrl: string;
  log(): string;
  /** GET /api/v1/query; throws unless the status is success. */
  query(expr: string, timeSeconds?: number): Promise<unknown>;
  stop(): Promise<void>;
  /** Stops it and deletes its temp dir. */
  close(): Promise<void>;
}

export function prometheusBinary(): string {
  for (const c of ['/usr/bin/prometheus', ...(process.env.PATH ?? '').split(':').map((d) => join(d, 'prometheus'))]) {
    try {
      accessSync(c, constants.X_OK);
      return c;
    } catch {}
  }
  throw new Error('prometheus is not installed (Debian package "prometheus")');
}

export interface PrometheusOptions {
  /** prometheus.yml; default none to scrape (a receiver only). */
  readonly config?: string;
  readonly readyTimeoutMs?: number;
}

export async function startPrometheus(options: PrometheusOptions = {}): Promise<PrometheusServer> {
  const dir = mkdtempSync(join(tmpdir(), 'fieldmesh-prometheus-'));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const configFile = join(dir, 'prometheus.yml');
  writeFileSync(configFile, options.config ?? 'global:\n  scrape_interval: 15s\n');
  let output = '';
  let child: ChildProcess | undefined = spawnReaped(
    prometheusBinary(),
    [
      `--config.file=${configFile}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--web.enable-remote-write-receiver',
      // A sample written at any time in the last day is accepted (the default rejects what is older than the head).
      '--storage.tsdb.retention.time=1d',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const proc = child;
  proc.stdout?.on('data', (b: Buffer) => {
    output += b.toString('utf8');
  });
  proc.stderr?.on('data', (b: Buffer) => {
    output += b.toString('utf8');
  });
  const halt = async () => {
    const p = child;
    child = undefined;
    await haltProcess(p, 'SIGTERM', 10_000);
  };
  try {
    await waitFor(
      async () => {
        if (proc.exitCode !== null || proc.signalCode !== null) throw new Error(`prometheus exited:\n${output}`);
        const res = await fetch(`${url}/-/ready`).catch(() => undefined);
        return res?.status === 200;
      },
      { what: 'prometheus /-/ready', timeoutMs: options.readyTimeoutMs ?? 30_000, intervalMs: 50 },
    );
  } catch (err) {
    await halt();
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  return {
    url,
    writeUrl: `${url}/api/v1/write`,
    log: () => output,
    async query(expr, timeSeconds) {
      const params = new URLSearchParams({ query: expr });
      if (timeSeconds !== undefined) params.set('time', String(timeSeconds));
      const res = await fetch(`${url}/api/v1/query?${params}`);
      const body = (await res.json()) as { status: string; data: unknown; error?: string };
      if (body.status !== 'success') throw new Error(`prometheus query ${expr}: ${body.error}`);
      return body.data;
    },
    stop: halt,
    async close() {
      await halt();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * A Prometheus that scrapes `targetPort` every second (job `probe`) and remote-writes what it scrapes to `writeUrl`
 * with a bearer token, flushing at least every second; resolves once it holds `scrapes` scrapes of
 * `fm_probe_value{probe="a"}` (the probe target's series, see the remote-write tests).
 */
export async function startRemoteWritingPrometheus(o: {
  readonly targetPort: number;
  readonly writeUrl: string;
  readonly token: string;
  readonly scrapes?: number;
}): Promise<PrometheusServer> {
  const server = await startPrometheus({
    config: [
      'global:',
      '  scrape_interval: 1s',
      'scrape_configs:',
      '  - job_name: probe',
      '    static_configs:',
      `      - targets: ['127.0.0.1:${o.targetPort}']`,
      'remote_write:',
      `  - url: ${o.writeUrl}`,
      '    authorization:',
      `      credentials: ${o.token}`,
      '    queue_config:',
      '      batch_send_deadline: 1s',
      '',
    ].join('\n'),
  });
  const scrapes = o.scrapes ?? 5;
  try {
    await waitFor(
      async () => {
        const data = (await server.query('count_over_time(fm_probe_value{probe="a"}[10m])')) as {
          result: Array<{ value: [number, string] }>;
        };
        return Number(data.result[0]?.value[1] ?? 0) >= scrapes;
      },
      { what: `${scrapes} scrapes in Prometheus`, timeoutMs: 30_000, intervalMs: 200 },
    );
  } catch (err) {
    await server.close();
    throw err;
  }
  return server;
}

/** The raw samples `expr` (a range selector) answers at `atMs` on a Prometheus API, by `probe` label: "ms=value", sorted. */
export async function rawSamplesByProbe(url: string, expr: string, atMs: number): Promise<Map<string, string[]>> {
  const res = await fetch(`${url}/api/v1/query?${new URLSearchParams({ query: expr, time: String(atMs / 1000) })}`);
  const body = (await res.json()) as {
    status: string;
    error?: string;
    data: { result: Array<{ metric: Record<string, string>; values: Array<[number, string]> }> };
  };
  assert.equal(body.status, 'success', body.error);
  const out = new Map<string, string[]>();
  for (const r of body.data.result)
    out.set(r.metric.probe as string, r.values.map(([t, v]) => `${Math.round(t * 1000)}=${Number(v)}`).sort());
  return out;
}
