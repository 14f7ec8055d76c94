// The console over HTTPS in Debian's headless Chromium: a hub with http.tls (a certificate of a test fleet CA, served
// with its chain) and login on, a real Mosquitto and one node. Chromium trusts the test CA only: it is started with
// --ignore-certificate-errors-spki-list holding the CA's SPKI hash, so a chain that does not lead to that CA's key is
// still refused (checked with a self-signed server). An operator logs in over HTTPS and sees the overview; the answer
// carries HSTS; plain HTTP to the hub's port gets no answer.
//
// Why the SPKI list and not an NSS database: Chromium on Linux reads its roots from ~/.pki/nssdb, which only NSS's
// certutil (libnss3-tools, not installed here) can write. The SPKI list needs nothing but the CA certificate; Chromium
// applies it to the chain it built from what the server sent (the hub sends its certificate and the CA's), so the
// leaf's signature must verify up to the CA's key. Checked by hand: without the flag, or with the hub sending its
// certificate alone, the first test fails with net::ERR_CERT_AUTHORITY_INVALID. What it does not give: name checking
// (every certificate error of such a chain is ignored), which test/integration/tls-listeners.test.ts checks with Node.

import assert from 'node:assert/strict';
import { createHash, X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { createServer as createHttpsServer, type Server } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { Browser } from 'playwright-core';
import { launchBrowser, submitLogin } from '../kit/browser.js';
import { USERS } from '../kit/console-fleet.js';
import { type FieldmeshProcess, runFieldmesh } from '../kit/fieldmesh-process.js';
import { createFleetCerts, type FleetCerts } from '../kit/fleet-certs.js';
import { type MosquittoInstance, startMosquitto } from '../kit/mosquitto.js';
import { freePort } from '../kit/ports.js';

let certs: FleetCerts;
let dir: string;
let mosquitto: MosquittoInstance;
let hub: FieldmeshProcess;
let node: FieldmeshProcess;
let browser: Browser;
let hubPort: number;
let stranger: Server | undefined;

/** base64(SHA-256(SubjectPublicKeyInfo)): the form --ignore-certificate-errors-spki-list takes. */
function spkiHash(certPem: string): string {
  const spki = new X509Certificate(certPem).publicKey.export({ type: 'spki', format: 'der' });
  return createHash('sha256').update(spki).digest('base64');
}

before(async () => {
  certs = await createFleetCerts();
  dir = mkdtempSync(join(tmpdir(), 'fm-console-https-'));
  mosquitto = await startMosquitto();
  const caPem = certs.ca.certificate.toString('pem');
  // The server's certificate (CN broker, SAN localhost) followed by the CA's: the chain a browser builds from.
  const chain = join(dir, 'hub-web-chain.crt');
  writeFileSync(chain, `${certs.server.certPem.trim()}\n${caPem.trim()}\n`);
  hubPort = await freePort();
  const hubYaml = join(dir, 'hub.yaml');
  writeFileSync(
    hubYaml,
    [
      `mqtt: {url: "${mosquitto.url}"}`,
      `http: {host: 127.0.0.1, port: ${hubPort}, tls: {cert: ${chain}, key: ${certs.server.keyFile}}}`,
      `storage: {path: ${join(dir, 'hub.db')}}`,
      `dataDir: ${dir}`,
      'auth: {mode: "on"}',
      '',
    ].join('\n'),
  );
  const add = runFieldmesh(
    ['hub', 'user', 'add', '--config', hubYaml, '--name', USERS.operator.name, '--role', 'operator', '--password-stdin'],
    {},
    `${USERS.operator.password}\n`,
  );
  assert.equal(await add.exited(), 0, add.stderr());
  hub = runFieldmesh(['hub', '--config', hubYaml]);
  await hub.waitForOutput(/console https:\/\/127\.0\.0\.1:\d+/);
  const nodeYaml = join(dir, 'node.yaml');
  writeFileSync(
    nodeYaml,
    [
      'node: {id: bess-01, site: north-farm}',
      `mqtt: {url: "${mosquitto.url}"}`,
      `dataDir: ${join(dir, 'node')}`,
      'http: {port: 0}',
      'publish: {tick: 500ms, heartbeat: 1s}',
      'critical: [{match: battery_soc}]',
      'collectors: [{type: sim_battery, index: 0, interval: 500ms}]',
      '',
    ].join('\n'),
  );
  node = runFieldmesh(['node', '--config', nodeYaml]);
  await node.waitForOutput(/fieldmesh node \S+ \(boot \d+\)/);
  browser = await launchBrowser([`--ignore-certificate-errors-spki-list=${spkiHash(caPem)}`]);
});

after(async () => {
  await browser?.close();
  stranger?.close();
  for (const p of [node, hub]) p?.kill('SIGKILL');
  await Promise.all([node, hub].map((p) => p?.exited()));
  await mosquitto?.stop();
  certs?.cleanup();
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
});

test('console https: an operator logs in over HTTPS in Chromium trusting the test CA and sees the overview; HSTS is sent', async () => {
  const context = await browser.newContext({ ignoreHTTPSErrors: false });
  try {
    const page = await context.newPage();
    const url = `https://localhost:${hubPort}/`;
    const first = await page.goto(url);
    assert.ok(first !== null);
    assert.equal(first.headers()['strict-transport-security'], 'max-age=31536000');
    const security = await first.securityDetails();
    assert.match(security?.protocol ?? '', /^TLS 1\.[23]$/);
    assert.equal(security?.subjectName, 'broker');
    await page.waitForURL(/\/login/);
    await submitLogin(page, USERS.operator);
    await page.locator('[data-testid="health-nodes-online"]', { hasText: '1' }).waitFor({ timeout: 20_000 });
    assert.match(page.url(), /^https:\/\/localhost:\d+\//);
    const cookies = await context.cookies(url);
    assert.ok(cookies.length > 0 && cookies.every((c) => c.secure), 'the session cookie is Secure over HTTPS');
  } finally {
    await context.close();
  }
});

test('console https: Chromium with the CA pinned still refuses a server certificate that does not chain to it', async () => {
  // A self-signed certificate, not from the fleet CA: the SPKI list does not cover it.
  stranger = createHttpsServer({ cert: certs.selfSigned.certPem, key: certs.selfSigned.keyPem }, (_req, res) => res.end('hello'));
  await new Promise<void>((resolve) => stranger?.listen(0, '127.0.0.1', resolve));
  const port = (stranger.address() as { port: number }).port;
  const context = await browser.newContext({ ignoreHTTPSErrors: false });
  try {
    const page = await context.newPage();
    await assert.rejects(page.goto(`https://localhost:${port}/`), /net::ERR_CERT_(AUTHORITY_INVALID|COMMON_NAME_INVALID|INVALID)/);
  } finally {
    await context.close();
  }
});

test('console https: plain HTTP to the hub port is refused, by Node and by Chromium', async () => {
  await assert.rejects(
    new Promise((resolve, reject) => {
      const req = httpRequest({ host: '127.0.0.1', port: hubPort, path: '/', agent: false }, resolve);
      req.on('error', reject);
      req.end();
    }),
  );
  const context = await browser.newContext();
  try {
    const page = await context.newPage();
    await assert.rejects(page.goto(`http://localhost:${hubPort}/`), /net::ERR_/);
  } finally {
    await context.close();
  }
});
