// For the TLS tests: a fleet CA made with src/pki and every certificate of the bad-certificate matrix (issue 12),
// written as PEM files, with a manual clock moved to make the expired one.

import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ManualClock } from '../../src/kit/index.js';
import { DAY_MS, type FleetCa, x509 } from '../../src/pki/index.js';
import { createTestCa, type KeyAndCert, selfSignedNode, signWithCaKey, type TestCa } from '../../src/pki/pki-test-kit.js';

/** A key and certificate written to files. */
export interface CertFiles extends KeyAndCert {
  readonly keyFile: string;
  readonly certFile: string;
}

export interface FleetCerts {
  readonly dir: string;
  readonly ca: FleetCa;
  readonly caFile: string;
  readonly crlFile: string;
  /** The server's certificate (CN broker) naming only `localhost`: dialling 127.0.0.1 is a hostname mismatch. */
  readonly server: CertFiles;
  /** The hub's client certificate (CN hub). */
  readonly hub: CertFiles;
  /** Good node certificates: n1 and n2 of site farm. */
  readonly n1: CertFiles;
  readonly n2: CertFiles;
  /** The matrix: each refused by a listener requiring fleet client certificates. */
  readonly expired: CertFiles;
  readonly notYetValid: CertFiles;
  readonly wrongCa: CertFiles;
  readonly revoked: CertFiles;
  readonly selfSigned: CertFiles;
  readonly wrongKeyUsage: CertFiles;
  cleanup(): void;
}

function write(dir: string, name: string, kc: KeyAndCert): CertFiles {
  const keyFile = join(dir, `${name}.key`);
  const certFile = join(dir, `${name}.crt`);
  writeFileSync(keyFile, kc.keyPem, { mode: 0o600 });
  writeFileSync(certFile, kc.certPem);
  return { ...kc, keyFile, certFile };
}

async function issue(ca: FleetCa, dir: string, node: string, site: string, sans: string[], days?: number): Promise<CertFiles> {
  const out = join(dir, 'issued', node);
  mkdirSync(out, { recursive: true });
  const issued = await ca.issue(node, { site, outDir: out, sans, ...(days === undefined ? {} : { days }) });
  return write(dir, node, {
    keyPem: readFileSync(issued.keyFile, 'utf8'),
    certPem: issued.certificatePem,
  });
}

/**
 * A fleet CA (clock at the real now) with every certificate the TLS matrix needs. The expired certificate is issued
 * with the clock 400 days back (30 days of validity), the not-yet-valid one signed for 10 days ahead; the revoked
 * one is on crl.pem.
 */
export async function createFleetCerts(): Promise<FleetCerts> {
  const now = Date.now();
  const clock = new ManualClock(now - 400 * DAY_MS);
  const test: TestCa = await createTestCa({ clock });
  const other: TestCa = await createTestCa({ fleet: 'otherfleet' });
  const { ca, dir } = test;
  try {
    const expired = await issue(ca, dir, 'old-node', 'farm', [], 30);
    clock.advance(400 * DAY_MS);
    const server = await issue(ca, dir, 'broker', 'hq', ['localhost']);
    const hub = await issue(ca, dir, 'hub', 'hq', []);
    const n1 = await issue(ca, dir, 'n1', 'farm', []);
    const n2 = await issue(ca, dir, 'n2', 'farm', []);
    const revoked = await issue(ca, dir, 'stolen', 'farm', []);
    await ca.revoke('stolen', 'keyCompromise');
    const wrongCa = await issue(other.ca, other.dir, 'n1', 'farm', []);
    const selfSigned = write(dir, 'self-signed', await selfSignedNode({ node: 'n1', site: 'farm', fleet: ca.fleet, nowMs: now }));
    // A node certificate allowed for servers only: OpenSSL refuses it as a client (unsupported certificate purpose).
    const wrongKeyUsage = write(
      dir,
      'server-only',
      await signWithCaKey(ca, {
        node: 'n1',
        site: 'farm',
        nowMs: now,
        extensions: [
          new x509.BasicConstraintsExtension(false, undefined, true),
          new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
          new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
        ],
      }),
    );
    // Signed as if 10 days from now; the CA's clock stays at now so the CRLs it signs later are valid now.
    const notYetValid = write(
      dir,
      'future',
      await signWithCaKey(ca, { node: 'n1', site: 'farm', nowMs: now + 10 * DAY_MS, extensions: [] }),
    );
    return {
      dir,
      ca,
      caFile: join(dir, 'ca.crt'),
      crlFile: join(dir, 'crl.pem'),
      server,
      hub,
      n1,
      n2,
      expired,
      notYetValid,
      wrongCa,
      revoked,
      selfSigned,
      wrongKeyUsage,
      cleanup() {
        test.cleanup();
        other.cleanup();
      },
    };
  } catch (err) {
    test.cleanup();
    other.cleanup();
    throw err;
  }
}
