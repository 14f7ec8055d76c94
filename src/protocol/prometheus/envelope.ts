// The Prometheus HTTP API envelope: `{status, data}` on success, `{status, errorType, error}` on
// failure, with fieldmesh's own `{code, message}` beside it. Shared by every server of that API.

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
  | { readonly resultType: 'vector'; readonly result: readonly PrometheusVectorSample[] };

export interface PrometheusSuccess<T> {
  readonly status: 'success';
  readonly data: T;
  readonly warnings?: readonly string[];
}
