// The demo starts beside services that hold its default ports, says which ports it chose, and its
// summary counts what the hub really received.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:net';
import { test } from 'node:test';
import { waitFor } from '../../test/kit/wait.js';
import { startDemo } from './demo.js';

function hold(): Promise<Server> {
  const server = createServer();
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

test('demo: taken ports fall back to free ones and are reported; the summary reflects the run', async () => {
  const taken = await Promise.all([hold(), hold(), hold()]);
  const [mqtt, ws, http] = taken.map((s) => (s.address() as { port: number }).port) as [number, number, number];
  const demo = await startDemo({ nodes: 3, sites: 2, brokerPort: mqtt, wsPort: ws, hubPort: http });
  try {
    assert.deepEqual(
      demo.portNotes.map((n) => n.replace(/using \d+/, 'using N')),
      [`MQTT port ${mqtt} is taken; using N`, `WebSocket port ${ws} is taken; using N`, `HTTP port ${http} is taken; using N`],
    );
    assert.notEqual(new URL(demo.brokerUrl).port, String(mqtt));
    await waitFor(async () => (await demo.status()).nodesOnline === 3, { timeoutMs: 10_000, what: 'three nodes online' });
    await waitFor(() => demo.agents.every((a) => a.stats().samplesCollected > 0), { timeoutMs: 10_000, what: 'samples collected' });
  } finally {
    const summary = await demo.stop();
    for (const s of taken) s.close();
    assert.equal(summary.nodesSeenOnline, 3);
    assert.ok(summary.framesReceivedByHub >= 3, 'at least one birth per node');
    assert.ok(summary.samplesReceivedByHub > 0);
    assert.ok(summary.wireBytesPerNodePerSecond > 0);
    assert.ok(summary.sampleAgeAtHubMs.p99 >= summary.sampleAgeAtHubMs.p50);
  }
});
