// PostgresStorage on a private PostgreSQL server: the storage contract, and what several hub processes on
// one database need: migrations applied once when two start together, day partitions made ahead and
// dropped by retention, two writers at once, and series one process made seen by another.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { type PostgresInstance, postgresTarget, startPostgres } from '../../../../test/kit/postgres.js';
import { parseSelector } from '../../../protocol/index.js';
import { runStorageContract } from '../storage.contract.js';
import type { EventInput, HubStorage, SampleInput, SeriesIdentity } from '../storage.js';
import { createPostgresStorage } from './postgres-storage.js';
import { DAY_MS, dayStart, partitionName } from './sample-partitions.js';

runStorageContract('postgres', () =>
  postgresTarget((url, { retentionMs }: { retentionMs: number }) => createPostgresStorage({ url, retentionMs })),
);

describe('postgres storage', () => {
  let server: PostgresInstance;
  before(async () => {
    server = await startPostgres();
  });
  after(async () => {
    await server?.stop();
  });

  async function sql<T extends pg.QueryResultRow>(url: string, text: string, params: unknown[] = []): Promise<T[]> {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      return (await client.query<T>(text, params)).rows;
    } finally {
      await client.end();
    }
  }

  const series = (node: string): SeriesIdentity => ({
    name: 'battery_soc',
    labels: { site: 's1', node, zone: 'z1' },
    unit: 'percent',
    type: 'gauge',
  });

  test('two hubs starting together on a new database apply each migration once', async () => {
    const url = await server.createDatabase();
    const [a, b] = await Promise.all([
      createPostgresStorage({ url, retentionMs: DAY_MS }),
      createPostgresStorage({ url, retentionMs: DAY_MS }),
    ]);
    try {
      const rows = await sql<{ version: number }>(
        url,
        `SELECT version FROM schema_migrations WHERE component = 'storage' ORDER BY version`,
      );
      assert.deepEqual(
        rows.map((r) => r.version),
        [1, 2, 3, 4],
      );
      await a.appendSamples([{ series: series('n1'), ts: 1, value: 1 }]);
      assert.equal((await b.listSeries([])).length, 1, 'the second sees a series the first made');
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });

  test('a database whose schema is newer than the hub is refused with a message that says so', async () => {
    const url = await server.createDatabase();
    await (await createPostgresStorage({ url, retentionMs: DAY_MS })).close();
    await sql(url, `INSERT INTO schema_migrations (component, version, name) VALUES ('storage', 99, 'from the future')`);
    await assert.rejects(createPostgresStorage({ url, retentionMs: DAY_MS }), /storage schema is at version 99.*upgrade the hub/);
  });

  test('samples go to day partitions made ahead of the clock; retention drops whole days and deletes within the cut one', async () => {
    const url = await server.createDatabase();
    const now = Date.now();
    const today = dayStart(now);
    const storage = await createPostgresStorage({ url, retentionMs: 3 * DAY_MS, partitionsAheadDays: 2, now: () => now });
    try {
      const partitions = async () =>
        (
          await sql<{ name: string }>(
            url,
            `SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
              WHERE i.inhparent = 'samples'::regclass ORDER BY 1`,
          )
        ).map((r) => r.name);
      assert.deepEqual(
        await partitions(),
        [0, 1, 2].map((d) => partitionName(today + d * DAY_MS)),
      );
      const batch: SampleInput[] = [];
      for (let day = 5; day >= 0; day--) {
        for (const offset of [1_000, DAY_MS / 2]) batch.push({ series: series('n1'), ts: today - day * DAY_MS + offset, value: day });
      }
      assert.equal(await storage.appendSamples(batch), 12);
      assert.equal((await partitions()).length, 8, 'five past days made on demand beside today and two ahead');
      // The cutoff falls at noon three days ago: days 5 and 4 go whole, day 3 loses its morning sample.
      assert.equal(await storage.applyRetention(today + DAY_MS / 2), 5);
      assert.deepEqual(
        await partitions(),
        [-3, -2, -1, 0, 1, 2].map((d) => partitionName(today + d * DAY_MS)),
      );
      const [s] = await storage.querySeries([], today - 10 * DAY_MS, today + DAY_MS);
      assert.deepEqual(
        s?.points.map(([ts]) => ts - today),
        [-2.5 * DAY_MS, -2 * DAY_MS + 1_000, -1.5 * DAY_MS, -DAY_MS + 1_000, -0.5 * DAY_MS, 1_000, 0.5 * DAY_MS],
      );
    } finally {
      await storage.close();
    }
  });

  test('two writers at once on overlapping series and times lose nothing and deadlock never', async () => {
    const url = await server.createDatabase();
    const a = await createPostgresStorage({ url, retentionMs: 30 * DAY_MS });
    const b = await createPostgresStorage({ url, retentionMs: 30 * DAY_MS });
    const stores: HubStorage[] = [a, b];
    try {
      const now = Date.now();
      const nodes = Array.from({ length: 20 }, (_, i) => `n${i}`);
      // Each writer sends the same 50 batches in the opposite order of series, with its own value.
      const batches = (writer: number) =>
        Array.from({ length: 50 }, (_, k) => {
          const list = nodes.map((n) => ({ series: series(n), ts: now + k * 1_000, value: writer }));
          return writer === 0 ? list : list.reverse();
        });
      const written = await Promise.all(
        stores.map(async (store, writer) => {
          let n = 0;
          for (const batch of batches(writer)) n += await store.appendSamples(batch);
          return n;
        }),
      );
      assert.deepEqual(written, [1_000, 1_000]);
      const got = await a.querySeries(parseSelector('battery_soc').matchers, now, now + 60_000);
      assert.equal(got.length, 20);
      for (const s of got) {
        assert.equal(s.points.length, 50, `${s.series.labels.node}: one point per time, the last writer's`);
        for (const [, value] of s.points) assert.ok(value === 0 || value === 1);
      }
      const counts = await sql<{ n: number }>(url, 'SELECT count(*)::int AS n FROM series');
      assert.equal(counts[0]?.n, 20, 'each series made once');
      const sent: EventInput = {
        site: 's1',
        node: 'n1',
        id: 'e',
        seq: 1,
        epoch: 1,
        time: now,
        priority: 'high',
        kind: 'k',
        payload: new Uint8Array([1]),
        receivedAt: now,
      };
      await Promise.all([a.appendEvents([sent]), b.appendEvents([sent])]).then((stored) =>
        assert.equal(stored[0] + stored[1], 1, 'an event sent to both writers is stored once'),
      );
    } finally {
      await Promise.all(stores.map((s) => s.close()));
    }
  });

  test('coverage recorded by two writers for one node at once merges both', async () => {
    const url = await server.createDatabase();
    const a = await createPostgresStorage({ url, retentionMs: 30 * DAY_MS });
    const b = await createPostgresStorage({ url, retentionMs: 30 * DAY_MS });
    try {
      await Promise.all(
        Array.from({ length: 10 }, (_, i) =>
          (i % 2 === 0 ? a : b).recordCoverage('s1', 'n1', [{ series: 'soc', times: [i * 100_000, i * 100_000 + 1_000] }]),
        ),
      );
      const ledger = await a.nodeLedger('s1', 'n1');
      assert.equal(ledger.coverage[0]?.intervals.length, 10, 'no span lost to a concurrent read-modify-write');
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });

  test('a writer whose partition another hub dropped makes it again', async () => {
    const url = await server.createDatabase();
    const now = Date.now();
    const a = await createPostgresStorage({ url, retentionMs: DAY_MS, now: () => now });
    const b = await createPostgresStorage({ url, retentionMs: DAY_MS, now: () => now });
    try {
      const old = dayStart(now) - 5 * DAY_MS;
      await a.appendSamples([{ series: series('n1'), ts: old, value: 1 }]);
      assert.equal(await b.applyRetention(now), 1);
      assert.equal(await a.appendSamples([{ series: series('n1'), ts: old + 1, value: 2 }]), 1);
      const [s] = await b.querySeries([], old - 1, old + 10);
      assert.deepEqual(s?.points, [[old + 1, 2]]);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });
});
