// `fieldmesh cmd ... service status|logs` end to end: a real Mosquitto, a hub process and a node process (the
// built CLI) supervising a small service (a node script that prints twelve numbered lines, then waits), and
// the built `fieldmesh cmd` as a process: `service logs printer --lines 5` prints the newest five lines, each
// prefixed by its node; `service status` prints the service's state in a table of services per node (and
// exits 1 once the service is stopped); --json carries the node's answers; the hub refuses bad line counts
// with a 400 naming args.lines and the CLI refuses them before asking.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { CommandRunView } from '../../src/protocol/index.js';
import { type FieldmeshProcess, fieldmeshKilledAfter, runFieldmesh, writeHubConfig } from '../kit/fieldmesh-process.js';
import { type MosquittoInstance, startMosquitto } from '../kit/mosquitto.js';
import { freePort } from '../kit/ports.js';
import { waitFor } from '../kit/wait.js';

const start = fieldmeshKilledAfter();
/** Prints "line 1" .. "line 12", then keeps running. */
const PRINTER = "for (let i = 1; i <= 12; i++) console.log('line ' + i); setInterval(() => {}, 1000)";

let dir: string;
let broker: MosquittoInstance | undefined;
let hub: FieldmeshProcess | undefined;
let node: FieldmeshProcess | undefined;
let hubUrl: string;
let nodeUrl: string;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'fm-cmd-services-'));
  broker = await startMosquitto();
  hub = start(['hub', '--config', await writeHubConfig(dir, broker.url)]);
  hubUrl = (await hub.waitForOutput(/console (http:\/\/\S+)\//))[1] as string;
  const port = await freePort();
  nodeUrl = `http://127.0.0.1:${port}`;
  const yaml = join(dir, 'node.yaml');
  writeFileSync(
    yaml,
    [
      'node: {id: pump-house, site: yard}',
      `mqtt: {url: "${broker.url}"}`,
      `dataDir: ${join(dir, 'node')}`,
      `http: {host: 127.0.0.1, port: ${port}}`,
      'publish: {tick: 250ms, heartbeat: 1s}',
      'services:',
      `  - {name: printer, command: [${JSON.stringify(process.execPath)}, -e, ${JSON.stringify(PRINTER)}]}`,
      '',
    ].join('\n'),
  );
  node = start(['node', '-c', yaml]);
  await node.waitForOutput(/HTTP http/);
  // The twelve lines are in the service's tail, and the hub holds the node online.
  await waitFor(
    async () => {
      const res = await fetch(`${nodeUrl}/api/v1/services/printer/logs?lines=100`);
      return ((await res.json()) as { data: { lines: unknown[] } }).data.lines.length === 12;
    },
    { what: "the printer's twelve lines", timeoutMs: 15_000 },
  );
  await waitFor(
    async () => {
      const res = await fetch(`${hubUrl}/api/v1/nodes`);
      const { nodes } = (await res.json()) as { nodes: { site: string; node: string; state: string }[] };
      return nodes.some((n) => n.node === 'pump-house' && n.state === 'online');
    },
    { what: 'the node online at the hub', timeoutMs: 15_000 },
  );
});

after(async () => {
  node?.kill('SIGTERM');
  await node?.exited();
  hub?.kill('SIGTERM');
  await hub?.exited();
  await broker?.stop();
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
});

/** The built `fieldmesh cmd` against the hub, to its exit. */
async function cmd(...args: string[]): Promise<{ code: number | string; out: string; err: string }> {
  const p = runFieldmesh(['cmd', ...args, '--hub', hubUrl]);
  const code = await p.exited();
  return { code, out: p.stdout(), err: p.stderr() };
}

test('fieldmesh cmd: service logs NAME --lines 5 prints the newest five lines of the node, each prefixed by the node', async () => {
  const { code, out, err } = await cmd('node:pump-house', 'service', 'logs', 'printer', '--lines', '5');
  assert.equal(code, 0, err);
  const lines = out.trim().split('\n');
  assert.equal(lines.length, 6, out);
  for (const [i, line] of lines.slice(0, 5).entries())
    assert.match(line, new RegExp(`^yard/pump-house \\d{4}-\\d\\d-\\d\\dT\\S+Z out line ${8 + i}$`));
  assert.match(lines[5] ?? '', /^1 node: 1 ok in \d+\.\d s$/);

  // Without --lines: the default 50 (all twelve here); --json: the node's answer as it came.
  const json = await cmd('node:yard/pump-house', 'service', 'logs', 'printer', '--json');
  assert.equal(json.code, 0, json.err);
  const view = JSON.parse(json.out) as CommandRunView;
  assert.deepEqual(view.args, { action: 'logs', name: 'printer', lines: '50' });
  const answer = view.results[0]?.result as { service: string; lines: { stream: string; line: string }[]; cut: number };
  assert.equal(answer.service, 'printer');
  assert.equal(answer.cut, 0);
  assert.deepEqual(
    answer.lines.map((l) => l.line),
    Array.from({ length: 12 }, (_, i) => `line ${i + 1}`),
  );
});

test('fieldmesh cmd: service status prints a table of the node’s services with their state; an unknown service fails', async () => {
  const all = await cmd('all', 'service', 'status');
  assert.equal(all.code, 0, all.err);
  const [head, row, counts] = all.out.trim().split('\n');
  assert.match(head ?? '', /^SITE\s+NODE\s+SERVICE\s+STATE\s+SINCE\s+PID\s+RESTARTS\s+LAST EXIT\s+CPU\s+MEMORY$/);
  assert.match(row ?? '', /^yard\s+pump-house\s+printer\s+running\s+(for \S+ \S+|just now)\s+\d+\s+0\s+-\s+\d+\.\d s\s+/);
  assert.match(counts ?? '', /^1 node: 1 ok in /);

  const one = await cmd('node:pump-house', 'service', 'status', 'printer', '--json');
  assert.equal(one.code, 0, one.err);
  const view = JSON.parse(one.out) as CommandRunView;
  const s = view.results[0]?.result as { name: string; state: string; pid: number; command: string[] };
  assert.equal(s.name, 'printer');
  assert.equal(s.state, 'running');
  // The node's own API answers the same view.
  const local = ((await (await fetch(`${nodeUrl}/api/v1/services/printer`)).json()) as { data: { pid: number; command: string[] } }).data;
  assert.equal(s.pid, local.pid);
  assert.deepEqual(s.command, local.command);

  const unknown = await cmd('node:pump-house', 'service', 'logs', 'nope');
  assert.equal(unknown.code, 1);
  assert.match(unknown.out, /yard\s+pump-house\s+failed\s+\d+\s+FM_NOT_FOUND: service "nope" is not one of this node's \(printer\)/);
});

test('fieldmesh cmd: service status exits 1 once a service is stopped, and shows it stopped', async () => {
  const stop = await cmd('node:pump-house', 'service', 'stop', 'printer');
  assert.equal(stop.code, 0, stop.err);
  assert.match(stop.out, /printer: stopped/);
  const status = await cmd('node:pump-house', 'service', 'status');
  assert.equal(status.code, 1, status.out);
  assert.match(status.out, /yard\s+pump-house\s+printer\s+stopped\s/);
  const again = await cmd('node:pump-house', 'service', 'start', 'printer');
  assert.equal(again.code, 0, again.err);
});

test('fieldmesh cmd: a bad line count is a 400 naming args.lines at the hub, and a usage error (exit 2) in the CLI', async () => {
  const res = await fetch(`${hubUrl}/api/v1/commands`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ target: 'node:pump-house', command: 'service', args: { action: 'logs', name: 'printer', lines: '5000' } }),
  });
  assert.equal(res.status, 400);
  const body = (await res.json()) as { code: string; message?: string; error?: string };
  assert.equal(body.code, 'FM_REQUEST_INVALID');
  assert.match(body.message ?? body.error ?? '', /field "args\.lines": expected a whole number of lines from 1 to 1000, got "5000"/);

  const cli = await cmd('node:pump-house', 'service', 'logs', 'printer', '--lines', '0');
  assert.equal(cli.code, 2);
  assert.match(cli.err, /FM_CLI_USAGE: --lines 0: expected a whole number from 1 to 1000/);
  const noName = await cmd('node:pump-house', 'service', 'logs');
  assert.equal(noName.code, 2);
  assert.match(noName.err, /FM_CLI_USAGE: service logs takes NAME/);
});
