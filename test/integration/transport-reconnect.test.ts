// MqttTransport reconnects on the injected clock with jittered exponential backoff, reset on success.

import assert from 'node:assert/strict';
import { once as onceEvent } from 'node:events';
import { createServer } from 'node:net';
import { test } from 'node:test';
import { brokerConfigSchema, createBroker } from '../../src/broker/index.js';
import { ManualClock, type TimerHandle } from '../../src/kit/index.js';
import { createMqttTransport } from '../../src/transport/index.js';
import { freePort } from '../kit/ports.js';
import { once, waitFor } from '../kit/wait.js';

/** A manual clock that remembers every delay it was asked for. */
class RecordingClock extends ManualClock {
  readonly delays: number[] = [];
  override setTimeout(fn: () => void, ms: number): TimerHandle {
    this.delays.push(ms);
    return super.setTimeout(fn, ms);
  }
}

test('mqtt transport backs off 1 s, 2 s, 4 s (jittered) on its clock and resets after a connect', async () => {
  const port = await freePort();
  let accepted = 0;
  const refuser = createServer((socket) => {
    accepted++;
    socket.destroy();
  });
  refuser.listen(port, '127.0.0.1');
  await onceEvent(refuser, 'listening');
  const clock = new RecordingClock();
  const transport = createMqttTransport({ url: `mqtt://127.0.0.1:${port}`, clientId: 'backoff', clock });
  const broker = createBroker(brokerConfigSchema.parse({ listen: { port }, websocket: { enabled: false } }));
  try {
    transport.start();
    const ranges: [number, number][] = [
      [500, 1000],
      [1000, 2000],
      [2000, 4000],
    ];
    for (const [i, [lo, hi]] of ranges.entries()) {
      await waitFor(() => clock.delays.length === i + 1, { what: `reconnect timer ${i + 1}` });
      const delay = clock.delays[i] as number;
      assert.ok(delay >= lo && delay <= hi, `delay ${i + 1} = ${delay} ms, expected ${lo}..${hi}`);
      assert.equal(accepted, i + 1, 'no attempt before the timer fires');
      if (i < ranges.length - 1) clock.advance(delay);
    }
    await new Promise<void>((resolve) => refuser.close(() => resolve()));
    await broker.start({ fallbackToFreePort: false });
    const connected = once(transport, 'connected', { what: 'connected to the broker' });
    clock.advance(clock.delays[2] as number);
    await connected;
    assert.equal(transport.stats().connects, 1);
    const lost = once(transport, 'disconnected', { what: 'link lost when the broker stops' });
    await broker.stop();
    await lost;
    await waitFor(() => clock.delays.length === 4, { what: 'reconnect timer after the lost link' });
    const reset = clock.delays[3] as number;
    assert.ok(reset >= 500 && reset <= 1000, `after a successful connect the backoff restarts at 1 s, got ${reset}`);
  } finally {
    await transport.close();
    await broker.stop();
    refuser.close();
  }
});
