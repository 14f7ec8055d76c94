// The leader's writes through the storage fenced by its lease (PostgresStorage.fencedBy): while it leads they are
// written; once another process took the lease, its node registry update, backfill request, backfill send and
// retention pass are each refused with FM_LEADER_DEPOSED and write nothing, while ingest writes (any process's) and
// reads go on. A private PostgreSQL, started by the test.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Pool } from 'pg';
import { type PostgresInstance, startPostgres } from '../../../../test/kit/postgres.js';
import { waitFor } from '../../../../test/kit/wait.js';
import { isFieldmeshError } from '../../../kit/index.js';
import { newBackfillRecord } from '../../ledger/backfill-scheduler.js';
import type { StoredNode } from '../storage.js';
import { createLeaderLease, migrateLeases } from './leader-lease.js';
import { openPool } from './pool.js';
import { createPostgresStorage } from './postgres-storage.js';

let server: PostgresInstance;
before(async () => {
  server = await startPostgres();
});
after(async () => {
  await server?.stop();
});

test("a deposed leader's registry update, backfill request and send, and retention write nothing (FM_LEADER_DEPOSED)", async () => {
  const url = await server.createDatabase();
  const pools: Pool[] = [];
  const pool = async () => {
    const p = await openPool({ url, poolSize: 2 });
    pools.push(p);
    return p;
  };
  const storage = await createPostgresStorage({ url, retentionMs: 86_400_000 });
  const a = createLeaderLease({ pool: await pool(), name: 'hub-leader', holder: 'a', ttlMs: 1_000, renewEveryMs: 100 });
  const b = createLeaderLease({ pool: await pool(), name: 'hub-leader', holder: 'b', ttlMs: 1_000, renewEveryMs: 100 });
  try {
    await migrateLeases(pools[0] as Pool);
    const leader = storage.fencedBy((client) => a.check(client));
    const now = Date.now();
    const node = (zone: string) => ({ site: 'lab', node: 'rig-1', zone, state: 'online' as const, lastChanged: now });
    assert.equal((await a.tryAcquire())?.epoch, 1);

    // Leading: written.
    await leader.upsertNode(node('z1'));
    const request = newBackfillRecord('lab', 'rig-1', now - 60_000, now - 30_000, [], 'dropped', now);
    await leader.createBackfill(request);
    await leader.markBackfillSent(request.id, now);
    assert.equal((await storage.listNodes())[0]?.zone, 'z1');
    assert.equal((await storage.listBackfills())[0]?.attempts, 1);

    // a stops renewing (as a leader cut off from the database would); b takes over once a's term lapsed.
    await waitFor(async () => (await b.tryAcquire()) !== undefined, { what: 'b takes the lease', timeoutMs: 10_000 });
    const deposed = (err: unknown) => isFieldmeshError(err, 'FM_LEADER_DEPOSED');
    await assert.rejects(leader.upsertNode(node('z2')), deposed);
    await assert.rejects(leader.upsertNodes?.([node('z2'), { ...node('z2'), node: 'rig-2' }]) ?? Promise.resolve(), deposed);
    await assert.rejects(leader.createBackfill(newBackfillRecord('lab', 'rig-1', now - 20_000, now - 10_000, [], 'dropped', now)), deposed);
    await assert.rejects(leader.markBackfillSent(request.id, now + 1), deposed);
    await storage.appendEvents([
      {
        site: 'lab',
        node: 'rig-1',
        id: 'e1',
        seq: 1,
        epoch: 1,
        time: now - 3 * 86_400_000,
        priority: 'normal',
        kind: 'k',
        payload: new Uint8Array(),
        receivedAt: now,
      },
    ]);
    await assert.rejects(leader.applyRetention(now), deposed);

    // Nothing of the deposed leader's is in the database; the store's own writes and reads went on.
    assert.deepEqual(
      (await storage.listNodes()).map((n) => `${n.node}:${n.zone}`),
      ['rig-1:z1'],
      'the registry as the leader left it',
    );
    const backfills = await storage.listBackfills();
    assert.deepEqual(
      backfills.map((r) => [r.id, r.attempts]),
      [[request.id, 1]],
      'no new request, no second send',
    );
    assert.equal((await storage.queryEvents({ site: 'lab', node: 'rig-1', limit: 10 })).length, 1, 'retention deleted nothing');
    // The new leader's view writes.
    await storage.fencedBy((client) => b.check(client)).applyRetention(now);
    assert.equal((await storage.queryEvents({ site: 'lab', node: 'rig-1', limit: 10 })).length, 0, "the new leader's retention ran");
  } finally {
    await a.stop();
    await b.stop();
    await storage.close();
    for (const p of pools) await p.end();
  }
});

test("the leader's registry batch: thousands of nodes in one fenced transaction (statements of 800), a key twice written once as its last entry", async () => {
  const url = await server.createDatabase();
  const pool = await openPool({ url, poolSize: 2 });
  const storage = await createPostgresStorage({ url, retentionMs: 86_400_000 });
  const lease = createLeaderLease({ pool, name: 'hub-leader', holder: 'a', ttlMs: 10_000 });
  try {
    await migrateLeases(pool);
    assert.equal((await lease.tryAcquire())?.epoch, 1);
    const leader = storage.fencedBy((client) => lease.check(client));
    const now = Date.now();
    const nodes: StoredNode[] = Array.from({ length: 1_700 }, (_, i) => ({
      site: `s${i % 3}`,
      node: `n${i}`,
      zone: '',
      state: 'online' as const,
      lastHeard: now,
      lastChanged: now - i,
    }));
    assert.ok(leader.upsertNodes, 'PostgreSQL writes the registry in batches');
    await leader.upsertNodes([...nodes, { ...(nodes[5] as StoredNode), state: 'stale', lastHeard: now + 1 }]);
    const listed = await storage.listNodes();
    assert.equal(listed.length, 1_700);
    const five = listed.find((n) => n.node === 'n5');
    assert.equal(five?.state, 'stale', 'the last entry of a key wins');
    assert.equal(five?.lastHeard, now + 1);
    // Again, changed: an update of every row.
    await leader.upsertNodes(nodes.map((n) => ({ ...n, state: 'offline' as const })));
    assert.ok((await storage.listNodes()).every((n) => n.state === 'offline'));
  } finally {
    await lease.stop();
    await storage.close();
    await pool.end();
  }
});
