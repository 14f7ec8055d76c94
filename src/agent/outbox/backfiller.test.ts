// The backfiller reads a requested range from the store in bounded pieces, behind live rows and within
// the outbox's cap, for the critical series (or the selectors given), and refuses what it cannot parse.
// calendar: the backfiller and its outbox run on a manual clock over a store stub.
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { waitFor } from '../../../test/kit/wait.js';
import { ManualClock, silentLogger } from '../../kit/index.js';
import {
  commandTopic,
  createFrameRouter,
  encodeBackfill,
  type LabelMatcher,
  matchesSelector,
  parseSelector,
  type TypedSample,
} from '../../protocol/index.js';
import { createMemoryTransport, MemoryBroker } from '../../transport/index.js';
import type { SampleStore, StorePoints } from '../store/store.js';
import { Backfiller, type BackfillRequestOutcome, cut } from './backfiller.js';
import { createSqliteOutbox } from './sqlite-outbox.js';

const T0 = Date.UTC(2026, 0, 1);

/** A store holding `soc` and `volts` (critical) and `uptime` (not) at one sample a second for an hour. */
function fakeStore(): Pick<SampleStore, 'query'> & { queries: Array<[number, number]> } {
  const names = ['soc', 'volts', 'uptime'];
  const queries: Array<[number, number]> = [];
  return {
    queries,
    async query(matchers: readonly LabelMatcher[], startMs: number, endMs: number): Promise<StorePoints[]> {
      queries.push([startMs, endMs]);
      const out: StorePoints[] = [];
      names.forEach((name, id) => {
        if (!matchesSelector({ matchers, text: '' }, name, { device: 'bms' })) return;
        const points: Array<readonly [number, number]> = [];
        const first = T0 + Math.max(0, Math.ceil((startMs - T0) / 1_000)) * 1_000;
        for (let t = first; t <= Math.min(endMs, T0 + 3_599_000); t += 1_000) points.push([t, id + (t - T0) / 1_000]);
        if (points.length > 0) out.push({ series: { id, name, labels: { device: 'bms' }, type: 'gauge', unit: '' }, points });
      });
      return out;
    },
  };
}

async function setup(options: { maxSampleRows?: number } = {}) {
  const clock = new ManualClock(T0 + 7_200_000);
  const broker = new MemoryBroker();
  const transport = createMemoryTransport(broker, { clientId: 'node', clock });
  const outbox = createSqliteOutbox({ path: join(mkdtempSync(join(tmpdir(), 'fm-backfill-')), 'outbox.db'), ...options });
  const store = fakeStore();
  const outcomes: BackfillRequestOutcome[] = [];
  const pieces: number[] = [];
  let notified = 0;
  const backfiller = new Backfiller({
    outbox,
    store,
    router: createFrameRouter({ source: transport, prefix: 'fieldmesh' }),
    identity: { site: 's', zone: 'z', node: 'n' },
    clock,
    logger: silentLogger,
    critical: [parseSelector('soc'), parseSelector('volts'), parseSelector('{device="bms",__name__=~"so.*"}')],
    maxPieceRows: 100,
    maxQueuedRows: 200,
    notify: () => notified++,
    onRequest: (o) => outcomes.push(o),
    onEnqueued: (n) => pieces.push(n),
  });
  transport.start();
  await waitFor(() => transport.connected);
  backfiller.start();
  const hub = createMemoryTransport(broker, { clientId: 'hub', clock });
  hub.start();
  await waitFor(() => hub.connected);
  const request = (requestId: string, fromMs: number, toMs: number, selectors: string[] = []) =>
    hub.publish(commandTopic('fieldmesh', 's', 'n', 'backfill'), encodeBackfill({ requestId, fromMs, toMs, selectors }), { qos: 1 });
  /** Acknowledges (deletes) every queued row, as the hub would, and tells the backfiller. */
  const drain = () => {
    const b = outbox.historyBatch(0, 1_000_000);
    if (b !== undefined) outbox.ack('samples', b.firstSeq, b.lastSeq);
    backfiller.kick();
    return b?.series.flatMap((s) => s.samples.map(([t]) => `${s.name}@${t}`)) ?? [];
  };
  const close = async () => {
    await backfiller.stop();
    await hub.close();
    await transport.close();
    outbox.close();
  };
  return { outbox, store, backfiller, request, drain, close, outcomes, stats: () => ({ pieces, notified }) };
}

test('backfiller: a requested range of the critical series is queued in pieces of at most maxPieceRows, behind live rows, until read to its end', async () => {
  const { outbox, store, request, drain, close, outcomes, stats } = await setup();
  await request('r1', T0 + 600_000, T0 + 1_799_000); // 20 minutes: 1,200 s x 2 critical series
  await waitFor(() => outbox.backlog().sampleRows >= 200, { what: 'the outbox filled to maxQueuedRows' });
  assert.deepEqual(outcomes, ['added']);
  assert.equal(outbox.backlog().sampleRows, 200, 'it stops at maxQueuedRows: live rows never wait behind more');
  const seen = new Set<string>();
  for (let i = 0; i < 50 && outbox.backfillTasks().length > 0; i++) {
    for (const key of drain()) seen.add(key);
    await waitFor(() => outbox.backlog().sampleRows > 0 || outbox.backfillTasks().length === 0, { what: 'the next pieces' });
  }
  for (const key of drain()) seen.add(key);
  assert.equal(outbox.backfillTasks().length, 0, 'read to its end');
  assert.equal(seen.size, 2_400, 'every sample of both critical series, once each');
  assert.ok(
    [...seen].every((k) => !k.startsWith('uptime')),
    'only the critical series',
  );
  assert.ok(
    store.queries.every(([from, to]) => from >= T0 + 600_000 && to <= T0 + 1_799_000),
    'never outside the range',
  );
  assert.equal(
    stats().pieces.reduce((a, b) => a + b, 0),
    2_400,
  );
  assert.ok(Math.max(...stats().pieces) <= 100, `pieces of ${Math.max(...stats().pieces)} rows`);
  assert.ok(stats().notified >= stats().pieces.length, 'the replicator hears of every piece');
  assert.deepEqual(outbox.reportBatch()?.repaired, [{ requestId: 'r1', fromMs: T0 + 600_000, toMs: T0 + 1_799_000 }]);
  await close();
});

test('backfiller: selectors choose the series; a bad selector is refused; a request over an empty range finishes at once', async () => {
  const { outbox, request, drain, close, outcomes } = await setup();
  await request('bad', T0, T0 + 10_000, ['uptime{']);
  await request('empty', T0 - 3_600_000, T0 - 1);
  await request('up', T0, T0 + 9_000, ['uptime']);
  await waitFor(() => outbox.backfillTasks().length === 0 && outbox.backlog().sampleRows === 10, { what: 'uptime read' });
  assert.deepEqual(outcomes, ['refused', 'added', 'added']);
  assert.deepEqual(
    outbox.reportBatch()?.repaired.map((r) => r.requestId),
    ['empty'],
    'nothing to wait for',
  );
  const keys = drain();
  assert.equal(keys.length, 10);
  assert.ok(keys.every((k) => k.startsWith('uptime@')));
  assert.deepEqual(
    outbox.reportBatch()?.repaired.map((r) => r.requestId),
    ['up'],
    'once its rows are acknowledged',
  );
  await close();
});

test('backfiller: a nearly full outbox gets only the rows that fit; the repair waits for acks instead of coalescing', async () => {
  const { outbox, request, drain, close } = await setup({ maxSampleRows: 250 });
  const live: TypedSample[] = Array.from({ length: 190 }, (_, i) => ({
    name: 'live',
    labels: {},
    type: 'gauge',
    unit: '',
    time: T0 + i,
    value: i,
  }));
  await outbox.appendSamples(live);
  await request('r', T0, T0 + 59_000);
  await waitFor(() => outbox.backlog().sampleRows === 250, { what: 'the 60 rows that fit' });
  assert.equal(outbox.backfillTasks()[0]?.cursorMs, T0 + 30_000, 'the cut falls between two seconds');
  assert.deepEqual(outbox.historyBatch(0, 1_000)?.dropped, [], 'nothing coalesced');
  drain();
  await waitFor(() => outbox.backfillTasks().length === 0, { what: 'the rest after the ack' });
  assert.equal(outbox.backlog().sampleRows, 60);
  await close();
});

test('backfiller: a piece is cut between two timestamps, never inside one', () => {
  const row = (time: number): TypedSample => ({ name: 'x', labels: {}, type: 'gauge', unit: '', time, value: 0 });
  const rows = [1, 1, 2, 2, 2, 3].map(row);
  assert.deepEqual(cut(rows, 10, 9), { rows, nextCursorMs: 10, truncated: false });
  const three = cut(rows, 3, 9);
  assert.deepEqual([three.rows.length, three.nextCursorMs], [2, 2], 'stops before the timestamp it would split');
  const one = cut([1, 1, 1, 2].map(row), 2, 9);
  assert.deepEqual([one.rows.length, one.nextCursorMs], [3, 2], 'a first timestamp larger than the room goes whole');
});
