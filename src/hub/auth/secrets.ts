// Random secrets (session ids, API tokens, CSRF tokens) and their stored form: only a SHA-256 digest
// of a session id or an API token is kept, so a copy of the database opens no session.

import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/** 32 random bytes, base64url: 256 bits, far beyond guessing, so a fast digest suffices to store them. */
const SECRET_BYTES = 32;
/** API tokens start with this, so secret scanners and people recognise them. */
export const TOKEN_PREFIX = 'fmt_';

export function newSecret(prefix = ''): string {
  return `${prefix}${randomBytes(SECRET_BYTES).toString('base64url')}`;
}

export function digestSecret(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}

/** Compares in time independent of where the strings differ (both sides hashed to equal length). */
export function secretsEqual(given: string, expected: string): boolean {
  return timingSafeEqual(createHash('sha256').update(given).digest(), createHash('sha256').update(expected).digest());
}
