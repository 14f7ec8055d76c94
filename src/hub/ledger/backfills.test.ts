// Which backfill requests go out: new ones at once, unanswered ones after the timeout, one per node per
// interval, none to a node that cannot hear them, none once done.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type BackfillRecord, dueBackfills } from './backfills.js';

const request = (id: string, node: string, createdAt: number, sentAt: number | null = null): BackfillRecord => ({
  id,
  site: 's',
  node,
  fromMs: 0,
  toMs: 1_000,
  selectors: [],
  origin: 'dropped',
  createdAt,
  sentAt,
  attempts: sentAt === null ? 0 : 1,
  doneAt: null,
});
const pacing = { minIntervalMs: 5_000, timeoutMs: 300_000 };
const ids = (rs: readonly BackfillRecord[]) => rs.map((r) => r.id);

test('backfills: new requests go out oldest first, one per node; the next only after the interval', () => {
  const all = [request('b', 'n1', 2), request('a', 'n1', 1), request('c', 'n2', 3)];
  assert.deepEqual(ids(dueBackfills(all, 10_000, pacing, new Map(), () => true)), ['a', 'c']);
  const last = new Map([['s/n1', 8_000]]);
  assert.deepEqual(ids(dueBackfills(all, 10_000, pacing, last, () => true)), ['c'], 'n1 was asked 2 s ago');
  assert.deepEqual(ids(dueBackfills(all, 13_000, pacing, last, () => true)), ['a', 'c']);
  assert.deepEqual(ids(dueBackfills(all, 10_000, { ...pacing, minIntervalMs: 0 }, last, () => true)), ['a', 'c'], '0: no limit');
});

test('backfills: an unanswered request goes out again after the timeout; a done one never; an unreachable node waits', () => {
  const sent = request('a', 'n1', 1, 10_000);
  assert.deepEqual(ids(dueBackfills([sent], 300_000, pacing, new Map(), () => true)), []);
  assert.deepEqual(ids(dueBackfills([sent], 310_000, pacing, new Map(), () => true)), ['a']);
  assert.deepEqual(ids(dueBackfills([{ ...sent, doneAt: 20_000 }], 900_000, pacing, new Map(), () => true)), []);
  assert.deepEqual(ids(dueBackfills([request('b', 'n2', 1)], 1_000, pacing, new Map(), (_s, n) => n !== 'n2')), []);
});
