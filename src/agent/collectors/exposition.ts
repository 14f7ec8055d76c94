// A parser for the Prometheus text exposition format (0.0.4): one flat series per sample line, as
// Prometheus stores them (histograms as `_bucket{le}`, `_sum`, `_count`; summaries with `quantile`).
// Written here rather than using parse-prometheus-text-format, which regroups histograms, rewrites
// `le` values and drops their timestamps.

import type { SeriesType } from '../../protocol/index.js';

export interface ExpositionSample {
  readonly name: string;
  readonly labels: Record<string, string>;
  readonly value: number;
  /** Milliseconds since the epoch, when the line carried a timestamp. */
  readonly timestampMs: number | undefined;
  readonly type: SeriesType | undefined;
}

export type ExpositionResult =
  | { readonly ok: true; readonly samples: ExpositionSample[] }
  | { readonly ok: false; readonly line: number; readonly message: string };

const NAME_START = /[a-zA-Z_:]/;
const NAME_CHAR = /[a-zA-Z0-9_:]/;
const LABEL_START = /[a-zA-Z_]/;
const LABEL_CHAR = /[a-zA-Z0-9_]/;

class LineError extends Error {}

/** Go's strconv.ParseFloat as Prometheus uses it: decimals, exponents, NaN and ±Inf in any case. */
export function parseGoFloat(text: string): number | undefined {
  const lower = text.toLowerCase();
  if (lower === 'nan') return Number.NaN;
  if (lower === '+inf' || lower === 'inf' || lower === '+infinity' || lower === 'infinity') return Number.POSITIVE_INFINITY;
  if (lower === '-inf' || lower === '-infinity') return Number.NEGATIVE_INFINITY;
  if (!/^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/.test(text)) return undefined;
  return Number(text);
}

function seriesTypeOf(name: string, types: ReadonlyMap<string, string>): SeriesType | undefined {
  const direct = types.get(name);
  if (direct === 'counter') return 'counter';
  if (direct === 'gauge') return 'gauge';
  if (direct === 'summary') return 'gauge'; // quantile lines
  for (const suffix of ['_bucket', '_sum', '_count', '_total', '_created']) {
    if (!name.endsWith(suffix)) continue;
    const family = types.get(name.slice(0, -suffix.length));
    if (family === 'histogram' || family === 'summary' || family === 'counter') return 'counter';
  }
  return undefined;
}

function parseLine(line: string): { name: string; labels: Record<string, string>; value: number; timestampMs: number | undefined } {
  let i = 0;
  const n = line.length;
  const skipSpaces = () => {
    while (i < n && (line[i] === ' ' || line[i] === '\t')) i++;
  };
  skipSpaces();
  const nameStart = i;
  if (i >= n || !NAME_START.test(line[i] as string)) throw new LineError(`expected a metric name at column ${i + 1}`);
  while (i < n && NAME_CHAR.test(line[i] as string)) i++;
  const name = line.slice(nameStart, i);
  const labels: Record<string, string> = {};
  skipSpaces();
  if (line[i] === '{') {
    i++;
    for (;;) {
      skipSpaces();
      if (line[i] === '}') {
        i++;
        break;
      }
      const ls = i;
      if (i >= n || !LABEL_START.test(line[i] as string)) throw new LineError(`expected a label name at column ${i + 1}`);
      while (i < n && LABEL_CHAR.test(line[i] as string)) i++;
      const label = line.slice(ls, i);
      skipSpaces();
      if (line[i] !== '=') throw new LineError(`expected '=' after label ${label} at column ${i + 1}`);
      i++;
      skipSpaces();
      if (line[i] !== '"') throw new LineError(`expected '"' to open the value of label ${label} at column ${i + 1}`);
      i++;
      let value = '';
      for (;;) {
        if (i >= n) throw new LineError(`unterminated value of label ${label}`);
        const c = line[i] as string;
        if (c === '"') {
          i++;
          break;
        }
        if (c === '\\') {
          const e = line[i + 1];
          if (e === 'n') value += '\n';
          else if (e === '\\' || e === '"') value += e;
          else throw new LineError(`invalid escape \\${e ?? ''} in label ${label} at column ${i + 1}`);
          i += 2;
          continue;
        }
        value += c;
        i++;
      }
      if (Object.hasOwn(labels, label)) throw new LineError(`duplicate label ${label}`);
      labels[label] = value;
      skipSpaces();
      if (line[i] === ',') {
        i++;
        continue;
      }
      if (line[i] === '}') {
        i++;
        break;
      }
      throw new LineError(`expected ',' or '}' at column ${i + 1}`);
    }
  }
  skipSpaces();
  const rest = line
    .slice(i)
    .trim()
    .split(/[ \t]+/);
  if (rest[0] === undefined || rest[0] === '') throw new LineError(`missing value for ${name}`);
  if (rest.length > 2) throw new LineError(`unexpected text after the timestamp: ${JSON.stringify(rest.slice(2).join(' '))}`);
  const value = parseGoFloat(rest[0]);
  if (value === undefined) throw new LineError(`invalid value ${JSON.stringify(rest[0])}`);
  let timestampMs: number | undefined;
  if (rest[1] !== undefined) {
    if (!/^-?\d+$/.test(rest[1])) throw new LineError(`invalid timestamp ${JSON.stringify(rest[1])}`);
    timestampMs = Number(rest[1]);
  }
  return { name, labels, value, timestampMs };
}

/** Parses a whole exposition; the first bad line fails it, as a Prometheus scrape does. */
export function parseExposition(text: string): ExpositionResult {
  const types = new Map<string, string>();
  const samples: ExpositionSample[] = [];
  const lines = text.split('\n');
  for (let k = 0; k < lines.length; k++) {
    const line = (lines[k] as string).replace(/\r$/, '');
    const trimmed = line.trim();
    if (trimmed === '') continue;
    if (trimmed.startsWith('#')) {
      const m = /^#\s+TYPE\s+(\S+)\s+(\S+)/.exec(trimmed);
      if (m !== null) types.set(m[1] as string, (m[2] as string).toLowerCase());
      continue;
    }
    try {
      const s = parseLine(line);
      samples.push({ ...s, type: seriesTypeOf(s.name, types) });
    } catch (err) {
      if (err instanceof LineError) return { ok: false, line: k + 1, message: `line ${k + 1}: ${err.message}` };
      throw err;
    }
  }
  return { ok: true, samples };
}
