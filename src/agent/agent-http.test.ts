// The agent's HTTP face with real collectors from node.yaml: pushes are answered after they are
// recorded, bad pushes get 401/413/400 and a counter, and good traffic is not disturbed.
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { waitFor } from '../../test/kit/wait.js';
import { createMemoryTransport, MemoryBroker } from '../transport/index.js';
import { createAgent } from './agent.js';
import { agentConfigSchema } from './config.js';

const broker = new MemoryBroker();

async function startAgent(port = 0) {
  const config = agentConfigSchema.parse({
    dataDir: mkdtempSync(join(tmpdir(), 'fm-agent-')),
    node: { id: 'probe-1', site: 'qoe' },
    http: { port },
    critical: [{ match: '{__name__=~"rtt_seconds|weather_temperature"}' }],
    collectors: [
      { type: 'http_push', token: 'test-token', max_body_bytes: 2048 },
      { type: 'influx', max_body_bytes: 4096 },
    ],
  });
  const agent = createAgent(config, {
    epoch: 1,
    createTransport: (will) => createMemoryTransport(broker, { clientId: `a-${Math.random()}`, will }),
  });
  const { httpUrl } = await agent.start();
  return { agent, url: httpUrl as string };
}

async function counter(url: string, name: string, labels: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  // Summed over the other labels (one series per collector).
  const lines = text.split('\n').filter((l) => l.startsWith(`${name}{`) && l.includes(labels));
  return lines.reduce((sum, l) => sum + Number(l.split(' ').at(-1)), 0);
}

const running: Array<{ stop(): Promise<void> }> = [];
after(async () => {
  for (const a of running) await a.stop();
});

test('agent http: /healthz, /readyz and /metrics answer', async () => {
  const { agent, url } = await startAgent();
  running.push(agent);
  assert.equal((await fetch(`${url}/healthz`)).status, 200);
  const ready = await fetch(`${url}/readyz`);
  assert.equal(ready.status, 200);
  const metrics = await fetch(`${url}/metrics`);
  assert.match(metrics.headers.get('content-type') ?? '', /text\/plain/);
  assert.match(await metrics.text(), /fieldmesh_build_info\{version="\d+\.\d+\.\d+",site="qoe",node="probe-1"\} 1/);
});

test('agent http: pushes are recorded; 401, 413 and 400 are counted and good pushes still pass', async () => {
  const { agent, url } = await startAgent();
  running.push(agent);
  const push = (body: string, token = 'test-token') =>
    fetch(`${url}/events`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body });

  const ok = await push(JSON.stringify({ kind: 'probe_result', metrics: { rtt_seconds: 0.031 }, labels: { target: 'dns' } }));
  assert.equal(ok.status, 200);
  assert.equal((await push('{}', 'wrong')).status, 401);
  assert.equal((await push(JSON.stringify({ kind: 'x', pad: 'y'.repeat(4000) }))).status, 413);
  assert.equal((await push('{"kind": ')).status, 400);
  const lp = await fetch(`${url}/write?db=telegraf`, {
    method: 'POST',
    body: 'weather,site=a temperature=21.5\nweather,site=a temperature=\n',
  });
  assert.equal(lp.status, 400);
  assert.match(((await lp.json()) as { message: string }).message, /line 2/);
  const gz = await fetch(`${url}/api/v2/write?bucket=b&org=o&precision=s`, {
    method: 'POST',
    headers: { 'content-encoding': 'gzip' },
    body: gzipSync(`weather,site=a temperature=22.5 ${Math.floor(Date.now() / 1000)}\n`),
  });
  assert.equal(gz.status, 204);

  assert.equal(await counter(url, 'fieldmesh_collector_rejected_total', 'reason="unauthorized"'), 1);
  assert.equal(await counter(url, 'fieldmesh_collector_rejected_total', 'reason="too-large"'), 1);
  assert.equal(await counter(url, 'fieldmesh_collector_rejected_total', 'reason="invalid"'), 2);
  assert.equal(agent.stats().localSeries, 2, 'rtt_seconds and weather_temperature were recorded, nothing from the bad line-protocol body');
  assert.equal(agent.stats().criticalSeries, 2);
  assert.equal((await push(JSON.stringify({ kind: 'probe_result', metrics: { rtt_seconds: 0.029 } }))).status, 200, 'still serving');
});

test('agent http: a taken port falls back to a free one', async () => {
  const blocker = createServer();
  await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
  const taken = (blocker.address() as { port: number }).port;
  try {
    const { agent, url } = await startAgent(taken);
    running.push(agent);
    assert.notEqual(Number(new URL(url).port), taken);
    await waitFor(async () => (await fetch(`${url}/healthz`)).ok, { what: 'agent on the fallback port' });
  } finally {
    blocker.close();
  }
});
