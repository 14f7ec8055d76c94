// The hub's traces of a frame or a push through ingest, stream, worker and store (docs/tracing.md): the tracer and
// propagator the ingest points use, the NATS header carrier, the span attributes and helpers. Only the OpenTelemetry
// API here; the SDK is loaded by otlp-tracing.ts, and only when tracing is on. Off, the hub passes no HubTracing down
// and its ingest points start no span at all.

import {
  type Attributes,
  type Context,
  context,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  type TextMapGetter,
  type TextMapPropagator,
  type TextMapSetter,
  type Tracer,
  trace,
} from '@opentelemetry/api';

export type { Context as TraceContext } from '@opentelemetry/api';

/** What the hub's ingest points trace with: passed down from the composition root (openHub). */
export interface HubTracing {
  readonly tracer: Tracer;
  /** Writes and reads the W3C `traceparent` of NATS messages and HTTP requests. */
  readonly propagator: TextMapPropagator;
}

/** The instrumentation scope of every hub span. */
export const HUB_TRACER_NAME = 'fieldmesh-hub';

/** Attribute names: OpenTelemetry's messaging and database semantic conventions, and fieldmesh's own. */
export const ATTR = {
  messagingSystem: 'messaging.system',
  destination: 'messaging.destination.name',
  operationType: 'messaging.operation.type',
  operationName: 'messaging.operation.name',
  messageId: 'messaging.message.id',
  consumerGroup: 'messaging.consumer.group.name',
  deliveryCount: 'messaging.nats.delivery_count',
  dbSystem: 'db.system',
  dbSystemName: 'db.system.name',
  dbOperation: 'db.operation.name',
  dbCollection: 'db.collection.name',
  site: 'fieldmesh.site',
  node: 'fieldmesh.node',
  boot: 'fieldmesh.boot',
  seqFrom: 'fieldmesh.seq_from',
  seqTo: 'fieldmesh.seq_to',
  samples: 'fieldmesh.samples',
  events: 'fieldmesh.events',
  lane: 'fieldmesh.lane',
  duplicate: 'fieldmesh.duplicate',
  streamSeq: 'fieldmesh.stream_seq',
} as const;

export type MessagingSystem = 'mqtt' | 'nats';
export type DbSystem = 'sqlite' | 'postgresql';

/** The carrier of NATS message headers (`MsgHdrs`): what the propagator writes `traceparent` into and reads it from. */
interface HeaderCarrier {
  get(key: string): string;
  set(key: string, value: string): void;
  has(key: string): boolean;
  keys(): string[];
}

const natsSetter: TextMapSetter<HeaderCarrier> = {
  set: (carrier, key, value) => carrier.set(key, value),
};

const natsGetter: TextMapGetter<HeaderCarrier> = {
  get: (carrier, key) => (carrier.has(key) ? carrier.get(key) : undefined),
  keys: (carrier) => carrier.keys(),
};

/** Writes the span context of `ctx` into NATS headers (W3C `traceparent`, `tracestate`): nothing when it has none. */
export function injectIntoHeaders(tracing: HubTracing, ctx: Context, headers: HeaderCarrier): void {
  tracing.propagator.inject(ctx, headers, natsSetter);
}

/** The remote parent a NATS message carries in its headers (the root context when it carries none). */
export function extractFromHeaders(tracing: HubTracing, headers: HeaderCarrier | undefined): Context {
  return headers === undefined ? ROOT_CONTEXT : tracing.propagator.extract(ROOT_CONTEXT, headers, natsGetter);
}

/** The remote parent an HTTP request carries (`traceparent` header), read with the API's default getter. */
export function extractFromHttpHeaders(tracing: HubTracing, headers: Record<string, string | string[] | undefined>): Context {
  return tracing.propagator.extract(ROOT_CONTEXT, headers, {
    get: (carrier, key) => carrier[key],
    keys: (carrier) => Object.keys(carrier),
  });
}

/** A started span and the context whose children it parents. */
export interface StartedSpan {
  readonly span: Span;
  readonly context: Context;
}

/** Starts a span as a child of `parent` (the root: a new trace). */
export function startSpan(
  tracing: HubTracing,
  name: string,
  kind: SpanKind,
  attributes: Attributes,
  parent: Context = ROOT_CONTEXT,
): StartedSpan {
  const span = tracing.tracer.startSpan(name, { kind, attributes }, parent);
  return { span, context: trace.setSpan(parent, span) };
}

/** Records an error on a span: status ERROR and an `exception` event. */
export function recordError(span: Span, err: unknown): void {
  if (!span.isRecording()) return;
  span.recordException(err instanceof Error ? err : String(err));
  span.setStatus({ code: SpanStatusCode.ERROR, message: err instanceof Error ? err.message : String(err) });
}

/** Ends `span` once `work` settled, its error recorded; resolves or rejects as `work` does. */
export async function endWhenSettled<T>(span: Span, work: Promise<T>): Promise<T> {
  try {
    return await work;
  } catch (err) {
    recordError(span, err);
    throw err;
  } finally {
    span.end();
  }
}

/** Runs `work` in a child span of `parent` (ended when it settles, its error recorded), handing it the span. */
export function inSpan<T>(
  tracing: HubTracing,
  name: string,
  kind: SpanKind,
  attributes: Attributes,
  parent: Context | undefined,
  work: (span: Span, ctx: Context) => Promise<T>,
): Promise<T> {
  const started = startSpan(tracing, name, kind, attributes, parent ?? context.active());
  let result: Promise<T>;
  try {
    result = work(started.span, started.context);
  } catch (err) {
    result = Promise.reject(err);
  }
  return endWhenSettled(started.span, result);
}

/** The outbox range and size of a history or event frame, as span attributes. */
export function frameAttributes(
  site: string,
  node: string,
  frame:
    | {
        readonly type: 'history';
        readonly epoch: number;
        readonly firstSeq: number;
        readonly lastSeq: number;
        readonly series: readonly { readonly samples: readonly unknown[] }[];
      }
    | { readonly type: 'event'; readonly epoch: number; readonly seq: number },
): Attributes {
  if (frame.type === 'event')
    return {
      [ATTR.site]: site,
      [ATTR.node]: node,
      [ATTR.boot]: frame.epoch,
      [ATTR.seqFrom]: frame.seq,
      [ATTR.seqTo]: frame.seq,
      [ATTR.events]: 1,
    };
  let samples = 0;
  for (const s of frame.series) samples += s.samples.length;
  return {
    [ATTR.site]: site,
    [ATTR.node]: node,
    [ATTR.boot]: frame.epoch,
    [ATTR.seqFrom]: frame.firstSeq,
    [ATTR.seqTo]: frame.lastSeq,
    [ATTR.samples]: samples,
  };
}

/** A storage write's span attributes: the database, the operation and the table it writes. */
export function dbAttributes(system: DbSystem, operation: string, collection: string): Attributes {
  return { [ATTR.dbSystem]: system, [ATTR.dbSystemName]: system, [ATTR.dbOperation]: operation, [ATTR.dbCollection]: collection };
}

export { ROOT_CONTEXT, SpanKind };

/**
 * The span of a durable frame's arrival (`receive history`, `receive event`): the root of its trace, ended once the
 * frame is stored and acknowledged (embedded hub) or appended to the stream (ingest tier).
 */
export function startReceiveSpan(
  tracing: HubTracing,
  topic: string,
  site: string,
  node: string,
  frame: Parameters<typeof frameAttributes>[2],
): StartedSpan {
  return startSpan(tracing, `receive ${frame.type}`, SpanKind.CONSUMER, {
    [ATTR.messagingSystem]: 'mqtt',
    [ATTR.operationType]: 'receive',
    [ATTR.operationName]: 'receive',
    [ATTR.destination]: topic,
    ...frameAttributes(site, node, frame),
  });
}

/**
 * A storage write of `rows` rows into `table`, in an `INSERT <table>` span of `parent` when tracing is on (without a
 * parent or a tracing, the write alone). The span says how many rows were new (`db.response.returned_rows`).
 */
export function tracedInsert(
  tracing: HubTracing | undefined,
  parent: Context | undefined,
  system: DbSystem,
  table: 'samples' | 'events',
  rows: number,
  write: () => Promise<number>,
): Promise<number> {
  if (tracing === undefined || parent === undefined) return write();
  const attributes = { ...dbAttributes(system, 'INSERT', table), [table === 'samples' ? ATTR.samples : ATTR.events]: rows };
  return inSpan(tracing, `INSERT ${table}`, SpanKind.CLIENT, attributes, parent, async (span) => {
    const n = await write();
    span.setAttribute('db.response.returned_rows', n);
    return n;
  });
}
