// The record sink across kill -9 with a real process and the real fsync path: a batch is in the store and
// in the outbox, whole, or in neither; every acknowledged batch and event is there (decision 0001: one
// transaction). kill -9 keeps the OS page cache, so this proves commit-before-acknowledge and the single
// transaction; power loss (fsync) is not simulated.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { openNodeRecords } from './record-sink.js';
import { CRASH_CRITICAL_SERIES } from './record-sink-test-kit.js';

const CHILD = fileURLToPath(new URL('./record-sink-crash-child.ts', import.meta.url));
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const BATCH = 500;
const OUTBOX_ROWS = (BATCH / 10) * CRASH_CRITICAL_SERIES;

/** Counts of something per batch number. */
function tally(seqs: Iterable<number>): Map<number, number> {
  const out = new Map<number, number>();
  for (const seq of seqs) out.set(seq, (out.get(seq) ?? 0) + 1);
  return out;
}

async function killAndCheck(base: number): Promise<void> {
  // A random point under load: a random 0 to 30 ms after the 20th to the 400th acknowledged batch (the
  // delay uncouples the kill from the child's acknowledgement, which lands it between two commits).
  const killAfter = 20 + Math.floor(Math.random() * 380);
  const delayMs = Math.floor(Math.random() * 30);
  const at = `killed ${delayMs} ms after ${killAfter} acknowledgements`;
  const dir = mkdtempSync(join(tmpdir(), 'fm-sink-crash-'));
  try {
    const child = spawn(process.execPath, ['--import', 'tsx', CHILD, dir, String(base), '4', String(BATCH), '50000'], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, signal) => resolve(signal)));
    const acked = new Set<number>();
    for await (const line of createInterface({ input: child.stdout })) {
      acked.add(Number(line));
      if (acked.size === killAfter) setTimeout(() => child.kill('SIGKILL'), delayMs);
    }
    assert.equal(await exited, 'SIGKILL', 'the child was killed, not finished');

    const { store, outbox } = openNodeRecords({ dir });
    assert.equal(store.quarantined, 0);
    const inStore: number[] = [];
    for (const { series, points } of await store.query([{ name: '__name__', op: '=', value: 'crash' }], 0, 2 ** 52)) {
      for (const [t, v] of points) {
        const seq = Math.floor((t - base) / 1000);
        assert.equal(v, seq, `store: series ${series.labels.s} at ${t} (${at})`);
        inStore.push(seq);
      }
    }
    const rows = outbox.database
      .prepare('SELECT o.labels, s.ts, s.value FROM outbox_samples s JOIN outbox_series o ON o.id = s.series_id')
      .all() as { labels: string; ts: number; value: number }[];
    const inOutbox: number[] = [];
    for (const r of rows) {
      const seq = Math.floor((r.ts - base) / 1000);
      assert.equal(r.value, seq, `outbox: row at ${r.ts} (${at})`);
      assert.ok(Number((JSON.parse(r.labels) as { s: string }).s) < CRASH_CRITICAL_SERIES, `outbox: only critical series (${at})`);
      inOutbox.push(seq);
    }
    const storeBatches = tally(inStore);
    const outboxBatches = tally(inOutbox);
    for (const seq of acked) {
      assert.equal(storeBatches.get(seq), BATCH, `acknowledged batch ${seq} is whole in the store (${at})`);
      assert.equal(outboxBatches.get(seq), OUTBOX_ROWS, `acknowledged batch ${seq} is whole in the outbox (${at})`);
    }
    // Committed and not yet printed: whole in both, or absent from both. Never in one and not the other.
    assert.deepEqual(
      [...storeBatches.keys()].sort((a, b) => a - b),
      [...outboxBatches.keys()].sort((a, b) => a - b),
      at,
    );
    for (const [seq, n] of storeBatches) assert.equal(n, BATCH, `batch ${seq} is whole in the store (${at})`);
    for (const [seq, n] of outboxBatches) assert.equal(n, OUTBOX_ROWS, `batch ${seq} is whole in the outbox (${at})`);
    const events = tally(outbox.pendingEvents(0, 1_000_000).map((e) => Number(e.id.slice(1))));
    for (const seq of acked) assert.equal(events.get(seq), 1, `acknowledged event e${seq} is there once (${at})`);
    assert.equal(store.corruptHeadRows, 0);
    outbox.close();
    await store.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

it('record sink: after kill -9 at a random point, every batch is whole in both store and outbox or in neither', {
  timeout: 180_000,
}, async () => {
  // A day ago, so the child's compactions move most batches into chunks; then from now on, all in the head log.
  for (const base of [Date.now() - 86_400_000, Date.now(), Date.now() - 86_400_000]) await killAndCheck(base);
});
