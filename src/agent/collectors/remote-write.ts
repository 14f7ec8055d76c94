// The `remote_write` collector: Prometheus remote write 1.0 on `POST /api/v1/write`, so a Prometheus, vmagent or
// Grafana Alloy sends to the node as to any receiver. Answered 204 only once every sample is in the store (fsync);
// a body that is not snappy, not a WriteRequest, or holds a series without __name__ is refused whole with 400 naming
// what and where; of a good one, samples outside the store's window are refused and the rest kept
// (docs/remote-write.md#in).

import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { bodyBuffer, type PushRefusal, refuse, tokenFromAuthorization, tokensEqual } from '../../platform/index.js';
import { decodeWriteRequest, RemoteWriteDecodeError, writeRequestSamples } from '../../protocol/remote-write/index.js';
import type { Collector, CollectorContext } from './collector.js';
import { collectorName, collectorNameSchema } from './collector-name.js';
import { partialWriteBody, sendRecordFailure } from './push-body.js';

/** Largest body as sent; Prometheus sends at most max_samples_per_send samples, a few hundred kB. */
export const DEFAULT_REMOTE_WRITE_MAX_BODY_BYTES = 16 * 1024 * 1024;

export const remoteWriteCollectorSchema = z.strictObject({
  type: z.literal('remote_write'),
  name: collectorNameSchema,
  /** Mounts the endpoint under a prefix (`/prom/api/v1/write`). */
  prefix: z
    .string()
    .regex(/^(\/[^\s?#]*[^/\s?#])?$/, 'expected "" or a path like "/prom"')
    .default(''),
  /** The bearer token senders present (`Authorization: Bearer <token>`); `token_file: /path` reads it from a file. */
  token: z.string().min(1).optional(),
  /** Limit of the body as sent and of the snappy block uncompressed (x 8). */
  max_body_bytes: z.number().int().positive().default(DEFAULT_REMOTE_WRITE_MAX_BODY_BYTES),
});

export type RemoteWriteCollectorConfig = z.output<typeof remoteWriteCollectorSchema>;

const invalid = (message: string, extra: Record<string, unknown> = {}): PushRefusal => ({
  status: 400,
  reason: 'invalid',
  body: { code: 'FM_REMOTE_WRITE_INVALID', message, ...extra },
});

export function createRemoteWriteCollector(config: RemoteWriteCollectorConfig, index: number): Collector {
  const name = collectorName('remote_write', config.name, index);

  async function write(ctx: CollectorContext, req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
    const reject = (reason: Parameters<CollectorContext['reject']>[0]) => ctx.reject(reason);
    const encoding = String(req.headers['content-encoding'] ?? '')
      .trim()
      .toLowerCase();
    if (encoding !== 'snappy') {
      const body = {
        code: 'FM_PUSH_ENCODING_UNSUPPORTED' as const,
        message: `Content-Encoding ${JSON.stringify(encoding)}: remote write 1.0 bodies are snappy (block format)`,
      };
      return refuse(reply, { status: 415, reason: 'unsupported-encoding', body }, reject);
    }
    let decoded: ReturnType<typeof decodeWriteRequest>;
    try {
      decoded = decodeWriteRequest(bodyBuffer(req.body), config.max_body_bytes * 8);
    } catch (err) {
      if (!(err instanceof RemoteWriteDecodeError)) throw err;
      return refuse(reply, invalid(err.message, { layer: err.layer, ...(err.offset !== undefined ? { offset: err.offset } : {}) }), reject);
    }
    const mapped = writeRequestSamples(decoded);
    if (!mapped.ok) return refuse(reply, invalid(mapped.message, { series: mapped.series }), reject);
    if (decoded.histograms > 0 || decoded.exemplars > 0)
      ctx.logger.debug({ histograms: decoded.histograms, exemplars: decoded.exemplars }, 'native histograms and exemplars are not stored');
    let outcome: Awaited<ReturnType<CollectorContext['record']>> | undefined;
    try {
      if (mapped.samples.length > 0) outcome = await ctx.record(mapped.samples);
    } catch (err) {
      return sendRecordFailure(reply, err, 'FM_REMOTE_WRITE_INVALID', reject, ctx.logger);
    }
    if (outcome !== undefined && outcome.refused.length > 0) {
      const units = { noun: 'timeseries', ofSample: mapped.seriesOfSample, total: decoded.timeseries.length };
      return refuse(reply, { status: 400, reason: 'out-of-bounds', body: partialWriteBody(mapped.samples, outcome, units) }, reject);
    }
    return reply.code(204).send();
  }

  function routes(ctx: CollectorContext) {
    return async (app: FastifyInstance) => {
      app.removeAllContentTypeParsers();
      app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: config.max_body_bytes }, (_req, body, done) => done(null, body));
      app.setErrorHandler((err: { statusCode?: number; code?: string; message: string }, _req, reply) => {
        if (err.statusCode === 413 || err.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
          const body = { code: 'FM_PUSH_TOO_LARGE' as const, message: `body is larger than ${config.max_body_bytes} bytes` };
          return refuse(reply, { status: 413, reason: 'too-large', body }, (r) => ctx.reject(r));
        }
        if (err.statusCode !== undefined && err.statusCode >= 400 && err.statusCode < 500)
          return refuse(reply, invalid(err.message), (r) => ctx.reject(r));
        throw err;
      });
      app.addHook('onRequest', async (req, reply) => {
        if (config.token === undefined) return;
        const given = tokenFromAuthorization(req.headers.authorization);
        if (given !== undefined && tokensEqual(given, config.token)) return;
        const message = given === undefined ? 'missing "Authorization: Bearer <token>"' : 'wrong token';
        return refuse(reply, { status: 401, reason: 'unauthorized', body: { code: 'FM_PUSH_UNAUTHORIZED', message } }, (r) =>
          ctx.reject(r),
        );
      });
      app.post('/api/v1/write', { bodyLimit: config.max_body_bytes }, (req, reply) => write(ctx, req, reply));
    };
  }

  return {
    kind: 'remote_write',
    name,
    async start(ctx) {
      if (ctx.http === undefined) {
        ctx.logger.warn({}, `${name}: the agent runs without HTTP; /api/v1/write is not served`);
        return;
      }
      await ctx.http.register(routes(ctx), { prefix: config.prefix });
    },
    async stop() {},
  };
}
