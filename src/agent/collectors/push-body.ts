// Shared HTTP plumbing of the push collectors: an encapsulated scope that takes any body as a Buffer
// (Fastify answers 415 to unknown types otherwise; `curl --data-binary` sends a form type) and
// turns body-limit and framing errors into our `{code, message}` shape.

import type { FastifyInstance, FastifyReply } from 'fastify';
import type { ErrorCode } from '../../kit/index.js';
import type { RejectReason } from './collector.js';

export interface PushErrorBody {
  readonly code: ErrorCode;
  readonly message: string;
  readonly [extra: string]: unknown;
}

export function sendPushError(reply: FastifyReply, status: number, body: PushErrorBody): FastifyReply {
  return reply.code(status).type('application/json').send(body);
}

/**
 * Makes `app` (an encapsulated plugin scope) accept any content type as a Buffer up to `maxBytes`
 * and answer oversized or broken bodies itself: 413 FM_PUSH_TOO_LARGE, 400 `invalidCode`.
 */
export function acceptRawBodies(
  app: FastifyInstance,
  maxBytes: number,
  invalidCode: ErrorCode,
  reject: (reason: RejectReason) => void,
): void {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: maxBytes }, (_req, body, done) => done(null, body));
  app.setErrorHandler((err: { statusCode?: number; code?: string; message: string }, _req, reply) => {
    if (err.statusCode === 413 || err.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
      reject('too-large');
      return sendPushError(reply, 413, { code: 'FM_PUSH_TOO_LARGE', message: `body is larger than ${maxBytes} bytes` });
    }
    if (err.statusCode !== undefined && err.statusCode >= 400 && err.statusCode < 500) {
      reject('invalid');
      return sendPushError(reply, err.statusCode, { code: invalidCode, message: err.message });
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
