// What renewal over the fleet transport needs of a certificate and a CSR (docs/pki.md "Renewal over the fleet
// transport"): the identity a CSR claims, a certificate's validity, when it is due for renewal, whether a key
// belongs to it.

import { createPrivateKey, createPublicKey } from 'node:crypto';
import { FieldmeshError } from '../kit/index.js';
import { canonicalSerial, nameField } from './names.js';
import { x509 } from './x509.js';

/** The node (CN) and site (OU) a CSR asks for; FM_PKI_INVALID when it is not a PEM CSR. */
export function readCsrSubject(pem: string, source = 'the CSR'): { readonly node: string | undefined; readonly site: string | undefined } {
  let csr: x509.Pkcs10CertificateRequest;
  try {
    csr = new x509.Pkcs10CertificateRequest(pem);
  } catch (err) {
    throw new FieldmeshError('FM_PKI_INVALID', `${source} is not a PEM certificate request: ${(err as Error).message}`, { cause: err });
  }
  return { node: nameField(csr.subjectName, 'CN'), site: nameField(csr.subjectName, 'OU') };
}

/** A certificate's serial, validity (ms since the epoch) and subject. */
export interface CertificateInfo {
  readonly serial: string;
  readonly node: string | undefined;
  readonly site: string | undefined;
  readonly notBefore: number;
  readonly notAfter: number;
}

/** Reads the first certificate of a PEM; FM_PKI_INVALID naming `source` when it is not one. */
export function certificateInfo(pem: string, source = 'the certificate'): CertificateInfo {
  let cert: x509.X509Certificate;
  try {
    cert = new x509.X509Certificate(pem);
  } catch (err) {
    throw new FieldmeshError('FM_PKI_INVALID', `${source} is not a PEM certificate: ${(err as Error).message}`, { cause: err });
  }
  return {
    serial: canonicalSerial(cert.serialNumber),
    node: nameField(cert.subjectName, 'CN'),
    site: nameField(cert.subjectName, 'OU'),
    notBefore: cert.notBefore.getTime(),
    notAfter: cert.notAfter.getTime(),
  };
}

/** When a certificate is due for renewal: `renewAt` (0 < renewAt < 1) of its validity after its notBefore. */
export function renewalDueAt(info: Pick<CertificateInfo, 'notBefore' | 'notAfter'>, renewAt: number): number {
  return info.notBefore + Math.floor((info.notAfter - info.notBefore) * renewAt);
}

/** Whether `keyPem` (PKCS#8) is the private key of the certificate's public key. */
export function keyMatchesCertificate(keyPem: string, certPem: string): boolean {
  try {
    const fromKey = createPublicKey(createPrivateKey(keyPem)).export({ type: 'spki', format: 'der' });
    const fromCert = Buffer.from(new x509.X509Certificate(certPem).publicKey.rawData);
    return fromKey.equals(fromCert);
  } catch {
    return false;
  }
}
