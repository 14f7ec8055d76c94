// Password hashing with scrypt from node:crypto: a random salt per hash, the cost stored in the hash,
// constant-time comparison.

import { randomBytes, scrypt, timingSafeEqual } from 'node:crypto';
import { FieldmeshError } from '../../kit/index.js';

/**
 * scrypt cost N = 2^15, r = 8, p = 3: one of the equivalent minimums of OWASP's Password Storage Cheat
 * Sheet (N = 2^17, p = 1 is another) with a quarter of the memory, 32 MiB per hash; about 0.4 s on a
 * small server core. Stored in every hash, so raising it later keeps old hashes valid.
 */
const SCRYPT_N = 32_768;
const SCRYPT_R = 8;
const SCRYPT_P = 3;
const KEY_BYTES = 32;
const SALT_BYTES = 16;
/** 128 x N x r bytes of scrypt memory, with room to spare (node's default maxmem is 32 MiB, too tight). */
const SCRYPT_MAXMEM_BYTES = 256 * 1024 * 1024;
/** NIST SP 800-63B: at least 8 characters, no composition rules, long passphrases welcome. */
export const PASSWORD_MIN_LENGTH = 8;
export const PASSWORD_MAX_LENGTH = 1_024;

const HASH_PATTERN = /^scrypt\$n=(\d+),r=(\d+),p=(\d+)\$([A-Za-z0-9+/=]+)\$([A-Za-z0-9+/=]+)$/;

function derive(password: string, salt: Buffer, n: number, r: number, p: number, keyBytes: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(password.normalize('NFC'), salt, keyBytes, { N: n, r, p, maxmem: SCRYPT_MAXMEM_BYTES }, (err, key) =>
      err ? reject(err) : resolve(key),
    );
  });
}

/** Throws FM_REQUEST_INVALID when the password is too short or too long. */
export function checkPasswordRules(password: string): void {
  if (password.length < PASSWORD_MIN_LENGTH)
    throw new FieldmeshError('FM_REQUEST_INVALID', `the password must have at least ${PASSWORD_MIN_LENGTH} characters`);
  if (password.length > PASSWORD_MAX_LENGTH)
    throw new FieldmeshError('FM_REQUEST_INVALID', `the password must have at most ${PASSWORD_MAX_LENGTH} characters`);
}

/** `scrypt$n=32768,r=8,p=1$<salt base64>$<key base64>` */
export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(SALT_BYTES);
  const key = await derive(password, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P, KEY_BYTES);
  return `scrypt$n=${SCRYPT_N},r=${SCRYPT_R},p=${SCRYPT_P}$${salt.toString('base64')}$${key.toString('base64')}`;
}

/** True when `password` matches `stored`; false for a wrong password or a hash this code cannot read. */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const m = HASH_PATTERN.exec(stored);
  if (m === null) return false;
  const [n, r, p] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const expected = Buffer.from(m[5] as string, 'base64');
  if (expected.length === 0 || n > 1_048_576 || r > 64 || p > 16) return false;
  const key = await derive(password, Buffer.from(m[4] as string, 'base64'), n, r, p, expected.length);
  return timingSafeEqual(key, expected);
}

let dummyHash: Promise<string> | undefined;

/**
 * Spends the time a real verification would, for a user name that does not exist, so the answer's
 * timing does not tell which names do.
 */
export async function verifyAgainstNothing(password: string): Promise<false> {
  dummyHash ??= hashPassword('fieldmesh: no such user');
  await verifyPassword(password, await dummyHash);
  return false;
}
