// The HTTP plumbing of push endpoints (a node's http_push and influx collectors, a scale-out hub's ingest tier): an
// encapsulated scope that takes any body as a Buffer (Fastify answers 415 to unknown types otherwise; `curl
// --data-binary` sends a form type), undoes its Content-Encoding, decodes it as strict UTF-8, and answers errors in
// our `{code, message}` shape without resetting the connection.

import { promisify } from 'node:util';
import { gunzip } from 'node:zlib';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { describeError, type ErrorCode } from '../kit/index.js';

/** Why a push endpoint refused a request, as its counters name it. */
export type PushRefusalReason = 'unauthorized' | 'too-large' | 'invalid' | 'unsupported-encoding' | 'out-of-bounds';

const gunzipAsync = promisify(gunzip);

/**
 * How long the rest of a body is still read after an early answer (401, 413, 415) before the
 * connection is cut: nginx's lingering_time, 30 s.
 */
export const LINGER_MS = 30_000;

export interface PushErrorBody {
  readonly code: ErrorCode;
  readonly message: string;
  readonly [extra: string]: unknown;
}

/** A refusal of a request, as the handlers pass it around before answering. */
export interface PushRefusal {
  readonly status: number;
  readonly reason: PushRefusalReason;
  readonly body: PushErrorBody;
}

export function sendPushError(reply: FastifyReply, status: number, body: PushErrorBody): FastifyReply {
  lingerOnUnreadBody(reply);
  return reply.code(status).type('application/json').send(body);
}

/** Counts the refusal and answers it. */
export function refuse(reply: FastifyReply, refusal: PushRefusal, reject: (reason: PushRefusalReason) => void): FastifyReply {
  reject(refusal.reason);
  return sendPushError(reply, refusal.status, refusal.body);
}

/**
 * Answering while the client still sends its body, then closing (what Fastify does after a body
 * error), makes the kernel answer the unread bytes with a reset that can reach the client before it
 * has read the answer: it sees ECONNRESET or EPIPE, not the status, and retries. Instead the
 * connection stays open, the rest of the body is read and discarded, and only a client still
 * sending after LINGER_MS is cut off.
 */
function lingerOnUnreadBody(reply: FastifyReply): void {
  const raw = reply.request.raw;
  if (raw.complete || raw.destroyed) return;
  reply.removeHeader('connection');
  const timer = setTimeout(() => raw.socket?.destroy(), LINGER_MS);
  timer.unref();
  const done = () => clearTimeout(timer);
  raw.once('end', done);
  raw.once('close', done);
  raw.resume();
}

const SUPPORTED_ENCODINGS = new Set(['identity', 'gzip', 'x-gzip']);

/** The refusal of a Content-Encoding other than identity and gzip (at most one gzip), if any. */
export function checkContentEncoding(header: string | string[] | undefined): PushRefusal | undefined {
  const codings = String(header ?? '')
    .split(',')
    .map((c) => c.trim().toLowerCase())
    .filter((c) => c !== '');
  const gzips = codings.filter((c) => c !== 'identity').length;
  if (codings.every((c) => SUPPORTED_ENCODINGS.has(c)) && gzips <= 1) return undefined;
  return {
    status: 415,
    reason: 'unsupported-encoding',
    body: {
      code: 'FM_PUSH_ENCODING_UNSUPPORTED',
      message: `Content-Encoding ${JSON.stringify(String(header))} is not supported; send the body plain or with "Content-Encoding: gzip"`,
    },
  };
}

/**
 * Makes `app` (an encapsulated plugin scope) accept any content type as a Buffer up to `maxBytes`
 * and answer oversized or broken bodies itself (413 FM_PUSH_TOO_LARGE, 400 `invalidCode`), and
 * unsupported encodings before reading them (415 FM_PUSH_ENCODING_UNSUPPORTED).
 */
export function acceptRawBodies(
  app: FastifyInstance,
  maxBytes: number,
  invalidCode: ErrorCode,
  reject: (reason: PushRefusalReason) => void,
  /** Requests whose Content-Encoding the route checks itself (remote write's snappy). */
  ownEncoding?: (req: FastifyRequest) => boolean,
): void {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: maxBytes }, (_req, body, done) => done(null, body));
  // After onRequest (authentication), before the body is read.
  app.addHook('preParsing', async (req, reply) => {
    if (ownEncoding?.(req) === true) return;
    const refusal = checkContentEncoding(req.headers['content-encoding']);
    if (refusal !== undefined) return refuse(reply, refusal, reject);
  });
  app.setErrorHandler((err: { statusCode?: number; code?: string; message: string }, _req, reply) => {
    if (err.statusCode === 413 || err.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
      const body: PushErrorBody = { code: 'FM_PUSH_TOO_LARGE', message: `body is larger than ${maxBytes} bytes` };
      return refuse(reply, { status: 413, reason: 'too-large', body }, reject);
    }
    if (err.statusCode !== undefined && err.statusCode >= 400 && err.statusCode < 500) {
      return refuse(reply, { status: err.statusCode, reason: 'invalid', body: { code: invalidCode, message: err.message } }, reject);
    }
    throw err;
  });
}

/** The request body as a Buffer (empty when there was none). */
export function bodyBuffer(body: unknown): Buffer {
  if (Buffer.isBuffer(body)) return body;
  if (typeof body === 'string') return Buffer.from(body);
  return Buffer.alloc(0);
}

/**
 * The body with its Content-Encoding undone (checkContentEncoding ran before): a gzip body is
 * decompressed up to `maxBytes` too, so that a small bomb cannot fill memory.
 */
export async function readBody(
  req: FastifyRequest,
  maxBytes: number,
  invalidCode: ErrorCode,
): Promise<{ ok: true; body: Buffer } | { ok: false; refusal: PushRefusal }> {
  const body = bodyBuffer(req.body);
  if (!/gzip/i.test(String(req.headers['content-encoding'] ?? ''))) return { ok: true, body };
  try {
    return { ok: true, body: await gunzipAsync(body, { maxOutputLength: maxBytes }) };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE' || err instanceof RangeError) {
      const message = `decompressed body is larger than ${maxBytes} bytes`;
      return { ok: false, refusal: { status: 413, reason: 'too-large', body: { code: 'FM_PUSH_TOO_LARGE', message } } };
    }
    const message = `gzip body could not be decompressed: ${describeError(err)}`;
    return { ok: false, refusal: { status: 400, reason: 'invalid', body: { code: invalidCode, message } } };
  }
}

/** Where a body first breaks UTF-8: byte offset, 1-based line, and column in characters. */
export interface Utf8Error {
  readonly offset: number;
  readonly line: number;
  readonly column: number;
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * The body as text, or where it is not UTF-8 (RFC 3629: no overlong forms, no surrogates, nothing
 * past U+10FFFF). A leading byte-order mark is dropped, as RFC 8259 allows.
 */
export function decodeUtf8(bytes: Uint8Array): { ok: true; text: string } | { ok: false; error: Utf8Error } {
  try {
    return { ok: true, text: strictUtf8.decode(bytes) };
  } catch {
    const offset = invalidUtf8Offset(bytes);
    const lineStart = bytes.lastIndexOf(0x0a, offset - 1) + 1;
    let line = 1;
    for (let i = 0; i < lineStart; i++) if (bytes[i] === 0x0a) line++;
    const column = new TextDecoder().decode(bytes.subarray(lineStart, offset)).length + 1;
    return { ok: false, error: { offset, line, column } };
  }
}

/** The offset of the first byte that starts no well-formed sequence (Unicode table 3-7). */
function invalidUtf8Offset(b: Uint8Array): number {
  let i = 0;
  while (i < b.length) {
    const c = b[i] as number;
    if (c < 0x80) {
      i++;
      continue;
    }
    // The allowed range of the second byte, and how many bytes follow the lead.
    let lo = 0x80;
    let hi = 0xbf;
    let more: number;
    if (c >= 0xc2 && c <= 0xdf) more = 1;
    else if (c >= 0xe0 && c <= 0xef) {
      more = 2;
      if (c === 0xe0) lo = 0xa0;
      if (c === 0xed) hi = 0x9f;
    } else if (c >= 0xf0 && c <= 0xf4) {
      more = 3;
      if (c === 0xf0) lo = 0x90;
      if (c === 0xf4) hi = 0x8f;
    } else return i;
    const second = b[i + 1];
    if (second === undefined || second < lo || second > hi) return i;
    for (let k = 2; k <= more; k++) {
      const next = b[i + k];
      if (next === undefined || next < 0x80 || next > 0xbf) return i;
    }
    i += more + 1;
  }
  return b.length;
}
