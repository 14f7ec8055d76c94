// Zone signing re-reads its files: a new CRL revokes a voter at the pump owner without a restart (the certificates
// held are judged again), a renewed certificate signs the next frame, a half-written pair keeps the previous one;
// certificate refusals are counted by reason (fieldmesh_zone_certificate_refused_total). Manual clock; the file
// polling itself is checked once with a short interval.
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { Registry } from 'prom-client';
import { waitFor } from '../../../test/kit/wait.js';
import type { ManualClock } from '../../kit/index.js';
import { silentLogger } from '../../kit/index.js';
import { DAY_MS, x509 } from '../../pki/index.js';
import { createTestCa, issueTo, type KeyAndCert, type TestCa } from '../../pki/pki-test-kit.js';
import type { Vote, ZoneConfig } from '../../protocol/consensus/types.js';
import { decodeZoneFrame, encodeZoneFrame } from '../../protocol/consensus/zone-frames.js';
import { registerZoneMetrics } from './zone-metrics.js';
import { createZoneSigner, setUpZoneSigning, type ZoneSigning } from './zone-signing.js';

const SITE = 'ranch';
const north: ZoneConfig = {
  id: 'north',
  voters: ['v1', 'v2', 'v3'],
  cameras: [{ id: 'c1', node: 'v2', weight: 1 }],
  pumps: [{ id: 'p1', node: 'v1', envelope: {} as never }],
  overlaps: [],
  policy: {
    windowMs: 60_000,
    classes: ['fire'],
    minConfidence: 0.5,
    minCameras: 1,
    minNodes: 1,
    threshold: 0.5,
    cooldownMs: 0,
    activates: [],
    voteTtlMs: 6_000,
    maxClockSkewMs: 2_000,
    isolatedFallback: { enabled: false, minCameras: 3, minConfidence: 0.9 },
  },
};

let testCa: TestCa;
let out: string;
const certs = new Map<string, KeyAndCert>();

before(async () => {
  testCa = await createTestCa();
  out = mkdtempSync(join(tmpdir(), 'fieldmesh-zone-reload-'));
  for (const node of ['v1', 'v2', 'v3']) certs.set(node, await issueTo(testCa.ca, node, SITE, join(out, 'issued', node)));
  // v3-short's certificate lives one day only: the manual clock makes it expire.
  certs.set('v3-short', await issueTo(testCa.ca, 'v3-short', SITE, join(out, 'issued', 'v3-short'), 1));
});

after(() => {
  testCa.cleanup();
  rmSync(out, { recursive: true, force: true });
});

const clock = (): ManualClock => testCa.clock as ManualClock;
const der = (pem: string): Uint8Array => new Uint8Array(new x509.X509Certificate(pem).rawData);

function voteOf(voter: string, seq: number): Vote {
  const now = clock().now();
  return { zone: 'north', epoch: 0, voter, configHash: 'h', boot: 1, seq, time: now, ttlMs: 6_000, evidence: ['d1'] };
}

/** The pump owner v1's zone signing over files in a folder of its own; `refused` collects certificate refusals. */
async function ownerSigning(
  dir: string,
  pollMs?: number,
): Promise<{ signing: ZoneSigning; refused: string[]; files: Record<string, string> }> {
  const files = { ca: join(dir, 'ca.crt'), crl: join(dir, 'crl.pem'), cert: join(dir, 'v1.crt'), key: join(dir, 'v1.key') };
  writeFileSync(files.ca, testCa.ca.certificatePem);
  copyFileSync(testCa.ca.crlFile, files.crl);
  writeFileSync(files.cert, certs.get('v1')?.certPem as string);
  writeFileSync(files.key, certs.get('v1')?.keyPem as string, { mode: 0o600 });
  const refused: string[] = [];
  const signing = await setUpZoneSigning({
    site: SITE,
    zones: [north],
    files,
    now: () => clock().now(),
    logger: silentLogger,
    onCertificateRefused: (r) => refused.push(r),
    ...(pollMs === undefined ? {} : { pollMs }),
  });
  return { signing, refused, files };
}

async function checkVote(signing: ZoneSigning, voter: string, seq: number, signerPem = certs.get(voter) as KeyAndCert) {
  const signer = await createZoneSigner({ keyPem: signerPem.keyPem, certPem: signerPem.certPem, keyFile: `${voter}.key` });
  const decoded = decodeZoneFrame(await signer.sign(encodeZoneFrame({ type: 'vote', vote: voteOf(voter, seq) })));
  assert.ok(decoded.ok);
  return signing.authenticator.check(decoded.frame, decoded.signature, voter);
}

test('zone signing reload: a new CRL revokes a voter at once, counted as revoked; a broken CRL keeps the previous', async () => {
  const dir = mkdtempSync(join(out, 'crl-'));
  const { signing, refused, files } = await ownerSigning(dir);
  try {
    assert.equal((await signing.authenticator.addCertificate(der(certs.get('v2')?.certPem as string), 'v2')).ok, true);
    assert.equal(await checkVote(signing, 'v2', 1), undefined, 'v2 votes before its revocation');

    await testCa.ca.revoke('v2', 'keyCompromise');
    copyFileSync(testCa.ca.crlFile, files.crl);
    await signing.reload?.();
    assert.equal(await checkVote(signing, 'v2', 2), 'unknown-certificate', 'v2 is revoked without a restart');
    assert.deepEqual(refused, ['revoked']);
    assert.deepEqual(signing.authenticator.nodes(), []);

    writeFileSync(files.crl, 'not a CRL');
    rmSync(files.ca);
    await signing.reload?.();
    assert.equal(await checkVote(signing, 'v2', 3), 'unknown-certificate', 'an unreadable CA leaves the previous trust');
  } finally {
    signing.close?.();
  }
});

test('zone signing reload: a renewed certificate signs the next frame and is announced; a mismatched pair waits', async () => {
  const dir = mkdtempSync(join(out, 'renew-'));
  const { signing, files } = await ownerSigning(dir);
  const announced: string[] = [];
  const stop = signing.onSignerChanged?.(() => announced.push(signing.signer?.keyId ?? 'none'));
  try {
    const before = signing.signer?.keyId;
    assert.ok(before !== undefined);
    // Half a renewal: another node's key beside v1's certificate.
    writeFileSync(files.key, certs.get('v2')?.keyPem as string);
    await signing.reload?.();
    assert.equal(signing.signer?.keyId, before, 'a pair that does not match keeps the previous signer');
    assert.deepEqual(announced, []);

    const renewed = await testCa.ca.renew('v1');
    writeFileSync(files.key, certs.get('v1')?.keyPem as string);
    writeFileSync(files.cert, renewed.certificatePem);
    await signing.reload?.();
    const after = signing.signer?.keyId;
    assert.notEqual(after, before);
    assert.deepEqual(announced, [after]);
    assert.deepEqual(signing.signer?.certificateDer, der(renewed.certificatePem));
  } finally {
    stop?.();
    signing.close?.();
  }
});

test('zone signing reload: the files are polled; a CRL written while it runs revokes without a call', async () => {
  const dir = mkdtempSync(join(out, 'poll-'));
  const { signing, refused, files } = await ownerSigning(dir, 20);
  try {
    const v3 = certs.get('v3') as KeyAndCert;
    assert.equal((await signing.authenticator.addCertificate(der(v3.certPem), 'v3')).ok, true);
    assert.equal(await checkVote(signing, 'v3', 1, v3), undefined);
    await testCa.ca.revoke('v3', 'keyCompromise');
    copyFileSync(testCa.ca.crlFile, files.crl);
    await waitFor(() => refused.includes('revoked'), { what: 'the CRL re-read by polling' });
    assert.equal(await checkVote(signing, 'v3', 2, v3), 'unknown-certificate');
  } finally {
    signing.close?.();
  }
});

test('zone signing reload: a certificate that expired since it was verified is refused as expired when judged again', async () => {
  const dir = mkdtempSync(join(out, 'expiry-'));
  const { signing, refused, files } = await ownerSigning(dir);
  try {
    const short = certs.get('v3-short') as KeyAndCert;
    assert.equal((await signing.authenticator.addCertificate(der(short.certPem), 'v3-short')).ok, true);
    clock().advance(2 * DAY_MS);
    // The same CRL written again (a CRL refresh): every certificate held is judged at the clock's time.
    writeFileSync(files.crl, `${readFileSync(testCa.ca.crlFile, 'utf8')}\n`);
    await signing.reload?.();
    assert.deepEqual(refused, ['expired']);
  } finally {
    signing.close?.();
  }
});

test('zone metrics: fieldmesh_zone_certificate_refused_total counts refusals by reason', async () => {
  const registry = new Registry();
  const metrics = registerZoneMetrics(registry, () => undefined);
  metrics.certificateRefused('revoked');
  metrics.certificateRefused('revoked');
  metrics.certificateRefused('self-signed');
  const text = await registry.metrics();
  assert.match(text, /^fieldmesh_zone_certificate_refused_total\{reason="revoked"\} 2$/m);
  assert.match(text, /^fieldmesh_zone_certificate_refused_total\{reason="self-signed"\} 1$/m);
});
