// The scale-out hub through its faults, with exact accounting (issue 13): a real node under dense line-protocol
// pushes, a real Mosquitto, a three-server NATS cluster (stream replicas 3), a real PostgreSQL, and the hub as six
// processes (two ingest, two workers, two api). In turn: kill -9 of a worker, of the leading api process (the other
// takes the lease with a higher epoch and serves the node), of one NATS server (restarted), of PostgreSQL (restarted). Every sample the
// node acknowledged to its producers ends in PostgreSQL with its own value: acknowledged samples lost = 0.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { createPostgresStorage } from '../../src/hub/storage/postgres/postgres-storage.js';
import { type FieldmeshProcess, fieldmeshKilledAfter } from '../kit/fieldmesh-process.js';
import { startMosquitto } from '../kit/mosquitto.js';
import { startNatsCluster } from '../kit/nats.js';
import { nodeMetric } from '../kit/node-api.js';
import { freePort } from '../kit/ports.js';
import { startPostgres } from '../kit/postgres.js';
import { newPushLedger, pushLoop } from '../kit/push-ledger.js';
import { waitFor } from '../kit/wait.js';

const start = fieldmeshKilledAfter();
const TOKEN = 'scale-out-faults-token';
const SERIES = 'probe_dense';

test('scale-out hub faults: kill -9 of a worker, of the leader, of a NATS server and of PostgreSQL lose no acknowledged sample', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'fm-scale-out-faults-'));
  const mosquitto = await startMosquitto();
  const nats = await startNatsCluster();
  const pg = await startPostgres();
  try {
    await nats.healthy();
    const url = await pg.createDatabase();
    /** One hub process: its own data folder and HTTP port, the shared broker, cluster and database. */
    const hubProcess = async (name: string, roles: string): Promise<{ proc: FieldmeshProcess; url: string }> => {
      const data = join(dir, name);
      mkdirSync(data);
      const yaml = join(data, 'hub.yaml');
      writeFileSync(
        yaml,
        [
          `mqtt: {url: "${mosquitto.url}", clientId: fm-${name}}`,
          `http: {port: ${await freePort()}}`,
          `storage: {path: ${join(data, 'hub.db')}, url: "${url}"}`,
          `queue: {url: "${nats.urls.join(',')}", replicas: 3}`,
          'leader: {lease: 3s}',
          `dataDir: ${data}`,
          '',
        ].join('\n'),
      );
      const proc = start(['hub', '--config', yaml, '--roles', roles]);
      const [, httpUrl = ''] = await proc.waitForOutput(/console (http:\/\/\S+?)\/?\s/, 30_000);
      return { proc, url: httpUrl };
    };
    const ingest = [await hubProcess('ingest-1', 'ingest'), await hubProcess('ingest-2', 'ingest')];
    const workers = [await hubProcess('worker-1', 'worker'), await hubProcess('worker-2', 'worker')];
    const apis = [await hubProcess('api-1', 'api'), await hubProcess('api-2', 'api')];
    const leaderEpoch = async (u: string) => (await nodeMetric(u, 'fieldmesh_hub_leader_epoch').catch(() => undefined)) ?? 0;

    const nodeYaml = join(dir, 'node.yaml');
    writeFileSync(
      nodeYaml,
      [
        'node: {id: rig-1, site: lab}',
        `mqtt: {url: "${mosquitto.url}"}`,
        `dataDir: ${join(dir, 'node')}`,
        `http: {port: ${await freePort()}}`,
        'publish: {tick: 200ms, heartbeat: 2s}',
        'outbox: {historyInterval: 200ms}',
        `critical: [{match: ${SERIES}}]`,
        `collectors: [{type: influx, token: ${TOKEN}}]`,
        '',
      ].join('\n'),
    );
    const node = start(['node', '--config', nodeYaml]);
    const [, nodeUrl = ''] = await node.waitForOutput(/HTTP (http:\/\/\S+)/);
    const ledger = newPushLedger();
    const pusher = pushLoop(ledger, () => nodeUrl, { token: TOKEN, series: `${SERIES},rig=a`, batch: 50 });
    const acksAtLeast = async (n: number, what: string) =>
      waitFor(() => ledger.acked.size >= n, { timeoutMs: 60_000, intervalMs: 20, what: `${n} acknowledged samples (${what})` });
    const hubAcked = async () => (await nodeMetric(nodeUrl, 'fieldmesh_outbox_acked_rows_total', 'lane="samples"')) ?? 0;
    /** Progress through the hub: the node's outbox keeps being acknowledged after a fault. */
    const hubAcksGrow = async (what: string) => {
      const before = await hubAcked();
      await waitFor(async () => (await hubAcked()) > before + 100, { timeoutMs: 90_000, intervalMs: 250, what: `hub acks after ${what}` });
    };

    await acksAtLeast(2_000, 'warm-up');
    await hubAcksGrow('start');

    // 1. A worker dies mid-stream: its unacknowledged messages go to the other after the ack wait.
    workers[0]?.proc.kill('SIGKILL');
    await hubAcksGrow('kill -9 of a worker');

    // 2. The leading api process dies: the other takes the lease, with a higher epoch.
    const epochs = await Promise.all(apis.map((a) => leaderEpoch(a.url)));
    const leader = epochs[0] !== 0 ? 0 : 1;
    const before = Math.max(...epochs);
    assert.ok(before > 0, `one api process leads (epochs ${epochs.join(', ')})`);
    apis[leader]?.proc.kill('SIGKILL');
    const follower = apis[1 - leader] as { url: string };
    await waitFor(async () => (await leaderEpoch(follower.url)) > before, {
      timeoutMs: 30_000,
      intervalMs: 250,
      what: 'the other api process leading with a higher epoch',
    });

    // The surviving api process serves the fleet as the dead one did (what a console behind a load balancer reloads).
    const view = await fetch(`${follower.url}/api/v1/nodes/lab/rig-1`);
    assert.equal(view.status, 200);
    assert.match(await view.text(), /"state":"online"/, 'the node online at the surviving api process');

    // 3. One NATS server of three dies and comes back: the stream (R3) carries on.
    await nats.servers[1]?.kill();
    await hubAcksGrow('kill -9 of a NATS server');
    await nats.servers[1]?.restart();

    // 4. PostgreSQL dies and comes back: workers' writes fail, their messages come back, nothing acknowledged is lost.
    await pg.kill();
    await acksAtLeast(ledger.acked.size + 1_000, 'pushes while PostgreSQL is down');
    await pg.start();
    await hubAcksGrow('PostgreSQL restarted');

    ledger.stop = true;
    await pusher;
    const acked = [...ledger.acked].sort((a, b) => a - b);
    // Everything the node acknowledged reaches PostgreSQL, each with its own value.
    await waitFor(() => nodeMetric(nodeUrl, 'fieldmesh_outbox_pending_rows', 'lane="samples"').then((n) => n === 0), {
      timeoutMs: 120_000,
      intervalMs: 500,
      what: "the node's outbox drained by the hub's acks",
    });
    const check = await createPostgresStorage({ url, retentionMs: 30 * 86_400_000 });
    try {
      const found = await check.querySeries(
        [{ name: '__name__', op: '=', value: SERIES }],
        acked[0] as number,
        acked[acked.length - 1] as number,
      );
      const stored = new Map((found[0]?.points ?? []).map(([ts, v]) => [ts, v]));
      const lost = acked.filter((ts) => stored.get(ts) !== ts - ledger.base);
      assert.equal(lost.length, 0, `${lost.length} of ${acked.length} acknowledged samples missing or altered in PostgreSQL`);
    } finally {
      await check.close();
    }
    void ingest;
  } finally {
    await pg.stop();
    await nats.stop();
    await mosquitto.stop();
  }
});
