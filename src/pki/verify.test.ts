// The bad-certificate matrix of issue 12 at the verdict level: every case is refused with its own reason, a good
// certificate is accepted, and the CA or CRL given by the caller is checked as configuration.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { isFieldmeshError, ManualClock } from '../kit/index.js';
import { openFleetCa } from './fleet-ca.js';
import { DAY_MS } from './names.js';
import { createTestCa, selfSignedNode, signWithCaKey } from './pki-test-kit.js';
import { CERTIFICATE_REFUSALS, type CertificateRefusal, verifyNodeCertificate } from './verify.js';
import { x509 } from './x509.js';

const NODE_EXTENSIONS = () => [
  new x509.BasicConstraintsExtension(false, undefined, true),
  new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
  new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth]),
];

test('verify: the bad-certificate matrix, each case refused with its reason, and a good certificate accepted', async () => {
  const clock = new ManualClock(Date.now());
  const fleet = await createTestCa({ clock, fleet: 'acme' });
  const stranger = await createTestCa({ clock, fleet: 'acme' });
  const out = mkdtempSync(join(tmpdir(), 'fieldmesh-pki-out-'));
  try {
    const { ca } = fleet;
    const issue = async (node: string, days?: number) =>
      (await ca.issue(node, { site: 'ranch', outDir: join(out, node), ...(days === undefined ? {} : { days }) })).certificatePem;
    const good = await issue('good');
    const shortLived = await issue('short', 10);
    const revoked = await issue('stolen');
    await ca.revoke('stolen', 'keyCompromise');
    // Issued by the same CA with a clock 20 days ahead: valid from then on only.
    const future = await openFleetCa({ dir: fleet.dir, clock: new ManualClock(clock.now() + 20 * DAY_MS) }).issue('future', {
      site: 'ranch',
      outDir: join(out, 'future'),
    });
    const otherCa = (await stranger.ca.issue('good', { site: 'ranch', outDir: join(out, 'stranger') })).certificatePem;
    const selfSigned = (await selfSignedNode({ node: 'good', site: 'ranch', fleet: 'acme', nowMs: clock.now() })).certPem;
    const noDigitalSignature = (
      await signWithCaKey(ca, {
        node: 'ku',
        site: 'ranch',
        nowMs: clock.now(),
        extensions: [
          new x509.BasicConstraintsExtension(false, undefined, true),
          new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyEncipherment, true),
          new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.clientAuth]),
        ],
      })
    ).certPem;
    const serverOnly = (
      await signWithCaKey(ca, {
        node: 'eku',
        site: 'ranch',
        nowMs: clock.now(),
        extensions: [
          new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
          new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
        ],
      })
    ).certPem;
    const subCa = (
      await signWithCaKey(ca, {
        node: 'sub',
        site: 'ranch',
        nowMs: clock.now(),
        extensions: [new x509.BasicConstraintsExtension(true, 0, true), ...NODE_EXTENSIONS().slice(1)],
      })
    ).certPem;
    clock.advance(11 * DAY_MS);
    const crl = (await ca.refreshCrl()).pem;

    const cases: [string, string, CertificateRefusal | 'ok', string?][] = [
      ['a good certificate', good, 'ok'],
      ['a good certificate followed by the CA (a chain)', `${good}${ca.certificatePem}`, 'ok'],
      ['an expired certificate', shortLived, 'expired'],
      ['a certificate valid from a later day', future.certificatePem, 'not-yet-valid'],
      ['a certificate of another CA with the same names', otherCa, 'wrong-ca'],
      ['a revoked certificate', revoked, 'revoked'],
      ['a self-signed certificate with a node subject', selfSigned, 'self-signed'],
      ['the CA certificate itself', ca.certificatePem, 'self-signed'],
      ['a key usage without digitalSignature', noDigitalSignature, 'wrong-key-usage'],
      ['an extended key usage without clientAuth', serverOnly, 'wrong-key-usage'],
      ['a CA:true certificate from the fleet CA', subCa, 'wrong-key-usage'],
      ["another node's certificate", good, 'other-node', 'edge-07'],
      ['not a certificate', '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n', 'malformed'],
      ['no PEM at all', 'hello', 'malformed'],
    ];
    const seen = new Set<string>();
    for (const [what, pem, expected, expectNode] of cases) {
      const verdict = await verifyNodeCertificate(pem, {
        ca: ca.certificate,
        crl,
        now: clock.now(),
        ...(expectNode ? { expectNode } : {}),
      });
      const got = verdict.ok ? 'ok' : verdict.reason;
      assert.equal(got, expected, `${what}: ${verdict.ok ? 'accepted' : verdict.message}`);
      if (!verdict.ok) {
        assert.ok(verdict.message.length > 10, `${what}: a message says why`);
        seen.add(verdict.reason);
      }
    }
    assert.deepEqual(
      (await verifyNodeCertificate(good, { ca: ca.certificate, crl, now: clock.now(), expectNode: 'good' })).ok,
      true,
      'the expected node is accepted',
    );
    // Every reason decided at the certificate level is covered above (crl-expired just below).
    const listenerLevel: CertificateRefusal[] = ['hostname-mismatch', 'tls-version', 'crl-expired'];
    assert.deepEqual([...seen].sort(), CERTIFICATE_REFUSALS.filter((r) => !listenerLevel.includes(r)).sort());
  } finally {
    fleet.cleanup();
    stranger.cleanup();
    rmSync(out, { recursive: true, force: true });
  }
});

test('verify: a CRL past its nextUpdate refuses everyone (as OpenSSL does) until a fresh one is signed', async () => {
  const clock = new ManualClock(Date.now());
  const { ca, cleanup } = await createTestCa({ clock, crlDays: 7 });
  const out = mkdtempSync(join(tmpdir(), 'fieldmesh-pki-out-'));
  try {
    const good = (await ca.issue('n1', { site: 'ranch', outDir: out })).certificatePem;
    const oldCrl = ca.currentCrl().pem;
    clock.advance(8 * DAY_MS);
    const stale = await verifyNodeCertificate(good, { ca: ca.certificate, crl: oldCrl, now: clock.now() });
    assert.equal(stale.ok ? 'ok' : stale.reason, 'crl-expired');
    assert.match(stale.ok ? '' : stale.message, /fieldmesh pki crl/);
    const fresh = await ca.refreshCrl();
    assert.equal((await verifyNodeCertificate(good, { ca: ca.certificate, crl: fresh.pem, now: clock.now() })).ok, true);
    // Without a CRL, revocation is not checked (the caller chose so).
    assert.equal((await verifyNodeCertificate(good, { ca: ca.certificate, now: clock.now() })).ok, true);
  } finally {
    cleanup();
    rmSync(out, { recursive: true, force: true });
  }
});

test('verify: purpose server wants serverAuth; a CRL of another CA or an unreadable CA is a configuration error', async () => {
  const clock = new ManualClock(Date.now());
  const fleet = await createTestCa({ clock });
  const other = await createTestCa({ clock });
  try {
    const clientOnly = (
      await signWithCaKey(fleet.ca, {
        node: 'n1',
        site: 'ranch',
        nowMs: clock.now(),
        extensions: [new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.clientAuth])],
      })
    ).certPem;
    const asClient = await verifyNodeCertificate(clientOnly, { ca: fleet.ca.certificate, now: clock.now() });
    assert.equal(asClient.ok, true);
    const asServer = await verifyNodeCertificate(clientOnly, { ca: fleet.ca.certificate, now: clock.now(), purpose: 'server' });
    assert.equal(asServer.ok ? 'ok' : asServer.reason, 'wrong-key-usage');
    await assert.rejects(
      verifyNodeCertificate(clientOnly, { ca: fleet.ca.certificate, crl: other.ca.currentCrl().pem, now: clock.now() }),
      (err: unknown) => isFieldmeshError(err, 'FM_PKI_INVALID') && /not signed by the CA/.test((err as Error).message),
    );
    await assert.rejects(
      verifyNodeCertificate(clientOnly, { ca: 'garbage', now: clock.now() }),
      (err: unknown) => isFieldmeshError(err, 'FM_PKI_INVALID') && /the CA certificate is not readable PEM/.test((err as Error).message),
    );
  } finally {
    fleet.cleanup();
    other.cleanup();
  }
});
