// The agent's one frame router on an in-memory broker: the hub's state reaches the publisher, the replicator and
// the aggregator takeover, a rebirth request the publisher and the replicator, each parsed once and decoded once;
// an undecodable command is counted once and reaches none of them.
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { waitFor } from '../../test/kit/wait.js';
import { ManualClock } from '../kit/index.js';
import { commandTopic, createFrameRouter, encodeHubState, encodeRebirth, hubTopic } from '../protocol/index.js';
import { createMemoryTransport, MemoryBroker } from '../transport/index.js';
import { createAgent } from './agent.js';
import { agentConfigSchema } from './config.js';

test('agent router: N parts registered on one process see each message parsed once and decoded once', async () => {
  const clock = new ManualClock();
  const broker = new MemoryBroker();
  const config = agentConfigSchema.parse({
    dataDir: mkdtempSync(join(tmpdir(), 'fm-agent-router-')),
    node: { id: 'bess-01', site: 'farm' },
    http: { enabled: false },
    publish: { tick: '1s', heartbeat: '5s' },
    // The MQTT awareness path with aggregator auto: its takeover reads the hub's state too.
    awareness: { transport: 'mqtt', aggregator: 'auto' },
  });
  const agent = createAgent(config, {
    clock,
    epoch: 3,
    collectors: [],
    createTransport: (will) => createMemoryTransport(broker, { clientId: 'agent', will, clock }),
  });
  const hub = createMemoryTransport(broker, { clientId: 'hub', clock });
  hub.start();
  await waitFor(() => hub.connected, { what: 'hub connected' });
  let births = 0;
  await createFrameRouter({ source: hub, prefix: 'fieldmesh' }).on('birth', () => births++).ready;
  await agent.start();
  await waitFor(() => births === 1, { what: 'the first birth' });
  try {
    const before = agent.router.stats();
    // A hub that came online after the birth: the publisher announces again (and the replicator and the
    // takeover take note).
    await hub.publish(hubTopic('fieldmesh', 'state'), encodeHubState({ epoch: 9, online: true, time: clock.now() }), { qos: 1 });
    await waitFor(() => births === 2, { what: 'a birth for the hub that came online' });
    const afterState = agent.router.stats();
    assert.equal(afterState.messages - before.messages, 1);
    assert.equal(afterState.topicsParsed - before.topicsParsed, 1, 'the topic parsed once');
    assert.equal(afterState.framesDecoded - before.framesDecoded, 1, 'the frame decoded once');
    assert.equal(afterState.delivered - before.delivered, 3, 'publisher, replicator and takeover each got it');

    await hub.publish(commandTopic('fieldmesh', 'farm', 'bess-01', 'rebirth'), encodeRebirth({ reason: 'operator' }), { qos: 1 });
    await waitFor(() => births === 3, { what: 'a birth on request' });
    const afterRebirth = agent.router.stats();
    assert.equal(afterRebirth.topicsParsed - afterState.topicsParsed, 1);
    assert.equal(afterRebirth.framesDecoded - afterState.framesDecoded, 1);
    assert.equal(afterRebirth.delivered - afterState.delivered, 2, 'publisher and replicator each got it');

    // A truncated ack: the replicator never sees it, the agent counts it once.
    await hub.publish(commandTopic('fieldmesh', 'farm', 'bess-01', 'ack'), Uint8Array.of(0x19, 0x01), { qos: 1 });
    await waitFor(() => agent.router.stats().rejected.truncated === 1, { what: 'the truncated ack rejected' });
    const afterAck = agent.router.stats();
    assert.equal(afterAck.delivered, afterRebirth.delivered);
    assert.match(await agent.metrics.registry.metrics(), /^fieldmesh_frames_rejected_total\{[^}]*reason="truncated"[^}]*\} 1$/m);
  } finally {
    await agent.stop();
    await hub.close();
  }
});
