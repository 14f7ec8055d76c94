// Frame workers on a real nats-server with JetStream: one shared durable consumer, acked only after the handler, and
// what comes back when a worker hangs, dies (kill -9 of a worker process) or fails.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { Registry } from 'prom-client';
import {
  createFrameStream,
  createFrameWorker,
  createQueueMetrics,
  DEFAULT_CONSUMER_NAME,
  type FrameHandler,
  type FrameStream,
  type FrameWorker,
  type FrameWorkerOptions,
  queueStateReader,
  type WorkerMessage,
} from '../../src/hub/queue/index.js';
import { type NatsServerSet, startNatsServer } from '../kit/nats.js';
import { signalGroup, spawnReaped } from '../kit/reaper.js';
import { waitFor } from '../kit/wait.js';
import { appendRows, connections, MAX_BYTES } from './queue-kit.js';

const WORKER_PROCESS = fileURLToPath(new URL('./queue-worker-process.ts', import.meta.url));

describe('queue workers', () => {
  let nats: NatsServerSet;
  const conns = connections();
  const workers: FrameWorker[] = [];
  let streams = 0;

  before(async () => {
    nats = await startNatsServer();
  });
  after(async () => {
    await Promise.all(workers.map((w) => w.stop({ timeoutMs: 0 })));
    await conns.closeAll();
    await nats?.stop();
  });

  /** A fresh stream of its own per test, on a connection of the test's. */
  async function freshStream(): Promise<{ stream: FrameStream; nc: NatsConnection; prefix: string }> {
    streams++;
    const prefix = `fm-w${streams}`;
    const nc = await conns.open(nats.urls, `stream-${streams}`);
    const stream = createFrameStream({ connection: nc, name: `WORK${streams}`, subjectPrefix: prefix, maxBytes: MAX_BYTES });
    await stream.ensure();
    return { stream, nc, prefix };
  }

  /** A worker on a connection of its own, stopped after the suite. */
  async function startWorker(stream: FrameStream, handler: FrameHandler, o: Partial<FrameWorkerOptions> = {}): Promise<FrameWorker> {
    const nc = await conns.open(nats.urls, `worker-${workers.length}`);
    const worker = createFrameWorker({ connection: nc, stream: stream.name, subjectPrefix: stream.subjectPrefix, handler, ...o });
    workers.push(worker);
    await worker.start();
    return worker;
  }

  async function streamMessages(stream: FrameStream): Promise<number> {
    return (await stream.info()).state.messages;
  }

  test('two workers share one consumer: between them every message is handled once and acked, and the stream empties', async () => {
    const { stream } = await freshStream();
    const handledBy = new Map<number, string[]>();
    const handler = (name: string) => async (m: WorkerMessage) => {
      await new Promise((r) => setImmediate(r));
      handledBy.set(m.seq, [...(handledBy.get(m.seq) ?? []), name]);
    };
    await startWorker(stream, handler('a'), { concurrency: 4 });
    await startWorker(stream, handler('b'), { concurrency: 4 });
    const seqs = [...(await appendRows(stream, 'n1', 100)), ...(await appendRows(stream, 'n2', 100))];
    await waitFor(() => handledBy.size === 200, { what: '200 messages handled', timeoutMs: 20_000 });
    await waitFor(async () => (await streamMessages(stream)) === 0, { what: 'every message acked (work queue empty)' });
    assert.deepEqual(
      [...handledBy.keys()].sort((x, y) => x - y),
      seqs,
      'every stored message, none other',
    );
    const twice = [...handledBy].filter(([, by]) => by.length !== 1);
    assert.deepEqual(twice, [], 'none handled twice');
    const byA = [...handledBy.values()].filter((by) => by[0] === 'a').length;
    assert.ok(byA > 0 && byA < 200, `both workers took a share (a: ${byA}, b: ${200 - byA})`);
  });

  test('a worker whose handler never resolves takes no more, and its messages are redelivered to the other after the ack wait', async () => {
    const { stream, nc } = await freshStream();
    const stuck: WorkerMessage[] = [];
    const stuckWorker = await startWorker(
      stream,
      (m) => {
        stuck.push(m);
        return new Promise(() => {});
      },
      { concurrency: 3, ackWaitMs: 1000 },
    );
    await appendRows(stream, 'n1', 3);
    await waitFor(() => stuck.length === 3, { what: 'the stuck worker holds 3' });
    await appendRows(stream, 'n1', 3, 4);
    // The gauges: 3 in the stuck worker's hands, 3 waiting (the lag), 6 in the stream.
    const registry = new Registry();
    createQueueMetrics(registry).watch(queueStateReader(await jetstreamManager(nc), stream.name, DEFAULT_CONSUMER_NAME));
    const text = await registry.metrics();
    assert.match(text, /fieldmesh_queue_consumer_ack_pending 3\n/);
    assert.match(text, /fieldmesh_queue_consumer_pending 3\n/);
    assert.match(text, /fieldmesh_queue_stream_messages 6\n/);
    assert.match(text, /fieldmesh_queue_stream_bytes [1-9]\d*\n/);
    const handled: WorkerMessage[] = [];
    await startWorker(stream, async (m) => void handled.push(m), { concurrency: 4, ackWaitMs: 1000 });
    await waitFor(() => handled.length === 6, { what: 'the other worker handled all 6', timeoutMs: 15_000 });
    assert.equal(stuck.length, 3, 'the stuck worker took nothing more');
    const redelivered = handled.filter((m) => m.deliveries > 1).map((m) => m.seq);
    assert.deepEqual(redelivered.sort(), stuck.map((m) => m.seq).sort(), 'exactly the stuck messages came back');
    await waitFor(async () => (await streamMessages(stream)) === 0, { what: 'all acked' });
    await stuckWorker.stop({ timeoutMs: 0 });
  });

  test('a worker process killed with -9 holding messages: they are redelivered to the worker still running', async () => {
    const { stream } = await freshStream();
    const child = spawnReaped(
      process.execPath,
      [
        '--import',
        'tsx',
        WORKER_PROCESS,
        JSON.stringify({
          servers: nats.urls,
          stream: stream.name,
          subjectPrefix: stream.subjectPrefix,
          consumer: 'fieldmesh-workers',
          ackWaitMs: 1000,
          concurrency: 5,
        }),
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    const held: number[] = [];
    let started = false;
    let buffered = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      buffered += chunk.toString('utf8');
      const lines = buffered.split('\n');
      buffered = lines.pop() ?? '';
      for (const line of lines) {
        if (line === 'started') started = true;
        else if (line.startsWith('got ')) held.push(Number(line.slice(4)));
      }
    });
    try {
      await waitFor(() => started, { what: 'the worker process started', timeoutMs: 20_000 });
      await appendRows(stream, 'n1', 5);
      await waitFor(() => held.length === 5, { what: 'the worker process holds 5' });
      const handled: WorkerMessage[] = [];
      await startWorker(stream, async (m) => void handled.push(m), { ackWaitMs: 1000 });
      await appendRows(stream, 'n1', 5, 6);
      await waitFor(() => handled.length === 5, { what: 'the live worker handled the 5 new ones' });
      const exited = new Promise((r) => child.once('exit', r));
      signalGroup(child, 'SIGKILL');
      await exited;
      await waitFor(() => handled.length === 10, { what: "the killed worker's 5 redelivered", timeoutMs: 15_000 });
      const again = handled.filter((m) => m.deliveries > 1).map((m) => m.seq);
      assert.deepEqual(again.sort(), [...held].sort(), "exactly the killed worker's messages came back");
      assert.deepEqual(new Set(handled.map((m) => m.seq)).size, 10, 'each of the 10 handled once by the live worker');
      await waitFor(async () => (await streamMessages(stream)) === 0, { what: 'all acked' });
    } finally {
      signalGroup(child, 'SIGKILL');
    }
  });

  test('a handler that throws: the message is nak-ed and handled again after the delay; the redelivery is counted', async () => {
    const { stream } = await freshStream();
    const registry = new Registry();
    const metrics = createQueueMetrics(registry);
    const calls = new Map<number, number>();
    await startWorker(
      stream,
      async (m) => {
        calls.set(m.seq, (calls.get(m.seq) ?? 0) + 1);
        if (m.deliveries === 1) throw new Error('storage unavailable');
      },
      { nakDelayMs: 50, metrics },
    );
    await appendRows(stream, 'n1', 10);
    await waitFor(() => [...calls.values()].filter((n) => n === 2).length === 10, { what: 'each of 10 handled twice' });
    await waitFor(async () => (await streamMessages(stream)) === 0, { what: 'all acked after the second try' });
    assert.deepEqual([...calls.values()], Array(10).fill(2), 'no third delivery');
    const text = await registry.metrics();
    assert.match(text, /fieldmesh_queue_messages_handled_total\{channel="history",outcome="nak"\} 10/);
    assert.match(text, /fieldmesh_queue_messages_handled_total\{channel="history",outcome="acked"\} 10/);
    assert.match(text, /fieldmesh_queue_redeliveries_total\{channel="history"\} 10/);
  });

  test('a message whose handler fails on every delivery is given up after max deliver and counted as a dead letter; it stays in the stream', async () => {
    const { stream } = await freshStream();
    const registry = new Registry();
    const metrics = createQueueMetrics(registry);
    let calls = 0;
    await startWorker(
      stream,
      async () => {
        calls++;
        throw new Error('poison');
      },
      { nakDelayMs: 20, maxDeliver: 3, metrics },
    );
    await appendRows(stream, 'n1', 1);
    await waitFor(async () => /fieldmesh_queue_dead_letters_total\{reason="max-deliveries"\} 1/.test(await registry.metrics()), {
      what: 'one dead letter counted',
      timeoutMs: 10_000,
    });
    assert.equal(calls, 3, 'delivered exactly max deliver times');
    assert.equal(await streamMessages(stream), 1, 'the dead letter is still readable in the stream');
  });
});
