// The outbox keeps samples and events across restarts until acknowledged, deletes exactly what is
// acknowledged, coalesces samples (never events) at its cap and reports what it dropped.

import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import type { TypedSample } from '../../protocol/index.js';
import { createSqliteOutbox } from './sqlite-outbox.js';

const dir = () => mkdtempSync(join(tmpdir(), 'fm-outbox-'));
const sample = (name: string, time: number, value: number): TypedSample => ({
  name,
  labels: { device: 'battery' },
  type: 'gauge',
  unit: '',
  time,
  value,
});
const event = (id: string) => ({
  id,
  kind: 'fire_detected',
  priority: 'critical' as const,
  time: 1,
  payload: new TextEncoder().encode('{"camera":"cam1"}'),
});

test('outbox: batches group rows by series in time order; an ack deletes exactly its range', async () => {
  const box = createSqliteOutbox({ path: join(dir(), 'outbox.db') });
  await box.appendSamples([sample('soc', 3_000, 55.3), sample('v', 1_000, 52.1), sample('soc', 1_000, 55.1), sample('soc', 2_000, 55.2)]);
  await box.appendSamples([sample('soc', 2_000, 55.25), sample('v', 2_000, Number.NaN)]);
  const batch = box.historyBatch(0, 4);
  assert.ok(batch);
  assert.deepEqual([batch.firstSeq, batch.lastSeq, batch.rows], [1, 4, 4]);
  assert.deepEqual(batch.series.find((s) => s.name === 'soc')?.samples, [
    [1_000, 55.1],
    [2_000, 55.2],
    [3_000, 55.3],
  ]);
  const rest = box.historyBatch(batch.lastSeq, 100);
  assert.deepEqual([rest?.firstSeq, rest?.lastSeq], [5, 6]);
  const v = rest?.series.find((s) => s.name === 'v')?.samples[0];
  assert.ok(v && Number.isNaN(v[1]), 'NaN survives the round trip');
  assert.equal(box.ack('samples', 1, 4), 4);
  assert.equal(box.backlog().sampleRows, 2);
  assert.equal(box.historyBatch(0, 100)?.firstSeq, 1, 'what is left starts where the caller asks');
  assert.equal(box.historyBatch(0, 100)?.rows, 2);
  box.close();
});

test('outbox: rows and seqs survive a restart; events are deduplicated by id and acknowledged by seq', async () => {
  const path = join(dir(), 'outbox.db');
  const first = createSqliteOutbox({ path });
  await first.appendSamples([sample('soc', 1_000, 1), sample('soc', 2_000, 2)]);
  await first.appendEvent(event('e1'));
  await first.appendEvent(event('e1'));
  first.ack('samples', 1, 1);
  first.close();
  const second = createSqliteOutbox({ path });
  await second.appendSamples([sample('soc', 3_000, 3)]);
  const batch = second.historyBatch(0, 10);
  assert.deepEqual([batch?.firstSeq, batch?.lastSeq, batch?.rows], [1, 3, 2], 'seq keeps growing across the restart');
  const events = second.pendingEvents(0, 10);
  assert.equal(events.length, 1);
  assert.equal(events[0]?.id, 'e1');
  assert.equal(second.ack('events', events[0]?.seq ?? -1, events[0]?.seq ?? -1), 1);
  assert.equal(second.backlog().eventRows, 0);
  second.close();
});

test('outbox: at the cap samples coalesce to the latest per series, events are never dropped, drops are reported until acknowledged', async () => {
  let dropped = 0;
  const box = createSqliteOutbox({ path: join(dir(), 'outbox.db'), maxSampleRows: 10, onDropped: (n) => (dropped += n) });
  for (let i = 0; i < 20; i++) await box.appendEvent(event(`e${i}`));
  for (let t = 1; t <= 12; t++) await box.appendSamples([sample('soc', t * 1_000, t), sample('v', t * 1_000, 50 + t)]);
  const b = box.backlog();
  assert.ok(b.sampleRows <= 10, `${b.sampleRows} rows`);
  assert.equal(b.sampleRows + dropped, 24, 'every missing row is counted');
  assert.equal(b.eventRows, 20, 'events are never dropped');
  const batch = box.historyBatch(0, 100);
  assert.ok(batch);
  assert.equal(
    batch.dropped.reduce((n, d) => n + d.rows, 0),
    dropped,
  );
  const latest = Object.fromEntries(batch.series.map((s) => [s.name, s.samples.at(-1)]));
  assert.deepEqual(latest, { soc: [12_000, 12], v: [12_000, 62] }, 'the latest values survive');
  box.ack('samples', batch.firstSeq, batch.lastSeq);
  await box.appendSamples([sample('soc', 13_000, 13)]);
  assert.deepEqual(box.historyBatch(0, 100)?.dropped, [], 'reported drops are cleared once acknowledged');
  box.close();
});

test('outbox: a damaged file is moved aside and a fresh outbox starts', async () => {
  const d = dir();
  writeFileSync(join(d, 'outbox.db'), 'this is not a database, just bytes that happen to be here'.repeat(100));
  const box = createSqliteOutbox({ path: join(d, 'outbox.db') });
  assert.match(box.quarantinedTo ?? '', /outbox\.db\.corrupt-\d+$/);
  await box.appendEvent(event('after'));
  assert.equal(box.backlog().eventRows, 1);
  box.close();
});

test('outbox: a backfill request survives a restart with its cursor; it is reported once its rows are acknowledged, and again when asked', async () => {
  const path = join(dir(), 'outbox.db');
  const first = createSqliteOutbox({ path });
  const request = { id: 'r1', fromMs: 1_000, toMs: 9_000, selectors: [] };
  assert.equal(first.addBackfill(request, 50), 'added');
  assert.equal(first.addBackfill(request, 51), 'pending', 'a repeat while reading is not read again');
  const [task] = first.backfillTasks();
  assert.ok(task);
  assert.equal(first.enqueueBackfill(task, [sample('soc', 1_000, 1), sample('soc', 2_000, 2)], 5_000), true);
  first.close();

  const box = createSqliteOutbox({ path });
  const [resumed] = box.backfillTasks();
  assert.deepEqual(resumed, { ...request, cursorMs: 5_000 }, 'the cursor survives the restart');
  assert.ok(resumed);
  assert.equal(box.enqueueBackfill({ ...resumed, cursorMs: 1_000 }, [sample('soc', 1_500, 9)], 9_001), true);
  assert.equal(box.backlog().sampleRows, 2, 'a piece of a task that moved on is dropped');
  assert.equal(box.enqueueBackfill(resumed, [sample('soc', 6_000, 6)], 9_001), true);
  assert.deepEqual(box.backfillTasks(), [], 'read to its end');
  assert.equal(box.reportBatch(), undefined, 'not finished while its rows wait for the hub');
  const batch = box.historyBatch(0, 100);
  assert.deepEqual([batch?.rows, batch?.repaired], [3, []]);
  box.ack('samples', 1, 3);
  const report = box.reportBatch();
  assert.deepEqual(report, {
    firstSeq: 3,
    lastSeq: 3,
    rows: 0,
    series: [],
    dropped: [],
    repaired: [{ requestId: 'r1', fromMs: 1_000, toMs: 9_000 }],
  });
  assert.equal(box.addBackfill(request, 60), 'pending', 'finished, its report not yet acknowledged');
  box.ack('samples', 3, 3);
  assert.equal(box.reportBatch(), undefined, 'an acknowledged report is not repeated');
  assert.equal(box.addBackfill(request, 70), 'reported-again', 'asked again: the hub missed the report');
  assert.deepEqual(box.reportBatch()?.repaired, [{ requestId: 'r1', fromMs: 1_000, toMs: 9_000 }]);
  assert.equal(box.addBackfill({ ...request, toMs: 20_000 }, 80), 'added', 'the same id with another range is read afresh');
  assert.deepEqual(box.backfillTasks(), [{ ...request, toMs: 20_000, cursorMs: 1_000 }]);
  box.close();
});

test('outbox: a repair piece never takes the sample lane past its cap; live rows still may, and coalesce', async () => {
  let dropped = 0;
  const box = createSqliteOutbox({ path: join(dir(), 'outbox.db'), maxSampleRows: 10, onDropped: (n) => (dropped += n) });
  for (let t = 1; t <= 8; t++) await box.appendSamples([sample('soc', 100_000 + t, t)]);
  assert.equal(box.sampleRoom(), 2);
  box.addBackfill({ id: 'r', fromMs: 0, toMs: 50_000, selectors: [] }, 1);
  const [task] = box.backfillTasks();
  assert.ok(task);
  const piece = [sample('soc', 1_000, 1), sample('soc', 2_000, 2), sample('soc', 3_000, 3)];
  assert.equal(box.enqueueBackfill(task, piece, 3_001), false, 'three rows do not fit in two');
  assert.deepEqual([box.backlog().sampleRows, box.backfillTasks()[0]?.cursorMs, dropped], [8, 0, 0], 'nothing written, nothing dropped');
  assert.equal(box.enqueueBackfill(task, piece.slice(0, 2), 2_001), true);
  assert.deepEqual([box.backlog().sampleRows, box.sampleRoom(), dropped], [10, 0, 0]);
  assert.equal(box.enqueueBackfill(box.backfillTasks()[0] ?? task, [sample('soc', 2_500, 2.5)], 2_501), false, 'a full lane waits');
  await box.appendSamples([sample('soc', 100_009, 9)]);
  assert.ok(dropped > 0, 'a live row past the cap coalesces, as before');
  box.close();
});
