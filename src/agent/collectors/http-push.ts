// The `http_push` collector: `POST /events` (seed 001's ingest API) with a bearer token; JSON objects
// become samples (their `metrics`) and events (any object with a `kind`). Answers only after both are
// recorded; a malformed body is refused whole, samples outside the store's window one element at a
// time. Body shape: docs/collectors.md#http_push.

import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { EVENT_PRIORITIES, type EventPriority } from '../../protocol/index.js';
import { MAX_CHUNK_TS } from '../store/chunk-codec.js';
import type { AgentEvent, Collector, CollectorContext, RecordOutcome, RejectReason, Sample } from './collector.js';
import { collectorName, collectorNameSchema } from './collector-name.js';
import { DETECTION_KIND, DetectionShapeError, detectionEvent, detectionOf } from './detections.js';
import { tokenFromAuthorization, tokensEqual } from './push-auth.js';
import { acceptRawBodies, decodeUtf8, type PushRefusal, partialWriteBody, readBody, refuse, sendRecordFailure } from './push-body.js';
import { findJsonProblem } from './strict-json.js';

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

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

export class PushShapeError extends Error {}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A time the store can hold: ms in [0, 2^52]. */
function isStorableTime(ms: number): boolean {
  return Number.isFinite(ms) && ms >= 0 && ms <= MAX_CHUNK_TS;
}

/**
 * Turns a parsed body into samples and events, or throws PushShapeError naming the path at fault.
 * `sampleElements[i]` is the index of the element `samples[i]` came from (0 for a single object).
 */
export function decodePush(
  body: unknown,
  now: number,
  defaultPriority: EventPriority,
  node = '',
): { samples: Sample[]; sampleElements: number[]; events: AgentEvent[]; elements: number } {
  const isArray = Array.isArray(body);
  const items: unknown[] = isArray ? body : [body];
  const samples: Sample[] = [];
  const sampleElements: number[] = [];
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
      if (typeof obj.time === 'number') time = obj.time;
      else if (typeof obj.time === 'string' && /^\d{4}-\d\d-\d\dT/.test(obj.time)) time = Date.parse(obj.time);
      else time = Number.NaN;
      if (!isStorableTime(time)) {
        fail(
          'time',
          `expected milliseconds since the epoch or an RFC 3339 time, from 1970 to the year 144683 (got ${JSON.stringify(obj.time)})`,
        );
      }
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
        if (!Number.isFinite(v)) fail(`metrics.${k}`, 'expected a finite number');
        samples.push({ name: k, labels, value: v as number, time, type: 'gauge' });
        sampleElements.push(i);
      }
    }
    if (obj.kind !== undefined) {
      if (typeof obj.kind !== 'string' || obj.kind === '') fail('kind', 'expected a non-empty string');
      if (obj.id !== undefined && typeof obj.id !== 'string') fail('id', 'expected a string');
      if (obj.kind === DETECTION_KIND) {
        // [FM-ZONE-DETECT] A detection for the zones: its shape checked here, so a bad one is a 400.
        try {
          events.push(detectionEvent(detectionOf({ ...obj, time }, node, time)));
        } catch (err) {
          if (err instanceof DetectionShapeError) fail(err.path === '(root)' ? '' : err.path, err.message.slice(err.path.length + 2));
          throw err;
        }
        return;
      }
      events.push({ ...(typeof obj.id === 'string' ? { id: obj.id } : {}), kind: obj.kind as string, priority, time, payload: obj });
    } else if (obj.metrics === undefined) {
      fail('', 'expected a "kind" (an event) or "metrics" (samples)');
    }
  });
  return { samples, sampleElements, events, elements: items.length };
}

/** The body decoded, checked and parsed into samples and events, or why it is refused. */
function parsePushBody(
  bytes: Buffer,
  now: number,
  defaultPriority: EventPriority,
  node: string,
): { ok: true; decoded: ReturnType<typeof decodePush> } | { ok: false; refusal: PushRefusal } {
  const invalid = (message: string, extra: Record<string, unknown> = {}) => ({
    ok: false as const,
    refusal: { status: 400, reason: 'invalid' as const, body: { code: 'FM_PUSH_INVALID' as const, message, ...extra } },
  });
  const text = decodeUtf8(bytes);
  if (!text.ok) return invalid(`invalid UTF-8 at byte ${text.error.offset}`, { offset: text.error.offset });
  let parsed: unknown;
  try {
    parsed = JSON.parse(text.text);
  } catch (err) {
    return invalid(`invalid JSON: ${(err as Error).message}`);
  }
  const problem = findJsonProblem(text.text);
  if (problem !== undefined) return invalid(`${problem.path}: ${problem.message}`, { path: problem.path });
  try {
    return { ok: true, decoded: decodePush(parsed, now, defaultPriority, node) };
  } catch (err) {
    if (!(err instanceof PushShapeError)) throw err;
    return invalid(err.message);
  }
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
