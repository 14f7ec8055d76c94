// The OpenTelemetry SDK behind the hub's traces (docs/tracing.md): a tracer provider of this process, its resource
// (service name, the process's roles), a parent-based ratio sampler, and the OTLP/HTTP exporter (JSON) behind a batch
// processor. Loaded by openHub with a dynamic import, and only when hub.yaml `tracing.endpoint` is set: the embedded
// default and `npm run demo` never load the SDK.

import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  BasicTracerProvider,
  BatchSpanProcessor,
  ParentBasedSampler,
  type SpanExporter,
  type SpanProcessor,
  TraceIdRatioBasedSampler,
} from '@opentelemetry/sdk-trace-base';
import { ATTR_SERVICE_NAME, ATTR_SERVICE_VERSION } from '@opentelemetry/semantic-conventions';
import { FIELDMESH_VERSION } from '../../protocol/index.js';
import { HUB_TRACER_NAME, type HubTracing } from './hub-tracing.js';

export interface TracingOptions {
  /** The OTLP/HTTP traces URL (`.../v1/traces`). */
  readonly endpoint: string;
  readonly serviceName: string;
  /** Of the traces this process starts, the share recorded (0 to 1); a trace begun upstream follows its parent's decision. */
  readonly sampleRatio: number;
  /** The roles of this hub process: the resource attribute `fieldmesh.role` (`ingest`, `worker`, `api`, comma-joined). */
  readonly roles: readonly string[];
}

/** A process's tracing while on: what the hub traces with, and the provider's end. */
export interface TracingProvider {
  readonly tracing: HubTracing;
  /** Exports what is buffered (at most the exporter's timeout). */
  flush(): Promise<void>;
  /** Flushes, then stops exporting: called when the hub stops. */
  shutdown(): Promise<void>;
}

/** How long one export may take; the batch processor's own default is 30 s, too long for a hub that stops. */
const EXPORT_TIMEOUT_MS = 10_000;

/** The OTLP/HTTP exporter's URL: an endpoint without a path (`http://collector:4318`) gets `/v1/traces`. */
export function tracesUrl(endpoint: string): string {
  const url = new URL(endpoint);
  if (url.pathname === '/' || url.pathname === '') url.pathname = '/v1/traces';
  return url.toString();
}

/** A tracer provider exporting through `processor` (tests give an in-memory exporter; the hub, OTLP). */
export function createTracingProvider(options: Omit<TracingOptions, 'endpoint'>, processor: SpanProcessor): TracingProvider {
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({
      [ATTR_SERVICE_NAME]: options.serviceName,
      [ATTR_SERVICE_VERSION]: FIELDMESH_VERSION,
      'fieldmesh.role': options.roles.join(','),
    }),
    sampler: new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(options.sampleRatio) }),
    spanProcessors: [processor],
  });
  return {
    tracing: { tracer: provider.getTracer(HUB_TRACER_NAME, FIELDMESH_VERSION), propagator: new W3CTraceContextPropagator() },
    flush: () => provider.forceFlush(),
    shutdown: () => provider.shutdown(),
  };
}

/**
 * The hub's tracing to an OTLP/HTTP endpoint (an OpenTelemetry Collector, Jaeger, Tempo...), spans sent in batches as
 * JSON. The exporter itself takes headers (a collector's token) from OTEL_EXPORTER_OTLP_HEADERS.
 */
export function startOtlpTracing(options: TracingOptions): TracingProvider {
  const exporter: SpanExporter = new OTLPTraceExporter({
    url: tracesUrl(options.endpoint),
    timeoutMillis: EXPORT_TIMEOUT_MS,
  });
  return createTracingProvider(options, new BatchSpanProcessor(exporter, { exportTimeoutMillis: EXPORT_TIMEOUT_MS }));
}
