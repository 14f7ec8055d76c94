// Remote write into the embedded (SQLite, one-process) hub: Debian's Prometheus 2.42 scraping a target and
// remote-writing to the hub's POST /api/v1/write with an ingest.tokens bearer token; the hub's storage holds exactly
// the raw samples Prometheus holds, with the token's site, node and zone. Bad bodies are refused with 400 naming what
// is wrong, a missing token with 401, both counted.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { createHub, type Hub, hubConfigSchema } from '../../src/hub/index.js';
import { createSqliteStorage } from '../../src/hub/storage/sqlite/sqlite-storage.js';
import type { HubStorage } from '../../src/hub/storage/storage.js';
import { encodeWriteRequest, REMOTE_WRITE_HEADERS } from '../../src/protocol/remote-write/index.js';
import { createMemoryTransport, MemoryBroker } from '../../src/transport/index.js';
import { type PrometheusServer, rawSamplesByProbe, startRemoteWritingPrometheus } from '../kit/prometheus.js';
import { waitFor } from '../kit/wait.js';

const TOKEN = 'embedded-hub-remote-write-token';
let dir: string;
let storage: HubStorage;
let hub: Hub;
let hubUrl: string;
let target: Server;
let prometheus: PrometheusServer | undefined;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'fieldmesh-rw-hub-in-'));
  storage = createSqliteStorage({ path: join(dir, 'hub.db'), retentionMs: 86_400_000 });
  hub = createHub(
    hubConfigSchema.parse({
      dataDir: dir,
      http: { host: '127.0.0.1', port: 0 },
      storage: { path: join(dir, 'hub.db') },
      ingest: { tokens: [{ token: TOKEN, site: 's1', node: 'prom', zone: 'z1' }] },
    }),
    { transport: createMemoryTransport(new MemoryBroker(), { clientId: 'hub' }), storage },
  );
  hubUrl = (await hub.start()).httpUrl;
  let scrapes = 0;
  // A value that changes every scrape, so every sample is told apart.
  target = createServer((_req, res) => {
    scrapes++;
    res.setHeader('content-type', 'text/plain; version=0.0.4');
    res.end(`# TYPE fm_probe_value gauge\nfm_probe_value{probe="a"} ${scrapes}\nfm_probe_value{probe="b"} ${-scrapes}\n`);
  });
  await new Promise<void>((resolve) => target.listen(0, '127.0.0.1', resolve));
});

after(async () => {
  await prometheus?.close();
  await new Promise((resolve) => target?.close(resolve));
  await hub?.stop();
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
});

test("Prometheus' remote_write reaches the embedded hub's /api/v1/write: every sample it holds is stored exactly", async () => {
  const targetPort = (target.address() as AddressInfo).port;
  prometheus = await startRemoteWritingPrometheus({ targetPort, writeUrl: `${hubUrl}/api/v1/write`, token: TOKEN });
  const server = prometheus;
  const atMs = Date.now();
  const held = await rawSamplesByProbe(server.url, 'fm_probe_value[10m]', atMs);
  assert.equal(held.size, 2);
  const stored = async () => {
    const out = new Map<string, string[]>();
    for (const { series, points } of await storage.querySeries(
      [{ name: '__name__', op: '=', value: 'fm_probe_value' }],
      atMs - 600_000,
      atMs,
    ))
      out.set(series.labels.probe as string, points.map(([t, v]) => `${t}=${v}`).sort());
    return out;
  };
  let got = new Map<string, string[]>();
  await waitFor(
    async () => {
      got = await stored();
      return JSON.stringify([...got].sort()) === JSON.stringify([...held].sort());
    },
    { what: 'the hub to hold what Prometheus holds', timeoutMs: 30_000, intervalMs: 200 },
  ).catch(() => undefined);
  assert.deepEqual([...got].sort(), [...held].sort());
  const [one] = await storage.listSeries([{ name: '__name__', op: '=', value: 'fm_probe_value' }]);
  assert.equal(one?.labels.site, 's1');
  assert.equal(one?.labels.node, 'prom');
  assert.equal(one?.labels.zone, 'z1');
  assert.equal(one?.labels.job, 'probe');
});

test('the embedded hub refuses a body that is not snappy with 400 naming the byte, and one without a token with 401, counted', async () => {
  const headers = { ...REMOTE_WRITE_HEADERS, authorization: `Bearer ${TOKEN}` };
  const bad = await fetch(`${hubUrl}/api/v1/write`, {
    method: 'POST',
    headers,
    body: new Uint8Array([0xff, 0xff, 0xff, 0xff, 0xff, 0xff]),
  });
  assert.equal(bad.status, 400);
  const body = (await bad.json()) as { code: string; message: string };
  assert.equal(body.code, 'FM_REMOTE_WRITE_INVALID');
  assert.match(body.message, /snappy.*at byte 5/);
  const nameless = await fetch(`${hubUrl}/api/v1/write`, {
    method: 'POST',
    headers,
    body: encodeWriteRequest({ timeseries: [{ labels: { job: 'x' }, samples: [{ timestampMs: Date.now(), value: 1 }] }] }),
  });
  assert.equal(nameless.status, 400);
  assert.match(((await nameless.json()) as { message: string }).message, /timeseries\[0\] has no __name__/);
  const anonymous = await fetch(`${hubUrl}/api/v1/write`, {
    method: 'POST',
    headers: REMOTE_WRITE_HEADERS,
    body: encodeWriteRequest({ timeseries: [] }),
  });
  assert.equal(anonymous.status, 401);
  const metrics = await (await fetch(`${hubUrl}/metrics`)).text();
  assert.match(metrics, /fieldmesh_queue_push_refused_total\{api="remote-write",reason="invalid"\} 2/);
  assert.match(metrics, /fieldmesh_queue_push_refused_total\{api="remote-write",reason="unauthorized"\} 1/);
});
