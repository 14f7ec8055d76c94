// Certificate renewal over the fleet transport, end to end: a real Mosquitto, a hub process with a fleet CA
// (hub.yaml pki, registration approve) and a real node process with node.yaml pki. The pending node's CSR waits
// at the hub; `fieldmesh hub nodes approve` issues its first certificate; then, with certificates of about five
// minutes and renewAt 0.5, the node renews by itself, writes the new certificate next to its new key and
// reconnects once with it, while it keeps pushing: every sample it recorded reaches the hub (its own store and
// the hub compared exactly). Then [FM-CERT-7]: once the node reconnected with its new certificate (it names it on
// its csr topic), the hub revokes the old one as superseded after pki.revokeSupersededAfter (2 s here): `pki list`
// says superseded and the CRL lists it; and [FM-CERT-8]: `fieldmesh cmd node:ranch/delta renew-cert` gives the node
// a third certificate at once, long before it is due, while samples keep flowing. docs/pki.md "Renewal over the
// fleet transport".

import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import {
  canonicalSerial,
  certificateInfo,
  keyMatchesCertificate,
  parseCrl,
  readIndex,
  verifyNodeCertificate,
} from '../../src/pki/index.js';
import { type FieldmeshProcess, fieldmeshKilledAfter, runFieldmesh, writeHubConfig } from '../kit/fieldmesh-process.js';
import { type MosquittoInstance, startMosquitto } from '../kit/mosquitto.js';
import { freePort } from '../kit/ports.js';
import { waitFor } from '../kit/wait.js';

const start = fieldmeshKilledAfter();
/** The node, at log level info (its renewal lines are read): killed after the tests. */
let node: FieldmeshProcess | undefined;
let dir: string;
let broker: MosquittoInstance;
let hubUrl: string;
let adminToken: string;
let nodeUrl: string;
/** The node's link: MQTT over TLS to Mosquitto, verified with the fleet CA (the broker's certificate is the CA's). */
let tlsUrl: string;
/** Five minutes and 20 s, in days: with the CA's 5 min backdating and renewAt 0.5, due about 10 s after issue. */
const CERT_DAYS = 320 / 86_400;

async function cli(args: readonly string[]): Promise<{ code: number | string; out: string; err: string }> {
  const p = runFieldmesh(args);
  const code = await p.exited();
  return { code, out: p.stdout(), err: p.stderr() };
}

async function hubGet<T>(path: string): Promise<T> {
  const res = await fetch(`${hubUrl}${path}`, { headers: { authorization: `Bearer ${adminToken}` } });
  assert.equal(res.status, 200, `${path}: ${res.status}`);
  return (await res.json()) as T;
}

interface Matrix {
  result: { metric: Record<string, string>; values: [number, string][] }[];
}

let startedAt = 0;
/** The serials of the first and the renewed certificate, for the tests after the renewal. */
let firstSerial = '';
let secondSerial = '';

async function socValues(where: 'hub' | 'node', endMs: number): Promise<[number, string][]> {
  const selector = where === 'hub' ? 'battery_soc{node="delta"}' : 'battery_soc';
  const query = `/api/v1/query_range?query=${encodeURIComponent(selector)}&start=${startedAt / 1000}&end=${endMs / 1000}&step=0.1`;
  const data =
    where === 'hub'
      ? (await hubGet<{ data: Matrix }>(query)).data
      : ((await (await fetch(`${nodeUrl}${query}`)).json()) as { data: Matrix }).data;
  return data.result[0]?.values ?? [];
}

const tlsDir = () => join(dir, 'delta-tls');
const certFile = () => join(tlsDir(), 'delta.crt');

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'fm-pki-renewal-'));
  const init = await cli(['pki', 'init', '--dir', join(dir, 'pki'), '--fleet', 'renewal-test']);
  assert.equal(init.code, 0, init.err);
  const brokerCert = await cli([
    'pki',
    'issue',
    'broker',
    '--site',
    'hq',
    '--san',
    '127.0.0.1',
    '--dir',
    join(dir, 'pki'),
    '--out',
    join(dir, 'broker'),
  ]);
  assert.equal(brokerCert.code, 0, brokerCert.err);
  const tlsPort = await freePort();
  // A second listener with TLS; it does not ask for client certificates (the node has none until approval).
  broker = await startMosquitto({
    extraConfig: [
      `listener ${tlsPort} 127.0.0.1`,
      `cafile ${join(dir, 'broker', 'ca.crt')}`,
      `certfile ${join(dir, 'broker', 'broker.crt')}`,
      `keyfile ${join(dir, 'broker', 'broker.key')}`,
      'require_certificate false',
    ],
  });
  tlsUrl = `mqtts://127.0.0.1:${tlsPort}`;
  const hubYaml = await writeHubConfig(dir, broker.url);
  writeFileSync(
    hubYaml,
    `registration: {mode: approve}\nauth: {mode: on}\npki: {dir: ${join(dir, 'pki')}, nodeCertDays: ${CERT_DAYS}, renewAt: 0.5, revokeSupersededAfter: 2s}\n`,
    { flag: 'a' },
  );
  const made = await cli(['hub', 'token', 'create', '--config', hubYaml, '--name', 'admin', '--role', 'admin']);
  assert.equal(made.code, 0, made.err);
  adminToken = made.out.trim();
  writeFileSync(join(dir, 'admin.token'), made.out);
  const hub = start(['hub', '--config', hubYaml]);
  hubUrl = (await hub.waitForOutput(/console (http:\/\/\S+)\//))[1] as string;
});

after(async () => {
  node?.kill('SIGKILL');
  await broker?.stop();
  rmSync(dir, { recursive: true, force: true });
});

test('pki renewal: the first certificate at approval, then a renewal by the node while it keeps pushing, no sample lost', async (t) => {
  const path = join(dir, 'delta.yaml');
  writeFileSync(
    path,
    `node: {id: delta, site: ranch, zone: west}\nmqtt: {url: "${tlsUrl}", ca: ${join(dir, 'pki', 'ca.crt')}}\ndataDir: ${join(dir, 'data')}\n` +
      `http: {port: ${await freePort()}}\npublish: {tick: 300ms, heartbeat: 2s}\noutbox: {historyInterval: 300ms}\n` +
      'collectors: [{type: sim_battery, name: b1, interval: 300ms, speedup: 600}]\ncritical: [{match: battery_soc}]\n' +
      `pki: {dir: ${tlsDir()}, retry: 1s}\n`,
  );
  startedAt = Date.now();
  node = runFieldmesh(['node', '--config', path], { FIELDMESH_LOG_LEVEL: 'info' });
  nodeUrl = (await node.waitForOutput(/HTTP (http:\/\/\S+)/, 20_000))[1] as string;

  // Pending: the hub keeps the request, the node has no certificate.
  await node?.waitForOutput(/the hub keeps the request until an admin approves this node/, 15_000);
  assert.equal(existsSync(certFile()), false);

  const t0 = Date.now();
  const approved = await cli(['hub', 'nodes', 'approve', 'ranch/delta', '--hub', hubUrl, '--token-file', join(dir, 'admin.token')]);
  assert.equal(approved.code, 0, approved.err);
  await waitFor(() => existsSync(certFile()), { what: "delta's first certificate on disk", timeoutMs: 15_000 });
  const firstIssuedMs = Date.now() - t0;
  const first = readFileSync(certFile(), 'utf8');
  const ca = readFileSync(join(dir, 'pki', 'ca.crt'), 'utf8');
  const verdict = await verifyNodeCertificate(first, { ca, now: Date.now(), expectNode: 'delta' });
  assert.equal(verdict.ok, true, JSON.stringify(verdict));
  assert.equal(keyMatchesCertificate(readFileSync(join(tlsDir(), 'delta.key'), 'utf8'), first), true);
  firstSerial = certificateInfo(first).serial;
  await waitFor(
    async () =>
      (await hubGet<{ nodes: { node: string; state: string; certificate?: string }[] }>('/api/v1/nodes')).nodes.some(
        (n) => n.node === 'delta' && n.state === 'online' && n.certificate === 'valid',
      ),
    { what: 'delta online with a valid certificate in the nodes API' },
  );

  // The renewal: due ~10 s after issue (renewAt 0.5 of 5 min 20 s plus the 5 min backdating).
  const t1 = Date.now();
  await waitFor(() => existsSync(certFile()) && certificateInfo(readFileSync(certFile(), 'utf8')).serial !== firstSerial, {
    what: 'a renewed certificate',
    timeoutMs: 40_000,
  });
  const renewedAfterMs = Date.now() - t1;
  await node?.waitForOutput(/reconnecting to use renewed TLS credentials/, 10_000);
  const second = readFileSync(certFile(), 'utf8');
  secondSerial = certificateInfo(second).serial;
  assert.equal(keyMatchesCertificate(readFileSync(join(tlsDir(), 'delta.key'), 'utf8'), second), true, 'the new key');
  assert.equal((await verifyNodeCertificate(second, { ca, now: Date.now(), expectNode: 'delta' })).ok, true);

  // Acknowledged samples lost = 0: the node's own store and the hub agree exactly over the whole run.
  await waitFor(
    async () =>
      (await hubGet<{ nodes: { node: string; state: string }[] }>('/api/v1/nodes')).nodes.some(
        (n) => n.node === 'delta' && n.state === 'online',
      ),
    {
      what: 'delta back online after its reconnect',
    },
  );
  const endMs = Date.now() - 1_000;
  const recorded = await socValues('node', endMs);
  assert.ok(recorded.length > 50, `recorded ${recorded.length}`);
  await waitFor(async () => JSON.stringify(await socValues('hub', endMs)) === JSON.stringify(recorded), {
    what: 'every sample delta recorded at the hub',
    timeoutMs: 20_000,
  });

  const metrics = await (await fetch(`${hubUrl}/metrics`, { headers: { authorization: `Bearer ${adminToken}` } })).text();
  const expiry = /fieldmesh_node_certificate_expiry_seconds\{site="ranch",node="delta"\} (\S+)/.exec(metrics);
  assert.ok(expiry !== null && Number(expiry[1]) > 0 && Number(expiry[1]) <= 320, expiry?.[0]);
  t.diagnostic(
    `first certificate ${firstIssuedMs} ms after approval; renewed ${renewedAfterMs} ms after it; ${recorded.length} samples in the window, all at the hub`,
  );
});

interface Listed {
  serial: string;
  node: string;
  state: string;
}

async function pkiList(): Promise<Listed[]> {
  const listed = await cli(['pki', 'list', '--dir', join(dir, 'pki'), '--json']);
  assert.equal(listed.code, 0, listed.err);
  return JSON.parse(listed.out) as Listed[];
}

const crlSerials = () =>
  parseCrl(readFileSync(join(dir, 'pki', 'crl.pem'), 'utf8'), 'crl.pem').entries.map((e) => canonicalSerial(e.serialNumber));

test('pki renewal: the old certificate is revoked as superseded once the node uses its new one, and the CRL lists it [FM-CERT-7]', async (t) => {
  assert.ok(firstSerial !== '' && secondSerial !== '', 'the renewal test ran first');
  const t0 = Date.now();
  await waitFor(async () => (await pkiList()).find((c) => c.serial === firstSerial)?.state === 'superseded', {
    what: `delta's first certificate ${firstSerial} superseded in pki list`,
    timeoutMs: 20_000,
  });
  const revokedAfterMs = Date.now() - t0;
  const listed = await pkiList();
  const indexed = readIndex(join(dir, 'pki', 'index.json')).certificates.find((c) => c.serial === firstSerial);
  assert.equal(indexed?.reason, 'superseded');
  assert.equal(listed.find((c) => c.serial === secondSerial)?.state, 'valid', 'the one in use stays');
  await waitFor(() => crlSerials().includes(canonicalSerial(firstSerial)), { what: 'the CRL lists the superseded certificate' });
  assert.ok(!crlSerials().includes(canonicalSerial(secondSerial)));
  const metrics = await (await fetch(`${hubUrl}/metrics`, { headers: { authorization: `Bearer ${adminToken}` } })).text();
  assert.match(metrics, /fieldmesh_hub_certificates_superseded_total 1\b/);
  t.diagnostic(
    `superseded certificate seen revoked in pki list ${revokedAfterMs} ms after this test began (grace 2 s from the in-use report)`,
  );
});

test('pki renewal: fieldmesh cmd renew-cert gives the node a new certificate at once, samples still flow [FM-CERT-8]', async (t) => {
  const before = certificateInfo(readFileSync(certFile(), 'utf8')).serial;
  const t0 = Date.now();
  const run = await cli(['cmd', 'node:ranch/delta', 'renew-cert', '--hub', hubUrl, '--token-file', join(dir, 'admin.token'), '--json']);
  assert.equal(run.code, 0, `${run.out}\n${run.err}`);
  const view = JSON.parse(run.out) as { results: { node: string; status: string; result?: { serial?: string; sent?: boolean } }[] };
  assert.deepEqual(
    view.results.map((r) => [r.node, r.status, r.result?.serial, r.result?.sent]),
    [['delta', 'ok', before, true]],
  );
  await waitFor(() => certificateInfo(readFileSync(certFile(), 'utf8')).serial !== before, {
    what: 'a third certificate on delta after renew-cert',
    timeoutMs: 20_000,
  });
  const renewedMs = Date.now() - t0;
  const third = readFileSync(certFile(), 'utf8');
  const ca = readFileSync(join(dir, 'pki', 'ca.crt'), 'utf8');
  assert.equal((await verifyNodeCertificate(third, { ca, now: Date.now(), expectNode: 'delta' })).ok, true);
  assert.equal(keyMatchesCertificate(readFileSync(join(tlsDir(), 'delta.key'), 'utf8'), third), true, 'the new key');
  // The one it replaced goes too, once the node reconnected with the third.
  await waitFor(async () => (await pkiList()).find((c) => c.serial === before)?.state === 'superseded', {
    what: `${before} superseded after renew-cert`,
    timeoutMs: 20_000,
  });
  // Samples still flow after the switch: the hub gets values newer than the command.
  const since = Date.now();
  await waitFor(async () => (await socValues('hub', Date.now())).some(([ts]) => ts * 1_000 > since), {
    what: 'samples from delta at the hub after renew-cert',
    timeoutMs: 20_000,
  });
  t.diagnostic(`renew-cert: new certificate on the node ${renewedMs} ms after the command`);
});
