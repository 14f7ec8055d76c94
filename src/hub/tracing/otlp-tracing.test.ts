// Tracing off and on through openHub (docs/tracing.md), with the real OTLP/HTTP exporter and a receiver on a loopback
// port: off, the OpenTelemetry SDK is never loaded and nothing is sent; on, the spans of a frame reach the receiver by
// the time the hub has stopped. The order matters: this file's process loads the SDK only in the second test.
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { test } from 'node:test';
import { startOtlpReceiver } from '../../../test/kit/otlp-receiver.js';
import { waitFor } from '../../../test/kit/wait.js';
import { ManualClock } from '../../kit/index.js';
import { nodeTopic, SessionEncoder } from '../../protocol/index.js';
import { createMemoryTransport, MemoryBroker } from '../../transport/index.js';
import { hubConfigSchema } from '../config.js';
import { batterySoc, birthOf, historyOf, hubTestKit } from '../hub-test-kit.js';
import { openHub } from '../open-hub.js';

const { defer, tempDir, connectClient } = hubTestKit();
const require = createRequire(import.meta.url);

/** OpenTelemetry packages the process has loaded (they are CommonJS: every one loaded is in require's cache). */
const loadedOtel = () =>
  [
    ...new Set(
      Object.keys(require.cache)
        .map((p) => /node_modules\/(@opentelemetry\/[^/]+)\//.exec(p)?.[1])
        .filter((p) => p !== undefined),
    ),
  ].sort();

/** An embedded hub through openHub, a node born on it, and one history frame acknowledged. */
async function oneFrame(tracing: Record<string, unknown>) {
  const dataDir = tempDir('fm-otlp-');
  const broker = new MemoryBroker();
  const clock = new ManualClock();
  const hub = await openHub(hubConfigSchema.parse({ dataDir, storage: { path: join(dataDir, 'hub.db') }, tracing }), {
    transport: createMemoryTransport(broker, { clientId: 'hub' }),
    clock,
  });
  let stopped = false;
  defer(() => (stopped ? undefined : hub.stop()));
  await hub.start({ listen: false });
  const { transport: node, received } = await connectClient(broker, 'node-s1-n1', { subscribe: ['fieldmesh/s1/n1/cmd/ack'] });
  await node.publish(nodeTopic('fieldmesh', 's1', 'n1', 'birth'), birthOf(new SessionEncoder(3), clock.now(), [batterySoc()]), {
    qos: 1,
  });
  await node.publish(nodeTopic('fieldmesh', 's1', 'n1', 'history'), historyOf(3, clock.now() - 1000), { qos: 1 });
  await waitFor(() => received.length === 1, { what: 'the ack of the history frame' });
  stopped = true;
  await hub.stop();
}

test('tracing off: a frame goes through the hub without the OpenTelemetry SDK loaded and without a request to a collector', async () => {
  const receiver = await startOtlpReceiver();
  defer(() => receiver.stop());
  // The exporter would read these if it were made: nothing must be.
  process.env.OTEL_EXPORTER_OTLP_ENDPOINT = receiver.url;
  defer(() => {
    delete process.env.OTEL_EXPORTER_OTLP_ENDPOINT;
  });
  await oneFrame({});
  assert.equal(receiver.requests, 0);
  // The API alone may be there (prom-client loads it); no SDK, exporter, resources or core.
  assert.deepEqual(
    loadedOtel().filter((p) => p !== '@opentelemetry/api'),
    [],
  );
});

test('tracing on: the spans of a frame reach the collector by the time the hub stopped (the provider is flushed at stop)', async () => {
  const receiver = await startOtlpReceiver();
  defer(() => receiver.stop());
  await oneFrame({ endpoint: receiver.url, serviceName: 'hub-under-test' });
  // No waiting: stop() resolved only after the provider's shutdown, which exports what was buffered.
  assert.deepEqual(receiver.refused, []);
  assert.deepEqual(receiver.spans.map((s) => s.name).sort(), ['INSERT samples', 'receive history', 'send ack']);
  const receive = receiver.spans.find((s) => s.name === 'receive history');
  assert.equal(receive?.resource['service.name'], 'hub-under-test');
  assert.equal(receive?.resource['fieldmesh.role'], 'ingest,worker,api');
  assert.equal(receive?.scope, 'fieldmesh-hub');
  for (const s of receiver.spans) assert.equal(s.traceId, receive?.traceId);
  assert.ok(loadedOtel().includes('@opentelemetry/sdk-trace-base'), 'the SDK was loaded for it');
});

test('tracing: an endpoint without a path gets /v1/traces, one with a path is kept', async () => {
  // Imported here, not at the top: a static import would load the SDK before the test of tracing off.
  const { tracesUrl } = await import('./otlp-tracing.js');
  assert.equal(tracesUrl('http://collector:4318'), 'http://collector:4318/v1/traces');
  assert.equal(tracesUrl('http://collector:4318/'), 'http://collector:4318/v1/traces');
  assert.equal(tracesUrl('https://gw.example/otel/v1/traces'), 'https://gw.example/otel/v1/traces');
});
