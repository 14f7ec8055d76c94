// SqliteStorage: the storage contract on a file, and what only SQLite has: a file from before the
// ledger's newer columns gains them on open.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, test } from 'node:test';
import { tempFileTarget } from '../contract-test-kit.js';
import { runStorageContract } from '../storage.contract.js';
import { createSqliteStorage } from './sqlite-storage.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function tempDb(): string {
  const dir = mkdtempSync(join(tmpdir(), 'fieldmesh-hub-storage-'));
  dirs.push(dir);
  return join(dir, 'nested', 'hub.db');
}

// In a folder that does not exist yet: the store makes it.
runStorageContract('sqlite', async () =>
  tempFileTarget(join('nested', 'hub.db'), (path, { retentionMs }) => createSqliteStorage({ path, retentionMs })),
);

test('sqlite storage: a file from before pending bytes and repairs gains the new columns on open', async () => {
  const path = tempDb();
  const { default: Database } = await import('better-sqlite3');
  const { mkdirSync } = await import('node:fs');
  const { dirname } = await import('node:path');
  mkdirSync(dirname(path), { recursive: true });
  const old = new Database(path);
  old.exec(`
    CREATE TABLE backlogs (site TEXT NOT NULL, node TEXT NOT NULL, pending_rows INTEGER NOT NULL, oldest_pending_ms INTEGER,
      reported_at INTEGER NOT NULL, PRIMARY KEY (site, node));
    CREATE TABLE dropped_ranges (site TEXT NOT NULL, node TEXT NOT NULL, from_ms INTEGER NOT NULL, to_ms INTEGER NOT NULL,
      rows INTEGER NOT NULL, PRIMARY KEY (site, node, from_ms, to_ms));
    INSERT INTO backlogs VALUES ('s1', 'n1', 3, 1000, 2000);
    INSERT INTO dropped_ranges VALUES ('s1', 'n1', 10, 20, 4);
  `);
  old.close();
  const db = createSqliteStorage({ path, retentionMs: 86_400_000 });
  const ledger = await db.nodeLedger('s1', 'n1');
  assert.deepEqual(ledger.backlog, { pendingRows: 3, oldestPendingMs: 1_000, pendingBytes: null, reportedAt: 2_000 });
  await db.createBackfill({
    id: 'r',
    site: 's1',
    node: 'n1',
    fromMs: 0,
    toMs: 100,
    selectors: [],
    origin: 'dropped',
    createdAt: 5,
    sentAt: null,
    attempts: 0,
    doneAt: null,
  });
  await db.completeBackfill('s1', 'n1', { requestId: 'r', fromMs: 0, toMs: 100 }, 9);
  assert.deepEqual(
    (await db.nodeLedger('s1', 'n1')).repaired,
    [{ fromMs: 10, toMs: 20, rows: 4, requestId: 'r' }],
    'an old drop counts as reported early',
  );
  await db.close();
});

test('sqlite storage: coverage recorded for many nodes at once and a batch of registry entries are in the file once their calls resolve', async () => {
  const path = tempDb();
  const db = createSqliteStorage({ path, retentionMs: 86_400_000 });
  const nodes = Array.from({ length: 50 }, (_, i) => `n${i}`);
  // Written together on the next turn of the event loop; each call resolves once that write is committed.
  await Promise.all(nodes.map((node, i) => db.recordCoverage('s1', node, [{ series: 'soc', times: [i * 1_000, i * 1_000 + 1_000] }])));
  await db.upsertNodes?.(nodes.map((node) => ({ site: 's1', node, zone: 'z', state: 'online', lastChanged: 1 })));
  // A second connection reads what is committed (the first stays open: closing it would write what is pending).
  const { default: Database } = await import('better-sqlite3');
  const reader = new Database(path, { readonly: true });
  try {
    assert.equal(reader.prepare<[], { n: number }>('SELECT count(*) AS n FROM coverage').get()?.n, 50);
    assert.equal(reader.prepare<[], { n: number }>("SELECT count(*) AS n FROM nodes WHERE state = 'online'").get()?.n, 50);
  } finally {
    reader.close();
    await db.close();
  }
  const again = createSqliteStorage({ path, retentionMs: 86_400_000 });
  assert.equal((await again.nodeLedger('s1', 'n49')).coverage.length, 1);
  assert.equal((await again.listNodes()).length, 50);
  await again.close();
});
