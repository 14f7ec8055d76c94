// Remote write into a scale-out hub: `POST /api/v1/write` at an ingest process (real Mosquitto, nats-server and
// PostgreSQL) goes through the push stream like the other pushes; a worker stores every sample with the token's site
// and node; a bad body is refused with 400 naming what and where, a missing token with 401, another encoding with 415.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createPostgresStorage } from '../../src/hub/storage/postgres/postgres-storage.js';
import { encodeWriteRequest, REMOTE_WRITE_HEADERS } from '../../src/protocol/remote-write/index.js';
import { waitFor } from '../kit/wait.js';
import { startScaleOutRig } from './scale-out-rig.js';

const PINNED = 'probe-7-push-token-0123456789ab';
/** The ingest token of the probe, on every process of the rig. */
const EXTRA = { ingest: { tokens: [{ token: PINNED, site: 'lab', node: 'probe-7', zone: 'east' }] } };

test('remote write into the ingest tier: stored by a worker exactly, bad bodies refused by name', async () => {
  const rig = await startScaleOutRig();
  const { url } = rig;
  const storage = { current: undefined as undefined | { close(): Promise<void> } };
  try {
    const ingest = await rig.open(['ingest'], EXTRA);
    await rig.open(['worker'], EXTRA);
    const pgStorage = await createPostgresStorage({ url, retentionMs: 30 * 86_400_000 });
    storage.current = pgStorage;
    const now = Date.now();
    const post = (body: Uint8Array, headers: Record<string, string> = { ...REMOTE_WRITE_HEADERS, authorization: `Bearer ${PINNED}` }) =>
      ingest.app.inject({ method: 'POST', url: '/api/v1/write', payload: Buffer.from(body), headers });
    const timeseries = Array.from({ length: 3 }, (_, s) => ({
      labels: { __name__: 'pv_power_watts', string_no: String(s) },
      samples: Array.from({ length: 100 }, (_, i) => ({ timestampMs: now - 100_000 + i * 1000, value: s * 1000 + i })),
    }));
    const res = await post(encodeWriteRequest({ timeseries }));
    assert.equal(res.statusCode, 204, res.body);
    const stored = async () => {
      const found = await pgStorage.querySeries([{ name: '__name__', op: '=', value: 'pv_power_watts' }], now - 3_600_000, now + 60_000);
      return found;
    };
    await waitFor(async () => (await stored()).reduce((n, s) => n + s.points.length, 0) === 300, {
      what: '300 samples stored by the worker',
      timeoutMs: 20_000,
    });
    const found = await stored();
    assert.equal(found.length, 3);
    for (const s of found) {
      assert.equal(s.series.labels.site, 'lab');
      assert.equal(s.series.labels.node, 'probe-7');
      const no = Number(s.series.labels.string_no);
      assert.deepEqual(
        s.points.map(([, v]) => v),
        Array.from({ length: 100 }, (_, i) => no * 1000 + i),
      );
    }

    const bad = await post(new Uint8Array([0xff, 0xff, 0xff, 0xff, 0xff, 0xff]));
    assert.equal(bad.statusCode, 400);
    assert.equal(bad.json().code, 'FM_REMOTE_WRITE_INVALID');
    assert.match(bad.json().message, /snappy.*at byte 5/);
    const nameless = await post(encodeWriteRequest({ timeseries: [{ labels: { a: 'b' }, samples: [{ timestampMs: now, value: 1 }] }] }));
    assert.equal(nameless.statusCode, 400);
    assert.match(nameless.json().message, /timeseries\[0\] has no __name__/);
    const anonymous = await post(encodeWriteRequest({ timeseries }), { ...REMOTE_WRITE_HEADERS });
    assert.equal(anonymous.statusCode, 401);
    const gzip = await post(encodeWriteRequest({ timeseries }), {
      ...REMOTE_WRITE_HEADERS,
      'content-encoding': 'gzip',
      authorization: `Bearer ${PINNED}`,
    });
    assert.equal(gzip.statusCode, 415);
    const metrics = await ingest.app.inject({ method: 'GET', url: '/metrics' });
    assert.match(metrics.body, /fieldmesh_queue_push_refused_total\{api="remote-write",reason="invalid"\} 2/);
    assert.match(metrics.body, /fieldmesh_queue_pushed_samples_total\{api="remote-write"\} 300/);
  } finally {
    await storage.current?.close();
    await rig.close();
  }
});
