// The completeness rule: backlog past the window's end, no dropped range in it, every series covered.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { completeness, type NodeLedger } from './completeness.js';

const H = 3_600_000;
const full = { series: 'soc', intervalMs: 5_000, intervals: [[0, 24 * H]] as const };
const half = { series: 'volts', intervalMs: 5_000, intervals: [[0, 12 * H]] as const };

test('completeness: complete when the backlog is past the end, nothing dropped, every series covered', () => {
  const ledger: NodeLedger = {
    backlog: { pendingRows: 5, oldestPendingMs: 24 * H + 1, pendingBytes: null, reportedAt: 25 * H },
    dropped: [],
    repaired: [],
    repairs: [],
    coverage: [full],
  };
  const r = completeness(ledger, 0, 24 * H);
  assert.equal(r.complete, true);
  assert.equal(r.ratio, 1);
  assert.deepEqual(r.missing, []);
  assert.equal(
    completeness({ ...ledger, backlog: { pendingRows: 0, oldestPendingMs: null, pendingBytes: null, reportedAt: 2 * H } }, 0, 24 * H)
      .complete,
    true,
  );
});

test('completeness: each condition alone makes it incomplete', () => {
  const ok: NodeLedger = {
    backlog: { pendingRows: 0, oldestPendingMs: null, pendingBytes: null, reportedAt: 25 * H },
    dropped: [],
    repaired: [],
    repairs: [],
    coverage: [full],
  };
  const pending = completeness(
    { ...ok, backlog: { pendingRows: 9, oldestPendingMs: 23 * H, pendingBytes: null, reportedAt: 25 * H } },
    0,
    24 * H,
  );
  assert.equal(pending.complete, false);
  assert.equal(pending.ratio, 1, 'the hub holds the whole day so far; the node still has rows for it');
  const never = completeness({ ...ok, backlog: undefined }, 0, 24 * H);
  assert.equal(never.complete, false, 'no backlog report: the hub cannot know');
  const dropped = completeness(
    {
      ...ok,
      dropped: [
        { fromMs: 23 * H, toMs: 25 * H, rows: 10 },
        { fromMs: 30 * H, toMs: 31 * H, rows: 1 },
      ],
    },
    0,
    24 * H,
  );
  assert.equal(dropped.complete, false);
  assert.deepEqual(dropped.dropped, [{ fromMs: 23 * H, toMs: 25 * H, rows: 10 }], 'only ranges overlapping the window');
  const hole = completeness({ ...ok, coverage: [full, half] }, 0, 24 * H);
  assert.equal(hole.complete, false);
  assert.equal(hole.ratio, 0.75);
  assert.deepEqual(hole.missing, [{ series: 'volts', from: 12 * H, to: 24 * H }]);
  const nothing = completeness({ ...ok, coverage: [] }, 0, 24 * H);
  assert.deepEqual([nothing.complete, nothing.ratio], [false, 0], 'a node without series is not complete');
});

test('completeness: a repaired drop no longer counts as missing; repaired drops and outstanding requests in the window are listed', () => {
  const request = {
    id: 'r1',
    site: 's',
    node: 'n',
    fromMs: 30 * H,
    toMs: 31 * H,
    selectors: [],
    origin: 'operator' as const,
    createdAt: 40 * H,
    sentAt: null,
    attempts: 0,
    doneAt: null,
  };
  const ledger: NodeLedger = {
    backlog: { pendingRows: 0, oldestPendingMs: null, pendingBytes: 0, reportedAt: 25 * H },
    dropped: [],
    repaired: [{ fromMs: 23 * H, toMs: 25 * H, rows: 10, requestId: 'r0' }],
    repairs: [request],
    coverage: [full],
  };
  const day = completeness(ledger, 0, 24 * H);
  assert.equal(day.complete, true, 'the repaired drop does not count');
  assert.deepEqual(day.repaired, ledger.repaired);
  assert.deepEqual(day.repairs, [], 'the request lies outside the window');
  const later = completeness(ledger, 24 * H, 48 * H);
  assert.deepEqual(later.repairs, [request]);
});
