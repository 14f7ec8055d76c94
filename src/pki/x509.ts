// The X.509 library as this area uses it: @peculiar/x509 over Node's WebCrypto, ECDSA P-256 with SHA-256.

// @peculiar/x509 resolves its algorithms through tsyringe, which needs the Reflect metadata API first.
import 'reflect-metadata';
import type { webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';

x509.cryptoProvider.set(globalThis.crypto);

export { x509 };

/** WebCrypto's key types (the project compiles without the DOM library, which declares them globally). */
export type CryptoKey = webcrypto.CryptoKey;
export type CryptoKeyPair = webcrypto.CryptoKeyPair;

/** The one key and signature algorithm of the fleet CA: ECDSA on P-256, signatures over SHA-256. */
export const EC_P256 = { name: 'ECDSA', namedCurve: 'P-256' } as const;
export const ECDSA_SHA256 = { name: 'ECDSA', hash: 'SHA-256' } as const;

/** PEM of one DER structure; OpenSSL (Mosquitto) reads a CRL only under the `X509 CRL` label. */
export function toPem(der: ArrayBuffer, label: 'CERTIFICATE' | 'CERTIFICATE REQUEST' | 'X509 CRL' | 'PRIVATE KEY'): string {
  return `${x509.PemConverter.encode(der, label).trim()}\n`;
}
