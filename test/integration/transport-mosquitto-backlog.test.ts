// The MQTT transport's publishes beyond the broker's Receive Maximum wait in a queue: closing (or losing) the link
// with a deep queue rejects each of them, and never overflows the stack (a hub far behind its broker link holds
// tens of thousands of acks and rebirth requests there; issue 13).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createMqttTransport } from '../../src/transport/index.js';
import { startMosquitto } from '../kit/mosquitto.js';
import { waitFor } from '../kit/wait.js';

test('mqtt transport: closing with 50,000 QoS 1 publishes waiting for the Receive Maximum rejects them all, none overflows the stack', async () => {
  // Mosquitto's default Receive Maximum is 20: all but 20 of the publishes wait in the transport's queue.
  const mosquitto = await startMosquitto();
  const t = createMqttTransport({ url: mosquitto.url, clientId: 'backlog', protocolVersion: 5 });
  try {
    t.start();
    await waitFor(() => t.connected, { what: 'connected' });
    const outcomes = Array.from({ length: 50_000 }, (_, i) =>
      t.publish('fieldmesh/s1/n1/cmd/ack', new Uint8Array([i & 0xff]), { qos: 1 }).then(
        () => 'sent' as const,
        (err: unknown) => (err instanceof RangeError ? ('overflow' as const) : ('rejected' as const)),
      ),
    );
    await t.close();
    const settled = await Promise.all(outcomes);
    const count = (k: string) => settled.filter((s) => s === k).length;
    assert.equal(count('overflow'), 0);
    assert.equal(count('sent') + count('rejected'), 50_000, 'every publish settles');
    assert.ok(count('rejected') > 40_000, `the waiting ones are rejected: ${count('rejected')}`);
  } finally {
    await mosquitto.stop();
  }
});
