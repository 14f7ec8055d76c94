// The `http_push` collector: `POST /events` (seed 001's ingest API) with a bearer token; JSON objects
// become samples (their `metrics`) and events (any object with a `kind`). Answers only after both are
// recorded; a malformed body is refused whole, samples outside the store's window one element at a
// time. Body shape: docs/collectors.md#http_push.

import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import {
  acceptRawBodies,
  decodeUtf8,
  type PushRefusal,
  readBody,
  refuse,
  tokenFromAuthorization,
  tokensEqual,
} from '../../platform/index.js';
import { EVENT_PRIORITIES, type EventPriority } from '../../protocol/index.js';
import { type DecodedPush, decodePushBody, type PushKindReader, PushShapeError, parsePushJson } from '../../protocol/push/index.js';
import type { Collector, CollectorContext, RecordOutcome, RejectReason } from './collector.js';
import { collectorName, collectorNameSchema } from './collector-name.js';
import { DETECTION_KIND, DetectionShapeError, detectionEvent, detectionOf } from './detections.js';
import { partialWriteBody, sendRecordFailure } from './push-body.js';

export const DEFAULT_MAX_BODY_BYTES = 1024 * 1024;

export const httpPushCollectorSchema = z.strictObject({
  type: z.literal('http_push'),
  name: collectorNameSchema,
  path: z
    .string()
    .regex(/^\/[^\s?#]*$/, 'expected a path like "/events"')
    .default('/events'),
  /** `token_file: /path` reads it from a file, as every secret (the config loader does: docs/security.md). */
  token: z.string().min(1).optional(),
  max_body_bytes: z.number().int().positive().default(DEFAULT_MAX_BODY_BYTES),
  /** Priority of events that do not name one. */
  default_priority: z.enum(EVENT_PRIORITIES as [EventPriority, ...EventPriority[]]).default('normal'),
});

export type HttpPushCollectorConfig = z.output<typeof httpPushCollectorSchema>;

/** The body's samples and events; a detection (`kind: detection`) read for the zones of `node`. [FM-ZONE-DETECT] */
export function decodePush(body: unknown, now: number, defaultPriority: EventPriority, node = ''): DecodedPush {
  return decodePushBody(body, { now, defaultPriority, kinds: { [DETECTION_KIND]: detectionReader(node) } });
}

function detectionReader(node: string): PushKindReader {
  return (obj, time) => {
    try {
      return detectionEvent(detectionOf({ ...obj, time }, node, time));
    } catch (err) {
      if (err instanceof DetectionShapeError) throw new PushShapeError(err.message);
      throw err;
    }
  };
}

/** The body decoded, checked and parsed into samples and events, or why it is refused. */
function parsePushBody(
  bytes: Buffer,
  now: number,
  defaultPriority: EventPriority,
  node: string,
): { ok: true; decoded: DecodedPush } | { ok: false; refusal: PushRefusal } {
  const invalid = (message: string, extra: Record<string, unknown> = {}) => ({
    ok: false as const,
    refusal: { status: 400, reason: 'invalid' as const, body: { code: 'FM_PUSH_INVALID' as const, message, ...extra } },
  });
  const text = decodeUtf8(bytes);
  if (!text.ok) return invalid(`invalid UTF-8 at byte ${text.error.offset}`, { offset: text.error.offset });
  const parsed = parsePushJson(text.text, { now, defaultPriority, kinds: { [DETECTION_KIND]: detectionReader(node) } });
  if (!parsed.ok) return invalid(parsed.problem.message, parsed.problem.path === undefined ? {} : { path: parsed.problem.path });
  return { ok: true, decoded: parsed.push };
}

export function createHttpPushCollector(config: HttpPushCollectorConfig, index: number): Collector {
  const name = collectorName('http_push', config.name, index);
  const token = config.token;

  function routes(ctx: CollectorContext) {
    const reject = (reason: RejectReason) => ctx.reject(reason);
    return async (app: FastifyInstance) => {
      acceptRawBodies(app, config.max_body_bytes, 'FM_PUSH_INVALID', reject);
      app.addHook('onRequest', async (req, reply) => {
        if (token === undefined) return;
        const given = tokenFromAuthorization(req.headers.authorization);
        if (given !== undefined && tokensEqual(given, token)) return;
        const message = given === undefined ? 'missing "Authorization: Bearer <token>"' : 'wrong bearer token';
        return refuse(reply, { status: 401, reason: 'unauthorized', body: { code: 'FM_PUSH_UNAUTHORIZED', message } }, reject);
      });
      app.post(config.path, { bodyLimit: config.max_body_bytes }, async (req, reply) => {
        const read = await readBody(req, config.max_body_bytes, 'FM_PUSH_INVALID');
        if (!read.ok) return refuse(reply, read.refusal, reject);
        const parsed = parsePushBody(read.body, ctx.clock.now(), config.default_priority, ctx.identity.node);
        if (!parsed.ok) return refuse(reply, parsed.refusal, reject);
        const { samples, sampleElements, events, elements } = parsed.decoded;
        let outcome: RecordOutcome | undefined;
        try {
          if (samples.length > 0) outcome = await ctx.record(samples);
          for (const e of events) await ctx.emit(e);
        } catch (err) {
          return sendRecordFailure(reply, err, 'FM_PUSH_INVALID', reject, ctx.logger);
        }
        if (outcome !== undefined && outcome.refused.length > 0) {
          const units = { noun: 'element', ofSample: sampleElements, total: elements };
          const body = partialWriteBody(samples, outcome, units, { events: events.length });
          return refuse(reply, { status: 400, reason: 'out-of-bounds', body }, reject);
        }
        return reply.code(200).send({ accepted: { samples: samples.length, events: events.length } });
      });
    };
  }

  return {
    kind: 'http_push',
    name,
    async start(ctx) {
      if (ctx.http === undefined) {
        ctx.logger.warn({ path: config.path }, `${name}: the agent runs without HTTP; POST ${config.path} is not served`);
        return;
      }
      await ctx.http.register(routes(ctx));
    },
    async stop() {
      // Routes live as long as the agent's HTTP server, which the agent closes.
    },
  };
}
