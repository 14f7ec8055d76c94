// End to end through the built binary: a broker (fieldmesh's own, then a real Mosquitto), a hub and
// three node processes; data visible through the hub API; a node killed with SIGKILL goes offline
// through its MQTT will; a bad config exits 2 naming file and field.
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { createHubClient } from '../../src/client/index.js';
import { type FieldmeshProcess, fieldmeshKilledAfter } from '../kit/fieldmesh-process.js';
import { startMosquitto } from '../kit/mosquitto.js';
import { freePort } from '../kit/ports.js';
import { waitFor } from '../kit/wait.js';

const start = fieldmeshKilledAfter();

function writeYaml(dir: string, name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

async function runFleet(brokerUrl: string, dir: string) {
  const hubPort = await freePort();
  const hubYaml = writeYaml(
    dir,
    'hub.yaml',
    `mqtt:\n  url: ${brokerUrl}\nhttp:\n  port: ${hubPort}\nstorage:\n  path: ${join(dir, 'hub.db')}\ndataDir: ${dir}\nfleet:\n  digestInterval: 1s\n`,
  );
  const hub = start(['hub', '--config', hubYaml]);
  const [, hubUrl] = await hub.waitForOutput(/console (http:\/\/\S+?)\/?\s/);
  const nodes: FieldmeshProcess[] = [];
  for (const [i, id] of ['bess-01', 'bess-02', 'bess-03'].entries()) {
    const nodeYaml = writeYaml(
      dir,
      `${id}.yaml`,
      [
        `node: {id: ${id}, site: solar-farm-1, zone: bank-a}`,
        `mqtt: {url: "${brokerUrl}"}`,
        `dataDir: ${dir}`,
        'http: {port: 0}',
        'publish: {tick: 500ms, heartbeat: 2s}',
        'critical:',
        '  - {match: battery_soc}',
        '  - {match: dc_voltage, deadband: 0.05}',
        'collectors:',
        `  - {type: sim_battery, index: ${i}, interval: 500ms}`,
        '',
      ].join('\n'),
    );
    nodes.push(start(['node', '--config', nodeYaml]));
  }
  await Promise.all(nodes.map((n) => n.waitForOutput(/fieldmesh node \S+ \(boot \d+\)/)));
  const client = createHubClient(hubUrl as string);

  const online = await waitFor(
    async () => {
      const list = await client.nodes();
      return list.filter((n) => n.site === 'solar-farm-1' && n.state === 'online').length === 3 && list;
    },
    { timeoutMs: 20_000, what: 'three nodes online at the hub' },
  );
  assert.deepEqual(online.map((n) => n.node).sort(), ['bess-01', 'bess-02', 'bess-03']);

  const nowS = Date.now() / 1000;
  const series = await waitFor(
    async () => {
      const result = await client.queryRange('battery_soc{site="solar-farm-1"}', nowS - 60, Date.now() / 1000 + 1, 1);
      return result.length === 3 && result.every((s) => s.values.length > 0) && result;
    },
    { timeoutMs: 20_000, what: 'battery_soc stored for all three nodes' },
  );
  for (const s of series) {
    const v = Number(s.values.at(-1)?.[1]);
    assert.ok(v >= 0 && v <= 100, `SOC ${v} is a percentage`);
  }

  const victim = nodes[1] as FieldmeshProcess;
  victim.kill('SIGKILL');
  assert.equal(await victim.exited(), 'SIGKILL');
  const after = await waitFor(
    async () => {
      const n = await client.node('solar-farm-1', 'bess-02');
      return n.state === 'offline' && n;
    },
    { timeoutMs: 15_000, what: 'bess-02 offline through its will' },
  );
  assert.ok((after.lastHeardAgeMs ?? -1) >= 0, 'an offline node keeps its last-heard age');
  const others = await client.nodes();
  assert.deepEqual(
    others
      .filter((n) => n.state === 'online')
      .map((n) => n.node)
      .sort(),
    ['bess-01', 'bess-03'],
  );

  for (const p of [hub, nodes[0], nodes[2]] as FieldmeshProcess[]) p.kill('SIGTERM');
  for (const p of [hub, nodes[0], nodes[2]] as FieldmeshProcess[]) assert.equal(await p.exited(), 0, `clean exit\n${p.stderr()}`);
}

test('e2e: broker, hub and three nodes as processes on fieldmesh broker; SIGKILL shows offline', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'fm-e2e-'));
  const port = await freePort();
  const brokerYaml = writeYaml(dir, 'broker.yaml', `listen: {port: ${port}}\nwebsocket: {enabled: false}\n`);
  const broker = start(['broker', '--config', brokerYaml]);
  const [, url] = await broker.waitForOutput(/broker on (mqtt:\/\/\S+)/);
  await runFleet(url as string, dir);
  broker.kill('SIGTERM');
  assert.equal(await broker.exited(), 0);
});

test('e2e: the same fleet works unchanged against a real Mosquitto', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'fm-e2e-mosq-'));
  const mosquitto = await startMosquitto();
  try {
    await runFleet(mosquitto.url, dir);
  } finally {
    await mosquitto.stop();
  }
});

test('e2e: an invalid node.yaml exits 2 naming the file and every bad field', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'fm-e2e-bad-'));
  const bad = writeYaml(dir, 'node.yaml', 'node: {id: Bad Id, site: farm}\npublish: {tick: soon}\ncollectors:\n  - {type: prometheus}\n');
  const p = start(['node', '--config', bad]);
  assert.equal(await p.exited(), 2);
  const err = p.stderr();
  assert.match(err, /node\.yaml: node\.id: /);
  assert.match(err, /node\.yaml: publish\.tick: expected a duration/);
  assert.match(err, /node\.yaml: collectors\[0\]\.url: /);
});

test('e2e: a missing config file is one clear line and exit 2', async () => {
  const p = start(['hub', '--config', '/nonexistent/hub.yaml']);
  assert.equal(await p.exited(), 2);
  assert.match(p.stderr(), /^error: FM_CONFIG_UNREADABLE: \/nonexistent\/hub\.yaml: no such file\n$/);
});
