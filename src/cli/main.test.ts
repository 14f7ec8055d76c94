// The CLI's edges: exit codes and one-line errors, and `status` against a real hub.
// calendar: the dates are parser input and a completeness range given in the request; nothing ages them.
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { waitFor } from '../../test/kit/wait.js';
import { createHubClient } from '../client/index.js';
import { createHub, hubConfigSchema } from '../hub/index.js';
import { encodeDeath, encodeHistory, type NodeView, nodeTopic, type SeriesDef, SessionEncoder } from '../protocol/index.js';
import { createMemoryTransport, MemoryBroker } from '../transport/index.js';
import { main } from './main.js';
import { formatBacklog, formatBytes } from './status.js';

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  return { io: { out: (t: string) => out.push(t), err: (t: string) => err.push(t) }, out, err };
}

test('cli: an unknown command or bad option exits 2', async () => {
  const c = capture();
  assert.equal(await main(['frobnicate'], c.io), 2);
  assert.match(c.err.join('\n'), /unknown command 'frobnicate'/);
  const d = capture();
  assert.equal(await main(['demo', '--nodes', 'many'], d.io), 2);
  assert.deepEqual(d.err, ['error: FM_CLI_USAGE: --nodes must be a positive integer, got "many"']);
});

test('cli: an invalid hub.yaml prints every problem and exits 2', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'fm-cli-'));
  const file = join(dir, 'hub.yaml');
  const { writeFileSync } = await import('node:fs');
  writeFileSync(file, 'http: {port: "eighty"}\nfleet: {rebirthMinInterval: soon}\nbogus: 1\n');
  const c = capture();
  assert.equal(await main(['hub', '--config', file], c.io), 2);
  const text = c.err.join('\n');
  assert.match(text, /hub\.yaml: http\.port: /);
  assert.match(text, /hub\.yaml: fleet\.rebirthMinInterval: expected a duration/);
  assert.match(text, /hub\.yaml: \(root\): .*bogus/);
});

const SOC_DEF: SeriesDef = {
  alias: 1,
  name: 'battery_soc',
  labels: { device: 'bms' },
  type: 'gauge',
  unit: 'percent',
  decimals: 1,
  deadband: { kind: 'none' },
  maxSilenceMs: 300_000,
  value: 81.3,
};

test('cli: status prints the fleet as a table and exits 2 when a node is offline', async () => {
  const broker = new MemoryBroker();
  const dir = mkdtempSync(join(tmpdir(), 'fm-cli-status-'));
  const hub = createHub(hubConfigSchema.parse({ http: { port: 0 }, storage: { path: join(dir, 'hub.db') }, dataDir: dir }), {
    transport: createMemoryTransport(broker, { clientId: 'hub' }),
  });
  const { httpUrl } = await hub.start();
  const node = createMemoryTransport(broker, { clientId: 'n' });
  node.start();
  await waitFor(() => node.connected);
  for (const [id, epoch] of [
    ['cam-01', 1],
    ['cam-02', 1],
  ] as const) {
    const enc = new SessionEncoder(epoch);
    // cam-01's one value was sampled 125 s before its birth went out: its age counts from then.
    const series = id === 'cam-01' ? [{ ...SOC_DEF, time: Date.now() - 125_000 }] : [];
    await node.publish(
      nodeTopic('fieldmesh', 'ridge-watch-1', id, 'birth'),
      enc.birth({ time: Date.now(), zone: 'north', agentVersion: '0.1.0', tickMs: 1000, heartbeatMs: 10_000, series }),
      { qos: 1 },
    );
  }
  await waitFor(
    async () => (await fetch(`${httpUrl}/api/v1/nodes`).then((r) => r.json() as Promise<{ nodes: unknown[] }>)).nodes.length === 2,
  );
  // cam-02 reports an outbox backlog in a history frame (the durable plane).
  const oldest = Date.now() - 2 * 3_600_000;
  await node.publish(
    nodeTopic('fieldmesh', 'ridge-watch-1', 'cam-02', 'history'),
    encodeHistory({
      epoch: 1,
      zone: 'z',
      firstSeq: 1,
      lastSeq: 1,
      pendingRows: 1_204,
      oldestPendingMs: oldest,
      pendingBytes: 38_912,
      dropped: [],
      repaired: [],
      series: [],
    }),
    { qos: 1 },
  );
  await waitFor(
    async () =>
      (await fetch(`${httpUrl}/api/v1/nodes/ridge-watch-1/cam-02`).then((r) => r.json() as Promise<NodeView>)).backlogRows === 1_204,
  );

  const ok = capture();
  assert.equal(await main(['status', '--hub', httpUrl], ok.io), 0);
  const table = ok.out.join('\n');
  assert.match(table, /^SITE\s+ZONE\s+NODE\s+STATE\s+LAST HEARD\s+SERIES\s+BACKLOG\s+VERSION/);
  assert.match(table, /ridge-watch-1\s+north\s+cam-01\s+online\s+(just now|\d+ s ago)\s+1\s+-\s+0\.1\.0/);
  assert.match(table, /ridge-watch-1\s+north\s+cam-02\s+online\s+(just now|\d+ s ago)\s+0\s+1,204 rows, 38 KB, oldest 2 h ago\s+0\.1\.0/);
  assert.match(table, /2\/2 nodes online/);
  const withValues = capture();
  assert.equal(await main(['status', '--hub', httpUrl, '--values'], withValues.io), 0);
  assert.match(
    withValues.out.join('\n'),
    /SITE\s+NODE\s+SERIES\s+VALUE\s+AGE\n.*ridge-watch-1\s+cam-01\s+battery_soc\{device="bms"\}\s+81\.3 percent\s+2 min ago/,
  );
  // The typed client reads the durable plane's endpoints too.
  const client = createHubClient(httpUrl);
  assert.deepEqual(await client.events({ site: 'ridge-watch-1', priority: 'high' }), []);
  const report = await client.completeness('ridge-watch-1', 'cam-02', { start: '2026-01-01T00:00:00Z', end: '2026-01-02T00:00:00Z' });
  assert.deepEqual([report.complete, report.backlog.pendingRows, report.start], [false, 1_204, '2026-01-01T00:00:00.000Z']);

  await node.publish(nodeTopic('fieldmesh', 'ridge-watch-1', 'cam-02', 'death'), encodeDeath({ epoch: 1, reason: 'lost' }), { qos: 1 });
  await waitFor(async () => {
    const c = capture();
    return (await main(['status', '--hub', httpUrl, '--json'], c.io)) === 2 && c;
  });
  await node.close();
  await hub.stop();
});

test('cli: status against an unreachable hub is one line and exit 1', async () => {
  const c = capture();
  assert.equal(await main(['status', '--hub', 'http://127.0.0.1:9'], c.io), 1);
  assert.equal(c.err.length, 1);
  assert.match(c.err[0] as string, /^error: FM_TRANSPORT_UNAVAILABLE: hub at http:\/\/127\.0\.0\.1:9 is unreachable/);
});

test('cli: the BACKLOG cell is rows, bytes and the age of the oldest, `-` when nothing is pending or never reported', () => {
  const now = Date.UTC(2026, 0, 1, 12);
  assert.equal(
    formatBacklog({ backlogRows: 1_204, backlogBytes: 38_912, backlogOldest: new Date(now - 180_000).toISOString() }, now),
    '1,204 rows, 38 KB, oldest 3 min ago',
  );
  assert.equal(formatBacklog({ backlogRows: 5, backlogBytes: null, backlogOldest: null }, now), '5 rows', 'bytes never reported');
  assert.equal(formatBacklog({ backlogRows: 5, backlogBytes: 0, backlogOldest: null }, now), '5 rows', 'no estimate yet');
  assert.equal(formatBacklog({ backlogRows: null, backlogOldest: null }, now), '-');
  assert.equal(formatBacklog({}, now), '-');
  assert.equal(formatBacklog({ backlogRows: 0, backlogOldest: null }, now), '-');
  assert.equal(formatBacklog({ backlogRows: 1, backlogOldest: new Date(now - 90_000).toISOString() }, now), '1 row, oldest 1 min ago');
  assert.equal(formatBacklog({ backlogRows: 12_000, backlogOldest: null }, now), '12,000 rows');
});

test('cli: bytes read as B, KB, MB, GB with one decimal below 10', () => {
  assert.deepEqual(
    [0, 512, 1_023, 1_024, 1_536, 38_912, 10_239, 5 * 1024 ** 2 + 100_000, 1_500 * 1024 ** 2, 3 * 1024 ** 4].map(formatBytes),
    ['0 B', '512 B', '1023 B', '1 KB', '1.5 KB', '38 KB', '10 KB', '5.1 MB', '1.5 GB', '3 TB'],
  );
});
