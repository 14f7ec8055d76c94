// Certificate renewal against listeners that require client certificates, end to end: a node process holding a
// valid certificate of the fleet CA connects to a real Mosquitto configured by `fieldmesh pki mosquitto-conf`
// (require_certificate true, use_identity_as_username, the generated ACL) or to the embedded broker's TLS listener
// (requireClientCert), renews over the fleet transport with a hub process as the signer, reconnects with the new
// certificate and is accepted; then `fieldmesh pki revoke --reason superseded` puts the old one on the CRL, the
// broker takes the new CRL, the node's link is cut (broker restart) and it comes back on the new certificate while
// the old one is refused. Every sample the node recorded is at the hub. docs/pki.md "Renewal over the fleet transport".

import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import mqtt from 'mqtt';
import { main } from '../../src/cli/main.js';
import { ManualClock } from '../../src/kit/index.js';
import { certificateInfo, initFleetCa, openFleetCa } from '../../src/pki/index.js';
import { type FieldmeshProcess, runFieldmesh, writeHubConfig } from '../kit/fieldmesh-process.js';
import { type MosquittoInstance, startMosquitto } from '../kit/mosquitto.js';
import { freePort } from '../kit/ports.js';
import { waitFor } from '../kit/wait.js';

/** Half of one day and 5 min (the CA's backdating) minus 10 s: a one-day certificate issued this far back is due now + 10 s. */
const BACKDATE_MS = (86_400_000 + 300_000) / 2 - 300_000 - 10_000;

const processes: FieldmeshProcess[] = [];
const brokers: MosquittoInstance[] = [];
const dirs: string[] = [];

after(async () => {
  for (const p of processes) p.kill('SIGKILL');
  for (const b of brokers) await b.stop();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function start(args: readonly string[], env: Record<string, string> = {}): FieldmeshProcess {
  const p = runFieldmesh(args, env);
  processes.push(p);
  return p;
}

async function cli(args: readonly string[]): Promise<{ code: number | string; out: string; err: string }> {
  const p = runFieldmesh(args);
  const code = await p.exited();
  return { code, out: p.stdout(), err: p.stderr() };
}

interface Matrix {
  result: { values: [number, string][] }[];
}

/** The broker under test: where clients connect over TLS, how it takes a new CRL, and how the node's link is cut. */
interface BrokerUnderTest {
  readonly url: string;
  /** Makes the broker use the CA's current crl.pem. */
  takeCrl(): Promise<void>;
  /** Cuts every client's link; the broker is back on the same port when this resolves. */
  restart(): Promise<void>;
}

interface Fixture {
  readonly dir: string;
  readonly pkiDir: string;
  readonly hubTls: string;
  readonly nodeTls: string;
}

/** A fleet CA; the broker's certificate (SAN 127.0.0.1) in `<dir>/broker`; the hub's (CN hub); delta's, due for renewal in 10 s. */
async function fixture(): Promise<Fixture> {
  const dir = mkdtempSync(join(tmpdir(), 'fm-pki-mtls-'));
  dirs.push(dir);
  const pkiDir = join(dir, 'pki');
  await initFleetCa({ dir: pkiDir, fleet: 'mtls-test' });
  const ca = openFleetCa({ dir: pkiDir });
  await ca.issue('broker', { site: 'hq', sans: ['127.0.0.1'], outDir: join(dir, 'broker') });
  await ca.issue('hub', { site: 'hq', outDir: join(dir, 'hub-tls') });
  const backdated = openFleetCa({ dir: pkiDir, clock: new ManualClock(Date.now() - BACKDATE_MS) });
  await backdated.issue('delta', { site: 'ranch', days: 1, outDir: join(dir, 'delta-tls') });
  return { dir, pkiDir, hubTls: join(dir, 'hub-tls'), nodeTls: join(dir, 'delta-tls') };
}

async function mosquittoFromPkiConf(f: Fixture): Promise<BrokerUnderTest> {
  const out = join(f.dir, 'broker');
  const port = await freePort();
  const io = { out: () => {}, err: (s: string) => assert.fail(s) };
  const code = await main(
    ['pki', 'mosquitto-conf', '--dir', f.pkiDir, '--fleet', 'ranch/delta', '--out', out, '--port', String(port), '--bind', '127.0.0.1'],
    io,
  );
  assert.equal(code, 0);
  assert.match(readFileSync(join(out, 'fieldmesh-tls.conf'), 'utf8'), /^require_certificate true$/m);
  const broker = await startMosquitto({ extraConfig: [`include_dir ${out}`] });
  brokers.push(broker);
  return {
    url: `mqtts://127.0.0.1:${port}`,
    async takeCrl() {
      copyFileSync(join(f.pkiDir, 'crl.pem'), join(out, 'crl.pem'));
      const from = broker.log().length;
      process.kill(broker.pid, 'SIGHUP');
      await waitFor(() => broker.log().slice(from).includes('Reloading config'), { what: 'Mosquitto reloading on SIGHUP' });
    },
    restart: () => broker.restart(),
  };
}

async function embeddedBroker(f: Fixture): Promise<BrokerUnderTest> {
  const tlsPort = await freePort();
  const yaml = join(f.dir, 'broker.yaml');
  const b = join(f.dir, 'broker');
  writeFileSync(
    yaml,
    `listen: {host: 127.0.0.1, port: ${await freePort()}}\nwebsocket: {enabled: false}\n` +
      `tls: {host: 127.0.0.1, port: ${tlsPort}, cert: ${join(b, 'broker.crt')}, key: ${join(b, 'broker.key')}, ` +
      `ca: ${join(f.pkiDir, 'ca.crt')}, crl: ${join(f.pkiDir, 'crl.pem')}, requireClientCert: true}\n`,
  );
  let proc: FieldmeshProcess;
  const run = async () => {
    proc = start(['broker', '--config', yaml], { FIELDMESH_LOG_LEVEL: 'info' });
    await proc.waitForOutput(/fieldmesh broker on/);
  };
  await run();
  return {
    url: `mqtts://127.0.0.1:${tlsPort}`,
    // The embedded broker re-reads its CRL file when it changes: wait for the log line that says so.
    takeCrl: () => proc.waitForOutput(/TLS files re-read/, 10_000).then(() => {}),
    async restart() {
      proc.kill('SIGTERM');
      await proc.exited();
      await run();
    },
  };
}

/** Resolves with the error when the TLS connection with this certificate gets no CONNACK. */
async function refusedWith(url: string, caFile: string, keyPem: string, certPem: string): Promise<string> {
  const client = mqtt.connect(url, {
    ca: readFileSync(caFile),
    key: keyPem,
    cert: certPem,
    clientId: 'delta-old',
    reconnectPeriod: 0,
    connectTimeout: 5_000,
    protocolVersion: 4,
  });
  try {
    return await new Promise<string>((resolve, reject) => {
      client.once('connect', () => reject(new Error('the old certificate was accepted')));
      client.once('error', (err: Error & { code?: string | number }) => resolve(String(err.code ?? err.message)));
      client.once('close', () => resolve('closed'));
    });
  } finally {
    client.end(true);
  }
}

async function renewAndRevoke(f: Fixture, broker: BrokerUnderTest, diagnostic: (s: string) => void): Promise<void> {
  const hubYaml = await writeHubConfig(f.dir, broker.url);
  writeFileSync(
    hubYaml,
    `mqtt: {url: "${broker.url}", clientId: hub, ca: ${join(f.hubTls, 'ca.crt')}, cert: ${join(f.hubTls, 'hub.crt')}, key: ${join(f.hubTls, 'hub.key')}}\n` +
      `http: {port: ${await freePort()}}\nstorage: {path: ${join(f.dir, 'hub.db')}}\ndataDir: ${f.dir}\n` +
      `pki: {dir: ${f.pkiDir}, nodeCertDays: 1, renewAt: 0.5}\n`,
  );
  const hub = start(['hub', '--config', hubYaml]);
  const hubUrl = (await hub.waitForOutput(/console (http:\/\/\S+)\//))[1] as string;

  const oldCert = readFileSync(join(f.nodeTls, 'delta.crt'), 'utf8');
  const oldKey = readFileSync(join(f.nodeTls, 'delta.key'), 'utf8');
  const oldSerial = certificateInfo(oldCert).serial;
  const nodeYaml = join(f.dir, 'delta.yaml');
  writeFileSync(
    nodeYaml,
    `node: {id: delta, site: ranch, zone: west}\nmqtt: {url: "${broker.url}", ca: ${join(f.pkiDir, 'ca.crt')}}\ndataDir: ${join(f.dir, 'data')}\n` +
      `http: {port: ${await freePort()}}\npublish: {tick: 300ms, heartbeat: 2s}\noutbox: {historyInterval: 300ms}\n` +
      'collectors: [{type: sim_battery, name: b1, interval: 300ms, speedup: 600}]\ncritical: [{match: battery_soc}]\n' +
      `pki: {dir: ${f.nodeTls}, retry: 1s, renewAt: 0.5}\n`,
  );
  const startedAt = Date.now();
  const node = start(['node', '--config', nodeYaml], { FIELDMESH_LOG_LEVEL: 'info' });
  const nodeUrl = (await node.waitForOutput(/HTTP (http:\/\/\S+)/, 20_000))[1] as string;

  const nodes = async () => ((await (await fetch(`${hubUrl}/api/v1/nodes`)).json()) as { nodes: { node: string; state: string }[] }).nodes;
  const online = async () => (await nodes()).some((n) => n.node === 'delta' && n.state === 'online');
  await waitFor(online, { what: 'delta online over TLS with its first certificate' });

  // The renewal, the clean reconnect with the new certificate, and the broker accepting it.
  const t0 = Date.now();
  await waitFor(() => certificateInfo(readFileSync(join(f.nodeTls, 'delta.crt'), 'utf8')).serial !== oldSerial, {
    what: 'a renewed certificate on the node',
    timeoutMs: 40_000,
  });
  await node.waitForOutput(/reconnecting to use renewed TLS credentials/, 10_000);
  const renewedMs = Date.now() - t0;
  const newSerial = certificateInfo(readFileSync(join(f.nodeTls, 'delta.crt'), 'utf8')).serial;
  const connectsBefore = (node.stdout() + node.stderr()).split('reconnecting to use renewed TLS credentials').length;
  await waitFor(online, { what: 'delta online on its new certificate' });

  // The old certificate on the CRL, the broker on the new CRL, the link cut: delta comes back on the new one.
  const revoked = await cli(['pki', 'revoke', 'delta', '--reason', 'superseded', '--dir', f.pkiDir]);
  assert.equal(revoked.code, 0, revoked.err);
  assert.match(revoked.out, new RegExp(`superseded delta serial ${oldSerial}`));
  await broker.takeCrl();
  const cutAt = Date.now();
  await broker.restart();
  const refusal = await refusedWith(broker.url, join(f.pkiDir, 'ca.crt'), oldKey, oldCert);
  await waitFor(online, { what: 'delta back online after the broker restart', timeoutMs: 30_000 });
  const list = await cli(['pki', 'list', '--json', '--dir', f.pkiDir]);
  const rows = JSON.parse(list.out) as { node: string; serial: string; state: string }[];
  assert.deepEqual(
    rows
      .filter((r) => r.node === 'delta')
      .map((r) => [r.serial, r.state])
      .sort(),
    [
      [oldSerial, 'superseded'],
      [newSerial, 'valid'],
    ].sort(),
  );
  assert.equal(
    (node.stdout() + node.stderr()).split('reconnecting to use renewed TLS credentials').length,
    connectsBefore,
    'no second renewal',
  );

  // Samples after the cut reach the hub, and every sample the node recorded over the run is at the hub.
  const query = (base: string, selector: string, end: number, headers: Record<string, string> = {}) =>
    fetch(`${base}/api/v1/query_range?query=${encodeURIComponent(selector)}&start=${startedAt / 1000}&end=${end / 1000}&step=0.1`, {
      headers,
    }).then(async (r) => ((await r.json()) as { data: Matrix }).data.result[0]?.values ?? []);
  await waitFor(async () => (await query(hubUrl, 'battery_soc{node="delta"}', Date.now())).some(([t]) => t * 1000 > cutAt + 500), {
    what: 'samples from after the cut at the hub',
    timeoutMs: 20_000,
  });
  const endMs = Date.now() - 1_000;
  const recorded = await query(nodeUrl, 'battery_soc', endMs);
  assert.ok(recorded.length > 50, `recorded ${recorded.length}`);
  await waitFor(async () => JSON.stringify(await query(hubUrl, 'battery_soc{node="delta"}', endMs)) === JSON.stringify(recorded), {
    what: 'every sample delta recorded at the hub',
    timeoutMs: 20_000,
  });
  diagnostic(
    `renewed and reconnected ${renewedMs} ms after the node came online (due 10 s after issue); old certificate refused with ${refusal}; ${recorded.length} samples, all at the hub`,
  );
  node.kill('SIGTERM');
  hub.kill('SIGTERM');
  await Promise.all([node.exited(), hub.exited()]);
}

test('pki renewal against Mosquitto requiring certificates (pki mosquitto-conf): renewed, reconnected, old one revoked, still working', async (t) => {
  const f = await fixture();
  mkdirSync(join(f.dir, 'broker'), { recursive: true });
  const broker = await mosquittoFromPkiConf(f);
  await renewAndRevoke(f, broker, (s) => t.diagnostic(s));
});

test("pki renewal against the embedded broker's TLS listener with requireClientCert: renewed, reconnected, old one revoked, still working", async (t) => {
  const f = await fixture();
  const broker = await embeddedBroker(f);
  await renewAndRevoke(f, broker, (s) => t.diagnostic(s));
});
