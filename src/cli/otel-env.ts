// OpenTelemetry's standard environment variables as the hub's `tracing` keys (docs/tracing.md): the command line turns
// them into FIELDMESH_TRACING__* variables, which the hub's own FIELDMESH_* variables and flags override.

import { FieldmeshError } from '../kit/index.js';

type Env = Readonly<Record<string, string | undefined>>;

/** The samplers of OTEL_TRACES_SAMPLER the hub honours, as a ratio (the hub's sampler is always parent-based). */
const SAMPLER_RATIO: Readonly<Record<string, number | 'arg'>> = {
  always_on: 1,
  always_off: 0,
  traceidratio: 'arg',
  parentbased_always_on: 1,
  parentbased_always_off: 0,
  parentbased_traceidratio: 'arg',
};

const set = (v: string | undefined): v is string => v !== undefined && v.trim() !== '';

/**
 * FIELDMESH_TRACING__* variables from OTEL_EXPORTER_OTLP_TRACES_ENDPOINT (the traces URL, as it is),
 * OTEL_EXPORTER_OTLP_ENDPOINT (a base URL: `/v1/traces` appended), OTEL_SERVICE_NAME and OTEL_TRACES_SAMPLER(_ARG).
 * OTEL_SDK_DISABLED=true gives none of them. A sampler the hub does not know is refused (FM_CONFIG_INVALID).
 */
export function otelVariables(env: Env): Record<string, string> {
  if (env.OTEL_SDK_DISABLED?.trim().toLowerCase() === 'true') return {};
  const out: Record<string, string> = {};
  const traces = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT;
  const base = env.OTEL_EXPORTER_OTLP_ENDPOINT;
  if (set(traces)) out.FIELDMESH_TRACING__ENDPOINT = traces.trim();
  else if (set(base)) out.FIELDMESH_TRACING__ENDPOINT = `${base.trim().replace(/\/+$/, '')}/v1/traces`;
  if (set(env.OTEL_SERVICE_NAME)) out.FIELDMESH_TRACING__SERVICE_NAME = env.OTEL_SERVICE_NAME.trim();
  const sampler = env.OTEL_TRACES_SAMPLER?.trim().toLowerCase();
  if (set(sampler)) {
    const ratio = SAMPLER_RATIO[sampler];
    if (ratio === undefined)
      throw new FieldmeshError(
        'FM_CONFIG_INVALID',
        `OTEL_TRACES_SAMPLER: ${sampler} is not supported (${Object.keys(SAMPLER_RATIO).join(', ')}; the hub's sampler is always parent-based)`,
      );
    if (ratio !== 'arg') out.FIELDMESH_TRACING__SAMPLE_RATIO = String(ratio);
    // The ratio samplers' default argument is 1.
    else out.FIELDMESH_TRACING__SAMPLE_RATIO = set(env.OTEL_TRACES_SAMPLER_ARG) ? env.OTEL_TRACES_SAMPLER_ARG.trim() : '1';
  }
  return out;
}
