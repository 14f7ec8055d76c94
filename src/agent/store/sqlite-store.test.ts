// SqliteStore: durable appends with group commit, queries across head and chunks, compaction,
// retention, size cap and quarantine of unreadable files.
// calendar: every store runs on a manual clock, retention and compaction included.

import assert from 'node:assert/strict';
import { openSync, readdirSync, readSync, statSync, truncateSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { isFieldmeshError, ManualClock } from '../../kit/index.js';
import type { Sample } from '../../protocol/index.js';
import { createSqliteStore, encodeChunk, type SqliteStoreOptions } from './index.js';
import { recordingLogger, tempStorePaths } from './store-test-kit.js';

const HOUR = 3_600_000;
const T0 = Date.UTC(2026, 0, 1);
const tempPath = tempStorePaths('fm-store-');

function open(options: Partial<SqliteStoreOptions> & { clock?: ManualClock } = {}) {
  const clock = options.clock ?? new ManualClock(T0 + 10 * HOUR);
  const path = options.path ?? tempPath();
  return { store: createSqliteStore({ ...options, path, clock }), clock, path };
}

const sample = (name: string, labels: Record<string, string>, time: number, value: number): Sample => ({ name, labels, time, value });

describe('SqliteStore', () => {
  it('keeps appended samples, last write of a timestamp wins, NaN and -0 survive head and chunks', async () => {
    const { store } = open();
    const l = { node: 'n1' };
    await store.append([sample('v', l, T0, 1), sample('v', l, T0 + 5000, Number.NaN), sample('v', l, T0 + 10_000, -0)]);
    await store.append([sample('v', l, T0 + 5000, 2.5)]);
    const expected = [
      [T0, 1],
      [T0 + 5000, 2.5],
      [T0 + 10_000, -0],
    ];
    const [points] = await store.query([{ name: '__name__', op: '=', value: 'v' }], T0, T0 + HOUR);
    assert.deepEqual(points?.points, expected);
    assert.ok(Object.is(points?.points[2]?.[1], -0));
    await store.append([sample('v', l, T0 + 15_000, Number.NaN)]);
    assert.deepEqual((await store.compact()).movedSamples, 4);
    const [after] = await store.query([{ name: '__name__', op: '=', value: 'v' }], T0, T0 + HOUR);
    assert.deepEqual(after?.points, [...expected, [T0 + 15_000, Number.NaN]]);
    assert.ok(Object.is(after?.points[2]?.[1], -0));
    await store.close();
  });

  it('merges late samples into compacted chunks and lets a newer write of the same timestamp win', async () => {
    const { store } = open();
    const l = { node: 'n1' };
    await store.append(Array.from({ length: 100 }, (_, i) => sample('v', l, T0 + i * 5000, i)));
    await store.compact();
    // A rewrite and a late sample for the compacted window: the head wins before compaction, the merge after.
    await store.append([sample('v', l, T0 + 5000, 999), sample('v', l, T0 + 2500, 0.5)]);
    const read = async () => (await store.query([{ name: 'node', op: '=', value: 'n1' }], T0, T0 + HOUR))[0]?.points ?? [];
    const before = await read();
    assert.equal(before.length, 101);
    assert.deepEqual(before.slice(0, 3), [
      [T0, 0],
      [T0 + 2500, 0.5],
      [T0 + 5000, 999],
    ]);
    await store.compact();
    assert.deepEqual(await read(), before);
    assert.equal((await store.stats()).samples, 101);
    await store.close();
  });

  it('compacts on its timer, keeps the open window in the head, and stops the timer on close', async () => {
    const clock = new ManualClock(T0 + 1000);
    const { store, path } = open({ clock, compactEveryMs: 60_000, chunkSpanMs: 2 * HOUR });
    await store.append([sample('v', {}, T0, 1), sample('v', {}, T0 + 500, 2)]);
    clock.advance(60_000);
    const db = new Database(path, { readonly: true });
    const count = (table: string) => (db.prepare(`SELECT COUNT(*) FROM ${table}`).pluck().get() as number) ?? 0;
    assert.equal(count('chunks'), 0, 'the current window stays in the head');
    clock.advance(2 * HOUR);
    assert.equal(count('chunks'), 1);
    assert.equal(count('head_log'), 0, 'the head log rows of the moved samples are gone');
    db.close();
    await store.close();
    clock.advance(10 * HOUR);
  });

  it('selects series by label matchers, with missing labels reading as ""', async () => {
    const { store } = open();
    await store.append([
      sample('soc', { node: 'a', bank: '1' }, T0, 50),
      sample('soc', { node: 'b' }, T0, 60),
      sample('volts', { node: 'a' }, T0, 52.1),
    ]);
    const names = async (m: Parameters<typeof store.query>[0]) =>
      (await store.query(m, T0, T0)).map((p) => `${p.series.name}/${p.series.labels.node}`).sort();
    assert.deepEqual(await names([{ name: '__name__', op: '=', value: 'soc' }]), ['soc/a', 'soc/b']);
    assert.deepEqual(await names([{ name: 'node', op: '!=', value: 'a' }]), ['soc/b']);
    assert.deepEqual(await names([{ name: '__name__', op: '=~', value: 's' }]), [], 'regexes are anchored');
    assert.deepEqual(await names([{ name: '__name__', op: '=~', value: 's.*|volts' }]), ['soc/a', 'soc/b', 'volts/a']);
    assert.deepEqual(await names([{ name: 'bank', op: '=', value: '' }]), ['soc/b', 'volts/a']);
    assert.deepEqual(await names([{ name: 'bank', op: '!~', value: '1' }]), ['soc/b', 'volts/a']);
    assert.deepEqual(await store.labelNames(), ['__name__', 'bank', 'node']);
    assert.deepEqual(await store.labelValues('__name__'), ['soc', 'volts']);
    assert.deepEqual(await store.labelValues('node'), ['a', 'b']);
    assert.equal((await store.series([])).length, 3);
    assert.equal((await store.series([], T0 + 1, T0 + HOUR)).length, 0);
    await store.close();
  });

  it('group-commits concurrent appends: all resolve, and a failing batch rejects every waiter of it', async () => {
    const { store } = open({ groupCommitMs: 50 });
    const results = await Promise.allSettled(
      Array.from({ length: 20 }, (_, i) => store.append([sample('v', { k: String(i) }, T0 + i, i)])),
    );
    assert.ok(results.every((r) => r.status === 'fulfilled'));
    assert.equal((await store.stats()).samples, 20);
    // A sample SQLite refuses (no name) fails the whole batch it shares, and nothing of it is kept.
    const bad = { ...sample('v', {}, T0, 1), name: null as unknown as string };
    const settled = await Promise.allSettled([
      store.append([sample('ok', {}, T0 + 1, 1)]),
      store.append([bad]),
      store.append([sample('ok2', {}, T0 + 2, 1)]),
    ]);
    assert.deepEqual(
      settled.map((r) => r.status),
      ['rejected', 'rejected', 'rejected'],
    );
    assert.equal((await store.stats()).samples, 20);
    assert.equal((await store.stats()).series, 20, 'series of the failed batch are forgotten too');
    await store.append([sample('ok', {}, T0 + 1, 1)]);
    assert.equal((await store.stats()).series, 21);
    await store.close();
  });

  it('a single append resolves promptly, and invalid samples or a closed store reject with a code', async () => {
    const { store } = open({ groupCommitMs: 2 });
    const started = performance.now();
    await store.append([sample('v', {}, T0, 1)]);
    assert.ok(performance.now() - started < 1000);
    await assert.rejects(store.append([sample('v', {}, 1.5, 1)]), (err) => isFieldmeshError(err, 'FM_STORE_SAMPLE_INVALID'));
    await store.close();
    await assert.rejects(store.append([sample('v', {}, T0, 1)]), (err) => isFieldmeshError(err, 'FM_STORE_CLOSED'));
  });

  it('deletes samples past the retention, and past the size cap the oldest chunks with a log line', async () => {
    const lines: string[] = [];
    const clock = new ManualClock(T0 + 40 * 24 * HOUR);
    const { store, path } = open({ clock, logger: recordingLogger(lines), chunkSpanMs: HOUR });
    // 20 days of noisy hourly-chunked samples for 3 series, starting 30+ days ago.
    const start = T0 + 5 * 24 * HOUR;
    for (let day = 0; day < 20; day++) {
      const batch: Sample[] = [];
      for (let i = 0; i < 24 * 60; i++) {
        for (let s = 0; s < 3; s++) batch.push(sample('v', { s: String(s) }, start + day * 24 * HOUR + i * 60_000, Math.sin(i) * 1000));
      }
      await store.append(batch);
      await store.compact();
    }
    const { deletedSamples } = await store.applyRetention(clock.now());
    assert.equal(deletedSamples, 5 * 24 * 60 * 3, 'the five days of chunks that ended before now - 30 days');
    const oldest = (await store.stats()).oldestMs as number;
    assert.equal(oldest, clock.now() - 30 * 24 * HOUR);
    await store.close();

    const sizeBefore = statSync(path).size;
    const capped = createSqliteStore({ path, clock, logger: recordingLogger(lines), maxBytes: Math.floor(sizeBefore / 2) });
    const stats = await capped.stats();
    assert.ok(stats.diskBytes <= sizeBefore / 2, `${stats.diskBytes} > ${sizeBefore / 2}`);
    assert.ok((stats.oldestMs as number) > oldest, 'the oldest chunks went first');
    assert.equal(stats.newestMs, start + 20 * 24 * HOUR - 60_000, 'the newest stay');
    assert.ok(
      lines.some((l) => /deleted the \d+ oldest chunks \(\d+ samples\)/.test(l)),
      lines.join('\n'),
    );
    await capped.close();
  });
});

describe('SqliteStore on damaged files', () => {
  async function filled(path: string): Promise<void> {
    const { store } = open({ path });
    for (let b = 0; b < 20; b++) {
      await store.append(Array.from({ length: 500 }, (_, i) => sample('v', { b: String(b) }, T0 + i * 5000, i * 0.1)));
    }
    await store.compact();
    await store.close();
  }

  function expectQuarantined(path: string, lines: string[]) {
    const { store } = open({ path, logger: recordingLogger(lines) });
    assert.equal(store.quarantined, 1);
    const moved = store.openReport.quarantinedTo as string;
    assert.match(moved, /store\.db\.corrupt-\d+$/);
    assert.ok(readdirSync(join(path, '..')).includes(moved.split('/').pop() as string));
    assert.ok(
      lines.some((l) => l.includes(path) && l.includes(moved)),
      lines.join('\n'),
    );
    return store;
  }

  it('quarantines a truncated file and starts fresh', async () => {
    const path = tempPath();
    await filled(path);
    truncateSync(path, 3000);
    const lines: string[] = [];
    const store = expectQuarantined(path, lines);
    await store.append([sample('v', {}, T0, 1)]);
    assert.equal((await store.stats()).samples, 1);
    await store.close();
  });

  it('quarantines a file with flipped bytes in its pages', async () => {
    const path = tempPath();
    await filled(path);
    const fd = openSync(path, 'r+');
    const size = statSync(path).size;
    // Flip bytes of every page header past the first page: b-tree pages no longer parse.
    for (let page = 1; page * 4096 < size; page++) {
      const buf = Buffer.alloc(8);
      readSync(fd, buf, 0, 8, page * 4096);
      for (let i = 0; i < 8; i++) buf[i] = (buf[i] as number) ^ 0x5a;
      writeSync(fd, buf, 0, 8, page * 4096);
    }
    writeSync(fd, Buffer.from('garbage!'), 0, 8, 0);
    const lines: string[] = [];
    const store = expectQuarantined(path, lines);
    await store.close();
  });

  it('skips, counts and logs a chunk whose blob does not decode, and answers the rest', async () => {
    const path = tempPath();
    await filled(path);
    const db = new Database(path);
    db.prepare('UPDATE chunks SET data = x\'1f00ff00\' WHERE series_id = (SELECT id FROM series WHERE labels = \'{"b":"3"}\')').run();
    db.close();
    const lines: string[] = [];
    const { store } = open({ path, logger: recordingLogger(lines) });
    const result = await store.query([{ name: '__name__', op: '=', value: 'v' }], T0, T0 + 10 * HOUR);
    assert.equal(result.length, 19);
    assert.equal(store.corruptChunks, 1);
    assert.equal(store.quarantined, 0);
    assert.ok(lines.some((l) => /does not decode; skipped/.test(l)));
    await store.close();
  });
});

describe('SqliteStore head log', () => {
  const all = [{ name: '__name__', op: '=~', value: '.+' }] as const;
  async function snapshot(store: ReturnType<typeof createSqliteStore>) {
    const result = await store.query(all, 0, 2 ** 52);
    return Object.fromEntries(result.map((p) => [`${p.series.name}${JSON.stringify(p.series.labels)}`, p.points]));
  }

  it('replays the head after a reopen without compaction: every sample back, the last write of a timestamp wins', async () => {
    const { store, path, clock } = open();
    const a = { node: 'a' };
    await store.append([sample('v', a, T0, 1), sample('v', a, T0 + 5000, Number.NaN), sample('v', a, T0 + 10_000, -0)]);
    // A rewrite, a late sample, the same timestamp twice in one append (the later one wins), another series.
    await store.append([sample('v', a, T0 + 5000, 2), sample('v', a, T0 + 2500, 0.5), sample('w', a, T0, 7), sample('w', a, T0, 8)]);
    await Promise.all([store.append([sample('v', { node: 'b' }, T0, 3)]), store.append([sample('v', a, T0 + 10_000, 4)])]);
    const before = await snapshot(store);
    assert.deepEqual(before['v{"node":"a"}'], [
      [T0, 1],
      [T0 + 2500, 0.5],
      [T0 + 5000, 2],
      [T0 + 10_000, 4],
    ]);
    assert.deepEqual(before['w{"node":"a"}'], [[T0, 8]]);
    const { diskBytes: _, ...statsBefore } = await store.stats();
    await store.close();

    const reopened = createSqliteStore({ path, clock });
    assert.deepEqual(await snapshot(reopened), before);
    const { diskBytes: __, ...statsAfter } = await reopened.stats();
    assert.deepEqual(statsAfter, statsBefore);
    assert.equal(reopened.corruptHeadRows, 0);
    await reopened.close();
  });

  it('keeps the last write of a timestamp across compactions that rewrite rows straddling the closed window', async () => {
    const clock = new ManualClock(T0 + 10 * HOUR + 1000);
    const { store, path } = open({ clock, chunkSpanMs: 2 * HOUR });
    const open1 = T0 + 10 * HOUR + 500;
    const closed1 = T0 + 9 * HOUR;
    // Series x: the straddling row is older than the rewrite. Series y: the straddling row is newer.
    await store.append([sample('x', {}, closed1, 1), sample('x', {}, open1, 1)]);
    await store.append([sample('x', {}, open1, 2), sample('y', {}, open1, 2)]);
    await store.append([sample('y', {}, closed1, 3), sample('y', {}, open1, 3)]);
    const moved = await store.compact();
    assert.equal(moved.movedSamples, 2);
    const db = new Database(path, { readonly: true });
    const rows = db.prepare('SELECT COUNT(*) FROM head_log').pluck().get();
    db.close();
    assert.equal(rows, 2, 'the row with no closed samples stays, the two straddling rows became one');
    const expected = {
      'x{}': [
        [closed1, 1],
        [open1, 2],
      ],
      'y{}': [
        [closed1, 3],
        [open1, 3],
      ],
    };
    assert.deepEqual(await snapshot(store), expected);
    await store.close();
    // Compaction by hand only: the timer would run it as the clock advances.
    const reopened = createSqliteStore({ path, clock, chunkSpanMs: 2 * HOUR, compactEveryMs: 100 * HOUR });
    assert.deepEqual(await snapshot(reopened), expected);
    assert.equal((await reopened.stats()).samples, 4);
    // The next window closes: everything is in chunks and the head log is empty.
    clock.advance(2 * HOUR);
    assert.equal((await reopened.compact()).movedSamples, 2);
    assert.deepEqual(await snapshot(reopened), expected);
    await reopened.close();
    const db2 = new Database(path, { readonly: true });
    assert.equal(db2.prepare('SELECT COUNT(*) FROM head_log').pluck().get(), 0);
    db2.close();
  });

  it('deletes head samples past the retention for good, also from rows that hold newer samples', async () => {
    const clock = new ManualClock(T0 + 40 * 24 * HOUR);
    const { store, path } = open({ clock });
    const old = T0 + 5 * 24 * HOUR;
    const recent = clock.now() - HOUR;
    await store.append([sample('v', {}, old, 1), sample('v', {}, recent, 2)]);
    assert.deepEqual(await store.applyRetention(clock.now()), { deletedSamples: 1 });
    assert.deepEqual(await snapshot(store), { 'v{}': [[recent, 2]] });
    await store.close();
    const reopened = createSqliteStore({ path, clock, retentionMs: 3650 * 24 * HOUR });
    assert.deepEqual(await snapshot(reopened), { 'v{}': [[recent, 2]] }, 'the old sample does not come back at replay');
    await reopened.close();
  });

  it('finds a series by equal labels in a different object, and tells names apart under one labels object', async () => {
    const { store } = open();
    const l = { node: 'a', bank: '1' };
    await store.append([sample('soc', l, T0, 1), sample('volts', l, T0, 2), sample('soc', { bank: '1', node: 'a' }, T0 + 1, 3)]);
    assert.deepEqual(
      (await store.query(all, T0, T0 + 1)).map((p) => [p.series.name, p.points.length]),
      [
        ['soc', 2],
        ['volts', 1],
      ],
    );
    await store.close();
  });

  it('migrates the per-sample head table of an older store into the head log, once', async () => {
    const path = tempPath();
    const db = new Database(path);
    // The schema the store wrote before the head log, with a compacted chunk and a per-sample head.
    db.exec(`
      CREATE TABLE series (id INTEGER PRIMARY KEY, name TEXT NOT NULL, labels TEXT NOT NULL, type TEXT NOT NULL, unit TEXT NOT NULL, UNIQUE (name, labels));
      CREATE TABLE head (series_id INTEGER NOT NULL, ts INTEGER NOT NULL, value, PRIMARY KEY (series_id, ts)) WITHOUT ROWID;
      CREATE TABLE chunks (series_id INTEGER NOT NULL, start_ts INTEGER NOT NULL, end_ts INTEGER NOT NULL, count INTEGER NOT NULL, data BLOB NOT NULL, PRIMARY KEY (series_id, start_ts));
      CREATE INDEX chunks_end ON chunks (end_ts);
    `);
    db.prepare('INSERT INTO series (id, name, labels, type, unit) VALUES (?, ?, ?, ?, ?)').run(1, 'v', '{"node":"a"}', 'gauge', 'V');
    db.prepare('INSERT INTO series (id, name, labels, type, unit) VALUES (?, ?, ?, ?, ?)').run(2, 'v', '{"node":"b"}', 'gauge', 'V');
    db.prepare('INSERT INTO chunks VALUES (1, ?, ?, 2, ?)').run(T0, T0 + 5000, Buffer.from(encodeChunk([T0, T0 + 5000], [10, 11])));
    const insertHead = db.prepare('INSERT INTO head (series_id, ts, value) VALUES (?, ?, ?)');
    const headRows: [number, number, number | null][] = [];
    for (let i = 0; i < 1000; i++) headRows.push([1 + (i % 2), T0 + 9 * HOUR + i * 5000, i / 10]);
    headRows.push([1, T0 + 5000, 99], [2, T0 + 9 * HOUR - 1, null], [2, T0 + 9 * HOUR - 2, -0]);
    db.transaction(() => {
      for (const row of headRows) insertHead.run(...row);
    })();
    db.close();

    const lines: string[] = [];
    const { store, clock } = open({ path, logger: recordingLogger(lines) });
    const expected = await snapshot(store);
    const a = expected['v{"node":"a"}'] ?? [];
    const b = expected['v{"node":"b"}'] ?? [];
    assert.equal(a.length + b.length, 1004, 'the chunk and the head, where one row rewrites a chunked timestamp');
    assert.deepEqual(a.slice(0, 3), [
      [T0, 10],
      [T0 + 5000, 99],
      [T0 + 9 * HOUR, 0],
    ]);
    assert.ok(Object.is(b[0]?.[1], -0) && Number.isNaN(b[1]?.[1]));
    assert.equal((await store.stats()).samples, 1005, 'the rewritten timestamp is in the chunk and the head until compaction');
    assert.ok(
      lines.some((l) => l.includes(path) && /moved 1003 head samples/.test(l)),
      lines.join('\n'),
    );
    await store.close();

    const raw = new Database(path, { readonly: true });
    assert.equal(raw.prepare("SELECT COUNT(*) FROM sqlite_master WHERE name = 'head'").pluck().get(), 0, 'the old table is gone');
    raw.close();
    const reopened = createSqliteStore({ path, clock });
    assert.deepEqual(await snapshot(reopened), expected);
    await reopened.compact();
    assert.deepEqual(await snapshot(reopened), expected);
    assert.equal((await reopened.stats()).samples, 1004);
    await reopened.close();
  });

  it('skips, counts and logs a head log row that does not decode, keeps the others, and keeps working', async () => {
    const clock = new ManualClock(T0 + HOUR);
    const { store, path } = open({ clock });
    for (let b = 0; b < 3; b++) await store.append(Array.from({ length: 100 }, (_, i) => sample('v', { b: String(b) }, T0 + i * 5000, i)));
    await store.close();
    const db = new Database(path);
    const ids = db.prepare('SELECT id FROM head_log ORDER BY id').pluck().all() as number[];
    assert.equal(ids.length, 3);
    db.prepare('UPDATE head_log SET data = ? WHERE id = ?').run(Buffer.from('not a head log row, just garbage bytes'), ids[1]);
    db.close();

    const lines: string[] = [];
    const reopened = createSqliteStore({ path, clock, logger: recordingLogger(lines), compactEveryMs: 100 * HOUR });
    assert.equal(reopened.corruptHeadRows, 1);
    assert.equal(reopened.quarantined, 0);
    assert.ok(
      lines.some((l) => l.includes(path) && l.includes(`head_log row ${ids[1]}`) && /skipped/.test(l)),
      lines.join('\n'),
    );
    const result = await reopened.query([{ name: '__name__', op: '=', value: 'v' }], T0, T0 + HOUR);
    assert.deepEqual(
      result.map((p) => [p.series.labels.b, p.points.length]),
      [
        ['0', 100],
        ['2', 100],
      ],
    );
    await reopened.append([sample('v', { b: '1' }, T0, 5)]);
    clock.advance(2 * HOUR);
    assert.equal((await reopened.compact()).movedSamples, 201);
    assert.equal(reopened.corruptHeadRows, 1, 'dropped with its window, not counted twice');
    assert.equal((await reopened.stats()).samples, 201);
    await reopened.close();
  });
});
