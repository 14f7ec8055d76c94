// OpenTelemetry traces across the scale-out hub on real servers (docs/tracing.md): a node's history frame through a
// real Mosquitto to an ingest process, a NATS JetStream stream, a worker process and PostgreSQL, and a probe's push to
// the ingest tier's HTTP API, each one trace across the two processes, exported by the real OTLP/HTTP exporter of each
// to a receiver on a loopback port, with the right parent of every span.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { commandTopic, encodeHistory, nodeTopic } from '../../src/protocol/index.js';
import { createMqttTransport } from '../../src/transport/index.js';
import { type ReceivedSpan, startOtlpReceiver } from '../kit/otlp-receiver.js';
import { waitFor } from '../kit/wait.js';
import { startScaleOutRig } from './scale-out-rig.js';

const TOKEN = 'site-lab-push-token-0123456789';

/** OTLP's span kinds. */
const SERVER = 2;
const CLIENT = 3;
const PRODUCER = 4;
const CONSUMER = 5;

function one(spans: readonly ReceivedSpan[], name: string, where: (s: ReceivedSpan) => boolean = () => true): ReceivedSpan {
  const found = spans.filter((s) => s.name === name && where(s));
  assert.equal(found.length, 1, `one ${name} span, found ${found.length} among ${spans.map((s) => s.name).join(', ')}`);
  return found[0] as ReceivedSpan;
}

function childOf(child: ReceivedSpan, parent: ReceivedSpan): void {
  assert.equal(child.traceId, parent.traceId, `${child.name} is in the trace of ${parent.name}`);
  assert.equal(child.parentSpanId, parent.spanId, `${child.name} is a child of ${parent.name}`);
}

test('tracing: a history frame and a push are each one trace from the ingest process through JetStream to the worker and PostgreSQL', async () => {
  const [rig, receiver] = await Promise.all([startScaleOutRig(), startOtlpReceiver()]);
  const { mosquitto } = rig;
  const extra = { ingest: { tokens: [{ token: TOKEN, site: 'lab' }] }, tracing: { endpoint: receiver.url, sampleRatio: 1 } };
  let node: ReturnType<typeof createMqttTransport> | undefined;
  try {
    const ingest = await rig.open(['ingest'], extra);
    const worker = await rig.open(['worker'], extra);

    // A node's history frame over MQTT; its ack comes back through the worker and the ingest process.
    node = createMqttTransport({ url: mosquitto.url, clientId: 'rig-1' });
    const acks: Uint8Array[] = [];
    node.start();
    await node.subscribe(commandTopic('fieldmesh', 'lab', 'rig-1', 'ack'), (m) => acks.push(m.payload), { qos: 1 }).ready;
    const now = Date.now();
    await node.publish(
      nodeTopic('fieldmesh', 'lab', 'rig-1', 'history'),
      encodeHistory({
        epoch: 4,
        zone: 'z1',
        firstSeq: 11,
        lastSeq: 12,
        pendingRows: 0,
        oldestPendingMs: null,
        pendingBytes: 0,
        dropped: [],
        repaired: [],
        series: [
          {
            name: 'probe_value',
            labels: {},
            type: 'gauge',
            unit: '',
            samples: [
              [now - 2000, 1],
              [now - 1000, 2],
            ],
          },
        ],
      }),
      { qos: 1 },
    );
    await waitFor(() => acks.length === 1, { what: 'the node acknowledged', timeoutMs: 15_000 });

    // A probe's push, continuing the trace of its caller (an incoming W3C traceparent).
    const callerTrace = '4bf92f3577b34da6a3ce929d0e0e4736';
    const callerSpan = '00f067aa0ba902b7';
    const pushed = await ingest.app.inject({
      method: 'POST',
      url: '/events?node=probe-3',
      payload: JSON.stringify([
        { time: now - 500, metrics: { rtt_seconds: 0.042 } },
        { time: now - 400, kind: 'link_down', priority: 'high' },
      ]),
      headers: { authorization: `Bearer ${TOKEN}`, traceparent: `00-${callerTrace}-${callerSpan}-01` },
    });
    assert.equal(pushed.statusCode, 200, pushed.body);
    // The worker's spans of the push end once it stored the push (after the answer): awaited on the worker's side.
    await waitFor(
      async () => (await worker.metrics.registry.getSingleMetricAsString('fieldmesh_queue_messages_handled_total'))?.includes('push'),
      {
        what: 'the push handled by the worker',
        timeoutMs: 15_000,
      },
    );

    // Each process flushes its spans when it stops.
    await rig.stopHubs();
    assert.deepEqual(receiver.refused, []);
    const spans = receiver.spans;
    const role = (r: string) => (s: ReceivedSpan) => s.resource['fieldmesh.role'] === r;

    // The frame: receive (ingest) -> send to the stream (ingest) -> process (worker) -> INSERT and the ack (worker).
    const receive = one(spans, 'receive history', role('ingest'));
    assert.equal(receive.parentSpanId, '', 'the frame starts its trace');
    assert.equal(receive.kind, CONSUMER);
    assert.equal(receive.attributes['messaging.system'], 'mqtt');
    assert.equal(receive.attributes['messaging.destination.name'], 'fieldmesh/lab/rig-1/history');
    assert.equal(receive.attributes['fieldmesh.node'], 'rig-1');
    assert.equal(receive.attributes['fieldmesh.boot'], 4);
    assert.equal(receive.attributes['fieldmesh.seq_from'], 11);
    assert.equal(receive.attributes['fieldmesh.seq_to'], 12);
    assert.equal(receive.attributes['fieldmesh.samples'], 2);
    const frameSpans = spans.filter((s) => s.traceId === receive.traceId);
    const send = one(frameSpans, 'send FIELDMESH_FRAMES', role('ingest'));
    childOf(send, receive);
    assert.equal(send.kind, PRODUCER);
    assert.equal(send.attributes['messaging.system'], 'nats');
    assert.equal(send.attributes['messaging.destination.name'], 'fieldmesh.lab.rig-1.history');
    assert.equal(send.attributes['messaging.operation.type'], 'send');
    const processing = one(frameSpans, 'process FIELDMESH_FRAMES', role('worker'));
    childOf(processing, send);
    assert.equal(processing.kind, CONSUMER);
    assert.equal(processing.attributes['messaging.operation.type'], 'process');
    assert.equal(processing.attributes['messaging.consumer.group.name'], 'fieldmesh-workers');
    const insert = one(frameSpans, 'INSERT samples', role('worker'));
    childOf(insert, processing);
    assert.equal(insert.kind, CLIENT);
    assert.equal(insert.attributes['db.system'], 'postgresql');
    assert.equal(insert.attributes['db.operation.name'], 'INSERT');
    assert.equal(insert.attributes['fieldmesh.samples'], 2);
    const ack = one(frameSpans, 'send ack', role('worker'));
    childOf(ack, processing);
    assert.equal(ack.attributes['messaging.system'], 'nats');
    assert.equal(ack.attributes['messaging.destination.name'], 'fieldmesh.lab.rig-1.ack');
    assert.equal(ack.attributes['fieldmesh.seq_to'], 12);
    assert.equal(receive.resource['service.name'], 'fieldmesh-hub');
    for (const s of frameSpans) assert.equal(s.status, 0, `${s.name} did not fail`);

    // The push: the caller's trace -> POST /events (ingest) -> send -> process (worker) -> INSERT samples and events.
    const pushSpans = spans.filter((s) => s.traceId === callerTrace);
    const request = one(pushSpans, 'POST /events', role('ingest'));
    assert.equal(request.parentSpanId, callerSpan, 'the incoming traceparent is the request span parent');
    assert.equal(request.kind, SERVER);
    assert.equal(request.attributes['http.response.status_code'], 200);
    const pushSend = one(pushSpans, 'send FIELDMESH_FRAMES');
    childOf(pushSend, request);
    assert.equal(pushSend.attributes['messaging.destination.name'], 'fieldmesh.lab.probe-3.push');
    const pushProcess = one(pushSpans, 'process FIELDMESH_FRAMES', role('worker'));
    childOf(pushProcess, pushSend);
    const pushInserts = [one(pushSpans, 'INSERT samples'), one(pushSpans, 'INSERT events')];
    for (const s of pushInserts) {
      childOf(s, pushProcess);
      assert.equal(s.attributes['db.response.returned_rows'], 1, `${s.name}: one new row`);
    }
    assert.equal(pushSpans.length, 5, pushSpans.map((s) => s.name).join(', '));
  } finally {
    await node?.close().catch(() => {});
    await rig.close();
    await receiver.stop();
  }
});
