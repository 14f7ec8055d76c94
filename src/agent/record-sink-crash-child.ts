// Test fixture of record-sink-crash.test.ts: records numbered batches (every sample to the store, those of
// series s0..s4 to the outbox) and one event per batch through the record sink from concurrent recorders,
// and prints each batch number once its batch and its event are acknowledged, until killed or out of batches.
// Usage: node --import tsx record-sink-crash-child.ts <state dir> <base ms> <recorders> <batch size> <max batches>

import { openNodeRecords } from './record-sink.js';
import { crashBatch } from './record-sink-test-kit.js';

const [dir, baseMs, recorders, batchSize, maxBatches] = process.argv.slice(2);
if (dir === undefined) throw new Error('usage: record-sink-crash-child.ts <state dir> <base ms> <recorders> <batch size> <max batches>');
const size = Number(batchSize ?? 500);
const max = Number(maxBatches ?? 100_000);
const base = Number(baseMs);
const { store, outbox, sink } = openNodeRecords({ dir });

let next = 0;
async function recorder(compacts: boolean): Promise<void> {
  while (next < max) {
    const seq = next++;
    const { samples, durable } = crashBatch(base, seq, size);
    const payload = new TextEncoder().encode(String(seq));
    await Promise.all([
      sink.record(samples, durable),
      sink.recordEvent({ id: `e${seq}`, kind: 'crash', priority: 'high', time: base + seq * 1000, payload }),
    ]);
    process.stdout.write(`${seq}\n`);
    // Compaction rewrites head rows into chunks in its own transaction: kill -9 may land inside it too.
    if (compacts && seq % 50 === 0) await store.compact();
  }
}

await Promise.all(Array.from({ length: Number(recorders ?? 4) }, (_, i) => recorder(i === 0)));
sink.flush();
outbox.close();
await store.close();
