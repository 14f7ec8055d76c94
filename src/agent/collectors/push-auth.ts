// Shared token handling of the push collectors (http_push, influx): config fields, file reading and
// a constant-time comparison.

import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { FieldmeshError } from '../../kit/index.js';

export interface TokenConfig {
  readonly token?: string | undefined;
  readonly token_file?: string | undefined;
}

/** The configured token (file content trimmed), or undefined when the endpoint is open. Reads now. */
export function resolveToken(config: TokenConfig, what: string): string | undefined {
  if (config.token !== undefined) return config.token;
  if (config.token_file === undefined) return undefined;
  let text: string;
  try {
    text = readFileSync(config.token_file, 'utf8').trim();
  } catch (err) {
    throw new FieldmeshError('FM_CONFIG_INVALID', `${what}: token_file ${config.token_file} could not be read`, { cause: err });
  }
  if (text === '') throw new FieldmeshError('FM_CONFIG_INVALID', `${what}: token_file ${config.token_file} is empty`);
  return text;
}

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
