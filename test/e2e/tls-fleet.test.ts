// A TLS fleet of real processes, its certificates made with the real `fieldmesh pki` CLI: a broker requiring client
// certificates (the embedded `fieldmesh broker` with `tls:`, then a real Mosquitto configured by `fieldmesh pki
// mosquitto-conf`), a `fieldmesh hub` serving HTTPS and two `fieldmesh node` processes connecting with their own
// certificates. Every pushed sample reaches the hub's API over HTTPS, counted exactly; a node whose certificate is
// revoked is refused at its next connect and the hub shows it offline while the other keeps flowing.

import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import mqtt from 'mqtt';
import { type FieldmeshProcess, runFieldmesh } from '../kit/fieldmesh-process.js';
import { type MosquittoInstance, startMosquitto } from '../kit/mosquitto.js';
import { freePort } from '../kit/ports.js';
import { waitFor } from '../kit/wait.js';

const TOKEN = 'tls-fleet-push-token';
const SITE = 'farm';
const NODES = ['n1', 'n2'] as const;
/** Samples each node is pushed before the revocation, and n1 after it. */
const SAMPLES = 30;
/** Whole seconds, a minute back: inside what the node keeps, one sample per second so a 1 s step reads each once. */
const BASE_MS = Math.floor(Date.now() / 1000) * 1000 - 60_000;

const running: FieldmeshProcess[] = [];
const cleanups: (() => Promise<void> | void)[] = [];
after(async () => {
  for (const p of running) p.kill('SIGKILL');
  await Promise.all(running.map((p) => p.exited()));
  for (const c of cleanups.reverse()) await c();
});

function start(args: readonly string[]): FieldmeshProcess {
  const p = runFieldmesh(args);
  running.push(p);
  return p;
}

/** Runs a `fieldmesh` command to its end; fails the test unless it exits 0. */
async function cli(...args: string[]): Promise<string> {
  const p = start(args);
  const code = await p.exited();
  assert.equal(code, 0, `fieldmesh ${args.join(' ')} exited ${code}: ${p.stderr()}`);
  return p.stdout();
}

interface Pki {
  readonly dir: string;
  readonly caFile: string;
  /** <certs>/<name>/{name.key,name.crt,ca.crt}, as `fieldmesh pki issue --out` writes them. */
  files(name: string): { key: string; cert: string; ca: string };
}

/** A fleet CA and the certificates of the hub, its web listener, the broker and the two nodes, all by the CLI. */
async function makePki(root: string): Promise<Pki> {
  const dir = join(root, 'pki');
  const certs = join(root, 'certs');
  await cli('pki', 'init', '--dir', dir, '--fleet', 'tls-fleet');
  const issue = (name: string, site: string, ...sans: string[]) =>
    cli('pki', 'issue', name, '--site', site, '--dir', dir, '--out', join(certs, name), ...sans.flatMap((s) => ['--san', s]));
  await issue('broker', 'hq', 'localhost', '127.0.0.1');
  await issue('hub', 'hq');
  await issue('hub-web', 'hq', 'localhost', '127.0.0.1');
  for (const n of NODES) await issue(n, SITE);
  return {
    dir,
    caFile: join(dir, 'ca.crt'),
    files: (name) => ({ key: join(certs, name, `${name}.key`), cert: join(certs, name, `${name}.crt`), ca: join(certs, name, 'ca.crt') }),
  };
}

interface Answer {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: string;
}

/** GET over HTTPS trusting only the fleet CA: the hub's chain and name (127.0.0.1 in its SANs) are checked. */
function httpsGet(url: string, caPem: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(url, { ca: caPem, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => {
        body += d;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

interface Fleet {
  readonly hubUrl: string;
  readonly caPem: string;
  readonly nodeUrls: Map<string, string>;
  readonly nodes: Map<string, FieldmeshProcess>;
  readonly yaml: Map<string, string>;
}

function writeNodeYaml(root: string, pki: Pki, mqttsUrl: string, node: string): string {
  const f = pki.files(node);
  const path = join(root, `${node}.yaml`);
  writeFileSync(
    path,
    [
      `node: {id: ${node}, site: ${SITE}}`,
      `mqtt: {url: "${mqttsUrl}", ca: ${f.ca}, cert: ${f.cert}, key: ${f.key}}`,
      `dataDir: ${join(root, `data-${node}`)}`,
      'http: {host: 127.0.0.1, port: 0}',
      'publish: {tick: 200ms, heartbeat: 1s}',
      'critical: [{match: probe_seq}]',
      // A partial history frame goes after 1 s, not the default 30 s.
      'outbox: {historyInterval: 1s}',
      `collectors: [{type: http_push, token: ${TOKEN}}]`,
      '',
    ].join('\n'),
  );
  return path;
}

async function startNode(fleet: Fleet, node: string): Promise<void> {
  const p = start(['node', '--config', fleet.yaml.get(node) as string]);
  const [, url] = await p.waitForOutput(/fieldmesh node \S+ \(boot \d+\) -> \S+; HTTP (http:\/\/\S+)/);
  fleet.nodes.set(node, p);
  fleet.nodeUrls.set(node, url as string);
}

async function startFleet(root: string, pki: Pki, mqttsUrl: string): Promise<Fleet> {
  const hubFiles = pki.files('hub');
  const web = pki.files('hub-web');
  const hubYaml = join(root, 'hub.yaml');
  writeFileSync(
    hubYaml,
    [
      `mqtt: {url: "${mqttsUrl}", clientId: hub, ca: ${hubFiles.ca}, cert: ${hubFiles.cert}, key: ${hubFiles.key}}`,
      `http: {host: 127.0.0.1, port: ${await freePort()}, tls: {cert: ${web.cert}, key: ${web.key}}}`,
      `storage: {path: ${join(root, 'hub.db')}}`,
      `dataDir: ${root}`,
      '',
    ].join('\n'),
  );
  const hub = start(['hub', '--config', hubYaml]);
  const [, hubUrl] = await hub.waitForOutput(/console (https:\/\/\S+?)\/?\s/);
  const fleet: Fleet = {
    hubUrl: hubUrl as string,
    caPem: readFileSync(pki.caFile, 'utf8'),
    nodeUrls: new Map(),
    nodes: new Map(),
    yaml: new Map(NODES.map((n) => [n, writeNodeYaml(root, pki, mqttsUrl, n)])),
  };
  for (const n of NODES) await startNode(fleet, n);
  return fleet;
}

async function nodeState(fleet: Fleet, node: string): Promise<string | undefined> {
  const answer = await httpsGet(`${fleet.hubUrl}/api/v1/nodes/${SITE}/${node}`, fleet.caPem);
  if (answer.status !== 200) return undefined;
  return (JSON.parse(answer.body) as { state?: string }).state;
}

/** Pushes probe_seq = from..to-1, one a second from BASE_MS + from s; resolves once the node acknowledged them. */
async function push(fleet: Fleet, node: string, from: number, to: number): Promise<void> {
  const batch = Array.from({ length: to - from }, (_, k) => ({ time: BASE_MS + (from + k) * 1000, metrics: { probe_seq: from + k } }));
  const res = await fetch(`${fleet.nodeUrls.get(node)}/events`, {
    method: 'POST',
    headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify(batch),
  });
  assert.equal(res.status, 200, await res.text());
}

/** The values of probe_seq the hub holds for `node`, read over HTTPS at a 1 s step over the pushed seconds. */
async function valuesAtHub(fleet: Fleet, node: string, count: number): Promise<number[]> {
  const q = new URLSearchParams({
    query: `probe_seq{node="${node}"}`,
    start: String(BASE_MS / 1000),
    end: String(BASE_MS / 1000 + count - 1),
    step: '1',
  });
  const answer = await httpsGet(`${fleet.hubUrl}/api/v1/query_range?${q}`, fleet.caPem);
  assert.equal(answer.status, 200, answer.body);
  const result = (JSON.parse(answer.body) as { data: { result: { values: [number, string][] }[] } }).data.result;
  return result.flatMap((r) => r.values.map(([, v]) => Number(v)));
}

const upTo = (n: number) => Array.from({ length: n }, (_, i) => i);
/**
 * Step i holds exactly i: every sample arrived (a missing one would repeat the value before it, the query's lookback)
 * and nothing more (the range ends at the last pushed second).
 */
const same = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((v, i) => v === b[i]);

/**
 * The scenario on either broker: every node online over TLS, SAMPLES samples each at the hub exactly; n2 revoked
 * (`fieldmesh pki revoke`, the CRL handed to the broker by `reload`), stopped and started again: refused at its
 * TLS handshake (`refused` says when the broker saw it), offline at the hub, while n1's next samples still arrive.
 */
async function scenario(
  root: string,
  pki: Pki,
  mqttsUrl: string,
  reload: () => Promise<void>,
  refused: (since: number) => Promise<boolean>,
  mark: () => number,
): Promise<void> {
  const fleet = await startFleet(root, pki, mqttsUrl);
  const head = await httpsGet(`${fleet.hubUrl}/healthz`, fleet.caPem);
  assert.equal(head.status, 200);
  assert.equal(head.headers['strict-transport-security'], 'max-age=31536000');
  for (const n of NODES) {
    await waitFor(async () => (await nodeState(fleet, n)) === 'online', { what: `${n} online at the hub over TLS`, timeoutMs: 20_000 });
  }
  for (const n of NODES) await push(fleet, n, 0, SAMPLES);
  for (const n of NODES) {
    await waitFor(async () => same(await valuesAtHub(fleet, n, SAMPLES), upTo(SAMPLES)), {
      what: `${SAMPLES} samples of ${n} at the hub`,
      timeoutMs: 20_000,
    });
  }

  await cli('pki', 'revoke', 'n2', '--reason', 'key-compromise', '--dir', pki.dir);
  await reload();
  const n2 = fleet.nodes.get('n2') as FieldmeshProcess;
  n2.kill('SIGTERM');
  assert.equal(await n2.exited(), 0);
  const since = mark();
  await startNode(fleet, 'n2');
  await waitFor(() => refused(since), { what: "the broker refusing n2's revoked certificate", timeoutMs: 20_000 });
  // The node keeps trying with its backoff and is refused each time: the hub has it offline, not back online.
  await waitFor(async () => (await nodeState(fleet, 'n2')) === 'offline', { what: 'n2 offline at the hub', timeoutMs: 10_000 });
  await push(fleet, 'n1', SAMPLES, 2 * SAMPLES);
  await waitFor(async () => same(await valuesAtHub(fleet, 'n1', 2 * SAMPLES), upTo(2 * SAMPLES)), {
    what: "n1's later samples at the hub",
    timeoutMs: 20_000,
  });
  assert.equal(await nodeState(fleet, 'n1'), 'online');
  assert.equal(await nodeState(fleet, 'n2'), 'offline');
  for (const p of [...fleet.nodes.values()]) p.kill('SIGTERM');
  await Promise.all([...fleet.nodes.values()].map((p) => p.exited()));
}

/** One MQTT connection attempt over TLS with a certificate; resolves when it is answered (CONNACK) or closed. */
function tryConnect(url: string, f: { key: string; cert: string; ca: string }): Promise<void> {
  const client = mqtt.connect(url, {
    key: readFileSync(f.key),
    cert: readFileSync(f.cert),
    ca: readFileSync(f.ca),
    clientId: 'revocation-probe',
    reconnectPeriod: 0,
    connectTimeout: 5000,
    protocolVersion: 4,
  });
  return new Promise<void>((resolve) => {
    client.once('connect', () => resolve());
    client.once('error', () => resolve());
    client.once('close', () => resolve());
  }).finally(() => client.end(true));
}

async function revokedCount(metricsUrl: string): Promise<number> {
  const text = await (await fetch(metricsUrl)).text();
  const m = /^fieldmesh_broker_tls_refused_total\{reason="revoked"\} (\d+)$/m.exec(text);
  return m === null ? 0 : Number(m[1]);
}

describe('TLS fleet of real processes', () => {
  test('tls fleet: the embedded broker with client certificates, a hub over HTTPS and two nodes; a revoked node is refused and offline', async () => {
    const root = mkdtempSync(join(tmpdir(), 'fm-tls-fleet-'));
    cleanups.push(() => rmSync(root, { recursive: true, force: true }));
    const pki = await makePki(root);
    const b = pki.files('broker');
    // The broker's copy of the CRL: re-read when the file changes.
    const crl = join(root, 'broker-crl.pem');
    copyFileSync(join(pki.dir, 'crl.pem'), crl);
    const brokerYaml = join(root, 'broker.yaml');
    writeFileSync(
      brokerYaml,
      [
        `listen: {host: 127.0.0.1, port: ${await freePort()}}`,
        'websocket: {enabled: false}',
        `tls: {host: 127.0.0.1, port: ${await freePort()}, cert: ${b.cert}, key: ${b.key}, ca: ${pki.caFile}, crl: ${crl}}`,
        `metrics: {port: ${await freePort()}}`,
        '',
      ].join('\n'),
    );
    const broker = start(['broker', '--config', brokerYaml]);
    const [, mqttsUrl, metricsUrl] = await broker.waitForOutput(/(mqtts:\/\/\S+); metrics (http:\/\/\S+)/);
    let revokedBefore = 0;
    await scenario(
      root,
      pki,
      mqttsUrl as string,
      async () => {
        const before = await revokedCount(metricsUrl as string);
        copyFileSync(join(pki.dir, 'crl.pem'), crl);
        // The broker polls the file each second: once a connection with n2's certificate is refused as revoked, it has
        // the new CRL (and the node's own attempt will be the next refusal counted).
        await waitFor(
          async () => {
            await tryConnect(mqttsUrl as string, pki.files('n2'));
            return (await revokedCount(metricsUrl as string)) > before;
          },
          { what: 'the broker reading the new CRL', timeoutMs: 10_000 },
        );
        revokedBefore = await revokedCount(metricsUrl as string);
      },
      async () => (await revokedCount(metricsUrl as string)) > revokedBefore,
      () => 0,
    );
    broker.kill('SIGTERM');
    assert.equal(await broker.exited(), 0);
  });

  test('tls fleet: Mosquitto from fieldmesh pki mosquitto-conf, a hub over HTTPS and two nodes; a revoked node is refused and offline', async () => {
    const root = mkdtempSync(join(tmpdir(), 'fm-tls-fleet-mosquitto-'));
    cleanups.push(() => rmSync(root, { recursive: true, force: true }));
    const pki = await makePki(root);
    const out = join(root, 'mosquitto');
    mkdirSync(out);
    const port = await freePort();
    await cli('pki', 'issue', 'mqtt', '--site', 'hq', '--san', '127.0.0.1', '--dir', pki.dir, '--out', out);
    await cli(
      ...['pki', 'mosquitto-conf', '--dir', pki.dir, '--fleet', NODES.map((n) => `${SITE}/${n}`).join(','), '--out', out],
      ...['--port', String(port), '--bind', '127.0.0.1', '--certfile', join(out, 'mqtt.crt'), '--keyfile', join(out, 'mqtt.key')],
    );
    const mosquitto: MosquittoInstance = await startMosquitto({ extraConfig: [`include_dir ${out}`] });
    cleanups.push(() => mosquitto.stop());
    await scenario(
      root,
      pki,
      `mqtts://127.0.0.1:${port}`,
      async () => {
        // What an operator does after a revocation: the new CRL to the broker, and SIGHUP.
        copyFileSync(join(pki.dir, 'crl.pem'), join(out, 'crl.pem'));
        const from = mosquitto.log().length;
        process.kill(mosquitto.pid, 'SIGHUP');
        await waitFor(() => mosquitto.log().slice(from).includes('Reloading config'), { what: 'Mosquitto reloading' });
      },
      async (since) => /certificate revoked|certificate verify failed/.test(mosquitto.log().slice(since)),
      () => mosquitto.log().length,
    );
  });
});
