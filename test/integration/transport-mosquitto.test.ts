// Runs the Transport contract against a real Mosquitto started on a free port.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createMqttTransport } from '../../src/transport/index.js';
import { startMosquitto } from '../kit/mosquitto.js';
import { waitFor } from '../kit/wait.js';
import { mqttTarget, runTransportContract } from './transport.contract.js';

runTransportContract('mosquitto', async () => {
  const mosquitto = await startMosquitto();
  return mqttTarget(mosquitto.port, {
    restartBroker: () => mosquitto.restart(),
    teardown: () => mosquitto.stop(),
  });
});

test('mqtt transport speaks MQTT 5 to Mosquitto: a repeated topic goes out once, then as a two-byte alias', async () => {
  const mosquitto = await startMosquitto();
  const topic = 'fieldmesh/a-rather-long-site-name/a-rather-long-node-name/data';
  const versions: Array<4 | 5 | 'auto'> = ['auto', 4];
  const grew: number[] = [];
  try {
    for (const protocolVersion of versions) {
      const t = createMqttTransport({ url: mosquitto.url, clientId: `alias-${protocolVersion}`, protocolVersion });
      t.start();
      await waitFor(() => t.connected, { what: 'connected' });
      const before = t.stats().bytesOut;
      for (let i = 0; i < 20; i++) await t.publish(topic, new Uint8Array([i]), { qos: 1 });
      grew.push(t.stats().bytesOut - before);
      await t.close();
    }
  } finally {
    await mosquitto.stop();
  }
  const [v5, v311] = grew as [number, number];
  assert.ok(v311 >= 20 * topic.length, `3.1.1 repeats the topic: ${v311} bytes`);
  assert.ok(v5 < 3 * topic.length + 20 * 12, `MQTT 5 sends the topic once: ${v5} bytes`);
});

test('mqtt transport: a burst of 200 QoS 1 publishes over 50 topics (aliases churning) stays connected, every one acknowledged', async () => {
  const mosquitto = await startMosquitto();
  try {
    const t = createMqttTransport({ url: mosquitto.url, clientId: 'burst' });
    let disconnects = 0;
    t.on('disconnected', () => disconnects++);
    t.start();
    await waitFor(() => t.connected, { what: 'connected' });
    await Promise.all(Array.from({ length: 200 }, (_, i) => t.publish(`burst/${i % 50}`, new Uint8Array([i % 256]), { qos: 1 })));
    assert.equal(disconnects, 0, 'the link survived the burst');
    assert.equal(t.stats().messagesOut, 200);
    await t.close();
  } finally {
    await mosquitto.stop();
  }
});
