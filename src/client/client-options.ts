// What every client of the hub takes: an API token to send, and a fetch to send it with.

import type { ErrorCode } from '../kit/index.js';

/** Options of `createHubClient` and `createPrometheusClient`. */
export interface ClientOptions {
  /** An API token (`fieldmesh hub token create`), sent as `Authorization: Bearer <token>` with every request. */
  readonly token?: string;
  /** Lets tests and the browser pass their own fetch. */
  readonly fetch?: typeof fetch;
}

/** The headers of every request: JSON wanted, and the token when there is one. */
export function clientHeaders(options: ClientOptions, extra: Readonly<Record<string, string>> = {}): Record<string, string> {
  return {
    accept: 'application/json',
    ...(options.token === undefined || options.token === '' ? {} : { authorization: `Bearer ${options.token}` }),
    ...extra,
  };
}

/** The code of a 401 or 403 whose body names none (a proxy in front of the hub answered). */
export function authErrorCode(status: number): ErrorCode | undefined {
  return status === 401 ? 'FM_AUTH_REQUIRED' : status === 403 ? 'FM_AUTH_FORBIDDEN' : undefined;
}
