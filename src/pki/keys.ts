// Private keys of the fleet: ECDSA P-256 pairs made with WebCrypto, kept as PKCS#8 PEM, optionally
// encrypted with a passphrase (AES-256-CBC, the PKCS#8 encrypted form OpenSSL and Mosquitto read).

import { createPrivateKey } from 'node:crypto';
import { FieldmeshError } from '../kit/index.js';
import { type CryptoKey, type CryptoKeyPair, EC_P256, toPem, type x509 } from './x509.js';

/** A new extractable P-256 key pair. */
export async function generateKeyPair(): Promise<CryptoKeyPair> {
  return (await crypto.subtle.generateKey(EC_P256, true, ['sign', 'verify'])) as CryptoKeyPair;
}

/** The private key as PKCS#8 PEM; encrypted (`ENCRYPTED PRIVATE KEY`) when a passphrase is given. */
export async function exportPrivateKeyPem(key: CryptoKey, passphrase?: string): Promise<string> {
  const der = await crypto.subtle.exportKey('pkcs8', key);
  if (passphrase === undefined) return toPem(der, 'PRIVATE KEY');
  const pem = createPrivateKey({ key: Buffer.from(der), format: 'der', type: 'pkcs8' }).export({
    type: 'pkcs8',
    format: 'pem',
    cipher: 'aes-256-cbc',
    passphrase,
  });
  return String(pem);
}

export function isEncryptedKeyPem(pem: string): boolean {
  return pem.includes('-----BEGIN ENCRYPTED PRIVATE KEY-----');
}

/**
 * Reads a P-256 private key for signing from PEM (PKCS#8, encrypted PKCS#8 or SEC1). `file` names the key in
 * errors: FM_PKI_PASSPHRASE when it is encrypted and no passphrase or a wrong one is given.
 */
export async function importPrivateKeyPem(pem: string, file: string, passphrase?: string): Promise<CryptoKey> {
  if (isEncryptedKeyPem(pem) && passphrase === undefined) {
    throw new FieldmeshError(
      'FM_PKI_PASSPHRASE',
      `${file} is encrypted: give its passphrase with --passphrase-file FILE or FIELDMESH_PKI_PASSPHRASE_FILE`,
      { details: { file } },
    );
  }
  let der: Buffer;
  try {
    const key = createPrivateKey(passphrase === undefined ? { key: pem } : { key: pem, passphrase });
    if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
      throw new FieldmeshError(
        'FM_PKI_INVALID',
        `${file} is not an ECDSA P-256 key (${key.asymmetricKeyType} ${key.asymmetricKeyDetails?.namedCurve ?? ''})`,
        {
          details: { file },
        },
      );
    }
    der = key.export({ type: 'pkcs8', format: 'der' });
  } catch (err) {
    if (err instanceof FieldmeshError) throw err;
    const code = (err as { code?: string }).code;
    if (isEncryptedKeyPem(pem) && code === 'ERR_OSSL_BAD_DECRYPT') {
      throw new FieldmeshError('FM_PKI_PASSPHRASE', `${file}: wrong passphrase`, { cause: err, details: { file } });
    }
    throw new FieldmeshError('FM_PKI_INVALID', `${file} is not a readable private key: ${(err as Error).message}`, {
      cause: err,
      details: { file },
    });
  }
  return crypto.subtle.importKey('pkcs8', der, EC_P256, false, ['sign']);
}

/** Whether a public key (of a CSR or certificate) is ECDSA on P-256, the only key type the fleet CA signs. */
export function isP256(publicKey: x509.PublicKey): boolean {
  const algorithm = publicKey.algorithm as { name?: string; namedCurve?: string };
  return algorithm.name === 'ECDSA' && algorithm.namedCurve === 'P-256';
}

/** A short description of a key's algorithm for error messages: `RSASSA-PKCS1-v1_5 2048`, `ECDSA P-384`. */
export function describeKey(publicKey: x509.PublicKey): string {
  const a = publicKey.algorithm as { name?: string; namedCurve?: string; modulusLength?: number };
  return [a.name ?? 'unknown', a.namedCurve ?? a.modulusLength ?? ''].join(' ').trim();
}
