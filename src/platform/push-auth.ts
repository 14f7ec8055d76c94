// Shared token handling of the push collectors (http_push, influx): the Authorization header's token and a
// constant-time comparison. A `token_file` is read by the config loader, as every secret's.

import { createHash, timingSafeEqual } from 'node:crypto';

/** Compares in time independent of where the strings differ (both sides hashed to equal length). */
export function tokensEqual(given: string, expected: string): boolean {
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}

/** The token of an `Authorization: Bearer <t>` or `Token <t>` header, if any. */
export function tokenFromAuthorization(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  const m = /^(?:Bearer|Token)\s+(.+)$/i.exec(header.trim());
  return m?.[1];
}
