// The hub's traces (docs/tracing.md) on an in-memory span exporter: the span tree of one history frame through the
// embedded hub (receive, store, ack), errors recorded on spans, the W3C context through NATS headers, and the
// parent-based sampler.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { headers } from '@nats-io/transport-node';
import { InMemorySpanExporter, type ReadableSpan, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { waitFor } from '../../../test/kit/wait.js';
import { ManualClock, silentLogger } from '../../kit/index.js';
import { encodeHistory, type HistoryFrame, nodeTopic, SessionEncoder } from '../../protocol/index.js';
import { createMemoryTransport, MemoryBroker } from '../../transport/index.js';
import { hubConfigSchema } from '../config.js';
import { createHub } from '../hub.js';
import { batterySoc, birthOf, hubTestKit } from '../hub-test-kit.js';
import { DurableIngest } from '../ingest/index.js';
import type { HubStorage } from '../storage/storage.js';
import { ATTR, endWhenSettled, extractFromHeaders, injectIntoHeaders, SpanKind, startReceiveSpan, startSpan } from './hub-tracing.js';
import { createTracingProvider } from './otlp-tracing.js';

const { defer, tempDir, connectClient } = hubTestKit();

function inMemoryTracing(sampleRatio = 1, roles = ['ingest', 'worker', 'api']) {
  const exporter = new InMemorySpanExporter();
  const provider = createTracingProvider({ serviceName: 'fieldmesh-hub', sampleRatio, roles }, new SimpleSpanProcessor(exporter));
  defer(() => provider.shutdown());
  return { exporter, tracing: provider.tracing };
}

const byName = (spans: readonly ReadableSpan[], name: string): ReadableSpan => {
  const found = spans.filter((s) => s.name === name);
  assert.equal(found.length, 1, `one span named ${name}: ${spans.map((s) => s.name).join(', ')}`);
  return found[0] as ReadableSpan;
};
const parentOf = (span: ReadableSpan) => span.parentSpanContext?.spanId;

const frame: HistoryFrame = {
  type: 'history',
  epoch: 6,
  zone: 'z1',
  firstSeq: 101,
  lastSeq: 103,
  pendingRows: 0,
  oldestPendingMs: null,
  pendingBytes: 0,
  dropped: [],
  repaired: [],
  series: [
    {
      name: 'battery_soc',
      labels: {},
      type: 'gauge',
      unit: 'percent',
      samples: [
        [1_000, 40.1],
        [2_000, 40.2],
        [3_000, 40.3],
      ],
    },
  ],
};

test('tracing: a history frame through the embedded hub is one trace: receive, then the SQLite write and the ack as its children', async () => {
  const { exporter, tracing } = inMemoryTracing();
  const dataDir = tempDir('fm-tracing-');
  const broker = new MemoryBroker();
  const clock = new ManualClock();
  const hub = createHub(hubConfigSchema.parse({ dataDir, storage: { path: join(dataDir, 'hub.db') } }), {
    transport: createMemoryTransport(broker, { clientId: 'hub' }),
    clock,
    tracing,
  });
  defer(() => hub.stop());
  await hub.start({ listen: false });
  const { transport: node, received } = await connectClient(broker, 'node-s1-n1', { subscribe: ['fieldmesh/s1/n1/cmd/ack'] });
  await node.publish(nodeTopic('fieldmesh', 's1', 'n1', 'birth'), birthOf(new SessionEncoder(6), clock.now(), [batterySoc()]), {
    qos: 1,
  });
  await waitFor(() => hub.fleet.get('s1', 'n1')?.state === 'online', { what: 'n1 online' });

  const { type: _, ...fields } = frame;
  await node.publish(nodeTopic('fieldmesh', 's1', 'n1', 'history'), encodeHistory(fields), { qos: 1 });
  await waitFor(() => received.length === 1, { what: 'the ack of the history frame' });
  const spans = await waitFor(() => (exporter.getFinishedSpans().length >= 3 ? exporter.getFinishedSpans() : undefined), {
    what: 'three finished spans',
  });

  const receive = byName(spans, 'receive history');
  const insert = byName(spans, 'INSERT samples');
  const ack = byName(spans, 'send ack');
  assert.equal(spans.length, 3, 'nothing else traced (births and data are not)');
  assert.equal(parentOf(receive), undefined, 'the receive span is the root');
  for (const child of [insert, ack]) {
    assert.equal(child.spanContext().traceId, receive.spanContext().traceId);
    assert.equal(parentOf(child), receive.spanContext().spanId, `${child.name} is a child of receive`);
  }
  assert.equal(receive.kind, SpanKind.CONSUMER);
  assert.deepEqual(receive.attributes, {
    [ATTR.messagingSystem]: 'mqtt',
    [ATTR.operationType]: 'receive',
    [ATTR.operationName]: 'receive',
    [ATTR.destination]: 'fieldmesh/s1/n1/history',
    [ATTR.site]: 's1',
    [ATTR.node]: 'n1',
    [ATTR.boot]: 6,
    [ATTR.seqFrom]: 101,
    [ATTR.seqTo]: 103,
    [ATTR.samples]: 3,
  });
  assert.equal(insert.kind, SpanKind.CLIENT);
  assert.equal(insert.attributes[ATTR.dbSystem], 'sqlite');
  assert.equal(insert.attributes[ATTR.dbOperation], 'INSERT');
  assert.equal(insert.attributes[ATTR.dbCollection], 'samples');
  assert.equal(insert.attributes[ATTR.samples], 3);
  assert.equal(ack.kind, SpanKind.PRODUCER);
  assert.equal(ack.attributes[ATTR.destination], 'fieldmesh/s1/n1/cmd/ack');
  assert.equal(ack.attributes[ATTR.seqFrom], 101);
  assert.equal(ack.attributes[ATTR.seqTo], 103);
  // The store and the ack happen inside the receive span, in that order.
  assert.ok(insert.endTime[0] * 1e9 + insert.endTime[1] <= ack.startTime[0] * 1e9 + ack.startTime[1] + 1e6);
  assert.equal(receive.resource.attributes['service.name'], 'fieldmesh-hub');
  assert.equal(receive.resource.attributes['fieldmesh.role'], 'ingest,worker,api');
});

test('tracing: a store that fails is an error on its span and on the frame span (status ERROR, an exception event), and no ack is sent', async () => {
  const { exporter, tracing } = inMemoryTracing();
  let acks = 0;
  const storage = {
    appendSamples: async () => {
      throw new Error('disk full');
    },
  } as unknown as HubStorage;
  const counter = { inc: () => {} };
  const durable = new DurableIngest({
    storage,
    clock: new ManualClock(),
    logger: silentLogger,
    metrics: {
      samplesStored: counter,
      historySamplesStored: counter,
      eventsStored: counter,
      acksSent: counter,
      storageErrors: counter,
    } as never,
    counters: { historySamplesStored: 0, eventsStored: 0, acksSent: 0 } as never,
    sendAck: async () => {
      acks++;
    },
    tracing: { tracing, dbSystem: 'postgresql', ackSystem: 'nats', ackDestination: (site, node) => `fieldmesh.${site}.${node}.ack` },
  });
  const rx = startReceiveSpan(tracing, 'fieldmesh/s1/n1/history', 's1', 'n1', frame);
  await assert.rejects(endWhenSettled(rx.span, durable.history('s1', 'n1', frame, 0, rx.context)), /disk full/);
  assert.equal(acks, 0);
  const spans = exporter.getFinishedSpans();
  assert.deepEqual(spans.map((s) => s.name).sort(), ['INSERT samples', 'receive history']);
  for (const s of spans) {
    assert.equal(s.status.code, 2, `${s.name} has status ERROR`);
    assert.equal(s.status.message, 'disk full');
    assert.deepEqual(
      s.events.map((e) => e.name),
      ['exception'],
    );
  }
  assert.equal(byName(spans, 'INSERT samples').attributes[ATTR.dbSystem], 'postgresql');
});

test('tracing: the context crosses NATS headers as a W3C traceparent, and the span on the far side is its child', () => {
  const { exporter, tracing } = inMemoryTracing();
  const send = startSpan(tracing, 'send FIELDMESH_FRAMES', SpanKind.PRODUCER, {});
  const h = headers();
  injectIntoHeaders(tracing, send.context, h);
  const { traceId, spanId } = send.span.spanContext();
  assert.equal(h.get('traceparent'), `00-${traceId}-${spanId}-01`);
  const processing = startSpan(tracing, 'process FIELDMESH_FRAMES', SpanKind.CONSUMER, {}, extractFromHeaders(tracing, h));
  processing.span.end();
  send.span.end();
  const done = byName(exporter.getFinishedSpans(), 'process FIELDMESH_FRAMES');
  assert.equal(done.spanContext().traceId, traceId);
  assert.equal(parentOf(done), spanId);
  // A message without headers (sent before tracing was on) starts a trace of its own.
  const orphan = startSpan(tracing, 'process FIELDMESH_FRAMES', SpanKind.CONSUMER, {}, extractFromHeaders(tracing, headers()));
  orphan.span.end();
  assert.notEqual(orphan.span.spanContext().traceId, traceId);
});

test('tracing: sampling is parent-based: at ratio 0 a frame starts no recorded trace, but a sampled parent from upstream is followed', () => {
  const { exporter, tracing } = inMemoryTracing(0);
  const rx = startReceiveSpan(tracing, 'fieldmesh/s1/n1/history', 's1', 'n1', frame);
  assert.equal(rx.span.isRecording(), false);
  rx.span.end();
  const h = headers();
  h.set('traceparent', '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01');
  const child = startSpan(tracing, 'process FIELDMESH_FRAMES', SpanKind.CONSUMER, {}, extractFromHeaders(tracing, h));
  assert.equal(child.span.isRecording(), true);
  child.span.end();
  const spans = exporter.getFinishedSpans();
  assert.deepEqual(
    spans.map((s) => [s.name, s.spanContext().traceId, parentOf(s)]),
    [['process FIELDMESH_FRAMES', '0af7651916cd43dd8448eb211c80319c', 'b7ad6b7169203331']],
  );
});
