// Whether a node's certificate is one the fleet accepts, and if not, why: one reason per case of the bad-certificate
// matrix of issue 12, so a listener can log and count each refusal by its reason.

import { FieldmeshError } from '../kit/index.js';
import { canonicalSerial, nameField } from './names.js';
import { x509 } from './x509.js';

/**
 * Why a certificate is refused. Decided here: `malformed` (not a PEM certificate), `self-signed`, `wrong-ca`
 * (not signed by the fleet CA), `not-yet-valid`, `expired` (the certificate or the CA), `crl-expired` (the CRL is
 * past its nextUpdate: OpenSSL then refuses everyone), `revoked` (on the CRL, superseded included),
 * `wrong-key-usage` (a CA certificate, no digitalSignature, or no clientAuth / serverAuth for the purpose),
 * `other-node` (CN is not the node expected). Decided by a TLS listener, not here: `hostname-mismatch` (the
 * server's name is not in its SANs) and `tls-version` (the peer offered less than TLS 1.2).
 */
export type CertificateRefusal =
  | 'malformed'
  | 'self-signed'
  | 'wrong-ca'
  | 'not-yet-valid'
  | 'expired'
  | 'crl-expired'
  | 'revoked'
  | 'wrong-key-usage'
  | 'other-node'
  | 'hostname-mismatch'
  | 'tls-version';

export const CERTIFICATE_REFUSALS: readonly CertificateRefusal[] = [
  'malformed',
  'self-signed',
  'wrong-ca',
  'not-yet-valid',
  'expired',
  'crl-expired',
  'revoked',
  'wrong-key-usage',
  'other-node',
  'hostname-mismatch',
  'tls-version',
];

export type CertificateVerdict =
  | {
      readonly ok: true;
      /** The node id (CN), its site (OU) and the serial (canonical hex). */
      readonly node: string;
      readonly site: string | undefined;
      readonly serial: string;
      readonly notAfter: Date;
    }
  | { readonly ok: false; readonly reason: CertificateRefusal; readonly message: string; readonly serial?: string; readonly node?: string };

export interface VerifyOptions {
  /** The fleet CA's certificate (PEM or parsed). */
  readonly ca: string | x509.X509Certificate;
  /** The CA's CRL (PEM or parsed); without one, revocation is not checked. */
  readonly crl?: string | x509.X509Crl;
  /** The time to judge validity at, in ms since the epoch (from a Clock). */
  readonly now: number;
  /** The node id the peer must be (its CN); other-node when it is another. */
  readonly expectNode?: string;
  /** Which use the certificate must allow: `client` (default; clientAuth) or `server` (serverAuth). */
  readonly purpose?: 'client' | 'server';
}

function refuse(reason: CertificateRefusal, message: string, leaf?: x509.X509Certificate): CertificateVerdict {
  if (leaf === undefined) return { ok: false, reason, message };
  const node = nameField(leaf.subjectName, 'CN');
  return { ok: false, reason, message, serial: canonicalSerial(leaf.serialNumber), ...(node === undefined ? {} : { node }) };
}

async function verifiesWith(cert: x509.X509Certificate, publicKey: x509.PublicKey): Promise<boolean> {
  try {
    return await cert.verify({ publicKey, signatureOnly: true });
  } catch {
    return false;
  }
}

/**
 * Judges the first certificate of `chainPem` (a leaf, possibly followed by the CA) against the fleet CA. A bad CA
 * or CRL argument (unreadable, or a CRL the CA did not sign) throws FM_PKI_INVALID: that is the caller's
 * configuration, not the peer's fault.
 */
export async function verifyNodeCertificate(chainPem: string, options: VerifyOptions): Promise<CertificateVerdict> {
  const ca =
    typeof options.ca === 'string' ? parseOrThrow(() => new x509.X509Certificate(options.ca as string), 'the CA certificate') : options.ca;
  const crl = typeof options.crl === 'string' ? parseOrThrow(() => new x509.X509Crl(options.crl as string), 'the CRL') : options.crl;
  if (crl !== undefined && !(await crlSignedBy(crl, ca))) {
    throw new FieldmeshError('FM_PKI_INVALID', `the CRL (issuer ${crl.issuer}) is not signed by the CA ${ca.subject}`);
  }
  let leaf: x509.X509Certificate;
  try {
    const first = x509.PemConverter.decodeWithHeaders(chainPem).find((block) => block.type === 'CERTIFICATE');
    if (first === undefined) return refuse('malformed', 'no CERTIFICATE block in the PEM');
    leaf = new x509.X509Certificate(first.rawData);
  } catch (err) {
    return refuse('malformed', `not a PEM certificate: ${(err as Error).message}`);
  }
  const now = new Date(options.now);

  if (leaf.issuer === leaf.subject && (await verifiesWith(leaf, leaf.publicKey))) {
    return refuse('self-signed', `the certificate of ${leaf.subject} is self-signed, not issued by the fleet CA`, leaf);
  }
  if (leaf.issuer !== ca.subject || !(await verifiesWith(leaf, ca.publicKey))) {
    return refuse('wrong-ca', `the certificate of ${leaf.subject} is issued by ${leaf.issuer}, not by the fleet CA ${ca.subject}`, leaf);
  }
  if (ca.notAfter < now) return refuse('expired', `the fleet CA expired on ${ca.notAfter.toISOString()}`, leaf);
  if (ca.notBefore > now) return refuse('not-yet-valid', `the fleet CA is valid from ${ca.notBefore.toISOString()} only`, leaf);
  if (leaf.notBefore > now) return refuse('not-yet-valid', `the certificate is valid from ${leaf.notBefore.toISOString()} only`, leaf);
  if (leaf.notAfter < now) return refuse('expired', `the certificate expired on ${leaf.notAfter.toISOString()}`, leaf);

  const serial = canonicalSerial(leaf.serialNumber);
  if (crl !== undefined) {
    if (crl.nextUpdate !== undefined && crl.nextUpdate < now) {
      return refuse('crl-expired', `the CRL was due again on ${crl.nextUpdate.toISOString()}: sign a fresh one (fieldmesh pki crl)`, leaf);
    }
    const entry = crl.entries.find((e) => canonicalSerial(e.serialNumber) === serial);
    if (entry !== undefined) {
      const why = entry.reason === undefined ? '' : ` (${x509.X509CrlReason[entry.reason]})`;
      return refuse('revoked', `certificate ${serial} was revoked on ${entry.revocationDate.toISOString()}${why}`, leaf);
    }
  }

  const constraints = leaf.getExtension(x509.BasicConstraintsExtension);
  if (constraints?.ca === true)
    return refuse('wrong-key-usage', 'the certificate is a CA certificate (CA:true), not a node certificate', leaf);
  const usages = leaf.getExtension(x509.KeyUsagesExtension);
  if (usages !== null && (usages.usages & x509.KeyUsageFlags.digitalSignature) === 0) {
    return refuse('wrong-key-usage', 'the key usage does not allow digitalSignature, which TLS needs', leaf);
  }
  const purpose = options.purpose ?? 'client';
  const wanted = purpose === 'client' ? x509.ExtendedKeyUsage.clientAuth : x509.ExtendedKeyUsage.serverAuth;
  const extended = leaf.getExtension(x509.ExtendedKeyUsageExtension);
  if (extended !== null && !extended.usages.map(String).includes(wanted)) {
    return refuse('wrong-key-usage', `the extended key usage does not allow ${purpose === 'client' ? 'clientAuth' : 'serverAuth'}`, leaf);
  }

  const node = nameField(leaf.subjectName, 'CN');
  if (node === undefined) return refuse('malformed', 'the certificate has no common name (the node id)', leaf);
  if (options.expectNode !== undefined && node !== options.expectNode) {
    return refuse('other-node', `the certificate is node ${node}'s, not node ${options.expectNode}'s`, leaf);
  }
  return { ok: true, node, site: nameField(leaf.subjectName, 'OU'), serial, notAfter: leaf.notAfter };
}

async function crlSignedBy(crl: x509.X509Crl, ca: x509.X509Certificate): Promise<boolean> {
  try {
    return crl.issuer === ca.subject && (await crl.verify({ publicKey: ca.publicKey }));
  } catch {
    return false;
  }
}

function parseOrThrow<T>(parse: () => T, what: string): T {
  try {
    return parse();
  } catch (err) {
    throw new FieldmeshError('FM_PKI_INVALID', `${what} is not readable PEM: ${(err as Error).message}`, { cause: err });
  }
}
