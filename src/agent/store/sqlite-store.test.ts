// SqliteStore: durable appends with group commit, queries across head and chunks, compaction,
// retention, size cap and quarantine of unreadable files.

import assert from 'node:assert/strict';
import { mkdtempSync, openSync, readdirSync, readSync, rmSync, statSync, truncateSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { isFieldmeshError, type Logger, ManualClock } from '../../kit/index.js';
import { createSqliteStore, type SqliteStoreOptions, type StoreSample } from './index.js';

const HOUR = 3_600_000;
const T0 = Date.UTC(2026, 0, 1);
const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function tempPath(): string {
  const dir = mkdtempSync(join(tmpdir(), 'fm-store-'));
  dirs.push(dir);
  return join(dir, 'store.db');
}

function recordingLogger(lines: string[]): Logger {
  const logger: Logger = {
    debug() {},
    info(_o, msg) {
      if (msg) lines.push(msg);
    },
    warn(_o, msg) {
      if (msg) lines.push(msg);
    },
    error(_o, msg) {
      if (msg) lines.push(msg);
    },
    child: () => logger,
  };
  return logger;
}

function open(options: Partial<SqliteStoreOptions> & { clock?: ManualClock } = {}) {
  const clock = options.clock ?? new ManualClock(T0 + 10 * HOUR);
  const path = options.path ?? tempPath();
  return { store: createSqliteStore({ ...options, path, clock }), clock, path };
}

const sample = (name: string, labels: Record<string, string>, time: number, value: number): StoreSample => ({ name, labels, time, value });

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
    assert.equal(count('head'), 0);
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
      const batch: StoreSample[] = [];
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
