// One request to the hub's JSON API from the command line: the bearer token, the envelope's `data`, and a
// FieldmeshError that says what to do (unreachable, 401/403 with the token hint, an API the hub lacks).

import { type ErrorCode, FieldmeshError } from '../kit/index.js';
import { explainHubAuthError, type HubToken } from './hub-credentials.js';

export interface HubRequestOptions {
  /** A body makes it a POST (JSON); none: a GET, unless `method` says POST. */
  readonly body?: unknown;
  readonly method?: 'GET' | 'POST';
  /** What a 404 "no route" means for this API ("the hub reconciles no configuration repository ..."). */
  readonly missingRoute: string;
  /** A 403's hint ("registrations need an admin: ..."); none: the usual token explanation. */
  readonly forbiddenHint?: string;
}

export async function hubRequest<T>(hub: string, token: HubToken | undefined, path: string, o: HubRequestOptions): Promise<T> {
  const base = hub.replace(/\/+$/, '');
  const headers: Record<string, string> = { accept: 'application/json' };
  if (token !== undefined) headers.authorization = `Bearer ${token.token}`;
  if (o.body !== undefined) headers['content-type'] = 'application/json';
  let res: Response;
  try {
    res = await fetch(`${base}${path}`, {
      method: o.method ?? (o.body === undefined ? 'GET' : 'POST'),
      headers,
      ...(o.body === undefined ? {} : { body: JSON.stringify(o.body) }),
    });
  } catch (err) {
    const why = (err as { cause?: { code?: string; message?: string } }).cause;
    throw new FieldmeshError(
      'FM_TRANSPORT_UNAVAILABLE',
      `the hub at ${base} is unreachable: ${why?.code ?? why?.message ?? (err as Error).message}`,
      {
        cause: err,
      },
    );
  }
  const answer = (await res.json().catch(() => ({}))) as { data?: T; code?: string; message?: string; error?: string };
  if (res.ok && answer.data !== undefined) return answer.data;
  const message = answer.message ?? answer.error ?? `HTTP ${res.status}`;
  if (res.status === 403 && o.forbiddenHint !== undefined) {
    const from = token === undefined ? '' : ` (token from ${token.source})`;
    throw new FieldmeshError('FM_AUTH_FORBIDDEN', `the hub at ${base} refused the request${from}: ${message}; ${o.forbiddenHint}`);
  }
  if (res.status === 401 || res.status === 403) {
    const code: ErrorCode = res.status === 401 ? 'FM_AUTH_REQUIRED' : 'FM_AUTH_FORBIDDEN';
    throw explainHubAuthError(new FieldmeshError(code, message, { details: { status: res.status } }), base, token);
  }
  if (res.status === 404 && /^no route /.test(message)) throw new FieldmeshError('FM_NOT_FOUND', `the hub at ${base} ${o.missingRoute}`);
  const code = (typeof answer.code === 'string' ? answer.code : 'FM_REQUEST_INVALID') as ErrorCode;
  throw new FieldmeshError(code, `the hub at ${base} answered ${res.status}: ${message}`);
}
