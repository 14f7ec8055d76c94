// Prometheus' own remote_write (Debian's prometheus 2.42) sending to a fieldmesh node's `remote_write` collector: what
// Prometheus scraped and holds is what the node stores, sample for sample; a body that is not remote write is
// refused with 400 naming what is wrong, and a missing token with 401.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { type Agent, agentConfigSchema, createAgent } from '../../src/agent/index.js';
import { encodeWriteRequest, REMOTE_WRITE_HEADERS } from '../../src/protocol/remote-write/index.js';
import { type PrometheusServer, rawSamplesByProbe, startRemoteWritingPrometheus } from '../kit/prometheus.js';
import { startVmagent } from '../kit/victoria-metrics.js';
import { waitFor } from '../kit/wait.js';

const TOKEN = 'remote-write-test-token';
let dir: string;
let agent: Agent;
let agentUrl: string;
let target: Server;
let prometheus: PrometheusServer | undefined;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'fieldmesh-rw-in-'));
  const config = agentConfigSchema.parse({
    dataDir: dir,
    node: { id: 'n1', site: 's1' },
    mqtt: { enabled: false },
    http: { host: '127.0.0.1', port: 0 },
    collectors: [{ type: 'remote_write', token: TOKEN }],
  });
  agent = createAgent(config, { fallbackToFreePort: true });
  const started = await agent.start();
  agentUrl = started.httpUrl as string;
  let scrapes = 0;
  let vmagentScrapes = 0;
  // A scrape target whose value changes every scrape, so every sample is told apart; vmagent scrapes /vmagent.
  target = createServer((req, res) => {
    res.setHeader('content-type', 'text/plain; version=0.0.4');
    if (req.url === '/vmagent') {
      vmagentScrapes++;
      res.end(`# TYPE fm_vmagent_value gauge\nfm_vmagent_value ${vmagentScrapes}\n`);
      return;
    }
    scrapes++;
    res.end(`# TYPE fm_probe_value gauge\nfm_probe_value{probe="a"} ${scrapes}\nfm_probe_value{probe="b"} ${-scrapes}\n`);
  });
  await new Promise<void>((resolve) => target.listen(0, '127.0.0.1', resolve));
});

after(async () => {
  await prometheus?.close();
  await new Promise((resolve) => target?.close(resolve));
  await agent?.stop();
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
});

test("Prometheus' remote_write reaches a node's /api/v1/write and every sample it holds is stored exactly", async () => {
  const targetPort = (target.address() as AddressInfo).port;
  prometheus = await startRemoteWritingPrometheus({ targetPort, writeUrl: `${agentUrl}/api/v1/write`, token: TOKEN });
  const server = prometheus;
  const atMs = Date.now();
  const held = await rawSamplesByProbe(server.url, 'fm_probe_value[10m]', atMs);
  assert.equal(held.size, 2);
  // The node has every one of them once its store answers the same raw samples for the same window.
  let stored = new Map<string, string[]>();
  await waitFor(
    async () => {
      stored = await rawSamplesByProbe(agentUrl, 'fm_probe_value[10m]', atMs);
      return JSON.stringify([...stored].sort()) === JSON.stringify([...held].sort());
    },
    { what: 'the node to hold what Prometheus holds', timeoutMs: 30_000, intervalMs: 200 },
  ).catch(() => undefined);
  assert.deepEqual([...stored].sort(), [...held].sort());
  const series = await fetch(`${agentUrl}/api/v1/series?${new URLSearchParams({ 'match[]': 'fm_probe_value' })}`);
  const labels = ((await series.json()) as { data: Array<Record<string, string>> }).data[0];
  assert.equal(labels?.job, 'probe', JSON.stringify(labels));
});

test('a node refuses a remote write body that is not snappy with 400 naming the byte, and one without a token with 401', async () => {
  const headers = { ...REMOTE_WRITE_HEADERS, authorization: `Bearer ${TOKEN}` };
  const bad = await fetch(`${agentUrl}/api/v1/write`, {
    method: 'POST',
    headers,
    body: new Uint8Array([0xff, 0xff, 0xff, 0xff, 0xff, 0xff]),
  });
  assert.equal(bad.status, 400);
  const body = (await bad.json()) as { code: string; message: string; offset?: number };
  assert.equal(body.code, 'FM_REMOTE_WRITE_INVALID');
  assert.match(body.message, /snappy.*at byte 5/);
  const nameless = await fetch(`${agentUrl}/api/v1/write`, {
    method: 'POST',
    headers,
    body: encodeWriteRequest({ timeseries: [{ labels: { job: 'x' }, samples: [{ timestampMs: Date.now(), value: 1 }] }] }),
  });
  assert.equal(nameless.status, 400);
  assert.match(((await nameless.json()) as { message: string }).message, /timeseries\[0\] has no __name__/);
  const anonymous = await fetch(`${agentUrl}/api/v1/write`, {
    method: 'POST',
    headers: REMOTE_WRITE_HEADERS,
    body: encodeWriteRequest({ timeseries: [] }),
  });
  assert.equal(anonymous.status, 401);
});

test("vmagent's remote write reaches a node's /api/v1/write: every scrape's sample stored once, none missing", async (t) => {
  const targetPort = (target.address() as AddressInfo).port;
  const dirOfConfig = mkdtempSync(join(tmpdir(), 'fieldmesh-vmagent-conf-'));
  const scrapeConfig = join(dirOfConfig, 'scrape.yml');
  writeFileSync(
    scrapeConfig,
    [
      'scrape_configs:',
      '  - job_name: vmprobe',
      '    scrape_interval: 1s',
      '    metrics_path: /vmagent',
      '    static_configs:',
      `      - targets: ['127.0.0.1:${targetPort}']`,
      '',
    ].join('\n'),
  );
  const vmagent = await startVmagent([
    `-promscrape.config=${scrapeConfig}`,
    `-remoteWrite.url=${agentUrl}/api/v1/write`,
    `-remoteWrite.bearerToken=${TOKEN}`,
    '-remoteWrite.flushInterval=200ms',
  ]);
  t.after(async () => {
    await vmagent.close();
    rmSync(dirOfConfig, { recursive: true, force: true });
  });
  const values = async () => {
    const res = await fetch(
      `${agentUrl}/api/v1/query?${new URLSearchParams({ query: 'fm_vmagent_value[10m]', time: String(Date.now() / 1000) })}`,
    );
    const body = (await res.json()) as { data: { result: Array<{ values: Array<[number, string]> }> } };
    return (body.data.result[0]?.values ?? []).map(([, v]) => Number(v));
  };
  await waitFor(async () => (await values()).length >= 5, {
    what: "five of vmagent's scrapes stored by the node",
    timeoutMs: 30_000,
    intervalMs: 200,
  });
  // The target's value counts its scrapes: the node holds 1, 2, 3, ... each once, none skipped.
  const held = await values();
  assert.deepEqual(
    held,
    Array.from({ length: held.length }, (_, i) => i + 1),
  );
});
