// The queue path's ingest tier end to end on a real Mosquitto and a real nats-server: a fake node publishes durable
// frames over MQTT, two ingest processes split them into the stream, a worker stores them and its acks come back to the
// node's MQTT ack topic.

import assert from 'node:assert/strict';
import { after, afterEach, before, describe, test } from 'node:test';
import { Registry } from 'prom-client';
import {
  ackSubject,
  createFrameStream,
  createFrameWorker,
  createQueueAckSender,
  createQueueIngest,
  createQueueMetrics,
  type FrameWorker,
  type QueueIngest,
  type WorkerMessage,
} from '../../src/hub/queue/index.js';
import { type AckFrame, commandTopic, decodeWireFrame, encodeAck, encodeHistory, nodeTopic } from '../../src/protocol/index.js';
import { createMqttTransport, type Transport } from '../../src/transport/index.js';
import { type MosquittoInstance, startMosquitto } from '../kit/mosquitto.js';
import { type NatsServerSet, startNatsServer } from '../kit/nats.js';
import { waitFor } from '../kit/wait.js';
import { connections, eventPayload, historyFrame, MAX_BYTES, SITE } from './queue-kit.js';

const PREFIX = 'fieldmesh';

describe('queue ingest tier', () => {
  let mosquitto: MosquittoInstance;
  let nats: NatsServerSet;
  const conns = connections();
  const transports: Transport[] = [];
  const stoppers: Array<() => Promise<void>> = [];
  let streams = 0;

  before(async () => {
    [mosquitto, nats] = await Promise.all([startMosquitto(), startNatsServer()]);
  });
  // Each test's ingest processes, workers and clients go with it: they would take the next test's frames.
  afterEach(async () => {
    for (const stop of stoppers.splice(0).reverse()) await stop().catch(() => {});
    await Promise.all(transports.splice(0).map((t) => t.close().catch(() => {})));
    await conns.closeAll();
  });
  after(async () => {
    await Promise.all([mosquitto?.stop(), nats?.stop()]);
  });

  async function mqtt(clientId: string): Promise<Transport> {
    const t = createMqttTransport({ url: mosquitto.url, clientId });
    transports.push(t);
    t.start();
    await waitFor(() => t.connected, { what: `${clientId} connected` });
    return t;
  }

  /** A stream of its own per test (`stream` name), its subject prefix `fm-i<n>`. */
  function nextStream(): { name: string; subjectPrefix: string } {
    streams++;
    return { name: `INGEST${streams}`, subjectPrefix: `fm-i${streams}` };
  }

  /** An ingest process: its own MQTT client, NATS connection and metrics. */
  async function startIngest(
    name: string,
    at: { name: string; subjectPrefix: string },
  ): Promise<{ ingest: QueueIngest; registry: Registry }> {
    const transport = await mqtt(`ingest-${name}-${at.name}`);
    const connection = await conns.open(nats.urls, `ingest-${name}`);
    const registry = new Registry();
    const metrics = createQueueMetrics(registry);
    const stream = createFrameStream({ connection, ...at, maxBytes: MAX_BYTES, metrics });
    await stream.ensure();
    const ingest = createQueueIngest({ transport, connection, stream, topicPrefix: PREFIX, metrics });
    ingest.start();
    stoppers.push(() => ingest.stop());
    await ingest.ready;
    return { ingest, registry };
  }

  /** A worker that records each message and acknowledges it to the node as the durable ingest would. */
  async function startWorker(at: { name: string; subjectPrefix: string }, handled: WorkerMessage[]): Promise<FrameWorker> {
    const connection = await conns.open(nats.urls, 'worker');
    const sendAck = createQueueAckSender(connection, at.subjectPrefix);
    const worker = createFrameWorker({
      connection,
      stream: at.name,
      subjectPrefix: at.subjectPrefix,
      handler: async (m) => {
        handled.push(m);
        const decoded = decodeWireFrame(m.payload);
        assert.ok(decoded.ok);
        const f = decoded.frame;
        if (f.type === 'history') await sendAck(m.site, m.node, 'samples', f.firstSeq, f.lastSeq);
        else if (f.type === 'event') await sendAck(m.site, m.node, 'events', f.seq, f.seq);
      },
    });
    await worker.start();
    stoppers.push(() => worker.stop());
    return worker;
  }

  /** A fake node: an MQTT client that publishes frames and collects the acks on its ack topic. */
  async function fakeNode(node: string): Promise<{ link: Transport; acks: AckFrame[] }> {
    const link = await mqtt(`node-${node}-${streams}`);
    const acks: AckFrame[] = [];
    await link.subscribe(
      commandTopic(PREFIX, SITE, node, 'ack'),
      (m) => {
        const d = decodeWireFrame(m.payload);
        if (d.ok && d.frame.type === 'ack') acks.push(d.frame);
      },
      { qos: 1 },
    ).ready;
    return { link, acks };
  }

  function metricValue(text: string, line: RegExp): number {
    return Number(line.exec(text)?.[1] ?? 0);
  }

  test('frames a node publishes over MQTT reach the stream through two ingest processes that split them, and every ack reaches the node', async () => {
    const at = nextStream();
    const a = await startIngest('a', at);
    const b = await startIngest('b', at);
    const handled: WorkerMessage[] = [];
    await startWorker(at, handled);
    const { link, acks } = await fakeNode('n1');

    for (let seq = 1; seq <= 20; seq++)
      await link.publish(nodeTopic(PREFIX, SITE, 'n1', 'history'), encodeHistory(historyFrame(seq, seq)), { qos: 1 });
    for (let seq = 1; seq <= 5; seq++) await link.publish(nodeTopic(PREFIX, SITE, 'n1', 'event'), eventPayload(seq), { qos: 1 });
    // Refused by name and counted, nothing else lost: bytes that are no frame, and an event on the history channel.
    await link.publish(nodeTopic(PREFIX, SITE, 'n1', 'history'), Uint8Array.from([0xff, 1, 2]), { qos: 1 });
    await link.publish(nodeTopic(PREFIX, SITE, 'n1', 'history'), eventPayload(99), { qos: 1 });

    await waitFor(() => acks.length === 25, { what: '25 acks at the node', timeoutMs: 15_000 });
    const samples = acks.filter((x) => x.lane === 'samples').map((x) => `${x.firstSeq}-${x.lastSeq}`);
    const events = acks.filter((x) => x.lane === 'events').map((x) => `${x.firstSeq}-${x.lastSeq}`);
    assert.deepEqual(samples.sort(), Array.from({ length: 20 }, (_, i) => `${i + 1}-${i + 1}`).sort());
    assert.deepEqual(events.sort(), ['1-1', '2-2', '3-3', '4-4', '5-5']);
    assert.equal(handled.length, 25, 'the worker handled each frame once');
    assert.ok(
      handled.every(
        (m) => m.site === SITE && m.node === 'n1' && m.channel !== 'push' && m.topic === nodeTopic(PREFIX, SITE, 'n1', m.channel),
      ),
    );

    const texts = () => Promise.all([a.registry.metrics(), b.registry.metrics()]);
    // The refusals may trail the acks: the group hands them to either process.
    await waitFor(async () => /reason="wrong-type"\} 1/.test((await texts()).join('')), { what: 'the wrong-type frame refused' });
    await waitFor(async () => /reason="undecodable"\} 1/.test((await texts()).join('')), { what: 'the undecodable frame refused' });
    const [textA, textB] = await texts();
    const stored = (text: string, channel: string) =>
      metricValue(text, new RegExp(`fieldmesh_queue_appends_total\\{channel="${channel}",outcome="stored"\\} (\\d+)`));
    assert.equal(stored(textA, 'history') + stored(textB, 'history'), 20);
    assert.equal(stored(textA, 'event') + stored(textB, 'event'), 5);
    const byA = stored(textA, 'history') + stored(textA, 'event');
    assert.ok(byA > 0 && byA < 25, `the two ingest processes split the frames (a: ${byA}, b: ${25 - byA})`);
    const refused = (reason: string) =>
      [textA, textB].reduce(
        (sum, t) => sum + metricValue(t, new RegExp(`fieldmesh_queue_refused_total\\{what="frame",reason="${reason}"\\} (\\d+)`)),
        0,
      );
    assert.equal(refused('undecodable'), 1);
    assert.equal(refused('wrong-type'), 1);
    // Counted on the broker's PUBACK, which may trail the node's copy.
    const forwarded = async () =>
      (await texts()).reduce((sum, t) => sum + metricValue(t, /fieldmesh_queue_acks_forwarded_total\{outcome="forwarded"\} (\d+)/), 0);
    await waitFor(async () => (await forwarded()) === 25, { what: 'each ack forwarded by one ingest process (a queue group)' });
  });

  test('an ack published on NATS reaches the node; one that is no ack frame is refused and counted', async () => {
    const at = nextStream();
    const { registry } = await startIngest('solo', at);
    const connection = await conns.open(nats.urls, 'raw-acks');
    const { acks } = await fakeNode('n2');
    connection.publish(ackSubject(at.subjectPrefix, SITE, 'n2'), eventPayload(1));
    connection.publish(ackSubject(at.subjectPrefix, SITE, 'n2'), encodeAck({ lane: 'samples', firstSeq: 7, lastSeq: 9 }));
    await waitFor(() => acks.length === 1, { what: 'the ack at the node' });
    assert.deepEqual(acks[0], { type: 'ack', lane: 'samples', firstSeq: 7, lastSeq: 9 });
    await waitFor(async () => /fieldmesh_queue_refused_total\{what="ack",reason="wrong-type"\} 1/.test(await registry.metrics()), {
      what: 'the event frame on the ack subject refused',
    });
  });

  test('a burst of worker acks published at once all reach MQTT, each heard and forwarded once (none dropped on the way)', async () => {
    const at = nextStream();
    const { registry } = await startIngest('burst', at);
    // One subscriber for every node's ack topic of the site, as a broker's worth of nodes would be.
    const link = await mqtt(`acks-burst-${streams}`);
    const seen = new Set<string>();
    await link.subscribe(
      commandTopic(PREFIX, SITE, '+', 'ack'),
      (m) => {
        const d = decodeWireFrame(m.payload);
        if (d.ok && d.frame.type === 'ack') seen.add(`${m.topic.split('/')[2]}:${d.frame.firstSeq}`);
      },
      { qos: 1 },
    ).ready;
    const connection = await conns.open(nats.urls, 'burst-acks');
    const NODES = 300;
    const PER_NODE = 10;
    // What several workers' acks look like at 10,000 nodes: thousands at once, far more than the broker's Receive Maximum.
    for (let seq = 1; seq <= PER_NODE; seq++)
      for (let n = 0; n < NODES; n++)
        connection.publish(ackSubject(at.subjectPrefix, SITE, `n${n}`), encodeAck({ lane: 'samples', firstSeq: seq, lastSeq: seq }));
    await connection.flush();
    await waitFor(() => seen.size === NODES * PER_NODE, { what: `${NODES * PER_NODE} acks at MQTT`, timeoutMs: 30_000 });
    const text = await registry.metrics();
    assert.equal(metricValue(text, /fieldmesh_queue_acks_received_total (\d+)/), NODES * PER_NODE, 'every ack heard from NATS');
    await waitFor(
      async () =>
        metricValue(await registry.metrics(), /fieldmesh_queue_acks_forwarded_total\{outcome="forwarded"\} (\d+)/) === NODES * PER_NODE,
      { what: 'every ack counted as forwarded' },
    );
    assert.equal(metricValue(await registry.metrics(), /fieldmesh_queue_acks_waiting (\d+)/), 0, 'none waits for the broker');
  });

  test('a resend while the frame waits in the stream is stored once; a resend after it was stored is acked again at once by the ingest tier', async () => {
    const at = nextStream();
    const { registry } = await startIngest('resend', at);
    const { link, acks } = await fakeNode('n3');
    const frame = encodeHistory(historyFrame(100, 110));
    const topic = nodeTopic(PREFIX, SITE, 'n3', 'history');
    await link.publish(topic, frame, { qos: 1 });
    await link.publish(topic, frame, { qos: 1 });
    await waitFor(async () => /outcome="duplicate"\} 1/.test(await registry.metrics()), { what: 'the resend seen as a duplicate' });
    assert.equal(acks.length, 0, 'not stored yet: no ack, not even for the duplicate');

    const handled: WorkerMessage[] = [];
    await startWorker(at, handled);
    await waitFor(() => acks.length === 1, { what: "the worker's ack" });
    // The node missed that ack (as far as it knows) and sends the range again: acked at once, not stored again.
    await link.publish(topic, frame, { qos: 1 });
    await waitFor(() => acks.length === 2, { what: 'the ack replayed for the resend' });
    assert.deepEqual(acks[1], { type: 'ack', lane: 'samples', firstSeq: 100, lastSeq: 110 });
    assert.equal(handled.length, 1, 'the worker stored the range once');
    assert.match(await registry.metrics(), /fieldmesh_queue_acks_forwarded_total\{outcome="replayed"\} 1/);
  });
});
