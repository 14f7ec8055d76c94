// SqliteStorage: samples dedup by (series, time), queries by matchers and range, retention, and the
// fleet registry surviving a reopen of the file.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, test } from 'node:test';
import { parseSelector } from '../../../protocol/index.js';
import type { EventInput, EventQuery, SeriesIdentity } from '../storage.js';
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

const soc = (node: string): SeriesIdentity => ({
  name: 'battery_soc',
  labels: { node, site: 's1', zone: 'z1', device: 'bms' },
  unit: 'percent',
  type: 'gauge',
});
const volts: SeriesIdentity = { name: 'dc_voltage', labels: { site: 's1', node: 'n1', zone: 'z1' }, unit: 'volts', type: 'gauge' };

test('sqlite storage: a second sample at the same time replaces the first; queries return points in order', async () => {
  const storage = createSqliteStorage({ path: tempDb(), retentionMs: 86_400_000 });
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

test('sqlite storage: matchers select series by name and labels, including regexes and negations', async () => {
  const storage = createSqliteStorage({ path: ':memory:', retentionMs: 86_400_000 });
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
  await storage.close();
});

test('sqlite storage: null values are kept as staleness markers; NaN is stored as null', async () => {
  const storage = createSqliteStorage({ path: ':memory:', retentionMs: 86_400_000 });
  await storage.appendSamples([
    { series: volts, ts: 1, value: Number.POSITIVE_INFINITY },
    { series: volts, ts: 2, value: null },
    { series: volts, ts: 3, value: Number.NaN },
  ]);
  const [s] = await storage.querySeries(parseSelector('dc_voltage').matchers, 0, 10);
  assert.deepEqual(s?.points, [
    [1, Number.POSITIVE_INFINITY],
    [2, null],
    [3, null],
  ]);
  await storage.close();
});

test('sqlite storage: retention deletes samples older than the retention only', async () => {
  const storage = createSqliteStorage({ path: ':memory:', retentionMs: 1_000 });
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
  await storage.close();
});

test('sqlite storage: series and the node registry survive a reopen of the file', async () => {
  const path = tempDb();
  const first = createSqliteStorage({ path, retentionMs: 86_400_000 });
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
  });
  await first.upsertNode({ site: 's0', node: 'n9', zone: '', state: 'offline', lastChanged: 1 });
  await first.close();
  const second = createSqliteStorage({ path, retentionMs: 86_400_000 });
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
    },
  ]);
  await second.close();
});

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

test('sqlite storage: an event resent with the same node and id is stored once; queries filter and sort newest first', async () => {
  const path = tempDb();
  const storage = createSqliteStorage({ path, retentionMs: 86_400_000 });
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
  const all = await storage.queryEvents({ limit: 10 });
  assert.deepEqual(
    all.map((e) => `${e.node}/${e.id}`),
    ['n1/b', 'n2/a', 'n1/a'],
  );
  assert.deepEqual(all[2], event('a', { seq: 1, time: 1_000 }), 'round trip, payload bytes included');
  const ids = async (q: Omit<EventQuery, 'limit'>) => (await storage.queryEvents({ limit: 10, ...q })).map((e) => `${e.node}/${e.id}`);
  assert.deepEqual(await ids({ node: 'n1' }), ['n1/b', 'n1/a']);
  assert.deepEqual(await ids({ kind: 'alert' }), ['n2/a']);
  assert.deepEqual(await ids({ minPriority: 'high' }), ['n1/b', 'n2/a']);
  assert.deepEqual(await ids({ start: 1_500, end: 2_500 }), ['n2/a']);
  assert.deepEqual((await storage.queryEvents({ limit: 1 })).length, 1);
  await storage.close();
  const reopened = createSqliteStorage({ path, retentionMs: 86_400_000 });
  assert.equal((await reopened.queryEvents({ limit: 10 })).length, 3, 'events survive a reopen');
  await reopened.close();
});

test('sqlite storage: the ledger (backlog, dropped ranges, coverage) survives a reopen; retention prunes it', async () => {
  const path = tempDb();
  const storage = createSqliteStorage({ path, retentionMs: 100_000 });
  assert.deepEqual(await storage.nodeLedger('s1', 'n1'), { backlog: undefined, dropped: [], coverage: [] });
  await storage.recordBacklog('s1', 'n1', { pendingRows: 40, oldestPendingMs: 10_000, reportedAt: 20_000 });
  await storage.recordDropped('s1', 'n1', [{ fromMs: 1_000, toMs: 2_000, rows: 5 }]);
  await storage.recordDropped('s1', 'n1', [{ fromMs: 1_000, toMs: 2_000, rows: 5 }]);
  await storage.recordCoverage('s1', 'n1', [{ series: 'soc', times: [0, 1_000, 2_000] }]);
  await storage.recordCoverage('s1', 'n1', [{ series: 'soc', times: [3_000, 150_000] }]);
  await storage.close();
  const reopened = createSqliteStorage({ path, retentionMs: 100_000 });
  assert.deepEqual(await reopened.nodeLedger('s1', 'n1'), {
    backlog: { pendingRows: 40, oldestPendingMs: 10_000, reportedAt: 20_000 },
    dropped: [{ fromMs: 1_000, toMs: 2_000, rows: 5 }],
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
    { site: 's1', node: 'n1', pendingRows: 40, oldestPendingMs: 10_000, reportedAt: 20_000 },
  ]);
  await reopened.applyRetention(110_000);
  const pruned = await reopened.nodeLedger('s1', 'n1');
  assert.deepEqual(pruned.dropped, []);
  assert.deepEqual(pruned.coverage[0]?.intervals, [[150_000, 150_000]]);
  await reopened.close();
});
