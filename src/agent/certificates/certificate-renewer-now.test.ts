// The node's renewal on demand (`fieldmesh cmd TARGET renew-cert`, [FM-CERT-8]) and its report of the certificate
// in use ([FM-CERT-7]), on a manual clock: a new key and CSR long before the certificate is due, a request in
// flight replaced, the new certificate installed from the answer, and the new serial announced on the csr topic.

import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { ManualClock, silentLogger } from '../../kit/index.js';
import { certificateInfo, DAY_MS, keyMatchesCertificate } from '../../pki/index.js';
import { createTestCa } from '../../pki/pki-test-kit.js';
import { type CertificateInUse, type CertificateRequest, decodeCsrTopicMessage, encodeCertificateAnswer } from '../../protocol/index.js';
import { createNoBrokerTransport, type Transport } from '../../transport/index.js';
import { certificateFiles, createCertificateRenewer } from './certificate-renewer.js';

async function setup(t: { after(fn: () => void): void }) {
  const clock = new ManualClock(Date.now());
  const testCa = await createTestCa({ clock });
  const dir = mkdtempSync(join(tmpdir(), 'fieldmesh-node-renew-now-'));
  t.after(() => {
    testCa.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });
  const sent: (CertificateRequest | CertificateInUse)[] = [];
  const transport: Transport = {
    connected: true,
    start() {},
    publish: async (topic, payload) => {
      assert.equal(topic, 'fieldmesh/ranch/edge-01/csr');
      sent.push(decodeCsrTopicMessage(payload));
    },
    // Nothing arrives through this fake.
    subscribe: createNoBrokerTransport().subscribe,
    on() {},
    off() {},
    stats: () => ({ bytesIn: 0, bytesOut: 0, connects: 1, messagesIn: 0, messagesOut: 0 }),
    close: async () => {},
  };
  const renewer = createCertificateRenewer({
    transport,
    prefix: 'fieldmesh',
    identity: { site: 'ranch', node: 'edge-01' },
    dir,
    retryMs: 60_000,
    clock,
    logger: silentLogger,
    onRenewed: () => {},
  });
  const issue = async (request: CertificateRequest) => {
    const inForce = testCa.ca.list().some((c) => c.node === 'edge-01' && c.state === 'valid');
    const result = inForce
      ? await testCa.ca.renew('edge-01', { csrPem: request.csr, validityMs: 90 * DAY_MS })
      : await testCa.ca.sign(request.csr, { node: 'edge-01', site: 'ranch', validityMs: 90 * DAY_MS });
    return encodeCertificateAnswer({
      requestId: request.requestId,
      status: 'issued',
      certificate: result.certificatePem,
      ca: testCa.ca.certificatePem,
      serial: result.record.serial,
      notAfter: Date.parse(result.record.notAfter),
    });
  };
  const lastRequest = () => {
    const r = sent.filter((m): m is CertificateRequest => 'csr' in m).at(-1);
    assert.ok(r !== undefined, 'a request was sent');
    return r;
  };
  return { clock, dir, sent, renewer, issue, lastRequest };
}

test('certificates: renew-cert makes a new key and CSR at once, long before the certificate is due [FM-CERT-8]', async (t) => {
  const s = await setup(t);
  assert.equal(await s.renewer.check(), 'requested');
  assert.equal(await s.renewer.accept(await s.issue(s.lastRequest())), 'renewed');
  const first = s.renewer.current();
  assert.ok(first !== undefined);
  s.clock.advance(DAY_MS);
  assert.equal(await s.renewer.check(), 'not-due', 'a day into 90: not due by age');

  const asked = await s.renewer.renewNow('token admin');
  assert.equal(asked.serial, first.serial);
  assert.equal(asked.sent, true);
  assert.equal(s.lastRequest().requestId, asked.requestId);

  // Asked again before the answer: the new request replaces the one in flight; the old answer is ignored.
  const oldRequest = s.lastRequest();
  const again = await s.renewer.renewNow('token admin');
  assert.notEqual(again.requestId, oldRequest.requestId);
  assert.equal(await s.renewer.accept(await s.issue(oldRequest)), 'ignored');
  assert.equal(await s.renewer.accept(await s.issue(s.lastRequest())), 'renewed');

  const files = certificateFiles(s.dir, 'edge-01');
  const cert = readFileSync(files.cert, 'utf8');
  assert.notEqual(certificateInfo(cert).serial, first.serial);
  assert.equal(keyMatchesCertificate(readFileSync(files.key, 'utf8'), cert), true, 'the new certificate is for the new key');

  // [FM-CERT-7] At the next connection the node names the certificate it now uses.
  assert.equal(await s.renewer.announceInUse(), certificateInfo(cert).serial);
  assert.deepEqual(s.sent.at(-1), { inUse: certificateInfo(cert).serial });
});

test('certificates: without a certificate yet, the announcement of the one in use sends nothing [FM-CERT-7]', async (t) => {
  const s = await setup(t);
  assert.equal(await s.renewer.announceInUse(), undefined);
  assert.equal(s.sent.length, 0);
});
