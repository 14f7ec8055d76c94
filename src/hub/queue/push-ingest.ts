// The ingest tier's HTTP push APIs (docs/scale-out.md "Pushes straight to the ingest tier"): a node's `POST /events`
// and InfluxDB line protocol (`/api/v2/write`, `/write`), so probes behind a load balancer push to the hub without a
// node. The bodies are parsed as a node parses them (protocol/push); each request becomes one `push` stream message
// and is answered 2xx only once JetStream stored it (its PubAck), 503 when it did not.

import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Counter, type Registry } from 'prom-client';
import { type Clock, describeError, isValidId, type Logger } from '../../kit/index.js';
import {
  acceptRawBodies,
  bodyBuffer,
  decodeUtf8,
  type PushRefusal,
  type PushRefusalReason,
  readBody,
  refuse,
  tokenFromAuthorization,
  tokensEqual,
} from '../../platform/index.js';
import type { EventPriority } from '../../protocol/index.js';
import {
  type PushedEvent,
  type PushedSample,
  PushShapeError,
  parseLineProtocol,
  parsePrecision,
  parsePushJson,
  pointsToSamples,
} from '../../protocol/push/index.js';
import { decodeWriteRequest, RemoteWriteDecodeError, writeRequestSamples } from '../../protocol/remote-write/index.js';
import { extractFromHttpHeaders, type HubTracing, recordError, SpanKind, type StartedSpan, startSpan } from '../tracing/hub-tracing.js';
import type { FrameStream } from './frame-stream.js';
import { encodePushMessage, type PushMessage, pushMessage, pushMessageId } from './push-message.js';

/** A push token of hub.yaml `ingest.tokens`: whose pushes it admits. */
export interface PushToken {
  readonly token: string;
  /** Every push with this token is of this site. */
  readonly site: string;
  /** Every push with this token is of this node; absent, the request names it (`?node=<id>`). */
  readonly node?: string | undefined;
  /** The zone label of its samples ("" when absent). */
  readonly zone: string;
}

export interface PushIngestOptions {
  readonly tokens: readonly PushToken[];
  /** Largest body, as sent and (gzip) decompressed. */
  readonly maxBodyBytes: number;
  /** Priority of pushed events that do not name one. */
  readonly defaultPriority: EventPriority;
  /** The stream once the process's queue started (undefined before: answered 503). */
  readonly stream: () => FrameStream | undefined;
  /**
   * The embedded hub's sink instead of the stream: stores a push's samples and resolves once they are committed with
   * fsync (the group commit); a rejection is answered 503. Only the remote write route has a sink (`apis`).
   */
  readonly store?: ((site: string, node: string, message: PushMessage) => Promise<void>) | undefined;
  /** The push APIs served (default all of them; the embedded hub serves only remote write). */
  readonly apis?: readonly PushApi[] | undefined;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly registry: Registry;
  /** A server span per request (an incoming `traceparent` honoured), parent of the append's (docs/tracing.md). */
  readonly tracing?: HubTracing | undefined;
}

export type PushApi = 'events' | 'influx' | 'remote-write';
type Query = Record<string, string | undefined>;

/** A client's own id for a push (`Idempotency-Key`): what the stream deduplicates on instead of the content. */
const IDEMPOTENCY_KEY = /^[A-Za-z0-9._:-]{1,128}$/;

/** Registers `POST /events`, `POST /api/v2/write`, `POST /write` and `POST /api/v1/write` (remote write) in a scope of their own. */
export function pushIngestRoutes(o: PushIngestOptions): (app: FastifyInstance) => Promise<void> {
  const logger = o.logger.child({ component: 'push-ingest' });
  const refused = new Counter({
    name: 'fieldmesh_queue_push_refused_total',
    help: 'Pushes the ingest tier refused, by API (events, influx) and reason (unauthorized, too-large, invalid, unsupported-encoding, unavailable)',
    labelNames: ['api', 'reason'],
    registers: [o.registry],
  });
  const accepted = new Counter({
    name: 'fieldmesh_queue_pushes_total',
    help: 'Pushes the ingest tier acknowledged once JetStream had them, by API and outcome (stored, duplicate: a resend stored before)',
    labelNames: ['api', 'outcome'],
    registers: [o.registry],
  });
  /** Each request's server span while tracing is on. */
  const spans = new WeakMap<FastifyRequest, StartedSpan>();
  const pushedSamples = new Counter({
    name: 'fieldmesh_queue_pushed_samples_total',
    help: 'Samples in pushes the ingest tier appended to the stream (duplicates not counted)',
    labelNames: ['api'],
    registers: [o.registry],
  });

  function tokenOf(req: FastifyRequest): PushToken | undefined {
    const given = tokenFromAuthorization(req.headers.authorization);
    if (given === undefined) return undefined;
    // Every token compared, in constant time each: which one matched does not show in the time taken.
    let found: PushToken | undefined;
    for (const t of o.tokens) if (tokensEqual(given, t.token) && found === undefined) found = t;
    return found;
  }

  const invalid = (
    code: 'FM_PUSH_INVALID' | 'FM_LINE_PROTOCOL_INVALID' | 'FM_REMOTE_WRITE_INVALID',
    message: string,
    extra: Record<string, unknown> = {},
  ): PushRefusal => ({
    status: 400,
    reason: 'invalid',
    body: { code, message, ...extra },
  });

  /** The node a push is of: the token's, or `?node=`; a refusal naming the parameter otherwise. */
  function nodeOf(
    token: PushToken,
    req: FastifyRequest,
    code: 'FM_PUSH_INVALID' | 'FM_LINE_PROTOCOL_INVALID' | 'FM_REMOTE_WRITE_INVALID',
  ): string | PushRefusal {
    if (token.node !== undefined) return token.node;
    const node = (req.query as Query).node;
    if (node === undefined || node === '')
      return invalid(code, `node: this token is of site ${token.site} and names no node; add ?node=<id>`);
    if (!isValidId(node)) return invalid(code, `node: ${JSON.stringify(node)} is not a node id (a-z, 0-9, - and _)`);
    return node;
  }

  async function append(
    api: PushApi,
    req: FastifyRequest,
    reply: FastifyReply,
    token: PushToken,
    node: string,
    samples: readonly PushedSample[],
    events: readonly PushedEvent[],
  ): Promise<{ duplicate: boolean } | undefined> {
    const reject = (reason: PushRefusalReason | 'unavailable') => refused.inc({ api, reason });
    const key = req.headers['idempotency-key'];
    if (key !== undefined && (typeof key !== 'string' || !IDEMPOTENCY_KEY.test(key))) {
      refuse(
        reply,
        invalid(
          api === 'events' ? 'FM_PUSH_INVALID' : api === 'influx' ? 'FM_LINE_PROTOCOL_INVALID' : 'FM_REMOTE_WRITE_INVALID',
          'Idempotency-Key: 1 to 128 of A-Z a-z 0-9 . _ : -',
        ),
        reject,
      );
      return undefined;
    }
    const stream = o.stream();
    const message = pushMessage(token.site, node, token.zone, samples, events);
    try {
      if (o.store !== undefined) {
        // The embedded hub: committed (fsync) before the answer; a resend is stored again, replacing equal (series, ts).
        await o.store(token.site, node, message);
        accepted.inc({ api, outcome: 'stored' });
        pushedSamples.inc({ api }, samples.length);
        return { duplicate: false };
      }
      if (stream === undefined) throw new Error('the queue has not started');
      const { duplicate } = await stream.append(
        {
          site: token.site,
          node,
          channel: 'push',
          topic: `${req.method} ${req.url.split('?')[0]}`,
          payload: encodePushMessage(message),
          receivedAt: o.clock.now(),
        },
        pushMessageId(token.site, node, message, key),
        spans.get(req)?.context,
      );
      accepted.inc({ api, outcome: duplicate ? 'duplicate' : 'stored' });
      if (!duplicate) pushedSamples.inc({ api }, samples.length);
      return { duplicate };
    } catch (err) {
      reject('unavailable');
      logger.warn({ site: token.site, node, err: describeError(err) }, 'push not appended; answered 503');
      reply
        .code(503)
        .header('retry-after', '1')
        .send({ code: 'FM_QUEUE_UNAVAILABLE', message: `not stored, retry later: ${describeError(err)}` });
      return undefined;
    }
  }

  return async (app) => {
    const rejectOf = (api: PushApi) => (reason: PushRefusalReason) => refused.inc({ api, reason });
    const isRemoteWrite = (req: FastifyRequest) => req.url.split('?')[0] === '/api/v1/write';
    const apiOf = (req: FastifyRequest): PushApi =>
      req.url.startsWith('/events') ? 'events' : isRemoteWrite(req) ? 'remote-write' : 'influx';
    acceptRawBodies(app, o.maxBodyBytes, 'FM_PUSH_INVALID', (reason) => refused.inc({ api: 'any', reason }), isRemoteWrite);
    const tracing = o.tracing;
    if (tracing !== undefined) {
      // First of the hooks, so a refused request (401, 413) has its span too.
      app.addHook('onRequest', async (req) => {
        const path = req.url.split('?')[0] ?? req.url;
        const attributes = { 'http.request.method': req.method, 'url.path': path, 'http.route': path, 'url.scheme': req.protocol };
        spans.set(
          req,
          startSpan(tracing, `${req.method} ${path}`, SpanKind.SERVER, attributes, extractFromHttpHeaders(tracing, req.headers)),
        );
      });
      app.addHook('onResponse', async (req, reply) => {
        const started = spans.get(req);
        if (started === undefined) return;
        started.span.setAttribute('http.response.status_code', reply.statusCode);
        if (reply.statusCode >= 500) recordError(started.span, new Error(`answered ${reply.statusCode}`));
        started.span.end();
      });
    }
    app.decorateRequest('pushToken', null);
    app.addHook('onRequest', async (req, reply) => {
      const token = tokenOf(req);
      if (token !== undefined) {
        (req as FastifyRequest & { pushToken: PushToken | null }).pushToken = token;
        return;
      }
      const message = req.headers.authorization === undefined ? 'missing "Authorization: Bearer <token>"' : 'wrong token';
      return refuse(reply, { status: 401, reason: 'unauthorized', body: { code: 'FM_PUSH_UNAUTHORIZED', message } }, rejectOf(apiOf(req)));
    });
    const tokenOfRequest = (req: FastifyRequest) => (req as FastifyRequest & { pushToken: PushToken }).pushToken;
    const options = { bodyLimit: o.maxBodyBytes };
    const serves = (api: PushApi) => o.apis === undefined || o.apis.includes(api);

    if (serves('events'))
      app.post('/events', options, async (req, reply) => {
        const reject = rejectOf('events');
        const token = tokenOfRequest(req);
        const node = nodeOf(token, req, 'FM_PUSH_INVALID');
        if (typeof node !== 'string') return refuse(reply, node, reject);
        const read = await readBody(req, o.maxBodyBytes, 'FM_PUSH_INVALID');
        if (!read.ok) return refuse(reply, read.refusal, reject);
        const text = decodeUtf8(read.body);
        if (!text.ok)
          return refuse(
            reply,
            invalid('FM_PUSH_INVALID', `invalid UTF-8 at byte ${text.error.offset}`, { offset: text.error.offset }),
            reject,
          );
        const parsed = parsePushJson(text.text, {
          now: o.clock.now(),
          defaultPriority: o.defaultPriority,
          // Zones vote at the edge ([FM-ZONE-DETECT]): a detection counts only through a node's own collectors.
          kinds: {
            detection: () => {
              throw new PushShapeError('kind: a detection goes to a node of its zone, not straight to the hub');
            },
          },
        });
        if (!parsed.ok) {
          const extra = parsed.problem.path === undefined ? {} : { path: parsed.problem.path };
          return refuse(reply, invalid('FM_PUSH_INVALID', parsed.problem.message, extra), reject);
        }
        const { samples, events } = parsed.push;
        const appended = await append('events', req, reply, token, node, samples, events);
        if (appended === undefined) return reply;
        return reply.code(200).send({ accepted: { samples: samples.length, events: events.length }, duplicate: appended.duplicate });
      });

    const write = async (req: FastifyRequest, reply: FastifyReply) => {
      const reject = rejectOf('influx');
      const token = tokenOfRequest(req);
      const precision = parsePrecision((req.query as Query).precision);
      if (precision === undefined) {
        const message = `precision: unknown ${JSON.stringify((req.query as Query).precision)} (use ns, us, ms, s, m or h)`;
        return refuse(reply, invalid('FM_LINE_PROTOCOL_INVALID', message), reject);
      }
      const node = nodeOf(token, req, 'FM_LINE_PROTOCOL_INVALID');
      if (typeof node !== 'string') return refuse(reply, node, reject);
      const read = await readBody(req, o.maxBodyBytes, 'FM_LINE_PROTOCOL_INVALID');
      if (!read.ok) return refuse(reply, read.refusal, reject);
      const text = decodeUtf8(read.body);
      const lineError = (line: number, column: number, message: string) =>
        invalid('FM_LINE_PROTOCOL_INVALID', `line ${line}, column ${column}: ${message}`, { line, column });
      if (!text.ok) {
        const { line, column, offset } = text.error;
        return refuse(reply, lineError(line, column, `invalid UTF-8 at byte ${offset}`), reject);
      }
      const parsed = parseLineProtocol(text.text, { precision });
      if (!parsed.ok) return refuse(reply, lineError(parsed.error.line, parsed.error.column, parsed.error.message), reject);
      const mapped = pointsToSamples(parsed.points, parsed.lines, precision, o.clock.now());
      if (!mapped.ok) return refuse(reply, lineError(mapped.error.line, mapped.error.column, mapped.error.message), reject);
      const appended = await append('influx', req, reply, token, node, mapped.samples, []);
      if (appended === undefined) return reply;
      return reply.code(204).send();
    };
    if (serves('influx')) {
      app.post('/api/v2/write', options, write);
      app.post('/write', options, write);
    }

    // Prometheus remote write 1.0 (docs/remote-write.md#in): one push message per request, as the other pushes.
    // The hub app's request decompression knows gzip and deflate; snappy is this route's own to undo.
    if (serves('remote-write'))
      app.post('/api/v1/write', { ...options, decompress: false }, async (req, reply) => {
        const reject = rejectOf('remote-write');
        const encoding = String(req.headers['content-encoding'] ?? '')
          .trim()
          .toLowerCase();
        if (encoding !== 'snappy') {
          const message = `Content-Encoding ${JSON.stringify(encoding)}: remote write 1.0 bodies are snappy (block format)`;
          return refuse(
            reply,
            { status: 415, reason: 'unsupported-encoding', body: { code: 'FM_PUSH_ENCODING_UNSUPPORTED', message } },
            reject,
          );
        }
        const token = tokenOfRequest(req);
        const node = nodeOf(token, req, 'FM_REMOTE_WRITE_INVALID');
        if (typeof node !== 'string') return refuse(reply, node, reject);
        let decoded: ReturnType<typeof decodeWriteRequest>;
        try {
          decoded = decodeWriteRequest(bodyBuffer(req.body), o.maxBodyBytes * 8);
        } catch (err) {
          if (!(err instanceof RemoteWriteDecodeError)) throw err;
          const extra = { layer: err.layer, ...(err.offset !== undefined ? { offset: err.offset } : {}) };
          return refuse(reply, invalid('FM_REMOTE_WRITE_INVALID', err.message, extra), reject);
        }
        const mapped = writeRequestSamples(decoded);
        if (!mapped.ok) return refuse(reply, invalid('FM_REMOTE_WRITE_INVALID', mapped.message, { series: mapped.series }), reject);
        const appended = await append('remote-write', req, reply, token, node, mapped.samples, []);
        if (appended === undefined) return reply;
        return reply.code(204).send();
      });
  };
}
