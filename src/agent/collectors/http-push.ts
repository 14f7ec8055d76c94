// The `http_push` collector: `POST /events` (seed 001's ingest API) with a bearer token; JSON objects
// become samples (their `metrics`) and events (any object with a `kind`). Answers only after both are
// recorded. Body shape: docs/collectors.md#http_push.

import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { describeError } from '../../kit/index.js';
import { EVENT_PRIORITIES, type EventPriority } from '../../protocol/index.js';
import type { AgentEvent, Collector, CollectorContext, Sample } from './collector.js';
import { collectorName, collectorNameSchema } from './collector-name.js';
import { resolveToken, tokenFromAuthorization, tokensEqual } from './push-auth.js';
import { acceptRawBodies, bodyBuffer, sendPushError } from './push-body.js';

export const DEFAULT_MAX_BODY_BYTES = 1024 * 1024;

export const httpPushCollectorSchema = z.strictObject({
  type: z.literal('http_push'),
  name: collectorNameSchema,
  path: z
    .string()
    .regex(/^\/[^\s?#]*$/, 'expected a path like "/events"')
    .default('/events'),
  token: z.string().min(1).optional(),
  /** A file holding the token (read once at start-up); an alternative to `token`. */
  token_file: z.string().optional(),
  max_body_bytes: z.number().int().positive().default(DEFAULT_MAX_BODY_BYTES),
  /** Priority of events that do not name one. */
  default_priority: z.enum(EVENT_PRIORITIES as [EventPriority, ...EventPriority[]]).default('normal'),
});

export type HttpPushCollectorConfig = z.output<typeof httpPushCollectorSchema>;

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

export class PushShapeError extends Error {}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Turns a parsed body into samples and events, or throws PushShapeError naming the path at fault. */
export function decodePush(body: unknown, now: number, defaultPriority: EventPriority): { samples: Sample[]; events: AgentEvent[] } {
  const isArray = Array.isArray(body);
  const items: unknown[] = isArray ? body : [body];
  const samples: Sample[] = [];
  const events: AgentEvent[] = [];
  items.forEach((item, i) => {
    const at = (rest: string) => (isArray ? `[${i}]${rest === '' ? '' : `.${rest}`}` : rest === '' ? '(root)' : rest);
    const fail = (rest: string, msg: string): never => {
      throw new PushShapeError(`${at(rest)}: ${msg}`);
    };
    if (!isObject(item)) fail('', isArray ? 'expected an object' : 'expected an object or an array of objects');
    const obj = item as Record<string, unknown>;
    let time = now;
    if (obj.time !== undefined) {
      if (typeof obj.time === 'number' && Number.isFinite(obj.time)) time = obj.time;
      else if (typeof obj.time === 'string' && /^\d{4}-\d\d-\d\dT/.test(obj.time) && !Number.isNaN(Date.parse(obj.time))) {
        time = Date.parse(obj.time);
      } else fail('time', 'expected milliseconds since the epoch or an RFC 3339 time');
    }
    let priority = defaultPriority;
    if (obj.priority !== undefined) {
      if (!EVENT_PRIORITIES.includes(obj.priority as EventPriority)) fail('priority', `expected one of ${EVENT_PRIORITIES.join(', ')}`);
      priority = obj.priority as EventPriority;
    }
    const labels: Record<string, string> = {};
    if (obj.labels !== undefined) {
      if (!isObject(obj.labels)) fail('labels', 'expected an object of strings');
      for (const [k, v] of Object.entries(obj.labels as Record<string, unknown>)) {
        if (!LABEL_NAME.test(k) || k.startsWith('__')) fail(`labels.${k}`, 'expected a label name of letters, digits and _');
        if (typeof v !== 'string') fail(`labels.${k}`, 'expected a string');
        labels[k] = v as string;
      }
    }
    if (obj.metrics !== undefined) {
      if (!isObject(obj.metrics)) fail('metrics', 'expected an object of numbers');
      for (const [k, v] of Object.entries(obj.metrics as Record<string, unknown>)) {
        if (!METRIC_NAME.test(k)) fail(`metrics.${k}`, 'expected a metric name of letters, digits, _ and :');
        if (typeof v !== 'number') fail(`metrics.${k}`, 'expected a number');
        samples.push({ name: k, labels, value: v as number, time, type: 'gauge' });
      }
    }
    if (obj.kind !== undefined) {
      if (typeof obj.kind !== 'string' || obj.kind === '') fail('kind', 'expected a non-empty string');
      if (obj.id !== undefined && typeof obj.id !== 'string') fail('id', 'expected a string');
      events.push({ ...(typeof obj.id === 'string' ? { id: obj.id } : {}), kind: obj.kind as string, priority, time, payload: obj });
    } else if (obj.metrics === undefined) {
      fail('', 'expected a "kind" (an event) or "metrics" (samples)');
    }
  });
  return { samples, events };
}

export function createHttpPushCollector(config: HttpPushCollectorConfig, index: number): Collector {
  const name = collectorName('http_push', config.name, index);
  const token = resolveToken(config, name);

  function routes(ctx: CollectorContext) {
    return async (app: FastifyInstance) => {
      acceptRawBodies(app, config.max_body_bytes, 'FM_PUSH_INVALID', (r) => ctx.reject(r));
      app.addHook('onRequest', async (req, reply) => {
        if (token === undefined) return;
        const given = tokenFromAuthorization(req.headers.authorization);
        if (given !== undefined && tokensEqual(given, token)) return;
        ctx.reject('unauthorized');
        return sendPushError(reply, 401, {
          code: 'FM_PUSH_UNAUTHORIZED',
          message: given === undefined ? 'missing "Authorization: Bearer <token>"' : 'wrong bearer token',
        });
      });
      app.post(config.path, { bodyLimit: config.max_body_bytes }, async (req, reply) => {
        let parsed: unknown;
        try {
          parsed = JSON.parse(bodyBuffer(req.body).toString('utf8'));
        } catch (err) {
          ctx.reject('invalid');
          return sendPushError(reply, 400, { code: 'FM_PUSH_INVALID', message: `invalid JSON: ${(err as Error).message}` });
        }
        let decoded: ReturnType<typeof decodePush>;
        try {
          decoded = decodePush(parsed, ctx.clock.now(), config.default_priority);
        } catch (err) {
          if (!(err instanceof PushShapeError)) throw err;
          ctx.reject('invalid');
          return sendPushError(reply, 400, { code: 'FM_PUSH_INVALID', message: err.message });
        }
        try {
          if (decoded.samples.length > 0) await ctx.record(decoded.samples);
          for (const e of decoded.events) await ctx.emit(e);
        } catch (err) {
          // Not accepted: the producer keeps the data and retries (seed 001's probes buffer locally).
          ctx.logger.error({ err: describeError(err) }, 'push could not be recorded');
          return reply.code(503).send({ message: `not recorded, retry later: ${describeError(err)}` });
        }
        return reply.code(200).send({ accepted: { samples: decoded.samples.length, events: decoded.events.length } });
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
