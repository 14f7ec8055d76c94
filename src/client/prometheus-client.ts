// A typed client for the Prometheus HTTP API that both a node and the hub serve (/api/v1/query_range,
// /query, /series, /labels, /label/:name/values, /status/buildinfo), for the CLI and scripts.

import { ERROR_CODES, type ErrorCode, FieldmeshError } from '../kit/index.js';
import type { PrometheusMatrixSeries, PrometheusQueryData, PrometheusSuccess } from '../protocol/index.js';
import { authErrorCode, type ClientOptions, clientHeaders } from './client-options.js';

export type MatrixResponse = PrometheusSuccess<{ readonly resultType: 'matrix'; readonly result: readonly PrometheusMatrixSeries[] }>;
/** An instant query's answer: a vector, or a scalar, string or (for a range selector) matrix, as PromQL gives. */
export type InstantResponse = PrometheusSuccess<PrometheusQueryData>;

export interface BuildInfo {
  readonly version: string;
  readonly fieldmeshVersion?: string;
  readonly protocolVersion?: number;
}

export interface PrometheusClient {
  readonly baseUrl: string;
  /** The whole response, envelope included (`--json` prints it as is). Times in unix seconds. */
  queryRange(query: string, startS: number, endS: number, stepS: number): Promise<MatrixResponse>;
  query(query: string, timeS?: number): Promise<InstantResponse>;
  series(match: readonly string[], startS?: number, endS?: number): Promise<Array<Record<string, string>>>;
  labels(): Promise<string[]>;
  labelValues(name: string): Promise<string[]>;
  buildInfo(): Promise<BuildInfo>;
}

function isErrorCode(code: unknown): code is ErrorCode {
  return typeof code === 'string' && Object.hasOwn(ERROR_CODES, code);
}

/**
 * `baseUrl` is the server's root (http://node:9100), as Grafana's data source URL. Unreachable
 * servers throw FM_TRANSPORT_UNAVAILABLE; answers in the error envelope throw their code
 * (FM_QUERY_INVALID for bad_data; a 401 or 403 without one is FM_AUTH_REQUIRED or FM_AUTH_FORBIDDEN).
 * `options.token` is sent as `Authorization: Bearer <token>` (the hub's API tokens); `options.fetch`
 * lets tests and the browser pass their own fetch.
 */
export function createPrometheusClient(baseUrl: string, options: ClientOptions = {}): PrometheusClient {
  const base = baseUrl.replace(/\/+$/, '');
  const fetchImpl = options.fetch ?? fetch;

  async function get<T>(path: string, params: URLSearchParams = new URLSearchParams()): Promise<T> {
    const qs = params.toString();
    const url = `${base}${path}${qs === '' ? '' : `?${qs}`}`;
    let res: Response;
    try {
      res = await fetchImpl(url, { headers: clientHeaders(options) });
    } catch (err) {
      throw new FieldmeshError('FM_TRANSPORT_UNAVAILABLE', `${base} is unreachable: ${(err as Error).message}`, { cause: err });
    }
    const body = (await res.json().catch(() => undefined)) as Record<string, unknown> | undefined;
    if (!res.ok || body?.status !== 'success') {
      const code: ErrorCode = isErrorCode(body?.code)
        ? body.code
        : (authErrorCode(res.status) ??
          (res.status === 404 ? 'FM_NOT_FOUND' : res.status >= 500 ? 'FM_TRANSPORT_UNAVAILABLE' : 'FM_QUERY_INVALID'));
      const message = typeof body?.error === 'string' ? body.error : `HTTP ${res.status} from ${base}${path}`;
      throw new FieldmeshError(code, message, { details: { status: res.status, errorType: body?.errorType } });
    }
    return body as T;
  }

  return {
    baseUrl: base,
    queryRange(query, startS, endS, stepS) {
      return get<MatrixResponse>(
        '/api/v1/query_range',
        new URLSearchParams({ query, start: String(startS), end: String(endS), step: String(stepS) }),
      );
    },
    query(query, timeS) {
      const params = new URLSearchParams({ query });
      if (timeS !== undefined) params.set('time', String(timeS));
      return get<InstantResponse>('/api/v1/query', params);
    },
    async series(match, startS, endS) {
      const params = new URLSearchParams();
      for (const m of match) params.append('match[]', m);
      if (startS !== undefined) params.set('start', String(startS));
      if (endS !== undefined) params.set('end', String(endS));
      return (await get<PrometheusSuccess<Array<Record<string, string>>>>('/api/v1/series', params)).data;
    },
    async labels() {
      return (await get<PrometheusSuccess<string[]>>('/api/v1/labels')).data;
    },
    async labelValues(name) {
      return (await get<PrometheusSuccess<string[]>>(`/api/v1/label/${encodeURIComponent(name)}/values`)).data;
    },
    async buildInfo() {
      return (await get<PrometheusSuccess<BuildInfo>>('/api/v1/status/buildinfo')).data;
    },
  };
}
