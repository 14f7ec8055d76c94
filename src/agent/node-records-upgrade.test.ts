// A node upgraded in place keeps its data: the store.db + outbox.db pair of the two-file layout opens as
// one file, the outbox's rows carried over with their seqs (acks, resends and backfill cursors refer to
// them), once, and the old file deleted; a node downgraded and upgraded again loses nothing either.
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdtempSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import Database from 'better-sqlite3';
import { type NodeRecords, openNodeRecords } from './record-sink.js';
import { createSqliteStore } from './store/index.js';

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
const BASE = Date.now() - 3_600_000;

/** The outbox file of the two-file layout, as the agent before the record sink wrote it (its schema, verbatim). */
function writeOldOutbox(path: string, fill: (db: Database.Database) => void): void {
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.exec(`
    CREATE TABLE IF NOT EXISTS series (id INTEGER PRIMARY KEY, name TEXT NOT NULL, labels TEXT NOT NULL, type TEXT NOT NULL, unit TEXT NOT NULL, UNIQUE (name, labels));
    CREATE TABLE IF NOT EXISTS samples (seq INTEGER PRIMARY KEY AUTOINCREMENT, series_id INTEGER NOT NULL, ts INTEGER NOT NULL, value REAL);
    CREATE TABLE IF NOT EXISTS events (seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, kind TEXT NOT NULL, priority TEXT NOT NULL, ts INTEGER NOT NULL, payload BLOB NOT NULL);
    CREATE TABLE IF NOT EXISTS dropped (id INTEGER PRIMARY KEY AUTOINCREMENT, from_ms INTEGER NOT NULL, to_ms INTEGER NOT NULL, rows INTEGER NOT NULL);
    CREATE INDEX IF NOT EXISTS samples_by_series ON samples (series_id, seq);
    CREATE TABLE IF NOT EXISTS backfills (
      id TEXT PRIMARY KEY, from_ms INTEGER NOT NULL, to_ms INTEGER NOT NULL, selectors TEXT NOT NULL,
      cursor_ms INTEGER NOT NULL, last_seq INTEGER NOT NULL DEFAULT 0, received_at INTEGER NOT NULL,
      reported INTEGER NOT NULL DEFAULT 0, arrival INTEGER NOT NULL DEFAULT 0
    );
  `);
  fill(db);
  db.close();
}

const addSample = (db: Database.Database, seriesId: number, ts: number, value: number) =>
  db.prepare('INSERT INTO samples (series_id, ts, value) VALUES (?, ?, ?)').run(seriesId, ts, value);
const addEvent = (db: Database.Database, id: string) =>
  db.prepare("INSERT INTO events (id, kind, priority, ts, payload) VALUES (?, 'fire_detected', 'critical', ?, x'7b7d')").run(id, BASE);

/**
 * A state dir of the two-file layout: store.db with 30 samples of `stored`, and outbox.db with sample rows
 * 5..9 pending (1..4 and 10 acknowledged, so its sequence stands at 10), events 2 and 3 pending (1
 * acknowledged), one dropped range and a backfill request half read (its last queued row is seq 7).
 */
async function oldStateDir(): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'fm-upgrade-'));
  dirs.push(dir);
  const store = createSqliteStore({ path: join(dir, 'store.db') });
  await store.append(Array.from({ length: 30 }, (_, i) => ({ name: 'stored', labels: {}, time: BASE + i * 1000, value: i })));
  await store.close();
  writeOldOutbox(join(dir, 'outbox.db'), (db) => {
    db.exec(`INSERT INTO series (name, labels, type, unit) VALUES ('battery_soc', '{"device":"battery"}', 'gauge', 'percent')`);
    db.exec(`INSERT INTO series (name, labels, type, unit) VALUES ('dc_voltage', '{"device":"battery"}', 'gauge', 'volts')`);
    for (let k = 1; k <= 10; k++) addSample(db, 1 + (k % 2), BASE + k * 1000, k);
    db.exec('DELETE FROM samples WHERE seq <= 4 OR seq = 10');
    for (const id of ['e1', 'e2', 'e3']) addEvent(db, id);
    db.exec('DELETE FROM events WHERE seq = 1');
    db.prepare('INSERT INTO dropped (from_ms, to_ms, rows) VALUES (?, ?, 12)').run(BASE - 60_000, BASE - 30_000);
    db.prepare(
      "INSERT INTO backfills (id, from_ms, to_ms, selectors, cursor_ms, last_seq, received_at, arrival) VALUES ('bf1', ?, ?, '[]', ?, 7, ?, 1)",
    ).run(BASE - 600_000, BASE, BASE - 300_000, BASE);
  });
  return dir;
}

async function close({ store, outbox }: NodeRecords): Promise<void> {
  outbox.close();
  await store.close();
}
const seqs = (r: NodeRecords) => r.outbox.database.prepare('SELECT seq FROM outbox_samples ORDER BY seq').pluck().all();
const record = (r: NodeRecords, name: string, time: number) => {
  const s = { name, labels: { device: 'battery' }, time, value: 1 };
  return r.sink.record([s], [{ ...s, type: 'gauge', unit: '' }]);
};

test('node records: an upgraded node carries its outbox.db into store.db with the same seqs, keeps its store, and deletes the old file', async () => {
  const dir = await oldStateDir();
  const r = openNodeRecords({ dir });
  assert.deepEqual(r.carryOver, { carried: { samples: 5, events: 2, dropped: 1, backfills: 1 } });
  assert.deepEqual(
    readdirSync(dir).filter((f) => f.startsWith('outbox')),
    [],
    'outbox.db and its WAL are gone',
  );
  assert.equal((await r.store.query([{ name: '__name__', op: '=', value: 'stored' }], 0, Date.now()))[0]?.points.length, 30);

  const batch = r.outbox.historyBatch(0, 100);
  assert.deepEqual([batch?.firstSeq, batch?.lastSeq, batch?.rows], [1, 9, 5]);
  assert.deepEqual(
    batch?.series.map((s) => [s.name, s.unit, s.samples.map(([, v]) => v)]),
    [
      ['dc_voltage', 'volts', [5, 7, 9]],
      ['battery_soc', 'percent', [6, 8]],
    ],
  );
  assert.deepEqual(batch?.dropped, [{ fromMs: BASE - 60_000, toMs: BASE - 30_000, rows: 12 }]);
  assert.deepEqual(
    r.outbox.pendingEvents(0, 10).map((e) => [e.seq, e.id]),
    [
      [2, 'e2'],
      [3, 'e3'],
    ],
  );
  assert.deepEqual(
    r.outbox.backfillTasks().map((t) => [t.id, t.cursorMs]),
    [['bf1', BASE - 300_000]],
  );
  // Each lane carries on above the old file's high-water mark: no seq is handed out twice.
  await record(r, 'battery_soc', BASE + 20_000);
  await r.sink.recordEvent({ id: 'e4', kind: 'k', priority: 'high', time: BASE, payload: new Uint8Array() });
  assert.deepEqual(seqs(r), [5, 6, 7, 8, 9, 11]);
  assert.deepEqual(
    r.outbox.pendingEvents(3, 10).map((e) => e.seq),
    [4],
  );
  await close(r);

  const again = openNodeRecords({ dir });
  assert.deepEqual(again.carryOver, {}, 'nothing to carry the second time');
  assert.deepEqual(seqs(again), [5, 6, 7, 8, 9, 11]);
  await close(again);
});

test('node records: a crash after the carry-over committed and before the old file was deleted carries nothing twice', async () => {
  const dir = await oldStateDir();
  const copy = join(dir, 'outbox.copy');
  copyFileSync(join(dir, 'outbox.db'), copy);
  const r = openNodeRecords({ dir });
  const token = (r.store.database.prepare("SELECT key FROM outbox_meta WHERE key LIKE 'carried-over %'").pluck().get() as string).slice(
    'carried-over '.length,
  );
  await close(r);
  // The old file as the crash left it: stamped with the token its copy recorded, not yet deleted.
  const stamped = new Database(copy);
  stamped.exec('CREATE TABLE carry_over (token TEXT NOT NULL)');
  stamped.prepare('INSERT INTO carry_over (token) VALUES (?)').run(token);
  stamped.close();
  renameSync(copy, join(dir, 'outbox.db'));

  const after = openNodeRecords({ dir });
  assert.deepEqual(after.carryOver, {});
  assert.equal(existsSync(join(dir, 'outbox.db')), false);
  assert.deepEqual(seqs(after), [5, 6, 7, 8, 9]);
  assert.equal(after.outbox.pendingEvents(0, 10).length, 2);
  await close(after);
});

test('node records: a node downgraded and upgraded again carries the new outbox.db after the rows it already holds', async () => {
  const dir = await oldStateDir();
  const first = openNodeRecords({ dir });
  await record(first, 'battery_soc', BASE + 20_000);
  await close(first);
  // The earlier version ran meanwhile: a fresh outbox.db whose seqs start at 1 again.
  writeOldOutbox(join(dir, 'outbox.db'), (db) => {
    db.exec(`INSERT INTO series (name, labels, type, unit) VALUES ('ac_power', '{"device":"inverter"}', 'gauge', 'watts')`);
    for (let k = 1; k <= 3; k++) addSample(db, 1, BASE + 30_000 + k * 1000, 100 + k);
    addEvent(db, 'e2');
    addEvent(db, 'e9');
    db.prepare(
      "INSERT INTO backfills (id, from_ms, to_ms, selectors, cursor_ms, last_seq, received_at, arrival) VALUES ('bf2', ?, ?, '[]', ?, 2, ?, 1)",
    ).run(BASE - 600_000, BASE, BASE - 500_000, BASE);
  });
  const r = openNodeRecords({ dir });
  assert.deepEqual(r.carryOver, { carried: { samples: 3, events: 1, dropped: 0, backfills: 1 } }, 'e2 is known by its id');
  assert.deepEqual(seqs(r), [5, 6, 7, 8, 9, 11, 12, 13, 14]);
  assert.deepEqual(
    r.outbox.historyBatch(11, 100)?.series.map((s) => [s.name, s.labels, s.samples.map(([, v]) => v)]),
    [['ac_power', { device: 'inverter' }, [101, 102, 103]]],
  );
  assert.deepEqual(
    r.outbox.pendingEvents(0, 10).map((e) => [e.seq, e.id]),
    [
      [2, 'e2'],
      [3, 'e3'],
      [5, 'e9'],
    ],
  );
  assert.deepEqual(
    r.outbox.database.prepare("SELECT last_seq FROM outbox_backfills WHERE id = 'bf2'").pluck().get(),
    13,
    "bf2's last row moved with its rows",
  );
  await record(r, 'battery_soc', BASE + 40_000);
  assert.equal(seqs(r).at(-1), 15);
  await close(r);
});

test('node records: an outbox.db that is not a database is moved aside and the store opens with its data', async () => {
  const dir = await oldStateDir();
  rmSync(join(dir, 'outbox.db'));
  writeFileSync(join(dir, 'outbox.db'), Buffer.alloc(8192, 0xa5));
  const r = openNodeRecords({ dir });
  assert.match(r.carryOver.quarantinedTo ?? '', /outbox\.db\.corrupt-\d+$/);
  assert.equal(existsSync(join(dir, 'outbox.db')), false);
  assert.equal((await r.store.query([{ name: '__name__', op: '=', value: 'stored' }], 0, Date.now()))[0]?.points.length, 30);
  await record(r, 'battery_soc', BASE);
  assert.equal(r.outbox.backlog().sampleRows, 1);
  await close(r);
});
