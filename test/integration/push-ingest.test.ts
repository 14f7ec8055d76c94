// The ingest tier's HTTP push APIs on real servers (docs/scale-out.md "Pushes straight to the ingest tier"): a probe
// pushes `POST /events` and line protocol straight to an ingest process (a real Mosquitto, nats-server and PostgreSQL),
// a worker stores them in PostgreSQL; 2xx only once JetStream has the push (NATS stopped: 503), a resend stored once,
// bad input refused with what and where, and counted.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createPostgresStorage } from '../../src/hub/storage/postgres/postgres-storage.js';
import { waitFor } from '../kit/wait.js';
import { startScaleOutRig } from './scale-out-rig.js';

const TOKEN = 'site-lab-push-token-0123456789';
const PINNED = 'probe-7-push-token-0123456789ab';
/** The ingest tier's push settings, on every process of the rig. */
const EXTRA = {
  ingest: {
    maxBodyBytes: 4096,
    tokens: [
      { token: TOKEN, site: 'lab' },
      { token: PINNED, site: 'lab', node: 'probe-7', zone: 'east' },
    ],
  },
};

test('push ingest: pushes straight to the ingest tier are acknowledged once JetStream has them, stored by a worker once, refused by name when bad, and answered 503 without NATS', async () => {
  const rig = await startScaleOutRig();
  const { nats, url } = rig;
  const storages: { close(): Promise<void> }[] = [];
  try {
    const ingest = await rig.open(['ingest'], EXTRA);
    await rig.open(['worker'], EXTRA);
    const storage = await createPostgresStorage({ url, retentionMs: 30 * 86_400_000 });
    storages.push(storage);
    const now = Date.now();
    const post = (path: string, body: string, headers: Record<string, string> = {}) =>
      ingest.app.inject({ method: 'POST', url: path, payload: body, headers: { authorization: `Bearer ${TOKEN}`, ...headers } });
    const series = async (name: string) => {
      const found = await storage.querySeries([{ name: '__name__', op: '=', value: name }], now - 3_600_000, now + 60_000);
      return found.flatMap((s) => s.points.map(([ts, v]) => ({ labels: s.series.labels, ts, v })));
    };

    // POST /events: samples and an event of probe-3 (named by ?node=), times given, so a resend is the same push.
    const body = JSON.stringify([
      { time: now - 2000, labels: { path: 'wan' }, metrics: { rtt_seconds: 0.042, loss_ratio: 0.01 } },
      { time: now - 1000, kind: 'link_down', priority: 'high', reason: 'carrier lost' },
    ]);
    const first = await post('/events?node=probe-3', body);
    assert.equal(first.statusCode, 200, first.body);
    assert.deepEqual(first.json(), { accepted: { samples: 2, events: 1 }, duplicate: false });
    await waitFor(async () => (await series('rtt_seconds')).length === 1, { what: 'the pushed samples stored by the worker' });
    const [rtt] = await series('rtt_seconds');
    assert.deepEqual(rtt, { labels: { path: 'wan', site: 'lab', node: 'probe-3', zone: '' }, ts: now - 2000, v: 0.042 });
    await waitFor(async () => (await storage.queryEvents({ site: 'lab', node: 'probe-3', limit: 10 })).length === 1, {
      what: 'the pushed event stored',
    });

    // The same push again (its answer lost, say): acknowledged, a duplicate, stored once.
    const again = await post('/events?node=probe-3', body);
    assert.equal(again.statusCode, 200);
    assert.equal(again.json().duplicate, true);
    // Line protocol of the pinned token's node: once it is stored, the resend before it has been through the stream.
    const lp = await ingest.app.inject({
      method: 'POST',
      url: '/api/v2/write?precision=ms',
      payload: `weather,station=roof temperature=21.5,humidity=40i ${now - 500}\n`,
      headers: { authorization: `Token ${PINNED}` },
    });
    assert.equal(lp.statusCode, 204, lp.body);
    await waitFor(async () => (await series('weather_temperature')).length === 1, { what: 'the line-protocol push stored' });
    const [temp] = await series('weather_temperature');
    assert.deepEqual(temp?.labels, { station: 'roof', site: 'lab', node: 'probe-7', zone: 'east' });
    assert.equal((await series('rtt_seconds')).length, 1, 'the resend was stored once');
    const events = await storage.queryEvents({ site: 'lab', node: 'probe-3', limit: 10 });
    assert.equal(events.length, 1);
    assert.equal(events[0]?.kind, 'link_down');
    assert.equal(JSON.parse(new TextDecoder().decode(events[0]?.payload)).reason, 'carrier lost');

    // Bad input: named and counted.
    const noToken = await ingest.app.inject({ method: 'POST', url: '/events?node=p', payload: '{}' });
    assert.equal(noToken.statusCode, 401);
    assert.equal(noToken.json().code, 'FM_PUSH_UNAUTHORIZED');
    const noNode = await post('/events', '{"metrics":{"x":1}}');
    assert.equal(noNode.statusCode, 400);
    assert.match(noNode.json().message, /^node: .*\?node=/);
    const badField = await post('/events?node=probe-3', '[{"metrics":{"x":1}},{"metrics":{"rtt":"fast"}}]');
    assert.equal(badField.statusCode, 400);
    assert.equal(badField.json().message, '[1].metrics.rtt: expected a number');
    const badLine = await post('/write?node=probe-3', 'ok value=1\nbroken value=\n', { 'content-type': 'text/plain' });
    assert.equal(badLine.statusCode, 400);
    assert.equal(badLine.json().line, 2);
    assert.match(badLine.json().message, /^line 2, column \d+: /);
    const tooLarge = await post('/events?node=probe-3', JSON.stringify({ metrics: { x: 1 }, pad: 'x'.repeat(5000) }), {
      'content-type': 'application/json',
    });
    assert.equal(tooLarge.statusCode, 413);
    const encoded = await post('/events?node=probe-3', '{}', { 'content-encoding': 'br' });
    assert.equal(encoded.statusCode, 415);
    const detection = await post('/events?node=probe-3', '{"kind":"detection","camera":"c","class":"fire","confidence":0.9}');
    assert.equal(detection.statusCode, 400);
    assert.match(detection.json().message, /^kind: a detection goes to a node/);
    const metrics = await ingest.metrics.registry.metrics();
    assert.match(metrics, /fieldmesh_queue_push_refused_total\{api="events",reason="unauthorized"\} 1/);
    assert.match(metrics, /fieldmesh_queue_push_refused_total\{api="events",reason="invalid"\} 3/);
    assert.match(metrics, /fieldmesh_queue_push_refused_total\{api="influx",reason="invalid"\} 1/);
    assert.match(metrics, /fieldmesh_queue_pushes_total\{api="events",outcome="duplicate"\} 1/);

    // NATS gone: nothing is acknowledged that JetStream does not have.
    await nats.stop();
    const down = await post('/events?node=probe-3', JSON.stringify({ time: now, metrics: { rtt_seconds: 0.5 } }));
    assert.equal(down.statusCode, 503, down.body);
    assert.equal(down.json().code, 'FM_QUEUE_UNAVAILABLE');
    assert.equal(down.headers['retry-after'], '1');
  } finally {
    for (const s of storages) await s.close().catch(() => {});
    await rig.close();
  }
});
