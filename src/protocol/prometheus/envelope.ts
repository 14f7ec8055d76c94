// The Prometheus HTTP API envelope: `{status, data}` on success, `{status, errorType, error}` on
// failure, with fieldmesh's own `{code, message}` beside it. Shared by every server of that API.

import { type ErrorCode, isFieldmeshError } from '../../kit/index.js';

/** Prometheus' errorType for an HTTP status: 400 bad_data, 404 not_found, 503 unavailable, 5xx internal. */
export function prometheusErrorType(status: number): string {
  if (status === 404) return 'not_found';
  if (status === 503) return 'unavailable';
  if (status >= 500) return 'internal';
  return 'bad_data';
}

export interface PrometheusErrorBody {
  readonly status: 'error';
  readonly errorType: string;
  readonly error: string;
  readonly code: string;
  readonly message: string;
}

export function errorBody(status: number, code: string, message: string): PrometheusErrorBody {
  return { status: 'error', errorType: prometheusErrorType(status), error: message, code, message };
}

/** A series of a range query's `matrix` result: values are [unix seconds, value as a string]. */
export interface PrometheusMatrixSeries {
  readonly metric: Readonly<Record<string, string>>;
  readonly values: ReadonlyArray<readonly [number, string]>;
}

/** A sample of an instant query's `vector` result. */
export interface PrometheusVectorSample {
  readonly metric: Readonly<Record<string, string>>;
  readonly value: readonly [number, string];
}

export type PrometheusQueryData =
  | { readonly resultType: 'matrix'; readonly result: readonly PrometheusMatrixSeries[] }
  | { readonly resultType: 'vector'; readonly result: readonly PrometheusVectorSample[] }
  /** A scalar or string result (`1+1`, `"x"`): [unix seconds, value as a string]. */
  | { readonly resultType: 'scalar' | 'string'; readonly result: readonly [number, string] };

export interface PrometheusSuccess<T> {
  readonly status: 'success';
  readonly data: T;
  readonly warnings?: readonly string[];
}

/** The HTTP status of each error code a server of this API may answer with; anything else is 500. */
const HTTP_STATUS: Partial<Record<ErrorCode, number>> = {
  FM_QUERY_INVALID: 400,
  FM_REQUEST_INVALID: 400,
  FM_CONFIG_INVALID: 400,
  FM_PUSH_INVALID: 400,
  FM_LINE_PROTOCOL_INVALID: 400,
  FM_PUSH_UNAUTHORIZED: 401,
  FM_AUTH_REQUIRED: 401,
  FM_AUTH_FAILED: 401,
  FM_AUTH_FORBIDDEN: 403,
  FM_AUTH_CSRF: 403,
  FM_AUTH_CONFLICT: 409,
  FM_ACTION_CONFLICT: 409,
  FM_ACTION_UNAVAILABLE: 503,
  FM_AUTH_RATE_LIMITED: 429,
  FM_NOT_FOUND: 404,
  FM_ZONE_UNKNOWN: 404,
  FM_PUSH_TOO_LARGE: 413,
  FM_TRANSPORT_UNAVAILABLE: 503,
  FM_STORE_CLOSED: 503,
  FM_NODE_OFFLINE: 503,
  FM_NODE_BUSY: 503,
  FM_NODE_REPLY_TOO_LARGE: 422,
  FM_NODE_QUERY_FAILED: 502,
  FM_NODE_TIMEOUT: 504,
  FM_COMMAND_UNSUPPORTED: 501,
  FM_COMMAND_FAILED: 502,
  /** The hub could not read its configuration repository (git fetch, a folder gone). */
  FM_FLEET_CONFIG_UNREADABLE: 502,
};

export interface ErrorAnswer {
  readonly status: number;
  readonly code: ErrorCode;
  readonly body: PrometheusErrorBody;
}

/**
 * The one translation of a thrown value into an HTTP answer, for the hub and the node alike: a
 * FieldmeshError by its code, a framework's own client error (malformed body, unsupported media type,
 * body too large) by its status, anything else as `internalCode` with its message withheld.
 */
export function errorAnswer(err: unknown, internalCode: ErrorCode): ErrorAnswer {
  let status: number;
  let code: ErrorCode;
  const message = err instanceof Error ? err.message : String(err);
  if (isFieldmeshError(err)) {
    status = HTTP_STATUS[err.code] ?? 500;
    code = err.code;
  } else if (typeof (err as { statusCode?: unknown })?.statusCode === 'number' && (err as { statusCode: number }).statusCode < 500) {
    status = (err as { statusCode: number }).statusCode;
    code = status === 413 ? 'FM_PUSH_TOO_LARGE' : 'FM_QUERY_INVALID';
  } else {
    status = 500;
    code = internalCode;
  }
  const internal = status === 500 && !isFieldmeshError(err);
  return { status, code, body: errorBody(status, code, internal ? 'internal error' : message) };
}
