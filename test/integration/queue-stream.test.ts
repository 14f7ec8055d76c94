// The frame stream on a real nats-server with JetStream: appends resolve once stored, a message id is stored once.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Registry } from 'prom-client';
import { createFrameStream, createQueueMetrics } from '../../src/hub/queue/index.js';
import { decodeWireFrame } from '../../src/protocol/index.js';
import { type NatsServerSet, startNatsServer } from '../kit/nats.js';
import { appendRows, connections, eventPayload, historyMessage, MAX_BYTES, SITE } from './queue-kit.js';

describe('queue stream', () => {
  let nats: NatsServerSet;
  const conns = connections();
  before(async () => {
    nats = await startNatsServer();
  });
  after(async () => {
    await conns.closeAll();
    await nats?.stop();
  });

  test('an append resolves once JetStream stored it; the same message id again is a duplicate, stored once', async () => {
    const nc = await conns.open(nats.urls, 'append-test');
    const registry = new Registry();
    const metrics = createQueueMetrics(registry);
    const stream = createFrameStream({ connection: nc, name: 'APPEND', subjectPrefix: 'fm-append', maxBytes: MAX_BYTES, metrics });
    const info = await stream.ensure();
    assert.equal(info.config.retention, 'workqueue');
    assert.equal(info.config.num_replicas, 1);

    const seqs = await appendRows(stream, 'n1', 5);
    assert.deepEqual(seqs, [1, 2, 3, 4, 5], 'each append resolves with its stream sequence');
    // A node resending rows 2..2 (its ack was lost) and 4..4: same ids, inside the window.
    const again = historyMessage('n1', 2, 2);
    const dup = await stream.append(again.message, again.msgId);
    assert.deepEqual(dup, { seq: 2, duplicate: true }, 'the resend points at the stored message');
    const other = historyMessage('n2', 2, 2);
    assert.equal((await stream.append(other.message, other.msgId)).duplicate, false, 'another node, same range: not a duplicate');

    const state = (await stream.info()).state;
    assert.equal(state.messages, 6, 'five of n1, one of n2; the resend was not stored');
    const text = await registry.metrics();
    assert.match(text, /fieldmesh_queue_appends_total\{channel="history",outcome="stored"\} 6/);
    assert.match(text, /fieldmesh_queue_appends_total\{channel="history",outcome="duplicate"\} 1/);
    assert.match(text, /fieldmesh_queue_append_seconds_count 7/);
  });

  test('the stream holds the frame bytes on <prefix>.<site>.<node>.<channel> with the MQTT topic and receive time', async () => {
    const nc = await conns.open(nats.urls, 'layout-test');
    const stream = createFrameStream({ connection: nc, name: 'LAYOUT', subjectPrefix: 'acme.fm', maxBytes: MAX_BYTES });
    await stream.ensure();
    const receivedAt = Date.now() - 1234;
    const payload = eventPayload(7);
    const ack = await stream.append(
      { site: SITE, node: 'pump-1', channel: 'event', topic: `fieldmesh/${SITE}/pump-1/event`, payload, receivedAt },
      `${SITE}/pump-1/1/events/7-7`,
    );
    const { jetstreamManager } = await import('@nats-io/jetstream');
    const stored = await (await jetstreamManager(nc)).streams.getMessage('LAYOUT', { seq: ack.seq });
    assert.ok(stored);
    assert.equal(stored.subject, `acme.fm.${SITE}.pump-1.event`);
    assert.deepEqual(stored.data, payload);
    assert.equal(stored.header.get('Nats-Msg-Id'), `${SITE}/pump-1/1/events/7-7`);
    assert.equal(stored.header.get('Fieldmesh-Topic'), `fieldmesh/${SITE}/pump-1/event`);
    assert.equal(stored.header.get('Fieldmesh-Received-At'), String(receivedAt));
    const decoded = decodeWireFrame(stored.data);
    assert.ok(decoded.ok && decoded.frame.type === 'event' && decoded.frame.seq === 7);
  });

  test('ensure brings an existing stream up to date: a second ensure with new limits changes them, the messages stay', async () => {
    const nc = await conns.open(nats.urls, 'update-test');
    const first = createFrameStream({
      connection: nc,
      name: 'UPDATE',
      subjectPrefix: 'fm-update',
      maxBytes: MAX_BYTES,
      duplicateWindowMs: 60_000,
    });
    await first.ensure();
    await appendRows(first, 'n1', 3);
    const second = createFrameStream({
      connection: nc,
      name: 'UPDATE',
      subjectPrefix: 'fm-update',
      maxBytes: MAX_BYTES,
      duplicateWindowMs: 30_000,
      maxAgeMs: 3_600_000,
    });
    const info = await second.ensure();
    assert.equal(info.config.duplicate_window, 30_000 * 1e6);
    assert.equal(info.config.max_age, 3_600_000 * 1e6);
    assert.equal(info.state.messages, 3);
  });
});
