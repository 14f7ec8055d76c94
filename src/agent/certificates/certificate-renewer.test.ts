// The node's certificate renewal on a manual clock: its first certificate when it has none, renewal at 2/3 of the
// validity and not before, a request asked again every retry while unanswered, a stale answer ignored, a
// certificate for another node or another key refused with nothing replaced, and the files written next to the key.

import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { Registry } from 'prom-client';
import { ManualClock, silentLogger } from '../../kit/index.js';
import { createNodeCsr, DAY_MS, keyMatchesCertificate } from '../../pki/index.js';
import { createTestCa } from '../../pki/pki-test-kit.js';
import { type CertificateRequest, decodeCertificateRequest, encodeCertificateAnswer } from '../../protocol/index.js';
import { createNoBrokerTransport, type TlsCredentials, type Transport } from '../../transport/index.js';
import { certificateFiles, createCertificateRenewer, readNodeCredentials } from './certificate-renewer.js';

function recordingTransport(sent: { topic: string; request: CertificateRequest }[]): Transport {
  return {
    connected: true,
    start() {},
    publish: async (topic, payload) => {
      sent.push({ topic, request: decodeCertificateRequest(payload) });
    },
    // Nothing arrives through this fake.
    subscribe: createNoBrokerTransport().subscribe,
    on() {},
    off() {},
    stats: () => ({ bytesIn: 0, bytesOut: 0, connects: 1, messagesIn: 0, messagesOut: 0 }),
    close: async () => {},
  };
}

async function setup() {
  const clock = new ManualClock(Date.now());
  const testCa = await createTestCa({ clock });
  const dir = mkdtempSync(join(tmpdir(), 'fieldmesh-node-pki-'));
  const sent: { topic: string; request: CertificateRequest }[] = [];
  const renewed: TlsCredentials[] = [];
  const renewer = createCertificateRenewer({
    transport: recordingTransport(sent),
    prefix: 'fieldmesh',
    identity: { site: 'ranch', node: 'edge-01' },
    dir,
    retryMs: 60_000,
    clock,
    logger: silentLogger,
    registry: new Registry(),
    onRenewed: (c) => renewed.push(c),
  });
  /** The hub's part: signs the last request sent (a renewal once the node holds a certificate). */
  const issue = async (request: CertificateRequest, node = 'edge-01') => {
    const result = testCa.ca.list().some((c) => c.node === node && c.state === 'valid')
      ? await testCa.ca.renew(node, { csrPem: request.csr, validityMs: 90 * DAY_MS })
      : await testCa.ca.sign(request.csr, { node, site: 'ranch', validityMs: 90 * DAY_MS });
    return encodeCertificateAnswer({
      requestId: request.requestId,
      status: 'issued',
      certificate: result.certificatePem,
      ca: testCa.ca.certificatePem,
      serial: result.record.serial,
      notAfter: Date.parse(result.record.notAfter),
    });
  };
  return {
    clock,
    testCa,
    dir,
    sent,
    renewed,
    renewer,
    issue,
    cleanup() {
      testCa.cleanup();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

test('certificates: a node without a certificate asks for one, keeps its new key 0600 and writes the certificate next to it [FM-CERT-6]', async (t) => {
  const s = await setup();
  t.after(() => s.cleanup());
  assert.equal(await s.renewer.check(), 'requested');
  assert.equal(s.sent[0]?.topic, 'fieldmesh/ranch/edge-01/csr');
  const files = certificateFiles(s.dir, 'edge-01');
  assert.equal(statSync(files.nextKey).mode & 0o777, 0o600);
  assert.equal(await s.renewer.accept(await s.issue(s.sent[0]?.request as CertificateRequest)), 'renewed');
  assert.equal(s.renewed.length, 1, 'the link is told once');
  const creds = readNodeCredentials(s.dir, 'edge-01');
  assert.ok(creds !== undefined && keyMatchesCertificate(creds.key, creds.cert));
  assert.equal(creds?.ca, s.testCa.ca.certificatePem);
  assert.equal(statSync(files.key).mode & 0o777, 0o600);
  assert.equal(existsSync(files.nextKey) || existsSync(files.request) || existsSync(files.nextCert), false, 'nothing in flight left');
});

test('certificates: the node renews at 2/3 of the validity, not before, with a new key; asks again every retry until answered', async (t) => {
  const s = await setup();
  t.after(() => s.cleanup());
  await s.renewer.check();
  await s.renewer.accept(await s.issue(s.sent[0]?.request as CertificateRequest));
  const first = s.renewer.current();
  assert.ok(first !== undefined);
  const validity = first.notAfter - first.notBefore;
  assert.equal(first.dueAt, first.notBefore + Math.floor((validity * 2) / 3));
  const firstKey = readFileSync(certificateFiles(s.dir, 'edge-01').key, 'utf8');

  s.clock.advance(first.dueAt - s.clock.now() - 1_000);
  assert.equal(await s.renewer.check(), 'not-due', 'one second before 2/3');
  assert.equal(s.sent.length, 1);
  s.clock.advance(2_000);
  assert.equal(await s.renewer.check(), 'requested', 'one second after 2/3');
  const renewal = s.sent[1]?.request as CertificateRequest;
  assert.notEqual(renewal.requestId, s.sent[0]?.request.requestId);

  // Unanswered: asked again with the same request once the retry interval passed, not before.
  s.clock.advance(30_000);
  assert.equal(await s.renewer.check(), 'not-due');
  s.clock.advance(31_000);
  assert.equal(await s.renewer.check(), 'resent');
  assert.equal(s.sent[2]?.request.requestId, renewal.requestId);

  // The first answer, replayed retained, is not for this request.
  assert.equal(await s.renewer.accept(await s.issue(s.sent[0]?.request as CertificateRequest)), 'ignored');
  assert.equal(await s.renewer.accept(await s.issue(renewal)), 'renewed');
  const second = s.renewer.current();
  assert.notEqual(second?.serial, first.serial);
  assert.ok((second?.dueAt ?? 0) > s.clock.now(), 'the new one is not due');
  assert.notEqual(readFileSync(certificateFiles(s.dir, 'edge-01').key, 'utf8'), firstKey, 'a new key');
  assert.equal(s.renewed.length, 2);
});

test('certificates: a certificate for another node, or for another key, is refused and nothing is replaced', async (t) => {
  const s = await setup();
  t.after(() => s.cleanup());
  await s.renewer.check();
  const request = s.sent[0]?.request as CertificateRequest;
  // The hub answers this request id with edge-02's certificate.
  const other = await createNodeCsr({ node: 'edge-02', site: 'ranch' });
  assert.equal(await s.renewer.accept(await s.issue({ requestId: request.requestId, csr: other.csrPem }, 'edge-02')), 'refused');
  assert.equal(existsSync(certificateFiles(s.dir, 'edge-01').cert), false);
  // A new request, answered with a certificate of edge-01 for a key the node never made.
  assert.equal(await s.renewer.check(), 'requested');
  const second = s.sent[1]?.request as CertificateRequest;
  const foreign = await createNodeCsr({ node: 'edge-01', site: 'ranch' });
  assert.equal(await s.renewer.accept(await s.issue({ requestId: second.requestId, csr: foreign.csrPem })), 'refused');
  assert.equal(existsSync(certificateFiles(s.dir, 'edge-01').cert), false);
  assert.deepEqual(s.renewed, []);
});
