// The forwarder against a local HTTP receiver whose answers the test scripts: retry on 5xx with backoff, Retry-After of
// a 429 honoured, a 4xx batch dropped (counted, the receiver's message logged) and the cursor moved past it, series
// split among shards with each series' order kept.

import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { type Logger, systemClock } from '../../kit/index.js';
import { createRemoteWriteForwarder, type RemoteWriteMetrics, retryAfterMs } from './forwarder.js';
import { decodeWriteRequest, type RemoteSeries } from './write-request.js';

interface Received {
  readonly at: number;
  readonly series: readonly RemoteSeries[];
}

async function receiver(answer: (n: number, req: IncomingMessage) => { status: number; headers?: Record<string, string>; body?: string }) {
  const received: Received[] = [];
  let n = 0;
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const a = answer(n++, req);
      if (a.status < 300) received.push({ at: performance.now(), series: decodeWriteRequest(Buffer.concat(chunks), 1 << 24).timeseries });
      res.writeHead(a.status, a.headers ?? {});
      res.end(a.body ?? '');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/v1/write`;
  return { url, received, close: () => new Promise((resolve) => server.close(resolve)), requests: () => n };
}

function counters() {
  const c = { sent: 0, failed: 0, retried: 0, dropped: 0, outOfOrder: 0, highest: 0, shards: 0 };
  const metrics: RemoteWriteMetrics = {
    sent: (n) => {
      c.sent += n;
    },
    failed: (n) => {
      c.failed += n;
    },
    retried: (n) => {
      c.retried += n;
    },
    dropped: (n) => {
      c.dropped += n;
    },
    droppedOutOfOrder: (n) => {
      c.outOfOrder += n;
    },
    highestSent: (ms) => {
      c.highest = Math.max(c.highest, ms);
    },
    pending: () => {},
    shards: (n) => {
      c.shards = Math.max(c.shards, n);
    },
  };
  return { c, metrics };
}

function memoryCursor() {
  let saved: number | undefined;
  return {
    store: {
      load: async () => saved,
      save: async (ms: number) => {
        saved = ms;
      },
    },
    get saved() {
      return saved;
    },
  };
}

const errors: string[] = [];
const logger: Logger = {
  debug() {},
  info() {},
  warn() {},
  error: (_obj, msg) => {
    errors.push(`${msg} ${JSON.stringify(_obj)}`);
  },
  child: () => logger,
};

function forwarder(
  url: string,
  series: RemoteSeries[],
  metrics: RemoteWriteMetrics,
  cursor: ReturnType<typeof memoryCursor>,
  shards = 1,
  perSend = 1000,
) {
  const start = Math.min(...series.flatMap((s) => s.samples.map((p) => p.timestampMs))) - 1;
  return createRemoteWriteForwarder({
    name: 'test',
    url,
    queue: { maxSamplesPerSend: perSend, maxShards: shards, batchSendDeadlineMs: 20, minBackoffMs: 10, maxBackoffMs: 50 },
    remoteTimeoutMs: 5000,
    startMs: start,
    settleMs: 0,
    source: {
      async read(from, to) {
        return series
          .map((s) => ({ labels: s.labels, samples: s.samples.filter((p) => p.timestampMs >= from && p.timestampMs <= to) }))
          .filter((s) => s.samples.length > 0);
      },
    },
    cursor: cursor.store,
    metrics,
    clock: systemClock,
    logger,
  });
}

const T = Date.now() - 30_000;
const oneSeries = (name: string, n: number): RemoteSeries => ({
  labels: { __name__: name },
  samples: Array.from({ length: n }, (_, i) => ({ timestampMs: T + i * 10, value: i })),
});

test('remote write forwarder retries 5xx with backoff and counts the samples failed and retried', async () => {
  const r = await receiver((n) => (n < 2 ? { status: 503, body: 'busy' } : { status: 204 }));
  const { c, metrics } = counters();
  const cursor = memoryCursor();
  const f = forwarder(r.url, [oneSeries('a', 100)], metrics, cursor);
  await f.start();
  await f.waitForCursor(T + 990);
  await f.stop();
  await r.close();
  assert.equal(r.requests(), 3);
  assert.deepEqual(
    { sent: c.sent, failed: c.failed, retried: c.retried, dropped: c.dropped },
    { sent: 100, failed: 200, retried: 200, dropped: 0 },
  );
  assert.equal(c.highest, T + 990);
});

test('remote write forwarder waits as long as a 429 Retry-After says', async () => {
  const r = await receiver((n) => (n === 0 ? { status: 429, headers: { 'retry-after': '1' } } : { status: 204 }));
  const { c, metrics } = counters();
  const f = forwarder(r.url, [oneSeries('a', 10)], metrics, memoryCursor());
  const t0 = performance.now();
  await f.start();
  await f.waitForCursor(T + 90);
  await f.stop();
  await r.close();
  assert.equal(c.sent, 10);
  assert.ok((r.received[0]?.at ?? 0) - t0 >= 990, `resent after ${(r.received[0]?.at ?? 0) - t0} ms`);
});

test("remote write forwarder drops a batch refused with 400, counts it, logs the receiver's message and moves on", async () => {
  errors.length = 0;
  const r = await receiver((n) => (n === 0 ? { status: 400, body: 'out of order sample' } : { status: 204 }));
  const { c, metrics } = counters();
  const cursor = memoryCursor();
  const f = forwarder(r.url, [oneSeries('a', 10), oneSeries('b', 10)], metrics, cursor, 1, 10);
  await f.start();
  await f.waitForCursor(T + 90);
  await f.stop();
  await r.close();
  assert.equal(c.dropped, 10);
  assert.equal(c.outOfOrder, 10, 'the refusal named out of order samples');
  assert.equal(c.sent, 10);
  assert.equal(r.requests(), 2, 'a refused batch is not retried');
  assert.ok(
    errors.some((e) => e.includes('out of order sample') && e.includes('400')),
    errors.join('\n'),
  );
  assert.ok((cursor.saved ?? 0) >= T + 90);
});

test('remote write forwarder shards series by hash and keeps each series in order across requests', async () => {
  const r = await receiver(() => ({ status: 204 }));
  const { c, metrics } = counters();
  const series = Array.from({ length: 20 }, (_, i) => oneSeries(`s${i}`, 100));
  const f = forwarder(r.url, series, metrics, memoryCursor(), 4, 50);
  await f.start();
  await f.waitForCursor(T + 990);
  await f.stop();
  await r.close();
  assert.equal(c.sent, 2000);
  assert.equal(c.shards, 4);
  const seen = new Map<string, number[]>();
  for (const req of r.received)
    for (const s of req.series)
      seen.set(s.labels.__name__ as string, [...(seen.get(s.labels.__name__ as string) ?? []), ...s.samples.map((p) => p.timestampMs)]);
  assert.equal(seen.size, 20);
  for (const [name, times] of seen) {
    assert.equal(times.length, 100, name);
    assert.deepEqual(
      times,
      [...times].sort((a, b) => a - b),
      `${name} out of order`,
    );
  }
});

test('Retry-After is read as seconds or an HTTP date', () => {
  assert.equal(retryAfterMs('3', 0), 3000);
  assert.equal(retryAfterMs(new Date(10_000).toUTCString(), 4_000), 6000);
  assert.equal(retryAfterMs(null, 0), undefined);
  assert.equal(retryAfterMs('soon', 0), undefined);
});
