// Parameters of the Prometheus HTTP API, shared by hub and node: times, steps, repeated match[],
// limits, GET query strings or form-encoded POST bodies. Pure functions over plain values.

import { FieldmeshError, parseDurationMs } from '../../kit/index.js';
import { formatValue } from '../promql/format.js';

export type Params = Readonly<Record<string, string | string[] | undefined>>;

function invalid(message: string): FieldmeshError {
  return new FieldmeshError('FM_QUERY_INVALID', message);
}

/** A form-encoded body (Grafana's POSTs); a repeated key (match[]) becomes an array. */
export function parseFormBody(text: string): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [k, v] of new URLSearchParams(text)) {
    const prev = out[k];
    out[k] = prev === undefined ? v : Array.isArray(prev) ? [...prev, v] : [prev, v];
  }
  return out;
}

/** Query string and form body merged (the body wins); Grafana POSTs form-encoded by default. */
export function requestParams(query: unknown, body: unknown): Params {
  const out: Record<string, string | string[] | undefined> = {};
  for (const source of [query, body]) {
    if (typeof source !== 'object' || source === null) continue;
    for (const [k, v] of Object.entries(source)) {
      if (typeof v === 'string' || (Array.isArray(v) && v.every((x) => typeof x === 'string'))) out[k] = v as string | string[];
    }
  }
  return out;
}

/** One value of a parameter; the last one when repeated. */
export function single(params: Params, name: string): string | undefined {
  const v = params[name];
  return Array.isArray(v) ? v[v.length - 1] : v;
}

/** A repeatable parameter (`match[]`): a single value arrives as a string, several as an array. */
export function repeated(params: Params, name: string): string[] {
  const v = params[name];
  if (v === undefined) return [];
  return Array.isArray(v) ? v : [v];
}

/** Unix seconds (float) or RFC 3339, as Prometheus accepts; returns ms. */
export function parseTimeMs(text: string, name: string): number {
  const trimmed = text.trim();
  if (/^[+-]?\d+(\.\d+)?([eE][+-]?\d+)?$/.test(trimmed)) return Math.round(Number(trimmed) * 1_000);
  if (/^\d{4}-\d{2}-\d{2}T/.test(trimmed)) {
    const ms = Date.parse(trimmed);
    if (!Number.isNaN(ms)) return ms;
  }
  throw invalid(`invalid parameter "${name}": cannot parse "${text}" to a valid timestamp`);
}

export function timeParam(params: Params, name: string, fallbackMs?: number): number {
  const v = single(params, name);
  if (v === undefined || v === '') {
    if (fallbackMs !== undefined) return fallbackMs;
    throw invalid(`missing parameter "${name}"`);
  }
  return parseTimeMs(v, name);
}

const PROM_DURATION_UNITS_MS: Record<string, number> = {
  ms: 1,
  s: 1_000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
  y: 31_536_000_000,
};

/** A step: seconds as a float ("15", "0.5") or a Prometheus duration ("15s", "1m30s"); returns ms. */
export function parseStepMs(text: string, name = 'step'): number {
  const trimmed = text.trim();
  let ms: number | undefined;
  if (/^\d+(\.\d+)?$/.test(trimmed)) ms = Math.round(Number(trimmed) * 1_000);
  else if (/^(\d+(ms|s|m|h|d|w|y))+$/.test(trimmed)) {
    ms = 0;
    for (const m of trimmed.matchAll(/(\d+)(ms|s|m|h|d|w|y)/g)) ms += Number(m[1]) * (PROM_DURATION_UNITS_MS[m[2] as string] as number);
  } else ms = parseDurationMs(trimmed);
  if (ms === undefined) throw invalid(`invalid parameter "${name}": cannot parse "${text}" to a valid duration`);
  if (ms <= 0)
    throw invalid(`invalid parameter "${name}": zero or negative query resolution step widths are not accepted. Try a positive integer`);
  return ms;
}

/** Prometheus renders sample values as strings (Go's FormatFloat 'f', -1); JSON has no NaN or infinities. */
export function formatSampleValue(value: number): string {
  return formatValue(value);
}

export function seconds(ms: number): number {
  return ms / 1_000;
}

/** The first `limit` items (Prometheus' optional `limit` parameter; absent, empty or 0 means all). */
export function limitResults<T>(items: T[], params: Params): T[] {
  const raw = single(params, 'limit');
  if (raw === undefined || raw === '' || raw === '0') return items;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0) throw invalid(`invalid parameter "limit": "${raw}" is not a non-negative integer`);
  return items.slice(0, n);
}
