// The `influx` collector: InfluxDB v1 and v2 write endpoints, so Telegraf and Influx clients work
// unchanged. Points map to samples the way VictoriaMetrics maps them. A malformed body is refused
// whole; of a well-formed one, lines outside the store's time window are refused and the rest
// recorded, answered as InfluxDB answers a partial write (docs/collectors.md#influx).

import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import {
  acceptRawBodies,
  bodyBuffer,
  decodeUtf8,
  type PushRefusal,
  readBody,
  refuse,
  sendPushError,
  tokenFromAuthorization,
  tokensEqual,
} from '../../platform/index.js';
import { type LineProtocolError, parseLineProtocol, parsePrecision, pointsToSamples } from '../../protocol/push/index.js';
import type { Collector, CollectorContext } from './collector.js';
import { collectorName, collectorNameSchema } from './collector-name.js';
import { DEFAULT_MAX_BODY_BYTES } from './http-push.js';
import { partialWriteBody, sendRecordFailure } from './push-body.js';

/** What /ping and /health report, so clients that check the server version are satisfied. */
export const INFLUX_COMPAT_VERSION = '1.8.10';

export const influxCollectorSchema = z.strictObject({
  type: z.literal('influx'),
  name: collectorNameSchema,
  /** Mounts the endpoints under a prefix ("/influx/write"), e.g. to run two influx collectors. */
  prefix: z
    .string()
    .regex(/^(\/[^\s?#]*[^/\s?#])?$/, 'expected "" or a path like "/influx"')
    .default(''),
  /** `token_file: /path` reads it from a file, as every secret (the config loader does: docs/security.md). */
  token: z.string().min(1).optional(),
  /** Limit of the body as sent and, for gzip bodies, of the decompressed body too. */
  max_body_bytes: z.number().int().positive().default(DEFAULT_MAX_BODY_BYTES),
});

export type InfluxCollectorConfig = z.output<typeof influxCollectorSchema>;

function lineProtocolRefusal({ line, column, message }: LineProtocolError): PushRefusal {
  return {
    status: 400,
    reason: 'invalid',
    body: { code: 'FM_LINE_PROTOCOL_INVALID', message: `line ${line}, column ${column}: ${message}`, line, column },
  };
}

export interface InfluxCollector extends Collector {
  /** String fields skipped since start (they have no place in a numeric series). */
  readonly skippedStringFields: number;
}

type Query = Record<string, string | undefined>;

export function createInfluxCollector(config: InfluxCollectorConfig, index: number): InfluxCollector {
  const name = collectorName('influx', config.name, index);
  const token = config.token;
  let skippedStringFields = 0;

  function authorised(req: FastifyRequest): { ok: boolean; given: boolean } {
    if (token === undefined) return { ok: true, given: false };
    const q = req.query as Query;
    const header = req.headers.authorization;
    let given = tokenFromAuthorization(header);
    if (given === undefined && header !== undefined && /^Basic\s/i.test(header)) {
      const decoded = Buffer.from(header.replace(/^Basic\s+/i, ''), 'base64').toString('utf8');
      given = decoded.slice(decoded.indexOf(':') + 1);
    }
    // Only InfluxDB v1's documented `p`; no `?token=`: a secret in a URL ends up in access logs and proxies.
    given ??= q.p;
    return { ok: given !== undefined && tokensEqual(given, token), given: given !== undefined };
  }

  async function write(ctx: CollectorContext, req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
    const reject = (reason: Parameters<CollectorContext['reject']>[0]) => ctx.reject(reason);
    const q = req.query as Query;
    const precision = parsePrecision(q.precision);
    if (precision === undefined) {
      const message = `precision: unknown ${JSON.stringify(q.precision)} (use ns, us, ms, s, m or h)`;
      return refuse(reply, { status: 400, reason: 'invalid', body: { code: 'FM_QUERY_INVALID', message } }, reject);
    }
    const read = await readBody(req, config.max_body_bytes, 'FM_LINE_PROTOCOL_INVALID');
    if (!read.ok) return refuse(reply, read.refusal, reject);
    const text = decodeUtf8(read.body);
    if (!text.ok) {
      const { line, column, offset } = text.error;
      return refuse(reply, lineProtocolRefusal({ line, column, message: `invalid UTF-8 at byte ${offset}` }), reject);
    }
    const parsed = parseLineProtocol(text.text, { precision });
    if (!parsed.ok) return refuse(reply, lineProtocolRefusal(parsed.error), reject);
    const mapped = pointsToSamples(parsed.points, parsed.lines, precision, ctx.clock.now());
    if (!mapped.ok) return refuse(reply, lineProtocolRefusal(mapped.error), reject);
    const { samples, sampleLines, skippedStrings } = mapped;
    if (skippedStrings > 0) {
      skippedStringFields += skippedStrings;
      ctx.logger.debug({ skippedStrings }, 'string fields skipped');
    }
    let outcome: Awaited<ReturnType<CollectorContext['record']>> | undefined;
    try {
      if (samples.length > 0) outcome = await ctx.record(samples);
    } catch (err) {
      return sendRecordFailure(reply, err, 'FM_LINE_PROTOCOL_INVALID', reject, ctx.logger);
    }
    if (outcome !== undefined && outcome.refused.length > 0) {
      const units = { noun: 'line', ofSample: sampleLines, total: parsed.points.length };
      return refuse(reply, { status: 400, reason: 'out-of-bounds', body: partialWriteBody(samples, outcome, units) }, reject);
    }
    return reply.code(204).send();
  }

  function query(req: FastifyRequest, reply: FastifyReply): FastifyReply {
    let q = (req.query as Query).q;
    if (q === undefined && req.method === 'POST') q = new URLSearchParams(bodyBuffer(req.body).toString('utf8')).get('q') ?? undefined;
    const statement = (q ?? '').trim();
    if (/^CREATE\s+DATABASE\b/i.test(statement)) return reply.send({ results: [{ statement_id: 0 }] });
    if (/^SHOW\s+DATABASES\s*;?$/i.test(statement)) {
      return reply.send({ results: [{ statement_id: 0, series: [{ name: 'databases', columns: ['name'], values: [] }] }] });
    }
    const message = 'fieldmesh accepts writes only; /query answers CREATE DATABASE and SHOW DATABASES';
    return sendPushError(reply, 400, { code: 'FM_QUERY_INVALID', message });
  }

  function routes(ctx: CollectorContext) {
    return async (app: FastifyInstance) => {
      acceptRawBodies(app, config.max_body_bytes, 'FM_LINE_PROTOCOL_INVALID', (r) => ctx.reject(r));
      // Every error also as `error`, which InfluxDB v1 clients (Telegraf's outputs.influxdb) read.
      app.addHook('preSerialization', async (_req, _reply, payload: unknown) => {
        const body = payload as { code?: unknown; message?: unknown; error?: unknown } | null;
        if (typeof body?.code !== 'string' || typeof body.message !== 'string' || body.error !== undefined) return payload;
        return { ...body, error: body.message };
      });
      app.addHook('onRequest', async (req, reply) => {
        const path = req.url.slice(config.prefix.length).split('?')[0];
        if (path === '/ping' || path === '/health') return;
        const auth = authorised(req);
        if (auth.ok) return;
        const message = auth.given ? 'wrong token' : 'missing token ("Authorization: Token <t>", Bearer, Basic, or ?u=<user>&p=<t>)';
        return refuse(reply, { status: 401, reason: 'unauthorized', body: { code: 'FM_PUSH_UNAUTHORIZED', message } }, (r) =>
          ctx.reject(r),
        );
      });
      const writeOptions = { bodyLimit: config.max_body_bytes };
      app.post('/write', writeOptions, (req, reply) => write(ctx, req, reply));
      app.post('/api/v2/write', writeOptions, (req, reply) => write(ctx, req, reply));
      app.get('/ping', async (_req, reply) => reply.code(204).header('x-influxdb-version', INFLUX_COMPAT_VERSION).send());
      app.get('/health', async () => ({ name: 'influxdb', message: 'ready for writes', status: 'pass', version: INFLUX_COMPAT_VERSION }));
      app.get('/query', async (req, reply) => query(req, reply));
      app.post('/query', async (req, reply) => query(req, reply));
    };
  }

  return {
    kind: 'influx',
    name,
    get skippedStringFields() {
      return skippedStringFields;
    },
    async start(ctx) {
      if (ctx.http === undefined) {
        ctx.logger.warn({}, `${name}: the agent runs without HTTP; the Influx write endpoints are not served`);
        return;
      }
      await ctx.http.register(routes(ctx), { prefix: config.prefix });
    },
    async stop() {},
  };
}
