// The one place where errors become HTTP answers: FieldmeshError codes map to a status, and the body
// carries both fieldmesh's {code, message} and Prometheus' {status, errorType, error} envelope.

import type { FastifyError, FastifyInstance } from 'fastify';
import { type ErrorCode, FieldmeshError, isFieldmeshError, type Logger } from '../../kit/index.js';
import { errorBody } from '../../protocol/prometheus/index.js';

const STATUS: Partial<Record<ErrorCode, number>> = {
  FM_QUERY_INVALID: 400,
  FM_CONFIG_INVALID: 400,
  FM_PUSH_INVALID: 400,
  FM_LINE_PROTOCOL_INVALID: 400,
  FM_PUSH_UNAUTHORIZED: 401,
  FM_NOT_FOUND: 404,
  FM_PUSH_TOO_LARGE: 413,
  FM_TRANSPORT_UNAVAILABLE: 503,
};

export function installErrorHandler(app: FastifyInstance, logger: Logger): void {
  app.setErrorHandler((err: FastifyError | FieldmeshError | Error, request, reply) => {
    let status: number;
    let code: ErrorCode;
    if (isFieldmeshError(err)) {
      status = STATUS[err.code] ?? 500;
      code = err.code;
    } else if ('statusCode' in err && typeof err.statusCode === 'number' && err.statusCode < 500) {
      // Fastify's own client errors: bad JSON body, unsupported media type, body too large.
      status = err.statusCode;
      code = status === 413 ? 'FM_PUSH_TOO_LARGE' : 'FM_QUERY_INVALID';
    } else {
      status = 500;
      code = 'FM_HUB_INTERNAL';
    }
    if (status >= 500) logger.error({ err, url: request.url }, 'request failed');
    else logger.debug({ url: request.url, code, message: err.message }, 'request refused');
    return reply
      .status(status)
      .send(errorBody(status, code, status === 500 && code === 'FM_HUB_INTERNAL' ? 'internal error' : err.message));
  });
  app.setNotFoundHandler((request, reply) => {
    const err = new FieldmeshError('FM_NOT_FOUND', `no route ${request.method} ${request.url.split('?')[0]}`);
    return reply.status(404).send(errorBody(404, err.code, err.message));
  });
}
