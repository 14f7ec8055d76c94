import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { ManualClock, silentLogger } from '../../kit/index.js';
import type { HistoryFrame } from '../../protocol/index.js';
import { parseSelector } from '../../protocol/index.js';
import { createHubMetrics, newHubCounters } from '../hub-metrics.js';
import { createSqliteStorage } from '../storage/sqlite/sqlite-storage.js';
import type { HubStorage, SampleInput } from '../storage/storage.js';
import { type AckSender, DurableIngest } from './durable-ingest.js';
import { createGroupCommit } from './group-commit.js';
import { WriteQueue } from './write-queue.js';

const T0 = 1_000_000;

/** Outbox rows [firstSeq, lastSeq] of one node: one battery_soc sample a second per row. */
function historyFrame(firstSeq: number, lastSeq: number): HistoryFrame {
  const rows = lastSeq - firstSeq + 1;
  return {
    type: 'history',
    epoch: 1,
    zone: 'north',
    firstSeq,
    lastSeq,
    pendingRows: 0,
    oldestPendingMs: null,
    pendingBytes: 0,
    dropped: [],
    repaired: [],
    series: [
      {
        name: 'battery_soc',
        labels: {},
        type: 'gauge',
        unit: 'percent',
        samples: Array.from({ length: rows }, (_, i) => [T0 + (firstSeq + i) * 1_000, 50] as const),
      },
    ],
  };
}

/** A real SQLite store in a temporary file, whose appendSamples calls (its transactions) are counted. */
function countedStore(t: { after(fn: () => void | Promise<void>): void }): { storage: HubStorage; appends: () => number } {
  const dir = mkdtempSync(join(tmpdir(), 'fm-group-commit-'));
  const real = createSqliteStorage({ path: join(dir, 'hub.db'), retentionMs: 365 * 86_400_000 });
  t.after(async () => {
    await real.close();
    rmSync(dir, { recursive: true, force: true });
  });
  let appends = 0;
  const storage = new Proxy(real, {
    get(target, key) {
      if (key === 'appendSamples')
        return (batch: readonly SampleInput[]) => {
          appends++;
          return target.appendSamples(batch);
        };
      const value: unknown = Reflect.get(target, key, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
  return { storage, appends: () => appends };
}

/** The embedded hub's durable path as createHub wires it: durable ingest on the grouped store, beside the write queue. */
function embeddedDurable(storage: HubStorage, sendAck: AckSender) {
  const groupCommit = createGroupCommit(storage, { logger: silentLogger });
  const metrics = createHubMetrics(() => ({ online: 0, stale: 0, offline: 0 }) as never);
  const writes = new WriteQueue({ logger: silentLogger, onError: () => metrics.storageErrors.inc() });
  const durable = new DurableIngest({
    storage: groupCommit.storage,
    clock: new ManualClock(T0),
    logger: silentLogger,
    metrics,
    counters: newHubCounters(),
    sendAck,
  });
  /** What frame-readers does with a history frame of the embedded hub. */
  const offer = (node: string, frame: HistoryFrame) => writes.alongside('history batch', () => durable.history('ridge', node, frame));
  return { groupCommit, writes, offer, metrics };
}

async function storedSeqs(storage: HubStorage, node: string): Promise<number[]> {
  const found = await storage.querySeries(parseSelector(`battery_soc{node="${node}"}`).matchers, 0, Number.MAX_SAFE_INTEGER);
  return (found[0]?.points ?? []).map(([ts]) => (ts - T0) / 1_000);
}

test('group commit: history frames of many nodes offered together are committed in one transaction and each acknowledged', async (t) => {
  const { storage, appends } = countedStore(t);
  const acks: string[] = [];
  const { writes, offer, groupCommit } = embeddedDurable(storage, async (_site, node, lane, first, last) => {
    acks.push(`${node} ${lane} ${first}-${last}`);
  });
  for (let n = 0; n < 200; n++) offer(`n${n}`, historyFrame(1, 25));
  await writes.drain();
  // The old write queue ran one transaction per frame (200); a group holds up to 20,000 samples: 5,000 here.
  assert.equal(appends(), 1);
  assert.equal(groupCommit.commits, 1);
  assert.equal(acks.length, 200);
  assert.deepEqual(new Set(acks), new Set(Array.from({ length: 200 }, (_, n) => `n${n} samples 1-25`)));
  assert.deepEqual(
    await storedSeqs(storage, 'n199'),
    Array.from({ length: 25 }, (_, i) => i + 1),
  );
});

test('group commit: a history frame is stored and acknowledged while an earlier frame still waits for its ack to go out', {
  timeout: 10_000,
}, async (t) => {
  const { storage } = countedStore(t);
  // The broker does not confirm the first ack (QoS 1 PUBACK held); the second frame's ack must not wait behind it.
  let releaseFirst = () => {};
  let firstAckSent = () => {};
  let secondAcked = () => {};
  const first = new Promise<void>((resolve) => {
    firstAckSent = resolve;
  });
  const second = new Promise<void>((resolve) => {
    secondAcked = resolve;
  });
  const { writes, offer } = embeddedDurable(storage, (_site, node) => {
    if (node === 'first') {
      firstAckSent();
      return new Promise<void>((resolve) => (releaseFirst = resolve));
    }
    secondAcked();
    return Promise.resolve();
  });
  offer('first', historyFrame(1, 5));
  // The first frame is committed and its ack is out, unconfirmed: the old write queue held every later write here.
  await first;
  offer('second', historyFrame(1, 5));
  await second;
  assert.deepEqual(await storedSeqs(storage, 'second'), [1, 2, 3, 4, 5]);
  assert.deepEqual(await storedSeqs(storage, 'first'), [1, 2, 3, 4, 5]);
  releaseFirst();
  await writes.drain();
});

test('group commit: a batch the store refuses fails only its own frame; the others in its group are committed and acknowledged', async (t) => {
  const { storage: real } = countedStore(t);
  const refused = new Error('disk says no to this batch');
  // Refuses any commit holding a sample of node "bad" (as a store refuses a row it cannot take).
  const storage = new Proxy(real, {
    get(target, key) {
      if (key === 'appendSamples')
        return (batch: readonly SampleInput[]) =>
          batch.some((s) => s.series.labels.node === 'bad') ? Promise.reject(refused) : target.appendSamples(batch);
      const value: unknown = Reflect.get(target, key, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
  const acks: string[] = [];
  const { writes, offer, metrics } = embeddedDurable(storage, async (_site, node) => {
    acks.push(node);
  });
  offer('a', historyFrame(1, 3));
  offer('bad', historyFrame(1, 3));
  offer('b', historyFrame(1, 3));
  await writes.drain();
  assert.deepEqual(acks.sort(), ['a', 'b']);
  assert.deepEqual(await storedSeqs(real, 'a'), [1, 2, 3]);
  assert.deepEqual(await storedSeqs(real, 'b'), [1, 2, 3]);
  assert.deepEqual(await storedSeqs(real, 'bad'), []);
  assert.equal((await metrics.storageErrors.get()).values[0]?.value, 1);
});

test('group commit: a group is cut at its sample limit, whole batches each, and drain commits what is pending', async (t) => {
  const { storage, appends } = countedStore(t);
  const groupCommit = createGroupCommit(storage, { logger: silentLogger, maxSamples: 10 });
  const batch = (node: string, n: number): SampleInput[] =>
    Array.from({ length: n }, (_, i) => ({
      series: { name: 'battery_soc', labels: { site: 'ridge', node }, unit: 'percent', type: 'gauge' as const },
      ts: T0 + i * 1_000,
      value: i,
    }));
  const results = [batch('a', 6), batch('b', 6), batch('c', 3), batch('d', 12)].map((b) => groupCommit.storage.appendSamples(b));
  await groupCommit.drain();
  assert.deepEqual(await Promise.all(results), [6, 6, 3, 12]);
  // [a], [b, c], [d]: a batch is never split, and one larger than the limit goes alone.
  assert.equal(appends(), 3);
  assert.equal((await storedSeqs(storage, 'd')).length, 12);
});
