// The local store's figures of issue 3: bytes per sample on disk for a simulated day of the standard
// battery workload, sustained durable ingest on one core, and one-series-one-day query latency.
// Standalone: npx tsx bench/store.ts [nodes]   (nodes x 5 metrics = series; default 200 = 1,000 series)

import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createSqliteStore, type StoreRollup } from '../src/agent/store/index.js';
import { ManualClock, quantile } from '../src/kit/index.js';
import type { Sample } from '../src/protocol/index.js';
import { benchVictoriaMetrics, type VictoriaMetricsResult } from './victoria-metrics.js';
import { loadWorkload } from './workload.js';

export interface StoreBenchResult {
  readonly workload: string;
  readonly series: number;
  readonly samples: number;
  readonly bytesPerSample: number;
  /** Pages in use only (excludes free pages the file still holds). */
  readonly bytesPerSampleLivePages: number;
  readonly fileBytes: number;
  readonly dayIngestSeconds: number;
  readonly ingest: {
    readonly appenders: number;
    readonly batchSamples: number;
    readonly samples: number;
    readonly samplesPerSecond: number;
    readonly goal: number;
  };
  readonly queryOneSeriesOneDay: {
    readonly points: number;
    readonly p50Ms: number;
    readonly p99Ms: number;
    readonly runs: number;
    readonly goalMs: number;
  };
  /** VictoriaMetrics on the same day of data, in the same run; `skipped` says why when it could not run. */
  readonly victoriaMetrics: VictoriaMetricsResult | { readonly skipped: string };
  /** fieldmesh bytes per sample / VictoriaMetrics' (samples and index), when it ran. */
  readonly ratioToVictoriaMetrics: number | null;
  readonly goals: { readonly bytesPerSample: number; readonly stretch: number; readonly victoriaMetricsReference: number };
}

const DAY_MS = 86_400_000;
const INTERVAL_MS = 5000;

/** One simulated day of the workload into a fresh store at `<dir>/day.db` (with `rollups`, when given). */
export async function bytesForOneDay(dir: string, nodes: number, rollups: readonly StoreRollup[] = []) {
  const wl = await loadWorkload();
  const sims = Array.from({ length: nodes }, (_, i) => new wl.NodeSim(wl.DEFAULT_SEED, i, { intervalS: 5 }));
  const start = Date.UTC(2026, 0, 1);
  const clock = new ManualClock(start);
  const path = join(dir, 'day.db');
  const store = createSqliteStore({ path, clock, retentionMs: 3650 * DAY_MS, compactEveryMs: 10 * 60_000, rollups });
  const ticks = DAY_MS / INTERVAL_MS;
  const ticksPerAppend = 12; // one minute of the whole fleet per append
  const started = performance.now();
  let samples = 0;
  for (let tick = 0; tick < ticks; tick += ticksPerAppend) {
    const batch: Sample[] = [];
    for (let k = tick; k < Math.min(ticks, tick + ticksPerAppend); k++) {
      const time = start + k * INTERVAL_MS;
      for (const sim of sims) {
        const values = sim.step();
        for (const name of wl.METRICS) batch.push({ name, labels: sim.labels, time, value: values[name] as number });
      }
    }
    samples += batch.length;
    await store.append(batch);
    // Simulated time follows the data, so the compaction timer moves closed windows into chunks.
    clock.advance(ticksPerAppend * INTERVAL_MS);
  }
  clock.advance(2 * 3_600_000);
  await store.compact();
  const dayIngestSeconds = (performance.now() - started) / 1000;
  await store.close();
  // Reopen read-only to measure: closing checkpointed the WAL into the file.
  const { default: Database } = await import('better-sqlite3');
  const db = new Database(path, { readonly: true });
  const pageSize = db.pragma('page_size', { simple: true }) as number;
  const livePages = (db.pragma('page_count', { simple: true }) as number) - (db.pragma('freelist_count', { simple: true }) as number);
  db.close();
  const fileBytes = statSync(path).size + (existsSync(`${path}-wal`) ? statSync(`${path}-wal`).size : 0);
  return { path, clock, start, samples, fileBytes, liveBytes: livePages * pageSize, dayIngestSeconds, series: nodes * wl.METRICS.length };
}

async function durableIngest(dir: string, appenders: number, batchSamples: number, total: number) {
  const store = createSqliteStore({ path: join(dir, 'ingest.db') });
  const base = Date.now() - DAY_MS;
  let next = 0;
  const batches = Math.ceil(total / batchSamples);
  const labels = Array.from({ length: 1000 }, (_, i) => ({ node: `node${Math.floor(i / 5)}`, device: 'battery', metric: String(i % 5) }));
  const make = (seq: number): Sample[] =>
    Array.from({ length: batchSamples }, (_, i) => ({
      name: 'bench_value',
      labels: labels[i % 1000] as Record<string, string>,
      time: base + seq * 1000 + Math.floor(i / 1000),
      value: (seq % 977) / 10,
    }));
  const started = performance.now();
  await Promise.all(
    Array.from({ length: appenders }, async () => {
      while (next < batches) {
        const seq = next++;
        await store.append(make(seq));
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  await store.close();
  return {
    appenders,
    batchSamples,
    samples: batches * batchSamples,
    samplesPerSecond: Math.round((batches * batchSamples) / seconds),
    goal: 200_000,
  };
}

export async function benchStore(nodes = 200): Promise<StoreBenchResult> {
  const dir = mkdtempSync(join(tmpdir(), 'fm-bench-store-'));
  try {
    const day = await bytesForOneDay(dir, nodes);
    const store = createSqliteStore({ path: day.path, clock: day.clock, retentionMs: 3650 * DAY_MS });
    const durations: number[] = [];
    let points = 0;
    const runs = 200;
    for (let r = 0; r < runs; r++) {
      const node = `node${String(((r * 37) % nodes) + 1).padStart(3, '0')}`;
      const t0 = performance.now();
      const result = await store.query(
        [
          { name: '__name__', op: '=', value: 'dc_voltage' },
          { name: 'node', op: '=', value: node },
        ],
        day.start,
        day.start + DAY_MS,
      );
      durations.push(performance.now() - t0);
      points = result[0]?.points.length ?? 0;
    }
    await store.close();
    const ingest = await durableIngest(dir, 8, 1000, 2_000_000);
    const victoriaMetrics = await benchVictoriaMetrics(nodes);
    const round = (n: number, d = 3) => Math.round(n * 10 ** d) / 10 ** d;
    return {
      workload: `standard BESS workload, ${nodes} nodes x 5 metrics at 5 s, one simulated day${nodes < 200 ? ' (fewer nodes than the 1,000-series goal; the ratio is per sample)' : ''}`,
      series: day.series,
      samples: day.samples,
      bytesPerSample: round(day.fileBytes / day.samples),
      bytesPerSampleLivePages: round(day.liveBytes / day.samples),
      fileBytes: day.fileBytes,
      dayIngestSeconds: round(day.dayIngestSeconds, 1),
      ingest,
      queryOneSeriesOneDay: { points, p50Ms: round(quantile(durations, 0.5)), p99Ms: round(quantile(durations, 0.99)), runs, goalMs: 20 },
      victoriaMetrics,
      ratioToVictoriaMetrics: 'skipped' in victoriaMetrics ? null : round(day.fileBytes / day.samples / victoriaMetrics.bytesPerSample, 2),
      goals: { bytesPerSample: 1.0, stretch: 0.6, victoriaMetricsReference: 0.56 },
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(JSON.stringify(await benchStore(Number(process.argv[2] ?? 200)), null, 2));
}
