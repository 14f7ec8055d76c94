// Ingest through the agent's record path with fsync (createAgent, a collector's `record`: admission, the
// critical set, the store, the outbox): the one-file record sink (decision 0001: one transaction, one fsync)
// beside the two-file layout it replaced (store.db and outbox.db, two commits awaited together), on the same
// workload in the same run, runs alternating. Standalone: npx tsx bench/record-sink.ts [seconds per run]

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createAgent } from '../src/agent/agent.js';
import type { CollectorContext, Sample } from '../src/agent/collectors/collector.js';
import { agentConfigSchema } from '../src/agent/config.js';
import { createSqliteOutbox } from '../src/agent/outbox/index.js';
import type { NodeRecords } from '../src/agent/record-sink.js';
import { createSqliteStore } from '../src/agent/store/index.js';
import { quantile } from '../src/kit/index.js';
import { feeder } from './feeder.js';
import { loadWorkload, type NodeSimLike } from './workload.js';

type Layout = 'one file' | 'two files';

interface RunFigures {
  readonly samplesPerSecond: number;
  /** Time a producer waited for one `record`, ms. */
  readonly recordP50Ms: number;
  readonly recordP99Ms: number;
  /** CPU time of the process (user and system) per 1,000 samples, ms: less sensitive to a busy machine than throughput. */
  readonly cpuMsPer1000Samples: number;
}

export interface RecordSinkShapeResult {
  readonly shape: string;
  readonly producers: number;
  readonly batchSamples: number;
  /** The median run of each layout, and every run. */
  readonly oneFile: RunFigures & { readonly runs: readonly number[] };
  readonly twoFiles: RunFigures & { readonly runs: readonly number[] };
  /** One file's samples per second over two files'. */
  readonly ratio: number;
}

export interface RecordSinkBenchResult {
  readonly workload: string;
  readonly secondsPerRun: number;
  readonly rounds: number;
  readonly shapes: readonly RecordSinkShapeResult[];
}

/** The standard battery workload's five metrics per node; these two are critical (they also go to the outbox). */
const CRITICAL = ['battery_soc', 'dc_voltage'];
const TICK_MS = 100;

/** The layout the agent had before the record sink: two files, a commit each, awaited together. */
function twoFiles(stateDir: string): NodeRecords {
  const store = createSqliteStore({ path: join(stateDir, 'store.db') });
  const outbox = createSqliteOutbox({ path: join(stateDir, 'outbox.db') });
  return {
    store,
    outbox,
    carryOver: {},
    sink: {
      async record(samples, durable) {
        await Promise.all([store.append(samples), outbox.appendSamples(durable)]);
      },
      recordEvent: (event) => outbox.appendEvent(event),
      flush() {},
    },
  };
}

/** One run: `producers` concurrent producers record batches of `batchSamples` for `seconds`. */
async function run(layout: Layout, producers: number, batchSamples: number, seconds: number): Promise<RunFigures> {
  const wl = await loadWorkload();
  const dataDir = mkdtempSync(join(tmpdir(), 'fm-bench-sink-'));
  const collector = feeder();
  const config = agentConfigSchema.parse({
    dataDir,
    node: { id: 'bench', site: 'bench' },
    mqtt: { enabled: false },
    http: { enabled: false },
    critical: CRITICAL.map((match) => ({ match })),
  });
  const agent = createAgent(config, {
    collectors: [collector],
    ...(layout === 'two files' ? { records: twoFiles } : {}),
  });
  await agent.start();
  const ctx = collector.ctx as CollectorContext;
  const nodesPerBatch = Math.max(1, Math.floor(batchSamples / wl.METRICS.length));
  const start = Date.now() - 2 * 3_600_000;
  const latencies: number[] = [];
  let samples = 0;
  const cpu = process.cpuUsage();
  const began = performance.now();
  const deadline = began + seconds * 1000;
  await Promise.all(
    Array.from({ length: producers }, async (_, p) => {
      // Each producer its own nodes (its own series), a tick of all of them per batch.
      const sims: NodeSimLike[] = Array.from({ length: nodesPerBatch }, (_, i) => new wl.NodeSim(wl.DEFAULT_SEED, p * nodesPerBatch + i));
      for (let tick = 0; performance.now() < deadline; tick++) {
        const time = start + tick * TICK_MS;
        const batch: Sample[] = [];
        for (const sim of sims) {
          const values = sim.step();
          for (const name of wl.METRICS) batch.push({ name, labels: sim.labels, time, value: values[name] as number });
        }
        const t0 = performance.now();
        await ctx.record(batch);
        latencies.push(performance.now() - t0);
        samples += batch.length;
      }
    }),
  );
  const elapsed = (performance.now() - began) / 1000;
  const used = process.cpuUsage(cpu);
  await agent.stop();
  rmSync(dataDir, { recursive: true, force: true });
  const round = (n: number) => Math.round(n * 100) / 100;
  return {
    samplesPerSecond: Math.round(samples / elapsed),
    recordP50Ms: round(quantile(latencies, 0.5)),
    recordP99Ms: round(quantile(latencies, 0.99)),
    cpuMsPer1000Samples: round((used.user + used.system) / samples),
  };
}

/** The run of median throughput, and every run's throughput. */
function median(runs: RunFigures[]): RunFigures & { runs: number[] } {
  const sorted = [...runs].sort((a, b) => a.samplesPerSecond - b.samplesPerSecond);
  return { ...(sorted[Math.floor(sorted.length / 2)] as RunFigures), runs: runs.map((r) => r.samplesPerSecond) };
}

export async function benchRecordSink(secondsPerRun = 4, rounds = 5): Promise<RecordSinkBenchResult> {
  const shapes = [
    { shape: 'HTTP pushes: 8 producers x 50 samples', producers: 8, batchSamples: 50 },
    { shape: 'one scrape at a time: 1 producer x 1,000 samples', producers: 1, batchSamples: 1_000 },
    { shape: 'bulk: 8 producers x 1,000 samples', producers: 8, batchSamples: 1_000 },
  ];
  const results: RecordSinkShapeResult[] = [];
  for (const s of shapes) {
    const one: RunFigures[] = [];
    const two: RunFigures[] = [];
    // Alternating, the order flipped each round, so drift on a shared machine falls on both alike.
    for (let r = 0; r < rounds; r++) {
      const order: Layout[] = r % 2 === 0 ? ['two files', 'one file'] : ['one file', 'two files'];
      for (const layout of order) (layout === 'one file' ? one : two).push(await run(layout, s.producers, s.batchSamples, secondsPerRun));
    }
    const oneFile = median(one);
    const twoFiles = median(two);
    results.push({ ...s, oneFile, twoFiles, ratio: Math.round((oneFile.samplesPerSecond / twoFiles.samplesPerSecond) * 100) / 100 });
  }
  return {
    workload: `standard BESS workload, 5 metrics per node (${CRITICAL.join(' and ')} critical: 40 % of the samples also go to the outbox); createAgent without a broker, a collector's record; WAL, synchronous=FULL`,
    secondsPerRun,
    rounds,
    shapes: results,
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(JSON.stringify(await benchRecordSink(Number(process.argv[2] ?? 4)), null, 2));
}
