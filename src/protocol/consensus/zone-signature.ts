// Signed zone frames and the certificates that verify them: a zone frame signed with its sender's node key
// (ECDSA P-256 over the frame bytes, WebCrypto, so it runs in Node and the browser), and the two control
// frames that carry certificates once, not per frame. [FM-ZONE-SIGN-1..5] in docs/protocol.md; why in
// docs/consensus.md "Authorised twice".

import { ByteReader, FrameError } from '../codec.js';
import { PROTOCOL_VERSION } from '../frames.js';

/** [FM-ZONE-SIGN-1] A zone frame with its signature: 0x10, varint 25, key id (8 bytes), the frame, signature (64 bytes). */
export const SIGNED_ZONE_FRAME_TYPE = 25;
/** [FM-ZONE-SIGN-3] A node's certificate: 0x10, varint 26, the certificate's DER to the end. */
export const ZONE_CERTIFICATE_TYPE = 26;
/** [FM-ZONE-SIGN-3] A want of a certificate: 0x10, varint 27, the key id (8 bytes). */
export const ZONE_CERTIFICATE_WANT_TYPE = 27;
/** Bytes of a key id: the first 8 bytes of SHA-256 over the certificate's DER. */
export const ZONE_KEY_ID_BYTES = 8;
/** Bytes of an ECDSA P-256 signature as WebCrypto gives it (r and s, 32 bytes each, IEEE P1363). */
export const ZONE_SIGNATURE_BYTES = 64;
/** What signing adds to a frame: the 2 header bytes, the key id and the signature (74 bytes). */
export const ZONE_SIGNATURE_OVERHEAD_BYTES = 2 + ZONE_KEY_ID_BYTES + ZONE_SIGNATURE_BYTES;
/** The largest certificate a control frame carries (a fleet node certificate is about 600 bytes). */
export const MAX_ZONE_CERTIFICATE_BYTES = 4 * 1024;

/**
 * Why a receiver with `signing: required` refuses a zone frame before the engine sees it, counted like the vote
 * refusals: `unsigned` (no signature), `unknown-certificate` (no certificate of the fleet CA in force is known
 * for its key id: not received yet, or refused as revoked, expired, self-signed, of another CA, or no CA to
 * verify with), `bad-signature` (the signature does not verify over these bytes: a changed frame), and
 * `wrong-identity` (the certificate's node is not the sender, its site is not this site, or the zone does not
 * list the sender for what the frame does). [FM-ZONE-SIGN-4]
 */
export type ZoneSignatureRefusal = 'unsigned' | 'unknown-certificate' | 'bad-signature' | 'wrong-identity';
export const ZONE_SIGNATURE_REFUSALS: readonly ZoneSignatureRefusal[] = [
  'unsigned',
  'unknown-certificate',
  'bad-signature',
  'wrong-identity',
];

/** The signature part of a signed zone frame. */
export interface ZoneFrameSignature {
  /** Lowercase hex of the 8-byte key id. */
  readonly keyId: string;
  /** The bytes the signature covers: header, key id and the frame. */
  readonly signed: Uint8Array;
  readonly signature: Uint8Array;
}

/** A signed frame opened: the inner zone frame's bytes (decode them with `decodeZoneFrame`) and its signature. */
export interface OpenedSignedFrame {
  readonly frame: Uint8Array;
  readonly signature: ZoneFrameSignature;
}

export type ZoneControl = { readonly type: 'certificate'; readonly der: Uint8Array } | { readonly type: 'want'; readonly keyId: string };

const ECDSA = { name: 'ECDSA', hash: 'SHA-256' } as const;

/** A WebCrypto key (named through `crypto.subtle`, so no DOM or Node typings are needed here). */
export type ZoneKey = Parameters<typeof globalThis.crypto.subtle.sign>[1];

function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

function header(type: number): number[] {
  // Types 25 to 27 fit one varint byte.
  return [PROTOCOL_VERSION << 4, type];
}

function typeOf(bytes: Uint8Array): number | undefined {
  return bytes.length >= 2 && bytes[0] === PROTOCOL_VERSION << 4 ? bytes[1] : undefined;
}

/** [FM-ZONE-SIGN-2] The key id of a certificate: the first 8 bytes of SHA-256 over its DER, as hex. */
export async function zoneKeyId(certificateDer: Uint8Array): Promise<string> {
  const digest = new Uint8Array(await globalThis.crypto.subtle.digest('SHA-256', certificateDer));
  return hex(digest.subarray(0, ZONE_KEY_ID_BYTES));
}

function keyIdBytes(keyId: string): Uint8Array {
  if (!new RegExp(`^[0-9a-f]{${2 * ZONE_KEY_ID_BYTES}}$`).test(keyId))
    throw new RangeError(`key id "${keyId}" is not ${ZONE_KEY_ID_BYTES} bytes of hex`);
  return Uint8Array.from(keyId.match(/../g) as string[], (h) => Number.parseInt(h, 16));
}

/** Whether bytes are a signed zone frame (no decoding). */
export function isSignedZoneFrame(bytes: Uint8Array): boolean {
  return typeOf(bytes) === SIGNED_ZONE_FRAME_TYPE;
}

/** Whether bytes are a certificate or a want of one (no decoding). */
export function isZoneControl(bytes: Uint8Array): boolean {
  const t = typeOf(bytes);
  return t === ZONE_CERTIFICATE_TYPE || t === ZONE_CERTIFICATE_WANT_TYPE;
}

/**
 * [FM-ZONE-SIGN-1] Signs an encoded zone frame (`encodeZoneFrame`) with the node's private key (ECDSA P-256),
 * naming the certificate by its key id. The signature covers every byte before it, the key id included.
 */
export async function signZoneFrame(frame: Uint8Array, keyId: string, privateKey: ZoneKey): Promise<Uint8Array> {
  const id = keyIdBytes(keyId);
  const signed = new Uint8Array(2 + id.length + frame.length);
  signed.set(header(SIGNED_ZONE_FRAME_TYPE));
  signed.set(id, 2);
  signed.set(frame, 2 + id.length);
  const signature = new Uint8Array(await globalThis.crypto.subtle.sign(ECDSA, privateKey, signed));
  if (signature.length !== ZONE_SIGNATURE_BYTES) throw new RangeError(`a ${signature.length}-byte signature: the key is not ECDSA P-256`);
  const out = new Uint8Array(signed.length + signature.length);
  out.set(signed);
  out.set(signature, signed.length);
  return out;
}

/** Opens a signed zone frame without checking the signature. Never throws. */
export function openSignedZoneFrame(bytes: Uint8Array): { ok: true; opened: OpenedSignedFrame } | { ok: false; error: FrameError } {
  if (!isSignedZoneFrame(bytes)) return { ok: false, error: new FrameError('malformed', 'not a signed zone frame', 0) };
  const end = bytes.length - ZONE_SIGNATURE_BYTES;
  if (end < 2 + ZONE_KEY_ID_BYTES + 2)
    return { ok: false, error: new FrameError('truncated', `a signed zone frame of ${bytes.length} bytes`, bytes.length) };
  return {
    ok: true,
    opened: {
      frame: bytes.subarray(2 + ZONE_KEY_ID_BYTES, end),
      signature: {
        keyId: hex(bytes.subarray(2, 2 + ZONE_KEY_ID_BYTES)),
        signed: bytes.subarray(0, end),
        signature: bytes.subarray(end),
      },
    },
  };
}

/** [FM-ZONE-SIGN-1] Whether the signature verifies with `publicKey` over the signed bytes. Never throws. */
export async function verifyZoneFrameSignature(signature: ZoneFrameSignature, publicKey: ZoneKey): Promise<boolean> {
  try {
    return await globalThis.crypto.subtle.verify(ECDSA, publicKey, signature.signature, signature.signed);
  } catch {
    return false;
  }
}

/** [FM-ZONE-SIGN-3] The certificate control frame. */
export function encodeZoneCertificate(der: Uint8Array): Uint8Array {
  if (der.length === 0 || der.length > MAX_ZONE_CERTIFICATE_BYTES) throw new RangeError(`a certificate of ${der.length} bytes`);
  const out = new Uint8Array(2 + der.length);
  out.set(header(ZONE_CERTIFICATE_TYPE));
  out.set(der, 2);
  return out;
}

/** [FM-ZONE-SIGN-3] The want control frame: "who holds the certificate of this key id, send it". */
export function encodeZoneCertificateWant(keyId: string): Uint8Array {
  const out = new Uint8Array(2 + ZONE_KEY_ID_BYTES);
  out.set(header(ZONE_CERTIFICATE_WANT_TYPE));
  out.set(keyIdBytes(keyId), 2);
  return out;
}

/** Decodes a control frame. Never throws. */
export function decodeZoneControl(bytes: Uint8Array): { ok: true; control: ZoneControl } | { ok: false; error: FrameError } {
  try {
    const r = new ByteReader(bytes);
    r.u8('frame header');
    const type = r.u8('frame type');
    if (type === ZONE_CERTIFICATE_TYPE) {
      const der = bytes.subarray(2);
      if (der.length === 0) throw new FrameError('truncated', 'a certificate frame without a certificate', 2);
      if (der.length > MAX_ZONE_CERTIFICATE_BYTES) throw new FrameError('oversized', `a certificate of ${der.length} bytes`, 2);
      return { ok: true, control: { type: 'certificate', der } };
    }
    if (type === ZONE_CERTIFICATE_WANT_TYPE) {
      if (bytes.length !== 2 + ZONE_KEY_ID_BYTES) throw new FrameError('malformed', `a want of ${bytes.length} bytes`, 2);
      return { ok: true, control: { type: 'want', keyId: hex(bytes.subarray(2)) } };
    }
    throw new FrameError('malformed', `frame type ${type} is not a zone control frame`, 1);
  } catch (err) {
    if (err instanceof FrameError) return { ok: false, error: err };
    return { ok: false, error: new FrameError('malformed', String(err), 0) };
  }
}
