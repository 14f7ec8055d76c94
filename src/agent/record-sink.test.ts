// The record sink commits a batch's store rows and outbox rows in one transaction of one file: both or
// neither; batches and events arriving together share the commit; the store's size cap is its own.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import type { Sample, TypedSample } from '../protocol/index.js';
import { type NodeRecords, openNodeRecords } from './record-sink.js';

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
function records(options: Omit<Parameters<typeof openNodeRecords>[0], 'dir'> = {}): NodeRecords {
  const dir = mkdtempSync(join(tmpdir(), 'fm-sink-'));
  dirs.push(dir);
  return openNodeRecords({ ...options, dir });
}
async function close({ store, outbox }: NodeRecords): Promise<void> {
  outbox.close();
  await store.close();
}

const BASE = Date.now() - 3_600_000;
const sample = (name: string, time: number, value: number): Sample => ({ name, labels: { device: 'battery' }, time, value });
const durable = (s: Sample): TypedSample => ({ ...s, type: 'gauge', unit: '' });
/** A batch of `n` samples of `name` from `from` on, every one of them critical. */
function batch(name: string, from: number, n: number, value = 1): { samples: Sample[]; durable: TypedSample[] } {
  const samples = Array.from({ length: n }, (_, i) => sample(name, from + i * 1000, value));
  return { samples, durable: samples.map(durable) };
}
const outboxRows = (r: NodeRecords) =>
  r.outbox.database
    .prepare('SELECT o.name, s.ts, s.value FROM outbox_samples s JOIN outbox_series o ON o.id = s.series_id ORDER BY s.seq')
    .all() as { name: string; ts: number; value: number }[];
const storeNames = async (r: NodeRecords) => (await r.store.series([])).map((s) => s.name).sort();

test('record sink: a failed commit leaves the batch in neither the store nor the outbox, and the next batch commits whole', async () => {
  const r = records();
  const good = batch('battery_soc', BASE, 3);
  await r.sink.record(good.samples, good.durable);
  // The outbox's half of the next batch fails inside the transaction (as a full disk would).
  r.store.database.exec(
    "CREATE TRIGGER refuse BEFORE INSERT ON outbox_samples WHEN NEW.value = 666 BEGIN SELECT RAISE(ABORT, 'disk full'); END",
  );
  const bad = batch('dc_voltage', BASE, 3, 666);
  await assert.rejects(r.sink.record(bad.samples, bad.durable), /disk full/);
  assert.deepEqual(await storeNames(r), ['battery_soc'], "the store's half rolled back with it, its new series too");
  assert.equal((await r.store.query([], 0, Date.now())).flatMap((p) => p.points).length, 3);
  assert.deepEqual(
    outboxRows(r).map((row) => row.name),
    ['battery_soc', 'battery_soc', 'battery_soc'],
  );
  // Memory forgot what the rolled-back transaction cached: the same series commit afresh, under ids that exist.
  r.store.database.exec('DROP TRIGGER refuse');
  const again = batch('dc_voltage', BASE, 2, 52.1);
  await r.sink.record(again.samples, again.durable);
  assert.deepEqual(await storeNames(r), ['battery_soc', 'dc_voltage']);
  assert.deepEqual(
    r.outbox.historyBatch(0, 100)?.series.map((s) => [s.name, s.samples.length]),
    [
      ['battery_soc', 3],
      ['dc_voltage', 2],
    ],
  );
  assert.equal(r.outbox.backlog().sampleRows, 5);
  await close(r);
});

test('record sink: batches and events recorded together share one commit; events go to the outbox only', async () => {
  const r = records();
  const event = { id: 'e1', kind: 'fire_detected', priority: 'critical' as const, time: BASE, payload: new TextEncoder().encode('{}') };
  const batches = [batch('a', BASE, 10), batch('b', BASE, 10), { samples: [sample('c', BASE, 1)], durable: [] }];
  await Promise.all([...batches.map((b) => r.sink.record(b.samples, b.durable)), r.sink.recordEvent(event)]);
  assert.equal(r.store.database.prepare('SELECT COUNT(*) FROM head_log').pluck().get(), 1, 'one head_log row: one commit');
  assert.equal((await r.store.query([], 0, Date.now())).flatMap((p) => p.points).length, 21);
  assert.equal(outboxRows(r).length, 20, 'the critical samples only');
  assert.deepEqual(
    r.outbox.pendingEvents(0, 10).map((e) => e.id),
    ['e1'],
  );
  assert.deepEqual(await storeNames(r), ['a', 'b', 'c'], 'no event in the store');
  await close(r);
});

test('record sink: a sample the store cannot keep rejects its own batch before anything is written', async () => {
  const r = records();
  const good = batch('soc', BASE, 2);
  const bad = { samples: [sample('soc', 1.5, 1)], durable: [] };
  const results = await Promise.allSettled([r.sink.record(bad.samples, bad.durable), r.sink.record(good.samples, good.durable)]);
  assert.equal(results[0].status, 'rejected');
  assert.equal((results[0] as PromiseRejectedResult).reason.code, 'FM_STORE_SAMPLE_INVALID');
  assert.equal(results[1].status, 'fulfilled', 'a batch committed beside it is unaffected');
  assert.equal((await r.store.query([], 0, Date.now())).flatMap((p) => p.points).length, 2);
  assert.equal(outboxRows(r).length, 2);
  await close(r);
});

test("record sink: store.maxBytes caps the store's own pages; the outbox's rows in the same file do not delete its chunks", async () => {
  const r = records({ store: { maxBytes: 1_500_000 } });
  // Chunks of the store: two days ago, compacted.
  const old = Array.from({ length: 5_000 }, (_, i) => sample('kept', BASE - 2 * 86_400_000 + i * 1000, i % 7));
  await r.sink.record(old, []);
  await r.store.compact();
  // About 6 MB of outbox rows the hub has not acknowledged yet (as a backfill queues them).
  for (let k = 0; k < 40; k++) {
    await r.outbox.appendSamples(Array.from({ length: 5_000 }, (_, i) => durable(sample(`critical_${i % 50}`, BASE + k * 5_000 + i, i))));
  }
  assert.equal((await r.store.applyRetention(Date.now())).deletedSamples, 0);
  assert.ok((await r.store.stats()).diskBytes > 1_500_000, 'the file itself is over the cap');
  const kept = await r.store.query([{ name: '__name__', op: '=', value: 'kept' }], 0, Date.now());
  assert.equal(kept[0]?.points.length, 5_000, "the store's chunks are all there");
  await close(r);
});
