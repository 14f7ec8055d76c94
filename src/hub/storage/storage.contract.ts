// The HubStorage contract: one suite every implementation (SQLite, PostgreSQL) must pass, run by each
// implementation's test file with a target that opens stores on fresh places (a file, a database).

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseSelector } from '../../protocol/index.js';
import { type ContractTarget, useContractTarget } from './contract-test-kit.js';
import type { EventInput, EventQuery, HubStorage, SeriesIdentity } from './storage.js';

export type StorageTarget = ContractTarget<HubStorage, { readonly retentionMs: number }>;

const DAY_MS = 86_400_000;

const soc = (node: string): SeriesIdentity => ({
  name: 'battery_soc',
  labels: { node, site: 's1', zone: 'z1', device: 'bms' },
  unit: 'percent',
  type: 'gauge',
});
const volts: SeriesIdentity = { name: 'dc_voltage', labels: { site: 's1', node: 'n1', zone: 'z1' }, unit: 'volts', type: 'gauge' };

const event = (id: string, over: Partial<EventInput> = {}): EventInput => ({
  site: 's1',
  node: 'n1',
  id,
  seq: 1,
  epoch: 3,
  time: 1_000,
  priority: 'normal',
  kind: 'fire',
  payload: new TextEncoder().encode('{"camera":2}'),
  receivedAt: 5_000,
  ...over,
});

export function runStorageContract(name: string, setup: () => Promise<StorageTarget>): void {
  describe(`storage contract: ${name}`, () => {
    const open = useContractTarget(setup);
    /** A store on a fresh place, and a way to open it again. */
    const fresh = async (retentionMs = 86_400_000) => {
      const { store, reopen } = await open({ retentionMs });
      return { storage: store, reopen };
    };

    test('a second sample at the same time replaces the first; queries return points in order', async () => {
      const { storage } = await fresh();
      assert.equal(
        await storage.appendSamples([
          { series: soc('n1'), ts: 2_000, value: 51 },
          { series: soc('n1'), ts: 1_000, value: 50 },
          { series: volts, ts: 1_000, value: 52.5 },
        ]),
        3,
      );
      await storage.appendSamples([{ series: soc('n1'), ts: 2_000, value: 52 }]);
      const got = await storage.querySeries(parseSelector('battery_soc').matchers, 0, 10_000);
      assert.equal(got.length, 1);
      assert.deepEqual(got[0]?.points, [
        [1_000, 50],
        [2_000, 52],
      ]);
      assert.deepEqual(got[0]?.series.labels, { device: 'bms', node: 'n1', site: 's1', zone: 'z1' });
      assert.deepEqual(await storage.querySeries(parseSelector('battery_soc').matchers, 1_500, 10_000).then((r) => r[0]?.points), [
        [2_000, 52],
      ]);
      await storage.close();
      assert.equal(storage.isOpen, false);
    });

    test('one batch holding the same series and time twice keeps the later value', async () => {
      const { storage } = await fresh();
      await storage.appendSamples([
        { series: volts, ts: 1_000, value: 1 },
        { series: soc('n1'), ts: 1_000, value: 7 },
        { series: volts, ts: 1_000, value: 2 },
      ]);
      const [s] = await storage.querySeries(parseSelector('dc_voltage').matchers, 0, 10_000);
      assert.deepEqual(s?.points, [[1_000, 2]]);
    });

    test('samples are read in arrival order: a sample stored late, with an old time, comes after the cursor passed its time', async () => {
      const { storage, reopen } = await fresh();
      const read = storage.readArrivals?.bind(storage);
      const headOf = storage.arrivalHead?.bind(storage);
      assert.ok(read !== undefined && headOf !== undefined, 'the store reads arrivals');
      const start = await headOf();
      const flat = (r: Awaited<ReturnType<typeof read>>) =>
        r.series.flatMap((s) => s.points.map(([t, v]) => `${s.series.labels.node ?? ''}@${t}=${v}`)).sort();
      await storage.appendSamples([
        { series: soc('n1'), ts: 10_000, value: 1 },
        { series: soc('n1'), ts: 11_000, value: 2 },
      ]);
      const first = await read(start, 100);
      assert.deepEqual(flat(first), ['n1@10000=1', 'n1@11000=2']);
      assert.ok(first.arrival > start);
      // Late history: older than what was read, stored after it; and a resend of a stored value, which is no arrival.
      await storage.appendSamples([
        { series: soc('n2'), ts: 1_000, value: 3 },
        { series: soc('n1'), ts: 11_000, value: 2 },
        { series: soc('n1'), ts: 5_000, value: 4 },
      ]);
      const second = await read(first.arrival, 100);
      assert.deepEqual(flat(second), ['n1@5000=4', 'n2@1000=3']);
      assert.deepEqual(second.series.find((x) => x.series.labels.node === 'n1')?.points, [[5_000, 4]]);
      // A changed value arrives again; nothing is read twice; the limit cuts between commits, never inside one.
      await storage.appendSamples([{ series: soc('n1'), ts: 10_000, value: 9 }]);
      await storage.appendSamples([
        { series: volts, ts: 1_000, value: 1 },
        { series: volts, ts: 2_000, value: 2 },
      ]);
      const third = await read(second.arrival, 1);
      assert.deepEqual(flat(third), ['n1@10000=9']);
      const fourth = await read(third.arrival, 1);
      assert.deepEqual(flat(fourth), ['n1@1000=1', 'n1@2000=2']);
      assert.deepEqual(flat(await read(fourth.arrival, 100)), []);
      assert.equal((await read(fourth.arrival, 100)).arrival, fourth.arrival);
      // The position survives a reopen: what is stored next comes after it, even once retention deleted the rest.
      await storage.close();
      const again = await reopen();
      try {
        await again.applyRetention(Date.now() + 2 * DAY_MS);
        await again.appendSamples([{ series: soc('n3'), ts: Date.now(), value: 5 }]);
        const fifth = await again.readArrivals?.(fourth.arrival, 100);
        assert.deepEqual(
          fifth?.series.map((x) => x.series.labels.node),
          ['n3'],
        );
      } finally {
        await again.close();
      }
    });

    test('matchers select series by name and labels, including regexes and negations', async () => {
      const { storage } = await fresh();
      await storage.appendSamples([
        { series: soc('n1'), ts: 1, value: 1 },
        { series: soc('n2'), ts: 1, value: 2 },
        { series: volts, ts: 5, value: 3 },
      ]);
      const names = async (sel: string) => (await storage.listSeries(parseSelector(sel).matchers)).map((s) => `${s.name}/${s.labels.node}`);
      assert.deepEqual(await names('{site="s1"}'), ['battery_soc/n1', 'battery_soc/n2', 'dc_voltage/n1']);
      assert.deepEqual(await names('battery_soc{node!="n1"}'), ['battery_soc/n2']);
      assert.deepEqual(await names('{__name__=~"dc_.*"}'), ['dc_voltage/n1']);
      assert.deepEqual(await names('battery_soc{node!~"n[12]"}'), []);
      assert.equal((await storage.listSeries([], { startMs: 2, endMs: 10 })).length, 1, 'range keeps series with samples in it');
      assert.equal(
        await storage.upsertSeries(soc('n1')),
        await storage.upsertSeries({ ...soc('n1'), labels: { zone: 'z1', site: 's1', device: 'bms', node: 'n1' } }),
      );
    });

    test('a series whose unit changes keeps its id and takes the new unit', async () => {
      const { storage, reopen } = await fresh();
      const id = await storage.upsertSeries(volts);
      assert.equal(await storage.upsertSeries({ ...volts, unit: 'millivolts' }), id);
      await storage.appendSamples([{ series: { ...volts, unit: 'millivolts' }, ts: 1, value: 52_000 }]);
      await storage.close();
      const again = await reopen();
      const [s] = await again.listSeries(parseSelector('dc_voltage').matchers);
      assert.deepEqual([s?.id, s?.unit], [id, 'millivolts']);
    });

    test('null values are kept as staleness markers; NaN is stored as null', async () => {
      const { storage } = await fresh();
      await storage.appendSamples([
        { series: volts, ts: 1, value: Number.POSITIVE_INFINITY },
        { series: volts, ts: 2, value: null },
        { series: volts, ts: 3, value: Number.NaN },
        { series: volts, ts: 4, value: Number.NEGATIVE_INFINITY },
      ]);
      const [s] = await storage.querySeries(parseSelector('dc_voltage').matchers, 0, 10);
      assert.deepEqual(s?.points, [
        [1, Number.POSITIVE_INFINITY],
        [2, null],
        [3, null],
        [4, Number.NEGATIVE_INFINITY],
      ]);
    });

    test('retention deletes samples older than the retention only', async () => {
      const { storage } = await fresh(1_000);
      await storage.appendSamples([
        { series: volts, ts: 8_999, value: 1 },
        { series: volts, ts: 9_000, value: 2 },
        { series: soc('n1'), ts: 9_500, value: 3 },
      ]);
      assert.equal(await storage.applyRetention(10_000), 1);
      const all = await storage.querySeries([], 0, 20_000);
      assert.deepEqual(
        all.map((s) => s.points.map((p) => p[0])),
        [[9_500], [9_000]],
      );
    });

    test('retention across days counts every sample it deletes and keeps the newer ones; the store takes older samples again', async () => {
      const retention = 2 * DAY_MS;
      const { storage } = await fresh(retention);
      const times = [0, DAY_MS / 2, DAY_MS + 1, 2 * DAY_MS + 5, 3 * DAY_MS - 1, 3 * DAY_MS, 4 * DAY_MS + 7];
      await storage.appendSamples(times.map((ts, i) => ({ series: volts, ts, value: i })));
      // The cutoff is 2 days + 6 ms: two whole days and part of the third go (four samples).
      assert.equal(await storage.applyRetention(4 * DAY_MS + 6), 4);
      const [s] = await storage.querySeries([], 0, 10 * DAY_MS);
      assert.deepEqual(
        s?.points.map((p) => p[0]),
        [3 * DAY_MS - 1, 3 * DAY_MS, 4 * DAY_MS + 7],
      );
      assert.equal(await storage.applyRetention(4 * DAY_MS + 6), 0, 'a second pass finds nothing');
      assert.equal(await storage.appendSamples([{ series: volts, ts: 5, value: 9 }]), 1, 'a late sample of an expired day is taken');
      const [again] = await storage.querySeries([], 0, 10);
      assert.deepEqual(again?.points, [[5, 9]]);
    });

    test('retention deletes events, dropped ranges and backfill requests older than the retention', async () => {
      const { storage } = await fresh(1_000);
      await storage.appendEvents([event('old', { time: 8_000 }), event('new', { time: 9_500 })]);
      await storage.recordDropped('s1', 'n1', [{ fromMs: 100, toMs: 8_999, rows: 3 }], 9_000);
      await storage.recordDropped('s1', 'n1', [{ fromMs: 8_000, toMs: 9_000, rows: 4 }], 9_000);
      const base = { site: 's1', node: 'n1', selectors: [], origin: 'dropped' as const, sentAt: null, attempts: 0, doneAt: null };
      await storage.createBackfill({ ...base, id: 'old', fromMs: 0, toMs: 8_999, createdAt: 9_000 });
      await storage.createBackfill({ ...base, id: 'new', fromMs: 0, toMs: 9_000, createdAt: 9_000 });
      await storage.applyRetention(10_000);
      assert.deepEqual(
        (await storage.queryEvents({ limit: 10 })).map((e) => e.id),
        ['new'],
      );
      const ledger = await storage.nodeLedger('s1', 'n1');
      assert.deepEqual(ledger.dropped, [{ fromMs: 8_000, toMs: 9_000, rows: 4 }]);
      assert.deepEqual(
        ledger.repairs.map((r) => r.id),
        ['new'],
      );
    });

    test('series and the node registry survive a reopen', async () => {
      const { storage: first, reopen } = await fresh();
      const id = await first.upsertSeries(volts);
      await first.upsertNode({
        site: 's1',
        node: 'n1',
        zone: 'z1',
        state: 'online',
        epoch: 4,
        heartbeatMs: 10_000,
        lastHeard: 123,
        lastChanged: 100,
      });
      await first.upsertNode({
        site: 's1',
        node: 'n1',
        zone: 'z2',
        state: 'stale',
        epoch: 4,
        heartbeatMs: 10_000,
        lastHeard: 456,
        lastChanged: 400,
        bootTime: 90,
        bootTimeHub: 95,
        configVersion: '1664a0f26f8c',
      });
      await first.upsertNode({ site: 's0', node: 'n9', zone: '', state: 'offline', lastChanged: 1 });
      await first.close();
      const second = await reopen();
      assert.equal(await second.upsertSeries(volts), id);
      assert.deepEqual(await second.listNodes(), [
        {
          site: 's0',
          node: 'n9',
          zone: '',
          state: 'offline',
          epoch: undefined,
          agentVersion: undefined,
          tickMs: undefined,
          heartbeatMs: undefined,
          lastHeard: undefined,
          lastChanged: 1,
          bootTime: undefined,
          bootTimeHub: undefined,
          configVersion: undefined,
        },
        {
          site: 's1',
          node: 'n1',
          zone: 'z2',
          state: 'stale',
          epoch: 4,
          agentVersion: undefined,
          tickMs: undefined,
          heartbeatMs: 10_000,
          lastHeard: 456,
          lastChanged: 400,
          bootTime: 90,
          bootTimeHub: 95,
          configVersion: '1664a0f26f8c',
        },
      ]);
    });

    test('an event resent with the same node and id is stored once; queries filter and sort newest first', async () => {
      const { storage, reopen } = await fresh();
      assert.equal(
        await storage.appendEvents([event('a', { seq: 1, time: 1_000 }), event('b', { seq: 2, time: 3_000, priority: 'critical' })]),
        2,
      );
      assert.equal(await storage.appendEvents([event('a', { seq: 1, time: 1_000 })]), 0, 'the resend is absorbed');
      assert.equal(
        await storage.appendEvents([event('a', { node: 'n2', kind: 'alert', time: 2_000, priority: 'high' })]),
        1,
        'ids are per node',
      );
      assert.equal(
        await storage.appendEvents([event('c', { time: 500 }), event('c', { time: 500 })]),
        1,
        'one batch holding an event twice stores it once',
      );
      const all = await storage.queryEvents({ limit: 10 });
      assert.deepEqual(
        all.map((e) => `${e.node}/${e.id}`),
        ['n1/b', 'n2/a', 'n1/a', 'n1/c'],
      );
      assert.deepEqual(all[2], event('a', { seq: 1, time: 1_000 }), 'round trip, payload bytes included');
      const ids = async (q: Omit<EventQuery, 'limit'>) => (await storage.queryEvents({ limit: 10, ...q })).map((e) => `${e.node}/${e.id}`);
      assert.deepEqual(await ids({ node: 'n1' }), ['n1/b', 'n1/a', 'n1/c']);
      assert.deepEqual(await ids({ kind: 'alert' }), ['n2/a']);
      assert.deepEqual(await ids({ minPriority: 'high' }), ['n1/b', 'n2/a']);
      assert.deepEqual(await ids({ start: 1_500, end: 2_500 }), ['n2/a']);
      assert.deepEqual((await storage.queryEvents({ limit: 1 })).length, 1);
      await storage.close();
      const reopened = await reopen();
      assert.equal((await reopened.queryEvents({ limit: 10 })).length, 4, 'events survive a reopen');
    });

    test('the ledger (backlog, dropped ranges, coverage) survives a reopen; retention prunes it', async () => {
      const { storage, reopen } = await fresh(100_000);
      assert.deepEqual(await storage.nodeLedger('s1', 'n1'), { backlog: undefined, dropped: [], repaired: [], repairs: [], coverage: [] });
      await storage.recordBacklog('s1', 'n1', { pendingRows: 40, oldestPendingMs: 10_000, pendingBytes: 1_280, reportedAt: 20_000 });
      assert.deepEqual(await storage.recordDropped('s1', 'n1', [{ fromMs: 1_000, toMs: 2_000, rows: 5 }], 20_000), [
        { fromMs: 1_000, toMs: 2_000, rows: 5 },
      ]);
      assert.deepEqual(
        await storage.recordDropped('s1', 'n1', [{ fromMs: 1_000, toMs: 2_000, rows: 5 }], 21_000),
        [],
        'a resent report is not new',
      );
      assert.deepEqual(
        await storage.recordDropped(
          's1',
          'n1',
          [
            { fromMs: 1_000, toMs: 2_000, rows: 6 },
            { fromMs: 2_500, toMs: 2_600, rows: 1 },
          ],
          22_000,
        ),
        [{ fromMs: 2_500, toMs: 2_600, rows: 1 }],
        'only the range not known before is new',
      );
      await storage.recordCoverage('s1', 'n1', [{ series: 'soc', times: [0, 1_000, 2_000] }]);
      await storage.recordCoverage('s1', 'n1', [{ series: 'soc', times: [3_000, 150_000] }]);
      await storage.close();
      const reopened = await reopen();
      assert.deepEqual(await reopened.nodeLedger('s1', 'n1'), {
        backlog: { pendingRows: 40, oldestPendingMs: 10_000, pendingBytes: 1_280, reportedAt: 20_000 },
        dropped: [
          { fromMs: 1_000, toMs: 2_000, rows: 6 },
          { fromMs: 2_500, toMs: 2_600, rows: 1 },
        ],
        repaired: [],
        repairs: [],
        coverage: [
          {
            series: 'soc',
            intervalMs: 1_000,
            intervals: [
              [0, 3_000],
              [150_000, 150_000],
            ],
          },
        ],
      });
      assert.deepEqual(await reopened.listBacklogs(), [
        { site: 's1', node: 'n1', pendingRows: 40, oldestPendingMs: 10_000, pendingBytes: 1_280, reportedAt: 20_000 },
      ]);
      await reopened.applyRetention(110_000);
      const pruned = await reopened.nodeLedger('s1', 'n1');
      assert.deepEqual(pruned.dropped, []);
      assert.deepEqual(pruned.coverage[0]?.intervals, [[150_000, 150_000]]);
    });

    test('backfill requests survive a reopen; a report completes only the matching outstanding request and repairs the drops it covers', async () => {
      const { storage, reopen } = await fresh();
      await storage.recordDropped('s1', 'n1', [{ fromMs: 1_000, toMs: 2_000, rows: 5 }], 100);
      await storage.recordDropped('s1', 'n1', [{ fromMs: 3_000, toMs: 4_000, rows: 7 }], 100);
      const base = { site: 's1', node: 'n1', selectors: [], origin: 'dropped' as const, sentAt: null, attempts: 0, doneAt: null };
      await storage.createBackfill({ ...base, id: 'all', fromMs: 0, toMs: 10_000, createdAt: 200 });
      await storage.createBackfill({
        ...base,
        id: 'some',
        fromMs: 0,
        toMs: 10_000,
        createdAt: 200,
        selectors: ['soc'],
        origin: 'operator',
      });
      await storage.markBackfillSent('all', 300);
      await storage.close();
      const db = await reopen();
      assert.deepEqual(
        (await db.listBackfills({ outstanding: true })).map((r) => [r.id, r.sentAt, r.attempts, r.selectors]),
        [
          ['all', 300, 1, []],
          ['some', null, 0, ['soc']],
        ],
      );
      // A drop reported after the request was made may be newer than what the node read.
      await db.recordDropped('s1', 'n1', [{ fromMs: 5_000, toMs: 6_000, rows: 2 }], 250);
      assert.equal(await db.completeBackfill('s1', 'n2', { requestId: 'all', fromMs: 0, toMs: 10_000 }, 400), undefined, 'another node');
      assert.equal(await db.completeBackfill('s1', 'n1', { requestId: 'all', fromMs: 0, toMs: 9_999 }, 400), undefined, 'another range');
      assert.equal((await db.completeBackfill('s1', 'n1', { requestId: 'some', fromMs: 0, toMs: 10_000 }, 400))?.doneAt, 400);
      let ledger = await db.nodeLedger('s1', 'n1');
      assert.equal(ledger.dropped.length, 3, 'a request for some series repairs no drop');
      assert.equal((await db.completeBackfill('s1', 'n1', { requestId: 'all', fromMs: 0, toMs: 10_000 }, 500))?.id, 'all');
      assert.equal(await db.completeBackfill('s1', 'n1', { requestId: 'all', fromMs: 0, toMs: 10_000 }, 600), undefined, 'done already');
      ledger = await db.nodeLedger('s1', 'n1');
      assert.deepEqual(ledger.dropped, [{ fromMs: 5_000, toMs: 6_000, rows: 2 }]);
      assert.deepEqual(ledger.repaired, [
        { fromMs: 1_000, toMs: 2_000, rows: 5, requestId: 'all' },
        { fromMs: 3_000, toMs: 4_000, rows: 7, requestId: 'all' },
      ]);
      assert.deepEqual(ledger.repairs, []);
      assert.deepEqual(await db.listBackfills({ outstanding: true }), []);
      assert.deepEqual(
        (await db.listBackfills({ site: 's1', node: 'n1' })).map((r) => [r.id, r.doneAt]),
        [
          ['all', 500],
          ['some', 400],
        ],
      );
    });
  });
}
