// For tests of the fleet PKI: a CA in a temporary folder, and certificates no honest CA run would make (self-signed,
// wrong key usage, from another CA) to show each refusal (excluded from the build by the *-test-kit.ts rule).

import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Clock, ManualClock } from '../kit/index.js';
import { type FleetCa, initFleetCa } from './fleet-ca.js';
import { exportPrivateKeyPem, generateKeyPair, importPrivateKeyPem } from './keys.js';
import { DAY_MS, nodeSubject, randomSerial } from './names.js';
import { ECDSA_SHA256, x509 } from './x509.js';

export interface TestCa {
  readonly dir: string;
  readonly ca: FleetCa;
  readonly clock: Clock;
  /** Removes the temporary folder. */
  cleanup(): void;
}

/** A fleet CA in a new temporary folder; a manual clock at the current time unless one is given. */
export async function createTestCa(
  options: { clock?: Clock; passphrase?: string; keyDir?: string; fleet?: string; crlDays?: number } = {},
): Promise<TestCa> {
  const dir = mkdtempSync(join(tmpdir(), 'fieldmesh-pki-'));
  const clock = options.clock ?? new ManualClock(Date.now());
  const ca = await initFleetCa({
    dir,
    fleet: options.fleet ?? 'testfleet',
    clock,
    ...(options.passphrase === undefined ? {} : { passphrase: options.passphrase }),
    ...(options.keyDir === undefined ? {} : { keyDir: options.keyDir }),
    ...(options.crlDays === undefined ? {} : { crlDays: options.crlDays }),
  });
  return { dir, ca, clock, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A key and certificate as PEM, for a TLS client or `verifyNodeCertificate`. */
export interface KeyAndCert {
  readonly keyPem: string;
  readonly certPem: string;
}

/** A node certificate signed by the CA's own key with the extensions a test chooses (a wrong key usage). */
export async function signWithCaKey(
  ca: FleetCa,
  o: { node: string; site: string; extensions: x509.Extension[]; nowMs: number; days?: number; passphrase?: string },
): Promise<KeyAndCert> {
  const caKey = await importPrivateKeyPem(readFileSync(ca.keyFile, 'utf8'), ca.keyFile, o.passphrase);
  const keys = await generateKeyPair();
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: randomSerial(),
    subject: nodeSubject(o.node, ca.fleet, o.site),
    issuer: ca.certificate.subjectName,
    notBefore: new Date(o.nowMs - 60_000),
    notAfter: new Date(o.nowMs + (o.days ?? 30) * DAY_MS),
    signingAlgorithm: ECDSA_SHA256,
    publicKey: keys.publicKey,
    signingKey: caKey,
    extensions: o.extensions,
  });
  return { keyPem: await exportPrivateKeyPem(keys.privateKey), certPem: cert.toString('pem') };
}

/** A self-signed certificate with a node's subject and a node's extensions: what a stolen laptop could make. */
export async function selfSignedNode(o: { node: string; site: string; fleet: string; nowMs: number }): Promise<KeyAndCert> {
  const keys = await generateKeyPair();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomSerial(),
    name: nodeSubject(o.node, o.fleet, o.site),
    notBefore: new Date(o.nowMs - 60_000),
    notAfter: new Date(o.nowMs + 30 * DAY_MS),
    keys,
    signingAlgorithm: ECDSA_SHA256,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth]),
    ],
  });
  return { keyPem: await exportPrivateKeyPem(keys.privateKey), certPem: cert.toString('pem') };
}

/** A node's key and certificate issued by the CA into a folder of the test (the `issue` path). */
export async function issueTo(ca: FleetCa, node: string, site: string, outDir: string, days?: number): Promise<KeyAndCert> {
  const issued = await ca.issue(node, { site, outDir, sans: ['localhost', '127.0.0.1'], ...(days === undefined ? {} : { days }) });
  return { keyPem: readFileSync(issued.keyFile, 'utf8'), certPem: issued.certificatePem };
}
