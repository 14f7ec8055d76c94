// The queue state the leader's alerts and the /metrics gauges read, on a real three-server NATS cluster: the
// workers' consumer lag is what was appended and not handled, and a copy of the R3 stream whose server is down
// counts as behind until the server is back and caught up.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { jetstreamManager } from '@nats-io/jetstream';
import { createFrameStream, DEFAULT_CONSUMER_NAME, ensureFrameConsumer, queueStateReader } from '../../src/hub/queue/index.js';
import { type NatsServerSet, startNatsCluster } from '../kit/nats.js';
import { waitFor } from '../kit/wait.js';
import { appendRows, connections, MAX_BYTES } from './queue-kit.js';

let nats: NatsServerSet;
const conns = connections();
before(async () => {
  nats = await startNatsCluster();
});
after(async () => {
  await conns.closeAll();
  await nats?.stop();
});

test('queue state: consumer lag counts the unhandled appends; a stopped server makes one replica behind until it is back', async () => {
  const nc = await conns.open(nats.urls, 'state-test');
  const stream = createFrameStream({ connection: nc, name: 'STATE', subjectPrefix: 'fm-state', replicas: 3, maxBytes: MAX_BYTES });
  await stream.ensure();
  const jsm = await jetstreamManager(nc);
  await ensureFrameConsumer(jsm, 'STATE', {});
  const read = queueStateReader(jsm, 'STATE', DEFAULT_CONSUMER_NAME);
  await waitFor(async () => (await read()).replicasBehind === 0, { what: 'every copy current', timeoutMs: 15_000 });

  await appendRows(stream, 'n1', 12);
  const state = await read();
  assert.equal(state.consumerPending, 12, 'no worker: every append waits');
  assert.equal(state.consumerAckPending, 0);
  assert.equal(state.streamMessages, 12);

  // A follower's server goes (not the stream leader's: the stream keeps its leader, and reads answer at once).
  const info = await jsm.streams.info('STATE');
  const follower = nats.servers.find((s) => s.name !== info.cluster?.leader);
  assert.ok(follower !== undefined);
  await follower.kill();
  await waitFor(async () => (await read()).replicasBehind === 1, { what: 'the stopped copy behind', timeoutMs: 30_000, intervalMs: 250 });
  await follower.restart();
  await waitFor(async () => (await read()).replicasBehind === 0, { what: 'the copy current again', timeoutMs: 30_000, intervalMs: 250 });
});
