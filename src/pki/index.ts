// The fleet's PKI: a CA per fleet (ECDSA P-256) that issues, renews and revokes node certificates, the node's
// side of the CSR flow, the verdict on a presented certificate, and a Mosquitto listener and ACL. docs/pki.md.

export { type AtomicWriteSteps, writeFileAtomic } from './atomic-file.js';
export {
  type CertificateIndex,
  type CertificateListing,
  type CertificateState,
  type IssuedCertificate,
  listCertificates,
  readIndex,
  writeIndex,
} from './cert-index.js';
export {
  type CrlInfo,
  crlNumberOf,
  FleetCa,
  type InitCaOptions,
  type IssuedNodeFiles,
  type IssueOptions,
  type IssueResult,
  initFleetCa,
  type OpenCaOptions,
  openFleetCa,
  parseCrl,
  parseRevocationReason,
  REVOCATION_REASONS,
  type RevocationReason,
  readCertificateFile,
} from './fleet-ca.js';
export { exportPrivateKeyPem, generateKeyPair, importPrivateKeyPem, isEncryptedKeyPem } from './keys.js';
export {
  type AclNode,
  type MosquittoAclOptions,
  type MosquittoListenerOptions,
  mosquittoAcl,
  mosquittoListener,
} from './mosquitto-conf.js';
export { CA_CERT_DAYS, CRL_DAYS, canonicalSerial, DAY_MS, NODE_CERT_DAYS, parseSans, type SubjectAltName } from './names.js';
export { createNodeCsr, type NodeCsrOptions, writeNodeCsr } from './node-csr.js';
export { PKI_FILES, type PkiConfig, readPkiConfig } from './pki-config.js';
export { type CertificateInfo, certificateInfo, keyMatchesCertificate, readCsrSubject, renewalDueAt } from './renewal.js';
export {
  CERTIFICATE_REFUSALS,
  type CertificateRefusal,
  type CertificateVerdict,
  type VerifyOptions,
  verifyNodeCertificate,
} from './verify.js';
export { x509 } from './x509.js';
