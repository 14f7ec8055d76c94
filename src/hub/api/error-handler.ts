// The one place where errors become HTTP answers: FieldmeshError codes map to a status, and the body
// carries both fieldmesh's {code, message} and Prometheus' {status, errorType, error} envelope.

import type { FastifyError, FastifyInstance } from 'fastify';
import { FieldmeshError, type Logger } from '../../kit/index.js';
import { errorAnswer, errorBody } from '../../protocol/prometheus/index.js';

export function installErrorHandler(app: FastifyInstance, logger: Logger): void {
  app.setErrorHandler((err: FastifyError | FieldmeshError | Error, request, reply) => {
    const answer = errorAnswer(err, 'FM_HUB_INTERNAL');
    if (answer.status >= 500) logger.error({ err, url: request.url }, 'request failed');
    else logger.debug({ url: request.url, code: answer.code, message: err.message }, 'request refused');
    return reply.status(answer.status).send(answer.body);
  });
  app.setNotFoundHandler((request, reply) => {
    const err = new FieldmeshError('FM_NOT_FOUND', `no route ${request.method} ${request.url.split('?')[0]}`);
    return reply.status(404).send(errorBody(404, err.code, err.message));
  });
}
