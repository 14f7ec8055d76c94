// End to end through the built binary: node processes share their critical values over the awareness
// plane, on UDP multicast (loopback, no broker needed for awareness) and through a real Mosquitto's
// digest with the hub aggregating; every node's GET /api/v1/fleet holds the others and itself; a node killed
// with SIGKILL is declared dead by the survivors; a node stopped (SIGSTOP) past the suspicion timeout and
// resumed suspects nobody; `fieldmesh status --node` prints a node's view.
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { type FieldmeshProcess, fieldmeshKilledAfter } from '../kit/fieldmesh-process.js';
import { startMosquitto } from '../kit/mosquitto.js';
import { nodeFleet as fleetOf, memberAt, nodeMetric } from '../kit/node-api.js';
import { freePort } from '../kit/ports.js';
import { waitFor } from '../kit/wait.js';

const start = fieldmeshKilledAfter();

const IDS = ['bess-01', 'bess-02', 'bess-03'];

/** `mqtt`: the node.yaml block (`{url: ...}`, or `{enabled: false}` for no broker). */
async function startNodes(dir: string, mqtt: string, awareness: string): Promise<{ procs: FieldmeshProcess[]; urls: string[] }> {
  const procs: FieldmeshProcess[] = [];
  for (const [i, id] of IDS.entries()) {
    const path = join(dir, `${id}.yaml`);
    writeFileSync(
      path,
      [
        `node: {id: ${id}, site: ranch, zone: north}`,
        `mqtt: ${mqtt}`,
        `dataDir: ${dir}`,
        'http: {port: 0}',
        'publish: {tick: 500ms, heartbeat: 2s}',
        `awareness: ${awareness}`,
        'critical:',
        '  - {match: battery_soc, maxSilence: 5s}',
        '  - {match: dc_voltage, deadband: 0.05, maxSilence: 5s}',
        'collectors:',
        `  - {type: sim_battery, index: ${i}, interval: 500ms}`,
        '',
      ].join('\n'),
    );
    procs.push(start(['node', '--config', path]));
  }
  const urls = await Promise.all(procs.map(async (p) => (await p.waitForOutput(/HTTP (http:\/\/\S+)/))[1] as string));
  return { procs, urls };
}

/** Every node holds itself and the two others, alive, with both critical values. */
async function fullView(urls: readonly string[]): Promise<void> {
  await waitFor(
    async () => {
      for (const [i, url] of urls.entries()) {
        const { data } = await fleetOf(url);
        const others = data.nodes.filter((n) => n.node !== IDS[i]);
        const self = data.nodes.filter((n) => n.self);
        if (self.length !== 1 || self[0]?.node !== IDS[i] || self[0]?.origin !== data.self) return false;
        if (
          others.length !== 2 ||
          others.some((n) => n.state !== 'alive' || n.series.length !== 2 || n.series.some((s) => s.value === null))
        )
          return false;
      }
      return true;
    },
    { timeoutMs: 20_000, what: 'every node holding the two others' },
  );
}

async function killAndDetect(procs: FieldmeshProcess[], urls: readonly string[]): Promise<void> {
  const victim = procs[2] as FieldmeshProcess;
  victim.kill('SIGKILL');
  assert.equal(await victim.exited(), 'SIGKILL');
  // Two survivors: each needs the other's confirmation or the long silence; 500 ms ticks.
  for (const url of urls.slice(0, 2)) {
    const dead = await waitFor(async () => (await fleetOf(url)).data.nodes.find((n) => n.node === 'bess-03' && n.state === 'dead'), {
      timeoutMs: 20_000,
      what: `bess-03 dead at ${url}`,
    });
    assert.ok(dead.lastHeardAgeMs >= 1_000, `silent ${dead.lastHeardAgeMs} ms before the verdict`);
  }
  const survivors = (await fleetOf(urls[0] as string)).data.nodes.filter((n) => n.node === 'bess-02');
  assert.deepEqual(
    survivors.map((n) => n.state),
    ['alive'],
    'the other survivor is still alive',
  );
}

test('e2e awareness: three nodes on UDP multicast hold each other, and a SIGKILL is detected by the survivors', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'fm-e2e-aware-udp-'));
  // A broker that is not there: the durable plane retries in the background; awareness needs none.
  const deadBroker = `mqtt://127.0.0.1:${await freePort()}`;
  const { procs, urls } = await startNodes(dir, `{url: "${deadBroker}"}`, await loopbackUdp());
  await fullView(urls);
  const status = start(['status', '--node', urls[0] as string]);
  assert.equal(await status.exited(), 0, status.stderr());
  assert.match(status.stdout(), /bess-01 \(self\)\s+alive\s+sent/);
  assert.match(status.stdout(), /bess-02\s+alive/);
  assert.match(status.stdout(), /3\/3 members alive/);
  assert.match(status.stdout(), /battery_soc/);
  await killAndDetect(procs, urls);
  for (const p of procs.slice(0, 2)) p.kill('SIGTERM');
  for (const p of procs.slice(0, 2)) assert.equal(await p.exited(), 0, p.stderr());
});

/** UDP multicast on loopback, on a free port and a group of its own. */
async function loopbackUdp(): Promise<string> {
  const port = await freePort();
  return `{transport: udp, udp: {port: ${port}, interface: 127.0.0.1, group: 239.255.70.${(port % 200) + 20}}}`;
}

test('e2e awareness: a node stopped (SIGSTOP) past the suspicion timeout and resumed (SIGCONT) suspects nobody', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'fm-e2e-aware-stall-'));
  const { procs, urls } = await startNodes(dir, '{enabled: false}', await loopbackUdp());
  await fullView(urls);
  const [a, b, c] = urls as [string, string, string];
  const stalled = procs[2] as FieldmeshProcess;
  const counter = (name: string) => nodeMetric(c, name);
  const before = {
    suspicions: await counter('fieldmesh_awareness_suspicions_total'),
    raisedAtA: (await memberAt(a, 'bess-03'))?.suspicionsRaised,
    raisedAtB: (await memberAt(b, 'bess-03'))?.suspicionsRaised,
  };
  assert.equal(await counter('fieldmesh_awareness_stalls_total'), 0);

  stalled.kill('SIGSTOP');
  try {
    // The others convict it: its silence (3.75 ticks with a confirmation) is well past the 2.5-tick suspicion
    // timeout, so on resuming it finds every member silent that long by its own clock.
    for (const url of [a, b]) {
      await waitFor(async () => (await memberAt(url, 'bess-03'))?.state === 'dead', { timeoutMs: 10_000, what: `bess-03 dead at ${url}` });
    }
  } finally {
    stalled.kill('SIGCONT');
  }
  await waitFor(async () => (await counter('fieldmesh_awareness_stalls_total')) === 1, { timeoutMs: 5_000, what: 'the stall noticed' });
  await fullView(urls);
  // Its grace of two ticks and more: the resumed node's own pulses count the time.
  const pulses = async () => (await nodeMetric(c, 'fieldmesh_awareness_frames_sent_total', 'type="pulse"')) as number;
  const pulsesAfter = await pulses();
  await waitFor(async () => (await pulses()) >= pulsesAfter + 6, { timeoutMs: 10_000, what: 'six more ticks of the resumed node' });

  assert.equal(await counter('fieldmesh_awareness_suspicions_total'), before.suspicions, 'the resumed node suspected nobody');
  assert.equal(await counter('fieldmesh_awareness_verdicts_total'), 0);
  assert.equal(await counter('fieldmesh_awareness_isolations_total'), 0, 'nor took the stall for its own ears going deaf');
  assert.equal((await memberAt(a, 'bess-03'))?.suspicionsRaised, before.raisedAtA, 'bess-01 heard no suspicion from it');
  assert.equal((await memberAt(b, 'bess-03'))?.suspicionsRaised, before.raisedAtB, 'bess-02 heard no suspicion from it');
  for (const p of procs) p.kill('SIGTERM');
  for (const p of procs) assert.equal(await p.exited(), 0, p.stderr());
});

test('e2e awareness: the MQTT digest path through a real Mosquitto, the hub aggregating', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'fm-e2e-aware-mqtt-'));
  const mosquitto = await startMosquitto();
  try {
    const hubYaml = join(dir, 'hub.yaml');
    writeFileSync(
      hubYaml,
      `mqtt:\n  url: ${mosquitto.url}\nhttp:\n  port: ${await freePort()}\nstorage:\n  path: ${join(dir, 'hub.db')}\ndataDir: ${dir}\nawareness:\n  tick: 500ms\n`,
    );
    const hub = start(['hub', '--config', hubYaml]);
    await hub.waitForOutput(/console (http:\/\/\S+?)\/?\s/);
    const { procs, urls } = await startNodes(dir, `{url: "${mosquitto.url}"}`, '{transport: mqtt, aggregator: never}');
    await fullView(urls);
    await killAndDetect(procs, urls);
    for (const p of [hub, ...procs.slice(0, 2)]) p.kill('SIGTERM');
    for (const p of [hub, ...procs.slice(0, 2)]) assert.equal(await p.exited(), 0, p.stderr());
  } finally {
    await mosquitto.stop();
  }
});

test('e2e awareness: a node whose plane is off answers 404 naming the setting', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'fm-e2e-aware-off-'));
  const path = join(dir, 'node.yaml');
  writeFileSync(
    path,
    `node: {id: solo, site: ranch}\nmqtt: {url: "mqtt://127.0.0.1:${await freePort()}"}\ndataDir: ${dir}\nhttp: {port: 0}\n`,
  );
  const p = start(['node', '--config', path]);
  const [, url] = await p.waitForOutput(/HTTP (http:\/\/\S+)/);
  const res = await fetch(`${url}/api/v1/fleet`);
  assert.equal(res.status, 404);
  assert.match(((await res.json()) as { error: string }).error, /awareness\.transport: none/);
  p.kill('SIGTERM');
  assert.equal(await p.exited(), 0);
});
