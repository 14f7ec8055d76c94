// VictoriaMetrics beside the local store (issue 3): bytes per sample on disk for the same simulated day
// of the standard battery workload that bench/store.ts writes to fieldmesh's store, measured in the same run.
// Standalone: npx tsx bench/victoria-metrics.ts [nodes]   (nodes x 5 metrics = series; default 200)

import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { accessSync, constants, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from '../test/kit/ports.js';
import { waitFor } from '../test/kit/wait.js';
import { loadWorkload } from './workload.js';

export interface VictoriaMetricsBytes {
  /** Everything under -storageDataPath (sum of file sizes). */
  readonly total: number;
  /** `data/`: the samples (timestamps, values and their per-part block index). */
  readonly data: number;
  /** `indexdb/`: the inverted index from labels to series. */
  readonly indexdb: number;
  /** Sum of allocated blocks (`du`), for the whole directory. */
  readonly totalAllocated: number;
  /** VictoriaMetrics' own figure (`vm_data_size_bytes`, storage and indexdb). */
  readonly reportedByVm: number;
}

export interface VictoriaMetricsResult {
  readonly version: string;
  readonly workload: string;
  readonly series: number;
  /** Samples imported (and accepted: the import answered 204 for every batch). */
  readonly samples: number;
  /** Samples VictoriaMetrics returns for the day: `sum(count_over_time({__name__!=""}[...]))`. */
  readonly samplesCounted: number;
  /** Bytes on disk of the whole storage directory per sample. */
  readonly bytesPerSample: number;
  /** Bytes of `data/` alone per sample (without the index). */
  readonly bytesPerSampleData: number;
  readonly bytes: VictoriaMetricsBytes;
  /** Parts left after the forced merges (storage, indexdb). */
  readonly parts: { readonly storage: number; readonly indexdb: number };
  /** Forced merges of the month's partition it took to leave one part (a single one can leave two). */
  readonly mergeRounds: number;
  /** Wall time from the first import request to the last answer (the sims run meanwhile, on the same CPUs). */
  readonly importSeconds: number;
  readonly importSamplesPerSecond: number;
  /** Of which the workload's sims (generating the values and the request bodies). */
  readonly generateSeconds: number;
  /** Flush, forced merges and waiting until merges stop and the directory stops changing. */
  readonly settleSeconds: number;
  readonly flags: readonly string[];
}

const DAY_MS = 86_400_000;
const INTERVAL_MS = 5000;
/** One request per 30 simulated minutes of the whole fleet: about 7 MB of JSON lines at 1,000 series. */
const TICKS_PER_BATCH = 360;
const BINARY = '/usr/bin/victoria-metrics';
const READY_TIMEOUT_MS = 30_000;
const SETTLE_TIMEOUT_MS = 300_000;
const STOP_TIMEOUT_MS = 30_000;
const INSTALL_TIMEOUT_MS = 600_000;
const MAX_MERGE_ROUNDS = 4;

const run = promisify(execFile);

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The binary, installed from Debian's archive when missing and this process may; else why it is not there. */
async function findVictoriaMetrics(): Promise<{ binary: string } | { skipped: string }> {
  if (isExecutable(BINARY)) return { binary: BINARY };
  if (process.getuid?.() !== 0) return { skipped: `${BINARY} is not installed (Debian package "victoria-metrics") and this is not root` };
  if (!isExecutable('/usr/bin/apt-get')) return { skipped: `${BINARY} is not installed and there is no apt-get to install it` };
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const install = () => run('apt-get', ['install', '-y', 'victoria-metrics'], { env, timeout: INSTALL_TIMEOUT_MS, maxBuffer: 16 << 20 });
  try {
    await install();
  } catch {
    // A fresh image often has no package lists yet: refresh them once and try again.
    try {
      await run('apt-get', ['update'], { env, timeout: INSTALL_TIMEOUT_MS, maxBuffer: 16 << 20 });
      await install();
    } catch (err) {
      const why = err instanceof Error ? err.message.split('\n').slice(-3).join(' ') : String(err);
      return { skipped: `apt-get install victoria-metrics failed: ${why}` };
    }
  }
  return isExecutable(BINARY) ? { binary: BINARY } : { skipped: `apt-get installed victoria-metrics but ${BINARY} is missing` };
}

/** Debian's build leaves `vm_app_version` empty and prints no `-version`, so the package version is asked too. */
async function versionOf(binary: string, url: string): Promise<string> {
  const fromMetrics = /^vm_app_version\{version="([^"]*)"/m.exec(await (await fetch(`${url}/metrics`)).text())?.[1];
  if (fromMetrics) return fromMetrics;
  try {
    // `dpkg-query -W` prints "victoria-metrics<TAB>1.79.5+ds1-2+b5".
    const { stdout } = await run('dpkg-query', ['-W', 'victoria-metrics']);
    const version = stdout.trim().split('\t')[1];
    if (version) return `${version} (Debian package)`;
  } catch {}
  const { stdout } = await run(binary, ['-version']);
  return stdout.trim() || 'unknown';
}

interface VictoriaMetricsProcess {
  readonly url: string;
  readonly pid: number;
  log(): string;
  /** SIGTERM, SIGKILL after STOP_TIMEOUT_MS; resolves once the process has exited. */
  stop(): Promise<void>;
}

async function startVictoriaMetrics(binary: string, args: readonly string[], port: number): Promise<VictoriaMetricsProcess> {
  const url = `http://127.0.0.1:${port}`;
  const child: ChildProcess = spawn(binary, [...args, `-httpListenAddr=127.0.0.1:${port}`], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString('utf8')).slice(-64_000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let spawnError: Error | undefined;
  child.once('error', (err) => {
    spawnError = err;
  });
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
    const kill = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
    child.kill('SIGTERM');
    await exited;
    clearTimeout(kill);
  };
  try {
    const ready = await waitFor(
      async () => {
        if (spawnError || child.exitCode !== null || child.signalCode !== null) return 'exited';
        const res = await fetch(`${url}/health`);
        return res.ok && (await res.text()).trim() === 'OK' && 'ready';
      },
      { timeoutMs: READY_TIMEOUT_MS, intervalMs: 50, what: `victoria-metrics to answer ${url}/health` },
    );
    if (ready === 'exited')
      throw new Error(
        spawnError ? `cannot start ${binary}: ${spawnError.message}` : `victoria-metrics exited (${child.exitCode ?? child.signalCode})`,
      );
  } catch (err) {
    await stop();
    throw new Error(`${err instanceof Error ? err.message : String(err)}\n${output.slice(-4000)}`);
  }
  return { url, pid: child.pid ?? -1, log: () => output, stop };
}

async function request(url: string, init?: RequestInit): Promise<string> {
  const res = await fetch(url, init);
  const body = await res.text();
  if (!res.ok) throw new Error(`${init?.method ?? 'GET'} ${url} answered ${res.status}: ${body.slice(0, 500)}`);
  return body;
}

/** Sums every sample of a metric family in a Prometheus exposition (`vm_parts{type="indexdb"} 3` ...). */
function sumMetric(exposition: string, name: string, filter: (labels: string) => boolean = () => true): number {
  let sum = 0;
  for (const m of exposition.matchAll(new RegExp(`^${name}(?:\\{([^}]*)\\})? (\\S+)$`, 'gm'))) {
    if (filter(m[1] ?? '')) sum += Number(m[2]);
  }
  return sum;
}

function sizeOf(path: string): { bytes: number; allocated: number } {
  let bytes = 0;
  let allocated = 0;
  for (const entry of readdirSync(path, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile()) continue;
    const s = statSync(join(entry.parentPath, entry.name));
    bytes += s.size;
    allocated += s.blocks * 512;
  }
  return { bytes, allocated };
}

/** Imports the day exactly as bench/store.ts generates it, one request in flight while the next is built. */
async function importDay(url: string, nodes: number) {
  const wl = await loadWorkload();
  const sims = Array.from({ length: nodes }, (_, i) => new wl.NodeSim(wl.DEFAULT_SEED, i, { intervalS: 5 }));
  const start = Date.UTC(2026, 0, 1);
  const ticks = DAY_MS / INTERVAL_MS;
  const metricJson = sims.map((sim) => wl.METRICS.map((name) => JSON.stringify({ __name__: name, ...sim.labels })));
  let samples = 0;
  let generateMs = 0;
  let inFlight: Promise<string> | undefined;
  const started = performance.now();
  for (let tick = 0; tick < ticks; tick += TICKS_PER_BATCH) {
    const t0 = performance.now();
    const end = Math.min(ticks, tick + TICKS_PER_BATCH);
    const values = sims.map(() => wl.METRICS.map((): number[] => []));
    for (let k = tick; k < end; k++) {
      sims.forEach((sim, s) => {
        const v = sim.step();
        wl.METRICS.forEach((name, m) => {
          const value = v[name];
          if (typeof value !== 'number' || !Number.isFinite(value)) throw new Error(`${sim.name} ${name} tick ${k}: ${String(value)}`);
          values[s]![m]!.push(value);
        });
      });
    }
    const timestamps = `[${Array.from({ length: end - tick }, (_, i) => start + (tick + i) * INTERVAL_MS).join(',')}]`;
    const lines: string[] = [];
    sims.forEach((_, s) => {
      wl.METRICS.forEach((_, m) => {
        lines.push(`{"metric":${metricJson[s]![m]},"values":[${values[s]![m]!.join(',')}],"timestamps":${timestamps}}`);
        samples += end - tick;
      });
    });
    const body = `${lines.join('\n')}\n`;
    generateMs += performance.now() - t0;
    await inFlight;
    inFlight = request(`${url}/api/v1/import`, { method: 'POST', body });
  }
  await inFlight;
  return {
    start,
    samples,
    series: nodes * wl.METRICS.length,
    importSeconds: (performance.now() - started) / 1000,
    generateSeconds: generateMs / 1000,
  };
}

/** Polls /metrics until no merge runs, nothing is pending and the directory has not changed for a second. */
async function waitUntilQuiet(url: string, storagePath: string): Promise<string> {
  let last = -1;
  let stableSince = 0;
  return waitFor(
    async () => {
      const text = await request(`${url}/metrics`);
      const busy = sumMetric(text, 'vm_active_force_merges') + sumMetric(text, 'vm_active_merges') + sumMetric(text, 'vm_pending_rows') > 0;
      const size = sizeOf(storagePath).bytes;
      if (busy || size !== last) {
        last = size;
        stableSince = Date.now();
        return undefined;
      }
      // The force merge handler starts its merge in the background, so one idle poll is not enough.
      return Date.now() - stableSince >= 1000 ? text : undefined;
    },
    { timeoutMs: SETTLE_TIMEOUT_MS, intervalMs: 200, what: 'victoria-metrics merges to settle' },
  );
}

const storageParts = (exposition: string) => sumMetric(exposition, 'vm_parts', (l) => l.startsWith('type="storage/'));

/**
 * Flushes, then forces the month's merge until it leaves one part or stops reducing them: one forced
 * merge can leave two parts.
 */
async function settle(url: string, storagePath: string, partition: string) {
  const started = performance.now();
  await request(`${url}/internal/force_flush`);
  let exposition = await waitUntilQuiet(url, storagePath);
  let parts = storageParts(exposition);
  let rounds = 0;
  do {
    await request(`${url}/internal/force_merge?partition_prefix=${partition}`);
    exposition = await waitUntilQuiet(url, storagePath);
    rounds++;
    const after = storageParts(exposition);
    if (after >= parts && rounds > 1) break;
    parts = after;
  } while (parts > 1 && rounds < MAX_MERGE_ROUNDS);
  return { exposition, rounds, settleSeconds: (performance.now() - started) / 1000 };
}

async function countSamples(url: string, start: number): Promise<number> {
  // A window from half a day before to half a day after the simulated day holds all of it, whatever the bounds' openness.
  const query = encodeURIComponent('sum(count_over_time({__name__!=""}[2d]))');
  const body = JSON.parse(await request(`${url}/api/v1/query?query=${query}&time=${(start + 1.5 * DAY_MS) / 1000}`)) as {
    data?: { result?: { value?: [number, string] }[] };
  };
  return Number(body.data?.result?.[0]?.value?.[1] ?? 0);
}

export async function benchVictoriaMetrics(nodes = 200): Promise<VictoriaMetricsResult | { skipped: string }> {
  const found = await findVictoriaMetrics();
  if ('skipped' in found) return found;
  const dir = mkdtempSync(join(tmpdir(), 'fm-bench-vm-'));
  const storagePath = join(dir, 'storage');
  const flags = [
    `-storageDataPath=${storagePath}`,
    // The day is in January 2026: the default one-month retention would drop it as too old.
    '-retentionPeriod=100y',
    // No response cache while backfilling (VictoriaMetrics' advice), so the count query reads the data.
    '-search.disableCache',
    // No dedup (0 is the default, said for the record): every imported sample is kept, as fieldmesh keeps them.
    '-dedup.minScrapeInterval=0',
    '-loggerLevel=WARN',
  ];
  let vm: VictoriaMetricsProcess | undefined;
  try {
    vm = await startVictoriaMetrics(found.binary, flags, await freePort());
    const version = await versionOf(found.binary, vm.url);
    const day = await importDay(vm.url, nodes);
    const { exposition, rounds, settleSeconds } = await settle(vm.url, storagePath, '2026_01');
    const samplesCounted = await countSamples(vm.url, day.start);
    const rowsStored = sumMetric(exposition, 'vm_rows', (l) => l.startsWith('type="storage/'));
    if (samplesCounted !== day.samples || rowsStored !== day.samples)
      throw new Error(`victoria-metrics holds ${samplesCounted} samples by query and ${rowsStored} rows, but ${day.samples} were imported`);
    const total = sizeOf(storagePath);
    const data = sizeOf(join(storagePath, 'data')).bytes;
    const indexdb = sizeOf(join(storagePath, 'indexdb')).bytes;
    const round = (n: number, d = 3) => Math.round(n * 10 ** d) / 10 ** d;
    return {
      version,
      workload: `standard BESS workload, ${nodes} nodes x 5 metrics at 5 s, one simulated day (the data of bench/store.ts)`,
      series: day.series,
      samples: day.samples,
      samplesCounted,
      bytesPerSample: round(total.bytes / day.samples),
      bytesPerSampleData: round(data / day.samples),
      bytes: {
        total: total.bytes,
        data,
        indexdb,
        totalAllocated: total.allocated,
        reportedByVm: sumMetric(exposition, 'vm_data_size_bytes'),
      },
      parts: {
        storage: storageParts(exposition),
        indexdb: sumMetric(exposition, 'vm_parts', (l) => l === 'type="indexdb"'),
      },
      mergeRounds: rounds,
      importSeconds: round(day.importSeconds, 1),
      importSamplesPerSecond: Math.round(day.samples / day.importSeconds),
      generateSeconds: round(day.generateSeconds, 1),
      settleSeconds: round(settleSeconds, 1),
      flags: [...flags.map((f) => f.replace(dir, '<tmp>')), '-httpListenAddr=127.0.0.1:<free port>'],
    };
  } finally {
    await vm?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(JSON.stringify(await benchVictoriaMetrics(Number(process.argv[2] ?? 200)), null, 2));
}
