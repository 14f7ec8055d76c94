// The fleet CA: init (CA:true pathlen 0, key 0600, encrypted or kept in another folder), the CSR flow and its checks,
// renewal with overlapping validity, revocation into a CRL whose number grows, the list, and the index's atomic writes.

import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { type FieldmeshError, isFieldmeshError, ManualClock } from '../kit/index.js';
import { readIndex, writeIndex } from './cert-index.js';
import { crlNumberOf, initFleetCa, openFleetCa, parseCrl } from './fleet-ca.js';
import { DAY_MS, NOT_BEFORE_BACKDATE_MS } from './names.js';
import { createNodeCsr, writeNodeCsr } from './node-csr.js';
import { createTestCa } from './pki-test-kit.js';
import { verifyNodeCertificate } from './verify.js';
import { type CryptoKeyPair, EC_P256, ECDSA_SHA256, x509 } from './x509.js';

function rejectsWith(code: string, pattern?: RegExp) {
  return (err: unknown) => {
    assert.ok(isFieldmeshError(err), `expected a FieldmeshError, got ${String(err)}`);
    assert.equal((err as FieldmeshError).code, code, (err as Error).message);
    if (pattern) assert.match((err as Error).message, pattern);
    return true;
  };
}

function mode(file: string): number {
  return statSync(file).mode & 0o777;
}

test('pki init: a self-signed P-256 CA, CA:true pathlen 0, keyCertSign and cRLSign, ten years, key 0600, a first CRL', async () => {
  const clock = new ManualClock(Date.now());
  const { dir, ca, cleanup } = await createTestCa({ clock, fleet: 'acme' });
  try {
    const cert = ca.certificate;
    assert.equal(cert.subject, 'CN=acme fleet CA, O=acme');
    assert.equal(await cert.isSelfSigned(), true);
    const bc = cert.getExtension(x509.BasicConstraintsExtension);
    assert.equal(bc?.ca, true);
    assert.equal(bc?.pathLength, 0);
    assert.equal(bc?.critical, true);
    const ku = cert.getExtension(x509.KeyUsagesExtension);
    assert.equal(ku?.usages, x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign);
    assert.deepEqual(cert.publicKey.algorithm, { name: 'ECDSA', namedCurve: 'P-256' });
    assert.equal(cert.notAfter.getTime(), clock.now() + 3650 * DAY_MS - (clock.now() % 1000));
    assert.equal(mode(join(dir, 'ca.key')), 0o600);
    assert.match(readFileSync(join(dir, 'ca.key'), 'utf8'), /^-----BEGIN PRIVATE KEY-----/);
    const crl = ca.currentCrl();
    assert.equal(crl.number, 1);
    assert.equal(crl.entries, 0);
    assert.match(crl.pem, /^-----BEGIN X509 CRL-----/, 'OpenSSL reads a CRL under this label only');
    assert.deepEqual(readIndex(join(dir, 'index.json')), { version: 1, certificates: [] });
    await assert.rejects(initFleetCa({ dir, fleet: 'acme', clock }), rejectsWith('FM_PKI_REFUSED', /exists already/));
  } finally {
    cleanup();
  }
});

test('pki init: --days sets the CA validity and a bad fleet name or day count is refused as input', async () => {
  const clock = new ManualClock(Date.now());
  const { ca, cleanup } = await createTestCa({ clock });
  cleanup();
  const dir = mkdtempSync(join(tmpdir(), 'fieldmesh-pki-'));
  try {
    const short = await initFleetCa({ dir, fleet: 'f', days: 30, clock });
    assert.ok(Math.abs(short.certificate.notAfter.getTime() - (clock.now() + 30 * DAY_MS)) < 1000);
    await assert.rejects(initFleetCa({ dir: join(dir, 'x'), fleet: '', clock }), rejectsWith('FM_PKI_INVALID', /fleet name/));
    await assert.rejects(initFleetCa({ dir: join(dir, 'y'), fleet: 'f', days: 0, clock }), rejectsWith('FM_PKI_INVALID', /--days/));
    assert.ok(ca.certificate.notAfter > short.certificate.notAfter);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('pki init: a passphrase encrypts the CA key; signing needs it and a wrong one is named as such', async () => {
  const { dir, ca, cleanup } = await createTestCa({ passphrase: 'correct horse' });
  try {
    const keyText = readFileSync(ca.keyFile, 'utf8');
    assert.match(keyText, /^-----BEGIN ENCRYPTED PRIVATE KEY-----/);
    assert.equal(mode(ca.keyFile), 0o600);
    const { csrPem } = await createNodeCsr({ node: 'n1', site: 'ranch' });
    await assert.rejects(
      openFleetCa({ dir }).sign(csrPem, { node: 'n1' }),
      rejectsWith('FM_PKI_PASSPHRASE', /is encrypted: give its passphrase/),
    );
    await assert.rejects(
      openFleetCa({ dir, passphrase: 'wrong horse' }).sign(csrPem, { node: 'n1' }),
      rejectsWith('FM_PKI_PASSPHRASE', /ca\.key: wrong passphrase/),
    );
    const signed = await openFleetCa({ dir, passphrase: 'correct horse' }).sign(csrPem, { node: 'n1' });
    assert.equal(signed.record.node, 'n1');
    // Reading the CA needs no key: list and the CRL on disk work without the passphrase.
    assert.equal(openFleetCa({ dir }).list().length, 1);
  } finally {
    cleanup();
  }
});

test('pki init: --key-dir keeps the CA key out of the PKI folder; signing without that folder names where it went', async () => {
  const keyRoot = mkdtempSync(join(tmpdir(), 'fieldmesh-pki-key-'));
  const keyDir = join(keyRoot, 'stick');
  const { dir, ca, cleanup } = await createTestCa({ keyDir });
  try {
    assert.equal(existsSync(join(dir, 'ca.key')), false);
    assert.equal(ca.keyFile, join(keyDir, 'ca.key'));
    assert.equal(mode(ca.keyFile), 0o600);
    const { csrPem } = await createNodeCsr({ node: 'n1', site: 'ranch' });
    // The stick is unplugged (and later mounted somewhere else).
    const moved = join(keyRoot, 'mounted-elsewhere');
    renameSync(keyDir, moved);
    await assert.rejects(
      openFleetCa({ dir }).sign(csrPem, { node: 'n1' }),
      rejectsWith('FM_PKI_INVALID', /is not there \(init kept it in .*stick/),
    );
    const signed = await openFleetCa({ dir, keyDir: moved }).sign(csrPem, { node: 'n1' });
    assert.equal(signed.record.state, 'valid');
  } finally {
    cleanup();
    rmSync(keyRoot, { recursive: true, force: true });
  }
});

test('pki csr and sign: the node keeps its key; the certificate says CN node, O fleet, OU site, its SANs, server and client auth', async () => {
  const { dir, ca, clock, cleanup } = await createTestCa({ fleet: 'acme' });
  const nodeDir = mkdtempSync(join(tmpdir(), 'fieldmesh-node-'));
  try {
    const { keyFile, csrFile } = await writeNodeCsr(nodeDir, { node: 'edge-01', site: 'ranch', sans: ['edge-01.local', '10.0.0.7'] });
    assert.equal(mode(keyFile), 0o600);
    await assert.rejects(writeNodeCsr(nodeDir, { node: 'edge-01', site: 'ranch' }), rejectsWith('FM_PKI_REFUSED', /exists already/));
    const signed = await ca.sign(readFileSync(csrFile, 'utf8'), { node: 'edge-01', source: csrFile });
    const cert = new x509.X509Certificate(signed.certificatePem);
    assert.equal(cert.subject, 'CN=edge-01, O=acme, OU=ranch');
    assert.equal(cert.issuer, ca.certificate.subject);
    assert.equal(cert.serialNumber.length, 32, '128-bit serial');
    assert.equal(cert.getExtension(x509.BasicConstraintsExtension)?.ca, false);
    assert.equal(cert.getExtension(x509.KeyUsagesExtension)?.usages, x509.KeyUsageFlags.digitalSignature);
    assert.deepEqual(
      [...(cert.getExtension(x509.ExtendedKeyUsageExtension)?.usages ?? [])],
      [x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth],
    );
    assert.deepEqual(cert.getExtension(x509.SubjectAlternativeNameExtension)?.names.toJSON(), [
      { type: 'dns', value: 'edge-01.local' },
      { type: 'ip', value: '10.0.0.7' },
    ]);
    assert.equal(cert.notBefore.getTime(), Math.floor((clock.now() - NOT_BEFORE_BACKDATE_MS) / 1000) * 1000);
    assert.equal(cert.notAfter.getTime(), Math.floor((clock.now() + 365 * DAY_MS) / 1000) * 1000);
    // The public key is the node's: the certificate matches the key that never left nodeDir.
    const nodeKey = await crypto.subtle.importKey(
      'pkcs8',
      Buffer.from(readFileSync(keyFile, 'utf8').replace(/-----[^-]+-----|\s/g, ''), 'base64'),
      EC_P256,
      true,
      ['sign'],
    );
    const sig = await crypto.subtle.sign(ECDSA_SHA256, nodeKey, Buffer.from('hello'));
    assert.equal(
      await crypto.subtle.verify(ECDSA_SHA256, await cert.publicKey.export(EC_P256, ['verify']), sig, Buffer.from('hello')),
      true,
    );
    const [record] = readIndex(join(dir, 'index.json')).certificates;
    assert.deepEqual(
      { serial: record?.serial, node: record?.node, site: record?.site, state: record?.state, sans: record?.sans, file: record?.file },
      {
        serial: cert.serialNumber,
        node: 'edge-01',
        site: 'ranch',
        state: 'valid',
        sans: ['DNS:edge-01.local', 'IP:10.0.0.7'],
        file: `certs/${cert.serialNumber}.crt`,
      },
    );
    assert.equal(readFileSync(join(dir, 'certs', `${cert.serialNumber}.crt`), 'utf8'), signed.certificatePem);
    assert.deepEqual(
      await verifyNodeCertificate(signed.certificatePem, {
        ca: ca.certificate,
        crl: ca.currentCrl().pem,
        now: clock.now(),
        expectNode: 'edge-01',
      }),
      {
        ok: true,
        node: 'edge-01',
        site: 'ranch',
        serial: cert.serialNumber,
        notAfter: cert.notAfter,
      },
    );
  } finally {
    cleanup();
    rmSync(nodeDir, { recursive: true, force: true });
  }
});

test('pki sign: refuses a CSR for another node, an altered one, a P-384 or RSA key, a second certificate; garbage is bad input', async () => {
  const { ca, cleanup } = await createTestCa();
  try {
    const { csrPem } = await createNodeCsr({ node: 'n1', site: 'ranch' });
    await assert.rejects(
      ca.sign(csrPem, { node: 'n2', source: 'n1.csr' }),
      rejectsWith('FM_PKI_REFUSED', /n1\.csr is for CN "n1", not for node n2/),
    );

    // One byte of the signed part changed: the CSR's own signature no longer verifies.
    const der = Buffer.from(csrPem.replace(/-----[^-]+-----|\s/g, ''), 'base64');
    const at = der.indexOf(Buffer.from('ranch'));
    der[at] = 'f'.charCodeAt(0);
    const altered = `-----BEGIN CERTIFICATE REQUEST-----\n${der.toString('base64')}\n-----END CERTIFICATE REQUEST-----\n`;
    await assert.rejects(ca.sign(altered, { node: 'n1' }), rejectsWith('FM_PKI_REFUSED', /signature does not verify/));

    const p384 = (await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-384' }, true, ['sign', 'verify'])) as CryptoKeyPair;
    const csr384 = await x509.Pkcs10CertificateRequestGenerator.create({
      name: 'CN=n1, OU=ranch',
      keys: p384,
      signingAlgorithm: { name: 'ECDSA', hash: 'SHA-384' },
    });
    await assert.rejects(
      ca.sign(csr384.toString('pem'), { node: 'n1' }),
      rejectsWith('FM_PKI_REFUSED', /ECDSA P-384 key; the fleet CA signs ECDSA P-256 keys only/),
    );
    const rsa = (await crypto.subtle.generateKey(
      { name: 'RSASSA-PKCS1-v1_5', modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' },
      true,
      ['sign', 'verify'],
    )) as CryptoKeyPair;
    const csrRsa = await x509.Pkcs10CertificateRequestGenerator.create({
      name: 'CN=n1, OU=ranch',
      keys: rsa,
      signingAlgorithm: { name: 'RSASSA-PKCS1-v1_5' },
    });
    await assert.rejects(ca.sign(csrRsa.toString('pem'), { node: 'n1' }), rejectsWith('FM_PKI_REFUSED', /RSASSA-PKCS1-v1_5 2048 key/));

    await assert.rejects(
      ca.sign('not a csr', { node: 'n1', source: 'x.csr' }),
      rejectsWith('FM_PKI_INVALID', /x\.csr is not a PEM certificate request/),
    );
    const { csrPem: noSite } = await createNodeCsr({ node: 'n1', site: 'ranch' });
    await ca.sign(noSite, { node: 'n1' });
    await assert.rejects(
      ca.sign(csrPem, { node: 'n1' }),
      rejectsWith('FM_PKI_REFUSED', /node n1 \(site ranch\) holds certificate [0-9a-f]+ until .*: renew it/),
    );
    await assert.rejects(
      ca.issue('n1', { site: 'valley' }),
      rejectsWith('FM_PKI_REFUSED', /renew it/),
      'a node id names one node across sites',
    );
    await assert.rejects(ca.issue('N1!', { site: 'ranch' }), rejectsWith('FM_PKI_INVALID', /node id "N1!"/));
    await assert.rejects(ca.issue('n9', { site: 'ranch', sans: ['not a name'] }), rejectsWith('FM_PKI_INVALID', /--san "not a name"/));
    await assert.rejects(ca.issue('n9', { site: 'ranch', days: 4000 }), rejectsWith('FM_PKI_REFUSED', /would outlive the fleet CA/));
  } finally {
    cleanup();
  }
});

test('pki renew: the new certificate is valid from now while the old one stays valid until its own end (overlap)', async () => {
  const clock = new ManualClock(Date.now());
  const { dir, ca, cleanup } = await createTestCa({ clock });
  const verify = (pem: string) =>
    verifyNodeCertificate(pem, { ca: ca.certificate, crl: ca.currentCrl().pem, now: clock.now(), expectNode: 'n1' });
  try {
    const first = await ca.issue('n1', { site: 'ranch', sans: ['n1.local'] });
    clock.advance(300 * DAY_MS);
    const renewed = await ca.renew('n1');
    assert.equal(renewed.renewed.serial, first.record.serial);
    assert.equal(renewed.record.renews, first.record.serial);
    assert.notEqual(renewed.record.serial, first.record.serial);
    const oldCert = new x509.X509Certificate(first.certificatePem);
    const newCert = new x509.X509Certificate(renewed.certificatePem);
    assert.ok(newCert.notBefore.getTime() <= clock.now(), 'valid from now');
    assert.ok(newCert.notBefore < oldCert.notAfter, 'the two overlap');
    assert.equal(Math.round((newCert.notAfter.getTime() - clock.now()) / DAY_MS), 365, 'the same validity as before');
    assert.ok(
      newCert.publicKey.rawData.byteLength > 0 && Buffer.from(newCert.publicKey.rawData).equals(Buffer.from(oldCert.publicKey.rawData)),
      'same key',
    );
    assert.deepEqual(newCert.getExtension(x509.SubjectAlternativeNameExtension)?.names.toJSON(), [{ type: 'dns', value: 'n1.local' }]);
    assert.equal(
      readFileSync(first.certFile, 'utf8'),
      renewed.certificatePem,
      "issue's folder holds the new certificate next to the same key",
    );
    // Both are accepted during the overlap (with a CRL signed since: the first one is past its nextUpdate).
    assert.equal(((await verify(first.certificatePem)) as { reason: string }).reason, 'crl-expired');
    await ca.refreshCrl();
    assert.equal((await verify(first.certificatePem)).ok, true);
    assert.equal((await verify(renewed.certificatePem)).ok, true);
    assert.deepEqual(
      readIndex(join(dir, 'index.json')).certificates.map((c) => c.state),
      ['valid', 'valid'],
    );
    // The old one ends at its own notAfter; the new one goes on.
    clock.advance(66 * DAY_MS);
    await ca.refreshCrl();
    assert.equal(((await verify(first.certificatePem)) as { reason: string }).reason, 'expired');
    assert.equal((await verify(renewed.certificatePem)).ok, true);
    assert.deepEqual(
      ca.list().map((l) => [l.serial, l.state, l.daysLeft]),
      [
        [first.record.serial, 'expired', -1],
        [renewed.record.serial, 'valid', 298],
      ],
    );
  } finally {
    cleanup();
  }
});

test('pki renew: with a CSR the node changes its key; marking the old one superseded puts it on the CRL', async () => {
  const clock = new ManualClock(Date.now());
  const { ca, cleanup } = await createTestCa({ clock });
  try {
    const first = await ca.sign((await createNodeCsr({ node: 'n1', site: 'ranch' })).csrPem, { node: 'n1' });
    clock.advance(200 * DAY_MS);
    const { csrPem } = await createNodeCsr({ node: 'n1', site: 'ranch', sans: ['10.1.1.1'] });
    const renewed = await ca.renew('n1', { csrPem, days: 90 });
    const newCert = new x509.X509Certificate(renewed.certificatePem);
    assert.equal(
      Buffer.from(newCert.publicKey.rawData).equals(Buffer.from(new x509.X509Certificate(first.certificatePem).publicKey.rawData)),
      false,
    );
    assert.equal(Math.round((newCert.notAfter.getTime() - clock.now()) / DAY_MS), 90);
    await assert.rejects(
      ca.renew('n1', { csrPem: (await createNodeCsr({ node: 'n1', site: 'valley' })).csrPem }),
      rejectsWith('FM_PKI_REFUSED', /names site valley, but node n1 is on site ranch/),
    );
    await assert.rejects(ca.renew('n2'), rejectsWith('FM_PKI_REFUSED', /node n2 has no certificate from this CA/));

    const before = ca.currentCrl().number;
    const { revoked, crl } = await ca.revoke('n1', 'superseded');
    assert.deepEqual(
      revoked.map((r) => [r.serial, r.state]),
      [[first.record.serial, 'superseded']],
      'the newest stays in force',
    );
    assert.equal(crl.number, before + 1);
    const verdict = await verifyNodeCertificate(first.certificatePem, { ca: ca.certificate, crl: crl.pem, now: clock.now() });
    assert.deepEqual([verdict.ok, (verdict as { reason: string }).reason], [false, 'revoked']);
    assert.match((verdict as { message: string }).message, /\(superseded\)/);
    assert.equal((await verifyNodeCertificate(renewed.certificatePem, { ca: ca.certificate, crl: crl.pem, now: clock.now() })).ok, true);
    await assert.rejects(ca.revoke('n1', 'superseded'), rejectsWith('FM_PKI_REFUSED', /one certificate in force .* none is superseded/));
  } finally {
    cleanup();
  }
});

test('pki revoke: the CRL is signed again with a growing number and the serial and reason; verify refuses it', async () => {
  const clock = new ManualClock(Date.now());
  const { dir, ca, cleanup } = await createTestCa({ clock, crlDays: 7 });
  try {
    const n1 = await ca.issue('n1', { site: 'ranch' });
    const n2 = await ca.issue('n2', { site: 'ranch' });
    clock.advance(DAY_MS);
    const { crl } = await ca.revoke('n1', 'keyCompromise');
    assert.equal(crl.number, 2);
    const parsed = parseCrl(readFileSync(join(dir, 'crl.pem'), 'utf8'), 'crl.pem');
    assert.equal(await parsed.verify({ publicKey: ca.certificate.publicKey }), true);
    assert.equal(crlNumberOf(parsed), 2);
    assert.deepEqual(
      parsed.entries.map((e) => [e.serialNumber, e.reason]),
      [[n1.record.serial, x509.X509CrlReason.keyCompromise]],
    );
    assert.equal(parsed.nextUpdate?.getTime(), Math.floor((clock.now() + 7 * DAY_MS) / 1000) * 1000);
    const refused = await verifyNodeCertificate(n1.certificatePem, { ca: ca.certificate, crl: parsed, now: clock.now() });
    assert.deepEqual([refused.ok, (refused as { reason: string }).reason], [false, 'revoked']);
    assert.equal((await verifyNodeCertificate(n2.certificatePem, { ca: ca.certificate, crl: parsed, now: clock.now() })).ok, true);

    // By serial, then once more: refused, the CRL unchanged.
    const second = await ca.revoke(n2.record.serial, 'cessationOfOperation');
    assert.equal(second.crl.number, 3);
    assert.equal(second.crl.entries, 2);
    await assert.rejects(ca.revoke(n2.record.serial, 'keyCompromise'), rejectsWith('FM_PKI_REFUSED', /is revoked already/));
    await assert.rejects(ca.revoke('n1', 'keyCompromise'), rejectsWith('FM_PKI_REFUSED', /no certificate in force to revoke/));
    await assert.rejects(ca.revoke('0123456789abcdef', 'keyCompromise'), rejectsWith('FM_PKI_REFUSED', /no certificate of serial/));
    assert.equal(ca.currentCrl().number, 3);
    assert.deepEqual(
      ca.list().map((l) => [l.node, l.state]),
      [
        ['n1', 'revoked'],
        ['n2', 'revoked'],
      ],
    );
    const record = readIndex(join(dir, 'index.json')).certificates[0];
    assert.equal(record?.reason, 'keyCompromise');
    assert.equal(record?.revokedAt, new Date(clock.now()).toISOString());
    // A revoked node may get a new certificate.
    assert.equal((await ca.issue('n1', { site: 'ranch', outDir: join(dir, 'n1-again') })).record.state, 'valid');

    // refreshCrl signs the same entries again with the next number and a later nextUpdate.
    clock.advance(5 * DAY_MS);
    const fresh = await ca.refreshCrl();
    assert.deepEqual([fresh.number, fresh.entries], [4, 2]);
    assert.ok((fresh.nextUpdate?.getTime() ?? 0) > (parsed.nextUpdate?.getTime() ?? 0));
  } finally {
    cleanup();
  }
});

test('pki list: subject, site, serial, expiry, state and days left of every certificate', async () => {
  const clock = new ManualClock(Date.now());
  const { ca, cleanup } = await createTestCa({ clock });
  try {
    await ca.issue('b-node', { site: 'valley', days: 30 });
    await ca.issue('a-node', { site: 'ranch', days: 90 });
    clock.advance(10 * DAY_MS + 1);
    const rows = ca.list();
    assert.deepEqual(
      rows.map((r) => [r.node, r.site, r.subject, r.state, r.daysLeft]),
      [
        ['a-node', 'ranch', 'CN=a-node, O=testfleet, OU=ranch', 'valid', 79],
        ['b-node', 'valley', 'CN=b-node, O=testfleet, OU=valley', 'valid', 19],
      ],
    );
    assert.match(rows[0]?.serial ?? '', /^[0-9a-f]{32}$/);
    assert.equal(
      rows[0]?.notAfter,
      new Date(Math.floor((clock.now() - 10 * DAY_MS - 1 + 90 * DAY_MS) / 1000) * 1000).toISOString(),
      'as the certificate says',
    );
  } finally {
    cleanup();
  }
});

test('pki index: a write that fails before its rename leaves the old index whole and no temporary file', async () => {
  const { dir, ca, cleanup } = await createTestCa();
  try {
    await ca.issue('n1', { site: 'ranch' });
    const path = join(dir, 'index.json');
    const before = readFileSync(path, 'utf8');
    const index = readIndex(path);
    const grown = { ...index, certificates: [...index.certificates, { ...index.certificates[0]!, serial: 'abcdef', node: 'n2' }] };
    const synced: number[] = [];
    assert.throws(
      () =>
        writeIndex(path, grown, {
          fsync: (fd) => synced.push(fd),
          rename: () => {
            throw new Error('power cut before rename');
          },
        }),
      /power cut/,
    );
    assert.equal(synced.length, 1, 'the temporary file was fsynced before the rename');
    assert.equal(readFileSync(path, 'utf8'), before);
    assert.deepEqual(
      readdirSync(dir).filter((f) => f.includes('.tmp')),
      [],
    );
    // A real write: the file and its folder are fsynced, the new content is whole.
    const real: number[] = [];
    writeIndex(path, grown, { fsync: (fd) => real.push(fd), rename: renameSync });
    assert.equal(real.length, 2, 'file and folder');
    assert.deepEqual(readIndex(path), grown);
    // A truncated index (what a non-atomic write leaves) is named as such.
    writeFileSync(path, before.slice(0, 40));
    assert.throws(
      () => ca.list(),
      (err: unknown) => isFieldmeshError(err, 'FM_PKI_INVALID') && /index\.json is not JSON/.test((err as Error).message),
    );
  } finally {
    cleanup();
  }
});

test('pki revoke superseded: a renewal in the same second as the first certificate still keeps the renewal', async () => {
  const clock = new ManualClock(Date.now());
  const { ca, cleanup } = await createTestCa({ clock });
  try {
    const first = await ca.issue('n1', { site: 'ranch' });
    const renewed = await ca.renew('n1', { days: 90 });
    assert.equal(first.record.notBefore, renewed.record.notBefore, 'the same second');
    const { revoked } = await ca.revoke('n1', 'superseded');
    assert.deepEqual(
      revoked.map((r) => r.serial),
      [first.record.serial],
    );
    const again = await ca.renew('n1');
    assert.equal(again.renewed.serial, renewed.record.serial, 'renew starts from the newest certificate');
  } finally {
    cleanup();
  }
});
