// OpenTelemetry's standard variables as the hub's tracing keys, below the hub's own variables and flags.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { hubConfigSchema } from '../hub/index.js';
import { isFieldmeshError, loadConfig } from '../kit/index.js';
import { otelVariables } from './otel-env.js';

const tracingOf = (env: Record<string, string>) => loadConfig(hubConfigSchema, { env: { ...otelVariables(env), ...env } }).tracing;

test('otel env: the endpoint, service name and sampler of the OTEL_* variables set the tracing keys', () => {
  assert.deepEqual(
    tracingOf({
      OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318/',
      OTEL_SERVICE_NAME: 'hub-eu',
      OTEL_TRACES_SAMPLER: 'parentbased_traceidratio',
      OTEL_TRACES_SAMPLER_ARG: '0.25',
    }),
    { endpoint: 'http://collector:4318/v1/traces', serviceName: 'hub-eu', sampleRatio: 0.25 },
  );
  // A base URL with a path keeps it; the traces URL is taken as it is, and wins over the base.
  assert.equal(tracingOf({ OTEL_EXPORTER_OTLP_ENDPOINT: 'https://gw.example/otel' }).endpoint, 'https://gw.example/otel/v1/traces');
  assert.equal(
    tracingOf({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://a:4318', OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://b:4318/custom' }).endpoint,
    'http://b:4318/custom',
  );
  assert.equal(tracingOf({ OTEL_TRACES_SAMPLER: 'always_off' }).sampleRatio, 0);
  assert.equal(tracingOf({ OTEL_TRACES_SAMPLER: 'traceidratio' }).sampleRatio, 1);
});

test('otel env: off by default, OTEL_SDK_DISABLED turns it off, and FIELDMESH_TRACING__* wins over OTEL_*', () => {
  assert.equal(tracingOf({}).endpoint, undefined);
  assert.deepEqual(otelVariables({ OTEL_SDK_DISABLED: 'true', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318' }), {});
  const t = tracingOf({ OTEL_SERVICE_NAME: 'from-otel', FIELDMESH_TRACING__SERVICE_NAME: 'from-fieldmesh' });
  assert.equal(t.serviceName, 'from-fieldmesh');
});

test('otel env: a sampler the hub does not know is refused by name', () => {
  assert.throws(
    () => tracingOf({ OTEL_TRACES_SAMPLER: 'jaeger_remote' }),
    (err: unknown) =>
      isFieldmeshError(err) && err.code === 'FM_CONFIG_INVALID' && /^OTEL_TRACES_SAMPLER: jaeger_remote is not supported/.test(err.message),
  );
});
