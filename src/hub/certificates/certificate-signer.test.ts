// The hub's online signer on a manual clock: a node's CSR signed and answered retained on its own _hub/cert topic,
// a CSR naming another node or site refused, a retry answered again without a second signature, a pending node's
// request signed at approval, a renewal with a new key, the expiry metric and the certificate state of a node.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Registry } from 'prom-client';
import { ManualClock, silentLogger } from '../../kit/index.js';
import { createNodeCsr, DAY_MS, verifyNodeCertificate } from '../../pki/index.js';
import { createTestCa } from '../../pki/pki-test-kit.js';
import {
  type CertificateAnswer,
  decodeCertificateAnswer,
  decodeCsrTopicMessage,
  encodeCertificateRequest,
  hubCertTopic,
} from '../../protocol/index.js';
import { createNoBrokerTransport, type PublishOptions, type Transport } from '../../transport/index.js';
import { CertificateSigner } from './certificate-signer.js';

interface Published {
  readonly topic: string;
  readonly answer: CertificateAnswer;
  readonly options: PublishOptions;
}

function recordingTransport(published: Published[]): Transport {
  return {
    connected: true,
    start() {},
    publish: async (topic, payload, options) => {
      published.push({ topic, answer: decodeCertificateAnswer(payload), options });
    },
    // Nothing arrives through this fake.
    subscribe: createNoBrokerTransport().subscribe,
    on() {},
    off() {},
    stats: () => ({ bytesIn: 0, bytesOut: 0, connects: 1, messagesIn: 0, messagesOut: 0 }),
    close: async () => {},
  };
}

async function setup(approved: Set<string> = new Set(['ranch/edge-01'])) {
  const clock = new ManualClock(Date.now());
  const testCa = await createTestCa({ clock });
  const published: Published[] = [];
  const registry = new Registry();
  const signer = new CertificateSigner({
    ca: testCa.ca,
    prefix: 'fieldmesh',
    validityMs: 90 * DAY_MS,
    renewAt: 2 / 3,
    clock,
    logger: silentLogger,
    registry,
    transport: () => recordingTransport(published),
    isApproved: (site, node) => approved.has(`${site}/${node}`),
  });
  return { clock, testCa, published, registry, signer, approved };
}

const request = async (node: string, site: string, requestId: string) => {
  const { keyPem, csrPem } = await createNodeCsr({ node, site });
  return { keyPem, payload: encodeCertificateRequest({ requestId, csr: csrPem }) };
};

test('certificates: the hub signs an admitted node CSR and answers retained on its own _hub/cert topic [FM-CERT-2] [FM-CERT-3]', async (t) => {
  const s = await setup();
  t.after(() => s.testCa.cleanup());
  const { payload } = await request('edge-01', 'ranch', 'r1');
  assert.equal(await s.signer.receive('ranch', 'edge-01', decodeCsrTopicMessage(payload)), 'issued');
  const [out] = s.published;
  assert.equal(out?.topic, hubCertTopic('fieldmesh', 'ranch', 'edge-01'));
  assert.deepEqual(out?.options, { qos: 1, retain: true });
  assert.equal(out?.answer.status, 'issued');
  if (out?.answer.status !== 'issued') return;
  assert.equal(out.answer.requestId, 'r1');
  assert.equal(out.answer.renewAt, 2 / 3);
  const verdict = await verifyNodeCertificate(out.answer.certificate, { ca: out.answer.ca, now: s.clock.now(), expectNode: 'edge-01' });
  assert.equal(verdict.ok, true);
  assert.equal(Math.round((out.answer.notAfter - s.clock.now()) / DAY_MS), 90);

  // A retry of the same request (the answer was lost) gets the same certificate, not a second one.
  assert.equal(await s.signer.receive('ranch', 'edge-01', decodeCsrTopicMessage(payload)), 'resent');
  const again = s.published[1]?.answer;
  assert.equal(again?.status === 'issued' ? again.serial : undefined, out.answer.serial);
  assert.equal(s.testCa.ca.list().length, 1);
});

test('certificates: a CSR for another node or another site is refused and nothing is signed [FM-CERT-2]', async (t) => {
  const s = await setup(new Set(['ranch/edge-01', 'ranch/edge-02']));
  t.after(() => s.testCa.cleanup());
  const forOther = await request('edge-02', 'ranch', 'a');
  assert.equal(await s.signer.receive('ranch', 'edge-01', decodeCsrTopicMessage(forOther.payload)), 'refused');
  const otherSite = await request('edge-01', 'valley', 'b');
  assert.equal(await s.signer.receive('ranch', 'edge-01', decodeCsrTopicMessage(otherSite.payload)), 'refused');
  const answers = s.published.map((p) => p.answer);
  assert.deepEqual(
    answers.map((a) => [a.requestId, a.status, a.status === 'refused' ? a.code : '']),
    [
      ['a', 'refused', 'FM_PKI_REFUSED'],
      ['b', 'refused', 'FM_PKI_REFUSED'],
    ],
  );
  const first = answers[0];
  assert.match(first?.status === 'refused' ? first.message : '', /CN "edge-02"/);
  assert.equal(s.testCa.ca.list().length, 0);
  // A request that does not decode: the hub's frame router refuses it, the signer counts it invalid.
  assert.throws(() => decodeCsrTopicMessage(new TextEncoder().encode('{"requestId":"x"}')), /certificate request refused/);
  assert.equal(s.signer.unreadable('ranch', 'edge-01', 'certificate request refused: csr: required'), 'invalid');
  const metrics = await s.registry.getSingleMetricAsString('fieldmesh_hub_certificate_requests_total');
  assert.match(metrics, /result="refused"} 2/);
  assert.match(metrics, /result="invalid"} 1/);
});

test('certificates: a pending node gets "pending", and its certificate when an admin approves it [FM-CERT-5]', async (t) => {
  const s = await setup(new Set());
  t.after(() => s.testCa.cleanup());
  const { payload } = await request('edge-07', 'ranch', 'p1');
  assert.equal(await s.signer.receive('ranch', 'edge-07', decodeCsrTopicMessage(payload)), 'pending');
  assert.equal(s.published[0]?.answer.status, 'pending');
  assert.equal(s.testCa.ca.list().length, 0);
  assert.equal(await s.signer.approved('ranch', 'edge-09'), undefined, 'no request waits for another node');
  s.approved.add('ranch/edge-07');
  assert.equal(await s.signer.approved('ranch', 'edge-07'), 'issued');
  assert.deepEqual(
    s.published.map((p) => [p.answer.requestId, p.answer.status]),
    [
      ['p1', 'pending'],
      ['p1', 'issued'],
    ],
  );
  assert.equal(s.signer.stateOf('ranch', 'edge-07'), 'valid');
});

test('certificates: a renewal with a new key, the expiry metric, and the state of a node: valid, expired, revoked', async (t) => {
  const s = await setup(new Set(['ranch/edge-01', 'ranch/edge-02']));
  t.after(() => s.testCa.cleanup());
  await s.signer.receive('ranch', 'edge-01', decodeCsrTopicMessage((await request('edge-01', 'ranch', 'one')).payload));
  await s.signer.receive('ranch', 'edge-02', decodeCsrTopicMessage((await request('edge-02', 'ranch', 'two')).payload));
  const expiry = async () => {
    const m = await s.registry.getSingleMetric('fieldmesh_node_certificate_expiry_seconds')?.get();
    return Object.fromEntries((m?.values ?? []).map((v) => [String(v.labels.node), Math.round(v.value / 86_400)]));
  };
  assert.deepEqual(await expiry(), { 'edge-01': 90, 'edge-02': 90 });

  s.clock.advance(61 * DAY_MS);
  assert.deepEqual(await expiry(), { 'edge-01': 29, 'edge-02': 29 });
  const renewal = await request('edge-01', 'ranch', 'renew');
  assert.equal(await s.signer.receive('ranch', 'edge-01', decodeCsrTopicMessage(renewal.payload)), 'issued');
  const answer = s.published.at(-1)?.answer;
  assert.equal(answer?.status, 'issued');
  if (answer?.status !== 'issued') return;
  // The new certificate carries the new key; the metric follows the newest certificate.
  const { keyMatchesCertificate } = await import('../../pki/index.js');
  assert.equal(keyMatchesCertificate(renewal.keyPem, answer.certificate), true);
  assert.deepEqual(await expiry(), { 'edge-01': 90, 'edge-02': 29 });
  const rows = s.testCa.ca.list().filter((c) => c.node === 'edge-01');
  assert.equal(rows.length, 2, 'renewed with overlap: the old one stays in the index');

  s.clock.advance(30 * DAY_MS);
  assert.equal(s.signer.stateOf('ranch', 'edge-01'), 'valid');
  assert.equal(s.signer.stateOf('ranch', 'edge-02'), 'expired');
  assert.ok(((await expiry())['edge-02'] ?? 0) < 0, 'negative once expired');
  await s.testCa.ca.revoke('edge-01', 'keyCompromise');
  assert.equal(s.signer.stateOf('ranch', 'edge-01'), 'revoked');
  assert.equal(s.signer.stateOf('ranch', 'edge-05'), null);
  assert.equal(s.signer.stateOf('valley', 'edge-01'), null, 'a node of the same id in another site has no certificate of its own');
});
