// The `influx` collector: InfluxDB v1 and v2 write endpoints, so Telegraf and Influx clients work
// unchanged. Points map to samples the way VictoriaMetrics maps them. A request is all or nothing:
// one bad line rejects the whole body (docs/collectors.md#influx).

import { promisify } from 'node:util';
import { gunzip } from 'node:zlib';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { describeError } from '../../kit/index.js';
import type { Collector, CollectorContext, Sample } from './collector.js';
import { collectorName, collectorNameSchema } from './collector-name.js';
import { DEFAULT_MAX_BODY_BYTES } from './http-push.js';
import { type Point, type Precision, parseLineProtocol, parsePrecision, timestampToMs } from './line-protocol.js';
import { resolveToken, tokenFromAuthorization, tokensEqual } from './push-auth.js';
import { acceptRawBodies, bodyBuffer, sendPushError } from './push-body.js';

const gunzipAsync = promisify(gunzip);

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
  token: z.string().min(1).optional(),
  token_file: z.string().optional(),
  /** Limit of the body as sent and, for gzip bodies, of the decompressed body too. */
  max_body_bytes: z.number().int().positive().default(DEFAULT_MAX_BODY_BYTES),
});

export type InfluxCollectorConfig = z.output<typeof influxCollectorSchema>;

const INVALID_NAME_CHARS = /[^a-zA-Z0-9_:]/g;
const INVALID_LABEL_CHARS = /[^a-zA-Z0-9_]/g;

function metricName(measurement: string, field: string): string {
  // VictoriaMetrics' mapping; a field named `value` is the measurement itself.
  const raw = field === 'value' ? measurement : `${measurement}_${field}`;
  const clean = raw.replace(INVALID_NAME_CHARS, '_');
  return /^[0-9]/.test(clean) ? `_${clean}` : clean;
}

function labelName(key: string): string {
  const clean = key.replace(INVALID_LABEL_CHARS, '_');
  return /^[0-9]/.test(clean) ? `_${clean}` : clean;
}

/** Maps points to samples: numbers as they are, booleans as 1/0, strings skipped (counted). */
export function pointsToSamples(
  points: readonly Point[],
  precision: Precision,
  now: number,
): { samples: Sample[]; skippedStrings: number } {
  const samples: Sample[] = [];
  let skippedStrings = 0;
  for (const p of points) {
    const time = p.timestamp === undefined ? now : timestampToMs(p.timestamp, precision);
    const labels: Record<string, string> = {};
    for (const [k, v] of Object.entries(p.tags)) labels[labelName(k)] = v;
    for (const [field, v] of Object.entries(p.fields)) {
      if (v.type === 'string') {
        skippedStrings++;
        continue;
      }
      const value = v.type === 'boolean' ? (v.value ? 1 : 0) : v.value;
      samples.push({ name: metricName(p.measurement, field), labels, value, time });
    }
  }
  return { samples, skippedStrings };
}

export interface InfluxCollector extends Collector {
  /** String fields skipped since start (they have no place in a numeric series). */
  readonly skippedStringFields: number;
}

type Query = Record<string, string | undefined>;

export function createInfluxCollector(config: InfluxCollectorConfig, index: number): InfluxCollector {
  const name = collectorName('influx', config.name, index);
  const token = resolveToken(config, name);
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
    given ??= q.p ?? q.token;
    return { ok: given !== undefined && tokensEqual(given, token), given: given !== undefined };
  }

  async function write(ctx: CollectorContext, req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
    const q = req.query as Query;
    const precision = parsePrecision(q.precision);
    if (precision === undefined) {
      ctx.reject('invalid');
      return sendPushError(reply, 400, {
        code: 'FM_QUERY_INVALID',
        message: `precision: unknown ${JSON.stringify(q.precision)} (use ns, us, ms, s, m or h)`,
      });
    }
    let body = bodyBuffer(req.body);
    if (/\bgzip\b/i.test(String(req.headers['content-encoding'] ?? ''))) {
      try {
        body = await gunzipAsync(body, { maxOutputLength: config.max_body_bytes });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE' || err instanceof RangeError) {
          ctx.reject('too-large');
          return sendPushError(reply, 413, {
            code: 'FM_PUSH_TOO_LARGE',
            message: `decompressed body is larger than ${config.max_body_bytes} bytes`,
          });
        }
        ctx.reject('invalid');
        return sendPushError(reply, 400, {
          code: 'FM_LINE_PROTOCOL_INVALID',
          message: `gzip body could not be decompressed: ${describeError(err)}`,
        });
      }
    }
    const parsed = parseLineProtocol(body.toString('utf8'));
    if (!parsed.ok) {
      const { line, column, message } = parsed.error;
      ctx.reject('invalid');
      return sendPushError(reply, 400, {
        code: 'FM_LINE_PROTOCOL_INVALID',
        message: `line ${line}, column ${column}: ${message}`,
        line,
        column,
      });
    }
    const { samples, skippedStrings } = pointsToSamples(parsed.points, precision, ctx.clock.now());
    if (skippedStrings > 0) {
      skippedStringFields += skippedStrings;
      ctx.logger.debug({ skippedStrings }, 'string fields skipped');
    }
    try {
      if (samples.length > 0) await ctx.record(samples);
    } catch (err) {
      ctx.logger.error({ err: describeError(err) }, 'write could not be recorded');
      return reply.code(503).send({ message: `not recorded, retry later: ${describeError(err)}` });
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
    return sendPushError(reply, 400, { code: 'FM_QUERY_INVALID', message, error: message });
  }

  function routes(ctx: CollectorContext) {
    return async (app: FastifyInstance) => {
      acceptRawBodies(app, config.max_body_bytes, 'FM_LINE_PROTOCOL_INVALID', (r) => ctx.reject(r));
      app.addHook('onRequest', async (req, reply) => {
        const path = req.url.slice(config.prefix.length).split('?')[0];
        if (path === '/ping' || path === '/health') return;
        const auth = authorised(req);
        if (auth.ok) return;
        ctx.reject('unauthorized');
        return sendPushError(reply, 401, {
          code: 'FM_PUSH_UNAUTHORIZED',
          message: auth.given ? 'wrong token' : 'missing token ("Authorization: Token <t>", Bearer, or ?p=<t>)',
        });
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
