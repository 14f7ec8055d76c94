// Test fixture of store-crash.test.ts: appends numbered batches from concurrent appenders and prints
// each batch number once its append has resolved (acknowledged), until killed or out of batches.
// Usage: node --import tsx store-crash-child.ts <db path> <base ms> <appenders> <batch size> <max batches>

import type { Sample } from '../../protocol/index.js';
import { createSqliteStore } from './sqlite-store.js';

const [path, baseMs, appenders, batchSize, maxBatches] = process.argv.slice(2);
if (path === undefined) throw new Error('usage: store-crash-child.ts <db path> <base ms> <appenders> <batch size> <max batches>');
const size = Number(batchSize ?? 500);
const max = Number(maxBatches ?? 100_000);
const store = createSqliteStore({ path });

const base = Number(baseMs);

/** Batch `seq`: `size` (<= 10,000) samples over 10 series at base + seq s + i/10 ms, value = seq. */
function crashBatch(seq: number, size: number): Sample[] {
  return Array.from({ length: size }, (_, i) => ({
    name: 'crash',
    labels: { s: String(i % 10) },
    time: base + seq * 1000 + Math.floor(i / 10),
    value: seq,
  }));
}

let next = 0;
async function appender(compacts: boolean): Promise<void> {
  while (next < max) {
    const seq = next++;
    await store.append(crashBatch(seq, size));
    process.stdout.write(`${seq}\n`);
    // Compaction rewrites head rows into chunks in one transaction: kill -9 may land inside it too.
    if (compacts && seq % 50 === 0) await store.compact();
  }
}

await Promise.all(Array.from({ length: Number(appenders ?? 4) }, (_, i) => appender(i === 0)));
await store.close();
