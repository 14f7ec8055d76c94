// The replicator resends what the hub has not acknowledged (after a silent timeout or a new hub), and
// stops once the hub acknowledges; the outbox then holds nothing.
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
  encodeAck,
  encodeHubState,
  encodeRebirth,
  type HistoryFrame,
  hubTopic,
} from '../../protocol/index.js';
import { createMemoryTransport, MemoryBroker } from '../../transport/index.js';
import { ACK_TIMEOUT_MS, Replicator } from './replicator.js';
import { createSqliteOutbox } from './sqlite-outbox.js';

test('replicator: unacknowledged history is resent after the ack timeout and after a new hub, and not after an ack', async () => {
  const clock = new ManualClock();
  const broker = new MemoryBroker();
  const outbox = createSqliteOutbox({ path: join(mkdtempSync(join(tmpdir(), 'fm-repl-')), 'outbox.db') });
  const transport = createMemoryTransport(broker, { clientId: 'node', clock });
  const identity = { site: 's', zone: 'z', node: 'n' };
  const replicator = new Replicator({
    outbox,
    transport,
    router: createFrameRouter({ source: transport, prefix: 'fieldmesh' }),
    identity,
    prefix: 'fieldmesh',
    epoch: 1,
    clock,
    logger: silentLogger,
    budgetBytesPerSecond: 0,
    maxFrameRows: 100,
    maxInFlight: 4,
    historyIntervalMs: 0,
  });
  const hub = createMemoryTransport(broker, { clientId: 'hub', clock });
  const seen: HistoryFrame[] = [];
  hub.start();
  await waitFor(() => hub.connected);
  await createFrameRouter({ source: hub, prefix: 'fieldmesh' }).on('history', (frame) => seen.push(frame), { site: 's', node: 'n' }).ready;
  await hub.publish(hubTopic('fieldmesh', 'state'), encodeHubState({ epoch: 1, online: true, time: 0 }), { qos: 1, retain: true });
  replicator.start();
  transport.start();
  await waitFor(() => transport.connected);

  await outbox.appendSamples([{ name: 'soc', labels: {}, type: 'gauge', unit: 'percent', time: 1_000, value: 55.2 }]);
  replicator.notify();
  await waitFor(() => seen.length === 1, { what: 'the first history frame' });

  clock.advance(ACK_TIMEOUT_MS / 2);
  await new Promise((r) => setImmediate(r));
  assert.equal(seen.length, 1, 'no resend before the timeout');
  clock.advance(ACK_TIMEOUT_MS);
  await waitFor(() => seen.length === 2, { what: 'a resend after the ack timeout' });
  assert.deepEqual([seen[1]?.firstSeq, seen[1]?.lastSeq], [1, 1]);

  await hub.publish(hubTopic('fieldmesh', 'state'), encodeHubState({ epoch: 2, online: true, time: 0 }), { qos: 1, retain: true });
  await waitFor(() => seen.length === 3, { what: 'a resend to the new hub' });

  // A hub that did not know the node (a registration it just approved) asks for an unknown-node rebirth:
  // what went out is sent again at once; another rebirth reason changes nothing here.
  await hub.publish(commandTopic('fieldmesh', 's', 'n', 'rebirth'), encodeRebirth({ reason: 'gap' }), { qos: 1 });
  await hub.publish(commandTopic('fieldmesh', 's', 'n', 'rebirth'), encodeRebirth({ reason: 'unknown-node' }), { qos: 1 });
  await waitFor(() => seen.length === 4, { what: 'a resend after an unknown-node rebirth request' });
  assert.deepEqual([seen[3]?.firstSeq, seen[3]?.lastSeq], [1, 1]);

  await hub.publish(commandTopic('fieldmesh', 's', 'n', 'ack'), encodeAck({ lane: 'samples', firstSeq: 1, lastSeq: 1 }), { qos: 1 });
  await waitFor(() => outbox.backlog().sampleRows === 0, { what: 'the acknowledged row deleted' });
  clock.advance(ACK_TIMEOUT_MS * 3);
  await new Promise((r) => setImmediate(r));
  assert.equal(seen.length, 4, 'nothing is resent once acknowledged');
  replicator.stop();
  await transport.close();
  await hub.close();
  outbox.close();
});
