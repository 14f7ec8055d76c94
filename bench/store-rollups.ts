// What a rollup costs on disk: the one-day standard battery workload of bench/store.ts stored twice, without and
// with rollups, and the difference per raw sample (file, and rollup blobs alone), plus the day's ingest time.
// Standalone: npx tsx bench/store-rollups.ts [nodes] [resolution ms ...]   (default 200 nodes, 300000 = 5 min)

import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { createSqliteStore, type StoreRollup } from '../src/agent/store/index.js';
import { quantile } from '../src/kit/index.js';
import { bytesForOneDay } from './store.js';

const DAY_MS = 86_400_000;

export async function benchRollupBytes(nodes = 200, resolutionsMs: readonly number[] = [300_000]) {
  const dir = mkdtempSync(join(tmpdir(), 'fm-bench-rollups-'));
  try {
    for (const sub of ['plain', 'rollups']) mkdirSync(join(dir, sub));
    const plain = await bytesForOneDay(join(dir, 'plain'), nodes);
    const rollups: StoreRollup[] = resolutionsMs.map((resolutionMs) => ({ resolutionMs, retentionMs: 400 * DAY_MS }));
    const withRollups = await bytesForOneDay(join(dir, 'rollups'), nodes, rollups);
    // One series over the day from the finest rollup (avg per bucket), as query_range asks it.
    const store = createSqliteStore({ path: withRollups.path, clock: withRollups.clock, retentionMs: 3650 * DAY_MS, rollups });
    const durations: number[] = [];
    let points = 0;
    for (let r = 0; r < 200; r++) {
      const node = `node${String(((r * 37) % nodes) + 1).padStart(3, '0')}`;
      const t0 = performance.now();
      const result = await store.queryRollup(
        [
          { name: '__name__', op: '=', value: 'dc_voltage' },
          { name: 'node', op: '=', value: node },
        ],
        withRollups.start,
        withRollups.start + DAY_MS - 1,
        resolutionsMs[0] as number,
        'avg',
      );
      durations.push(performance.now() - t0);
      points = result[0]?.points.length ?? 0;
    }
    await store.close();
    const db = new Database(withRollups.path, { readonly: true });
    const perResolution = db
      .prepare('SELECT resolution_ms AS resolutionMs, COUNT(*) AS rows, SUM(length(data)) AS blobBytes FROM rollups GROUP BY 1 ORDER BY 1')
      .all() as { resolutionMs: number; rows: number; blobBytes: number }[];
    db.close();
    const round = (n: number, d = 4) => Math.round(n * 10 ** d) / 10 ** d;
    return {
      workload: `standard BESS workload, ${nodes} nodes x 5 metrics at 5 s, one simulated day`,
      samples: plain.samples,
      fileBytesWithout: plain.fileBytes,
      fileBytesWith: withRollups.fileBytes,
      liveBytesWithout: plain.liveBytes,
      liveBytesWith: withRollups.liveBytes,
      /** Extra bytes of live pages (rows, blobs, both indexes) per raw sample. */
      rollupBytesPerSample: round((withRollups.liveBytes - plain.liveBytes) / plain.samples),
      rollups: perResolution.map((r) => ({
        ...r,
        blobBytesPerSample: round(r.blobBytes / plain.samples),
        blobBytesPerRow: round(r.blobBytes / r.rows, 1),
        bucketsPerDayPerSeries: DAY_MS / r.resolutionMs,
      })),
      queryOneSeriesOneDay: { points, p50Ms: round(quantile(durations, 0.5), 2), p99Ms: round(quantile(durations, 0.99), 2), runs: 200 },
      dayIngestSecondsWithout: round(plain.dayIngestSeconds, 1),
      dayIngestSecondsWith: round(withRollups.dayIngestSeconds, 1),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [nodes, ...resolutions] = process.argv.slice(2).map(Number);
  console.log(JSON.stringify(await benchRollupBytes(nodes ?? 200, resolutions.length > 0 ? resolutions : undefined), null, 2));
}
