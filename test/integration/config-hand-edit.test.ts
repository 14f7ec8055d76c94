// Hand edits of node.yaml end to end: a real Mosquitto, a hub process reconciling a configuration repository (a
// folder), and two node processes (the built CLI) running the configs the hub distributes. The test edits one
// node's node.yaml as an operator would on the device: within a few seconds the hub shows that node drifted with
// reason hand-edit and the keys (GET /api/v1/config/nodes and `fieldmesh config status`), the node's own
// GET /api/v1/config names them and its log says so once, and the distributed config keeps running; a node.yaml
// that no longer parses is reported by the node and applies nothing; reverting the edit clears the drift.

import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { NodeConfigView } from '../../src/protocol/config-api.js';
import type { NodeConfigStatus } from '../../src/protocol/index.js';
import { type FieldmeshProcess, fieldmeshKilledAfter, runFieldmesh, writeHubConfig } from '../kit/fieldmesh-process.js';
import { type MosquittoInstance, startMosquitto } from '../kit/mosquitto.js';
import { freePort } from '../kit/ports.js';
import { waitFor } from '../kit/wait.js';

const start = fieldmeshKilledAfter();
const NODES = ['n1', 'n2'] as const;
let dir: string;
let repo: string;
let broker: MosquittoInstance | undefined;
let hub: FieldmeshProcess | undefined;
let hubUrl: string;
const nodes = new Map<string, { yaml: string; text: string; url: string; proc: FieldmeshProcess }>();

async function data<T>(url: string): Promise<T> {
  const res = await fetch(url);
  assert.equal(res.status, 200, url);
  return ((await res.json()) as { data: T }).data;
}

const view = async (node: string) =>
  (await data<{ nodes: NodeConfigView[] }>(`${hubUrl}/api/v1/config/nodes`)).nodes.find((n) => n.node === node);
const nodeConfig = (node: string) => data<NodeConfigStatus>(`${nodes.get(node)?.url}/api/v1/config`);

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'fm-hand-edit-'));
  repo = join(dir, 'repo');
  mkdirSync(join(repo, 'nodes'), { recursive: true });
  writeFileSync(
    join(repo, 'fleet.yaml'),
    ['collectors:', '  - {name: host, type: host}', 'critical:', '  - {match: host_load1, deadband: 0.5}', ''].join('\n'),
  );
  for (const id of NODES) writeFileSync(join(repo, 'nodes', `${id}.yaml`), `node: {id: ${id}, site: north, zone: z1}\n`);
  broker = await startMosquitto();
  const hubYaml = await writeHubConfig(dir, broker.url);
  writeFileSync(hubYaml, `configRepo: {dir: ${JSON.stringify(repo)}, interval: 1h}\n`, { flag: 'a' });
  hub = start(['hub', '--config', hubYaml]);
  hubUrl = (await hub.waitForOutput(/console (http:\/\/\S+)\//))[1] as string;
  await Promise.all(
    NODES.map(async (id) => {
      const port = await freePort();
      const yaml = join(dir, `${id}.yaml`);
      const text = [
        `node: {id: ${id}, site: north, zone: z1}`,
        `mqtt: {url: "${broker?.url}"}`,
        `dataDir: ${join(dir, id)}`,
        `http: {host: 127.0.0.1, port: ${port}}`,
        '',
      ].join('\n');
      writeFileSync(yaml, text);
      const proc = start(['node', '-c', yaml]);
      nodes.set(id, { yaml, text, url: `http://127.0.0.1:${port}`, proc });
      await proc.waitForOutput(/HTTP http/);
    }),
  );
  await waitFor(async () => (await Promise.all(NODES.map(view))).every((v) => v?.state === 'in-sync'), {
    what: 'both nodes in sync',
    timeoutMs: 20_000,
  });
});

after(async () => {
  for (const n of nodes.values()) n.proc.kill('SIGTERM');
  await Promise.all([...nodes.values()].map((n) => n.proc.exited()));
  hub?.kill('SIGTERM');
  await hub?.exited();
  await broker?.stop();
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
});

test('hand edit: a node.yaml edited on the node shows the node drifted at the hub with reason hand-edit and the keys; reverting clears it', async (t) => {
  const n1 = nodes.get('n1');
  assert.ok(n1);
  const before = await view('n1');
  assert.deepEqual([before?.drift, before?.driftReason], [false, null]);
  const running = (await nodeConfig('n1')).running;
  assert.equal(running.source, 'hub');
  assert.deepEqual((await nodeConfig('n1')).handEdited, []);

  // An operator on the device raises the retention and drops the host collector in node.yaml.
  const edited = `${n1.text}store: {retention: 90d}\ncollectors: []\n`;
  const editedAt = Date.now();
  writeFileSync(n1.yaml, edited);
  const drifted = await waitFor(
    async () => {
      const v = await view('n1');
      return v?.drift === true ? v : undefined;
    },
    { what: 'n1 drifted at the hub', timeoutMs: 10_000 },
  );
  const seenMs = Date.now() - editedAt;
  const reason = drifted.driftReason;
  assert.ok(reason?.kind === 'hand-edit', JSON.stringify(reason));
  assert.deepEqual(reason.keys, ['collectors', 'store']);
  assert.ok(reason.at >= editedAt - 1_000, 'the report is the edit’s');
  assert.equal(drifted.state, 'in-sync', 'the distributed config still runs');
  assert.ok(seenMs < 5_000, `seen at the hub ${seenMs} ms after the edit`);
  t.diagnostic(`the hand edit was seen at the hub ${seenMs} ms after node.yaml was written`);
  // The other node is untouched; the node names the keys itself; the distributed config is what runs.
  assert.equal((await view('n2'))?.drift, false);
  const status = await nodeConfig('n1');
  assert.deepEqual(status.handEdited, ['collectors', 'store']);
  assert.equal(status.running.hash, running.hash);
  assert.equal(status.nodeYamlError, null);
  await n1.proc.waitForOutput(
    /node\.yaml sets collectors, store differently from the distributed config \(config [0-9a-f]{12}\); the distributed config is what runs: change the repository instead/,
  );

  // `fieldmesh config status` says why, and exits 1 for a drifted node.
  const cli = runFieldmesh(['config', 'status', '--hub', hubUrl]);
  assert.equal(await cli.exited(), 1, cli.stderr());
  assert.match(cli.stdout(), /^nodes: 2 \(2 in-sync\), 1 drifted$/m);
  assert.match(cli.stdout(), /^north\/n1\s+in-sync\s+hand-edit: collectors, store\s+[0-9a-f]{12}\s/m);
  assert.match(cli.stdout(), /^north\/n2\s+in-sync\s+[0-9a-f]{12}\s/m);

  // A node.yaml that no longer parses: the node reports it and applies nothing; the hub keeps the last keys.
  writeFileSync(n1.yaml, `${edited}collectors: [\n`);
  const broken = await waitFor(
    async () => {
      const s = await nodeConfig('n1');
      return s.nodeYamlError ?? undefined;
    },
    { what: "n1's node.yaml error", timeoutMs: 10_000 },
  );
  assert.match(broken, /^FM_CONFIG_UNREADABLE: .*n1\.yaml:\d+:\d+: /);
  assert.equal((await nodeConfig('n1')).running.hash, running.hash);
  assert.equal((await view('n1'))?.drift, true);

  // Reverted: the drift clears at the hub, and the node says node.yaml agrees again.
  writeFileSync(n1.yaml, n1.text);
  const cleared = await waitFor(
    async () => {
      const v = await view('n1');
      return v?.drift === false ? v : undefined;
    },
    { what: 'the drift cleared', timeoutMs: 10_000 },
  );
  assert.equal(cleared.driftReason, null);
  assert.deepEqual((await nodeConfig('n1')).handEdited, []);
  assert.equal((await nodeConfig('n1')).nodeYamlError, null);
  assert.equal(readFileSync(n1.yaml, 'utf8'), n1.text);
});

test('hand edit: a node restarted with an edited node.yaml reports it at start, and the hub shows it', async () => {
  const n2 = nodes.get('n2');
  assert.ok(n2);
  n2.proc.kill('SIGTERM');
  await n2.proc.exited();
  writeFileSync(n2.yaml, `${n2.text}publish: {tick: 500ms}\n`);
  n2.proc = start(['node', '-c', n2.yaml]);
  await n2.proc.waitForOutput(/HTTP http/);
  const drifted = await waitFor(
    async () => {
      const v = await view('n2');
      return v?.drift === true && v.fleetState === 'online' ? v : undefined;
    },
    { what: 'n2 drifted after its restart', timeoutMs: 15_000 },
  );
  assert.equal(drifted.driftReason?.kind, 'hand-edit');
  assert.deepEqual(drifted.driftReason?.kind === 'hand-edit' ? drifted.driftReason.keys : [], ['publish']);
  writeFileSync(n2.yaml, n2.text);
  await waitFor(async () => (await view('n2'))?.drift === false, { what: 'n2 clear again', timeoutMs: 10_000 });
});
