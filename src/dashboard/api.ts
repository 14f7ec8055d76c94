// The console's HTTP calls: JSON in and out, the CSRF header on every change, 401 sends the browser to
// the login page, and errors come back as one readable line (the hub's `{error, code}` envelope).

let csrfToken: string | undefined;

export function setCsrfToken(token: string | undefined): void {
  csrfToken = token;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly code?: string,
  ) {
    super(message);
  }
}

/** A short human sentence for a failed call: the hub's own message, with a hint for 403. */
export function describeError(err: unknown): string {
  if (err instanceof ApiError) {
    if (err.status === 403 && err.code === 'FM_AUTH_CSRF') return `refused: ${err.message} (reload the page to get a fresh session token)`;
    if (err.status === 403) return `not allowed: ${err.message}`;
    return err.message;
  }
  if (err instanceof TypeError) return 'the hub did not answer (network error)';
  return err instanceof Error ? err.message : String(err);
}

function goToLogin(): void {
  const back = encodeURIComponent(location.pathname + location.hash);
  location.assign(`/login?next=${back}`);
}

async function call<T>(method: string, url: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (method !== 'GET' && csrfToken !== undefined) headers['x-csrf-token'] = csrfToken;
  const res = await fetch(url, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: 'same-origin',
  });
  if (res.status === 401) {
    goToLogin();
    throw new ApiError(401, 'not logged in', 'FM_AUTH_REQUIRED');
  }
  const text = await res.text();
  let json: unknown;
  try {
    json = text === '' ? undefined : JSON.parse(text);
  } catch {
    json = undefined;
  }
  if (!res.ok) {
    const e = json as { error?: string; message?: string; code?: string } | undefined;
    throw new ApiError(res.status, e?.error ?? e?.message ?? `${res.status} ${res.statusText}`, e?.code);
  }
  return json as T;
}

export const api = {
  get: <T>(url: string) => call<T>('GET', url),
  post: <T>(url: string, body?: unknown) => call<T>('POST', url, body ?? {}),
  del: <T>(url: string) => call<T>('DELETE', url),
};

/** Encodes one path segment (site and node names are user-chosen). */
export function seg(s: string): string {
  return encodeURIComponent(s);
}
