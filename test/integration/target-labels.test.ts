// The hub's labels over a scraped series' own: a node scrapes an exposition whose series carry their own
// node, site and zone labels; at the hub they arrive as exported_node, exported_site and exported_zone
// (exported_exported_node where exported_node is taken), on the live path and the durable history path
// alike, and the hub's site, node and zone are fieldmesh's. Queries by either kind of label work.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { agentConfigSchema, createAgent } from '../../src/agent/index.js';
import { createHub, hubConfigSchema } from '../../src/hub/index.js';
import { createMemoryTransport, MemoryBroker } from '../../src/transport/index.js';
import { waitFor } from '../kit/wait.js';

const EXPOSITION = [
  '# TYPE dc_voltage gauge',
  'dc_voltage{node="node001",site="plant",zone="east"} 52.1',
  'dc_voltage{node="node002",exported_node="pdu-7"} 48.3',
  '',
].join('\n');

type SeriesList = { data: Array<Record<string, string>> };

test('target labels: a scraped series with its own node, site and zone labels keeps them as exported_* at the hub, live and from history', async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'fm-target-labels-it-'));
  const server = createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end(EXPOSITION));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/metrics`;
  const broker = new MemoryBroker();
  const hub = createHub(hubConfigSchema.parse({ dataDir, storage: { path: join(dataDir, 'hub.db') } }), {
    transport: createMemoryTransport(broker, { clientId: 'hub' }),
  });
  const agent = createAgent(
    agentConfigSchema.parse({
      dataDir: join(dataDir, 'node'),
      node: { id: 'bess-01', site: 'farm', zone: 'rack-1' },
      http: { enabled: false },
      publish: { tick: '200ms', heartbeat: '1s' },
      outbox: { historyInterval: '0s' },
      collectors: [{ type: 'prometheus', name: 'pdu', url, interval: '200ms' }],
      critical: [{ match: 'dc_voltage' }],
    }),
    { epoch: 1, createTransport: (will) => createMemoryTransport(broker, { clientId: 'agent', will }) },
  );
  t.after(async () => {
    await agent.stop();
    await hub.stop();
    await new Promise((resolve) => server.close(resolve));
    rmSync(dataDir, { recursive: true, force: true });
  });
  await hub.start({ listen: false });
  await agent.start();

  // Both paths have written: live samples from data frames and samples from the outbox's history frames.
  await waitFor(() => hub.stats().samplesStored > 0 && hub.stats().historySamplesStored > 0, {
    what: 'live and history samples stored at the hub',
    timeoutMs: 20_000,
  });
  const common = { __name__: 'dc_voltage', job: 'pdu', instance: new URL(url).host, site: 'farm', node: 'bess-01', zone: 'rack-1' };
  const expected = [
    { ...common, exported_node: 'node001', exported_site: 'plant', exported_zone: 'east' },
    { ...common, exported_node: 'pdu-7', exported_exported_node: 'node002' },
  ];
  const sortByOwnNode = (list: Array<Record<string, string>>) =>
    [...list].sort((a, b) =>
      (a.exported_exported_node ?? a.exported_node ?? '').localeCompare(b.exported_exported_node ?? b.exported_node ?? ''),
    );
  // One label set per series: had either path labelled differently, the hub would hold four series.
  const series = (await hub.app.inject('/api/v1/series?match[]=dc_voltage')).json() as SeriesList;
  assert.deepEqual(sortByOwnNode(series.data), expected);

  const now = Date.now() / 1000;
  const query = async (selector: string) => {
    const q = new URLSearchParams({ query: selector, start: String(now - 60), end: String(now + 1), step: '1' });
    const res = await hub.app.inject(`/api/v1/query_range?${q}`);
    assert.equal(res.statusCode, 200, res.body);
    return (res.json() as { data: { result: Array<{ metric: Record<string, string> }> } }).data.result.map((r) => r.metric);
  };
  assert.equal((await query('dc_voltage{site="farm",node="bess-01",zone="rack-1"}')).length, 2, 'by the hub labels');
  assert.deepEqual(await query('dc_voltage{exported_node="node001"}'), [expected[0]], 'by the series own node label');
  assert.deepEqual(await query('dc_voltage{exported_site="plant",exported_zone="east"}'), [expected[0]]);
  assert.deepEqual(await query('dc_voltage{exported_exported_node="node002"}'), [expected[1]]);
  assert.deepEqual(await query('dc_voltage{node="node001"}'), [], 'node is the fieldmesh node, not the series own label');

  // The node's own store, read through the hub, is labelled the same way.
  const fromNode = (await hub.app.inject('/api/v1/nodes/farm/bess-01/series?match[]=dc_voltage')).json() as SeriesList;
  assert.deepEqual(sortByOwnNode(fromNode.data), expected);
});
