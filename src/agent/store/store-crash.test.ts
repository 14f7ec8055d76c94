// Crash durability with a real process and the real fsync path: every batch whose append resolved
// before `kill -9` is in the store afterwards, exactly (issue 3: acknowledgement means durable).
// kill -9 keeps the OS page cache, so this proves commit-before-acknowledge; power loss (fsync) is not simulated.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { createSqliteStore } from './sqlite-store.js';

const CHILD = fileURLToPath(new URL('./store-crash-child.ts', import.meta.url));
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const BATCH = 500;
const KILL_AFTER = 400;

async function killAndCheck(base: number): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'fm-store-crash-'));
  try {
    const path = join(dir, 'store.db');
    const child = spawn(process.execPath, ['--import', 'tsx', CHILD, path, String(base), '4', String(BATCH), '50000'], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, signal) => resolve(signal)));
    const acked = new Set<number>();
    const lines = createInterface({ input: child.stdout });
    for await (const line of lines) {
      acked.add(Number(line));
      if (acked.size === KILL_AFTER) child.kill('SIGKILL');
    }
    assert.equal(await exited, 'SIGKILL', 'the child was killed, not finished');
    assert.ok(acked.size >= KILL_AFTER);

    const store = createSqliteStore({ path });
    assert.equal(store.quarantined, 0);
    const stored = new Map<number, number>();
    for (const { series, points } of await store.query([{ name: '__name__', op: '=', value: 'crash' }], 0, 2 ** 52)) {
      for (const [t, v] of points) {
        const seq = Math.floor((t - base) / 1000);
        assert.equal(v, seq, `series ${series.labels.s} at ${t}`);
        stored.set(seq, (stored.get(seq) ?? 0) + 1);
      }
    }
    for (const seq of acked) assert.equal(stored.get(seq), BATCH, `acknowledged batch ${seq} is whole`);
    // A batch is one transaction: whatever else survived (committed, not yet printed) is whole too.
    for (const [seq, count] of stored) assert.equal(count, BATCH, `batch ${seq} is whole or absent`);
    assert.equal(store.corruptHeadRows, 0);
    await store.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

it('keeps every acknowledged sample across kill -9 during sustained appends and compactions', { timeout: 120_000 }, async () => {
  // A day ago, so the child's compactions move most batches into chunks and retention keeps them.
  await killAndCheck(Date.now() - 86_400_000);
});

it('keeps every acknowledged sample across kill -9 when all of them are still in the head log', { timeout: 120_000 }, async () => {
  // From now on, so no window closes: the reopened store rebuilds everything from head_log rows.
  await killAndCheck(Date.now());
});
