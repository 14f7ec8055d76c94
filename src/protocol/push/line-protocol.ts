// A parser and serialiser for the InfluxDB line protocol with its full escaping rules. Hand-written:
// no maintained library parses it. The parser never throws; it returns the first error with its
// 1-based line and column.

import { MAX_SAMPLE_TIME_MS } from './pushed.js';

/** Timestamp precisions of the v1 (`n`, `u`, `ms`, `s`, `m`, `h`) and v2 (`ns`, `us`, `ms`, `s`) write APIs. */
export type Precision = 'ns' | 'us' | 'ms' | 's' | 'm' | 'h';

const PRECISION_ALIASES: Readonly<Record<string, Precision>> = {
  n: 'ns',
  ns: 'ns',
  u: 'us',
  us: 'us',
  µ: 'us',
  ms: 'ms',
  s: 's',
  m: 'm',
  h: 'h',
};

/** The precision named by a `precision` query parameter (absent: ns), or undefined when unknown. */
export function parsePrecision(text: string | undefined): Precision | undefined {
  if (text === undefined || text === '') return 'ns';
  return PRECISION_ALIASES[text];
}

export type FieldValue =
  | { readonly type: 'float'; readonly value: number }
  | { readonly type: 'integer'; readonly value: number }
  | { readonly type: 'unsigned'; readonly value: number }
  | { readonly type: 'string'; readonly value: string }
  | { readonly type: 'boolean'; readonly value: boolean };

export interface Point {
  readonly measurement: string;
  readonly tags: Readonly<Record<string, string>>;
  readonly fields: Readonly<Record<string, FieldValue>>;
  /** The timestamp as written, in the request's precision; undefined when the line had none. */
  readonly timestamp: bigint | undefined;
}

export interface LineProtocolError {
  readonly line: number;
  readonly column: number;
  readonly message: string;
}

export type LineProtocolResult =
  /** `lines[i]` is the 1-based line of `points[i]`. */
  { readonly ok: true; readonly points: Point[]; readonly lines: number[] } | { readonly ok: false; readonly error: LineProtocolError };

export interface LineProtocolOptions {
  /**
   * The precision timestamps are in. When given, a timestamp must fall in [1970, 2^52 ms] (what a
   * store of ms holds); outside it is an error that names the likely precision mix-up.
   */
  readonly precision?: Precision;
}

const TRUE = new Set(['t', 'T', 'true', 'True', 'TRUE']);
const FALSE = new Set(['f', 'F', 'false', 'False', 'FALSE']);
const FLOAT = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const UINT64_MAX = 2n ** 64n - 1n;

class ParseError extends Error {
  constructor(
    readonly column: number,
    message: string,
  ) {
    super(message);
  }
}

/** Reads up to an unescaped stop character; `\` escapes any of `escapable`, other backslashes are literal. */
function readToken(line: string, start: number, stops: string, escapable: string): { text: string; end: number } {
  let text = '';
  let i = start;
  while (i < line.length) {
    const c = line[i] as string;
    if (c === '\\' && i + 1 < line.length && escapable.includes(line[i + 1] as string)) {
      text += line[i + 1];
      i += 2;
      continue;
    }
    if (stops.includes(c)) break;
    text += c;
    i++;
  }
  return { text, end: i };
}

function parseFieldValue(raw: string, column: number): FieldValue {
  if (TRUE.has(raw)) return { type: 'boolean', value: true };
  if (FALSE.has(raw)) return { type: 'boolean', value: false };
  if (/^[+-]?\d+i$/.test(raw)) {
    const v = BigInt(raw.slice(0, -1));
    if (v < INT64_MIN || v > INT64_MAX) throw new ParseError(column, `integer ${raw} is out of the int64 range`);
    return { type: 'integer', value: Number(v) };
  }
  if (/^\d+u$/.test(raw)) {
    const v = BigInt(raw.slice(0, -1));
    if (v > UINT64_MAX) throw new ParseError(column, `unsigned ${raw} is out of the uint64 range`);
    return { type: 'unsigned', value: Number(v) };
  }
  if (FLOAT.test(raw)) {
    const v = Number(raw);
    if (!Number.isFinite(v)) throw new ParseError(column, `float ${raw} is out of range`);
    return { type: 'float', value: v };
  }
  if (raw === '') throw new ParseError(column, 'missing field value');
  throw new ParseError(column, `invalid field value ${JSON.stringify(raw)} (expected a number, 12i, 12u, a boolean or a "string")`);
}

/** A parsed line, with where its fields' values and its timestamp start (1-based columns). */
interface ParsedLine {
  readonly point: Point;
  readonly fieldColumns: Readonly<Record<string, number>>;
  readonly timestampColumn: number;
}

function parseLine(line: string): ParsedLine {
  let i = 0;
  while (line[i] === ' ' || line[i] === '\t') i++;
  const m = readToken(line, i, ', ', ', \\');
  if (m.text === '') throw new ParseError(i + 1, 'missing measurement');
  const measurement = m.text;
  i = m.end;
  const tags: Record<string, string> = {};
  while (line[i] === ',') {
    const keyStart = i + 1;
    const k = readToken(line, keyStart, ',= ', ',= \\');
    if (k.text === '') throw new ParseError(keyStart + 1, 'missing tag key');
    if (line[k.end] !== '=') throw new ParseError(k.end + 1, `missing '=' after tag key ${JSON.stringify(k.text)}`);
    const v = readToken(line, k.end + 1, ', ', ',= \\');
    if (v.text === '') throw new ParseError(k.end + 2, `missing value of tag ${JSON.stringify(k.text)}`);
    if (Object.hasOwn(tags, k.text)) throw new ParseError(keyStart + 1, `tag key ${JSON.stringify(k.text)} appears twice`);
    tags[k.text] = v.text;
    i = v.end;
  }
  if (line[i] !== ' ') throw new ParseError(i + 1, 'missing fields (expected a space after the measurement and tags)');
  while (line[i] === ' ') i++;
  const fields: Record<string, FieldValue> = {};
  const fieldColumns: Record<string, number> = {};
  for (;;) {
    const keyStart = i;
    const k = readToken(line, keyStart, ',= ', ',= \\');
    if (k.text === '') throw new ParseError(keyStart + 1, 'missing field key');
    if (line[k.end] !== '=') throw new ParseError(k.end + 1, `missing '=' after field key ${JSON.stringify(k.text)}`);
    if (Object.hasOwn(fields, k.text)) throw new ParseError(keyStart + 1, `field key ${JSON.stringify(k.text)} appears twice`);
    i = k.end + 1;
    fieldColumns[k.text] = i + 1;
    if (line[i] === '"') {
      let s = '';
      let j = i + 1;
      for (;;) {
        if (j >= line.length) throw new ParseError(i + 1, `unterminated string value of field ${JSON.stringify(k.text)}`);
        const c = line[j] as string;
        if (c === '\\' && (line[j + 1] === '"' || line[j + 1] === '\\')) {
          s += line[j + 1];
          j += 2;
          continue;
        }
        if (c === '"') break;
        s += c;
        j++;
      }
      fields[k.text] = { type: 'string', value: s };
      i = j + 1;
    } else {
      let j = i;
      while (j < line.length && line[j] !== ',' && line[j] !== ' ') j++;
      fields[k.text] = parseFieldValue(line.slice(i, j), i + 1);
      i = j;
    }
    if (line[i] === ',') {
      i++;
      continue;
    }
    if (i < line.length && line[i] !== ' ')
      throw new ParseError(i + 1, `unexpected ${JSON.stringify(line[i])} after field ${JSON.stringify(k.text)}`);
    break;
  }
  while (line[i] === ' ' || line[i] === '\t') i++;
  let timestamp: bigint | undefined;
  const timestampColumn = i + 1;
  if (i < line.length) {
    const rest = line.slice(i).trimEnd();
    if (!/^-?\d{1,19}$/.test(rest)) throw new ParseError(i + 1, `invalid timestamp ${JSON.stringify(rest)} (expected an integer)`);
    timestamp = BigInt(rest);
    if (timestamp < INT64_MIN || timestamp > INT64_MAX) throw new ParseError(i + 1, `timestamp ${rest} is out of the int64 range`);
  }
  return { point: { measurement, tags, fields, timestamp }, fieldColumns, timestampColumn };
}

const UNIT_MS: Readonly<Record<Precision, number>> = { ns: 1e-6, us: 1e-3, ms: 1, s: 1e3, m: 6e4, h: 3.6e6 };

/** Throws when a timestamp in `precision` is outside [0, MAX_SAMPLE_TIME_MS] ms, suggesting the precision it looks like. */
function checkTimestampRange(timestamp: bigint, precision: Precision, column: number): void {
  const ms = timestampToMs(timestamp, precision);
  if (ms >= 0 && ms <= MAX_SAMPLE_TIME_MS) return;
  if (timestamp < 0n) {
    throw new ParseError(column, `timestamp ${timestamp} (precision ${precision}) is before 1970, which fieldmesh does not store`);
  }
  // The precision that puts the number nearest to the present (the 2020s), as a hint.
  const likely = (Object.keys(UNIT_MS) as Precision[]).find((p) => {
    const t = Number(timestamp) * UNIT_MS[p];
    return t > 1e12 && t < 1e13;
  });
  const hint = likely === undefined ? '' : `; it reads as a time now in precision ${likely}: is precision=${precision} the one sent?`;
  throw new ParseError(
    column,
    `timestamp ${timestamp} (precision ${precision}) is after the year 144683, beyond what fieldmesh stores${hint}`,
  );
}

const TYPE_NAMES: Readonly<Record<FieldValue['type'], string>> = {
  float: 'a float',
  integer: 'an integer',
  unsigned: 'an unsigned integer',
  string: 'a string',
  boolean: 'a boolean',
};

/**
 * Parses a body of lines (LF or CRLF; blank lines and `#` comments skipped). Besides the grammar it
 * refuses what InfluxDB refuses: a tag or field key twice in one line, and one field of a measurement
 * with two types in one batch ("field type conflict").
 */
export function parseLineProtocol(text: string, options: LineProtocolOptions = {}): LineProtocolResult {
  const points: Point[] = [];
  const pointLines: number[] = [];
  const fieldTypes = new Map<string, { type: FieldValue['type']; line: number }>();
  const lines = text.split('\n');
  for (let n = 0; n < lines.length; n++) {
    let line = lines[n] as string;
    if (line.endsWith('\r')) line = line.slice(0, -1);
    const trimmed = line.trim();
    if (trimmed === '' || trimmed.startsWith('#')) continue;
    try {
      const parsed = parseLine(line);
      const { point } = parsed;
      if (options.precision !== undefined && point.timestamp !== undefined) {
        checkTimestampRange(point.timestamp, options.precision, parsed.timestampColumn);
      }
      for (const [key, value] of Object.entries(point.fields)) {
        const id = `${point.measurement}\u0000${key}`;
        const seen = fieldTypes.get(id);
        if (seen === undefined) fieldTypes.set(id, { type: value.type, line: n + 1 });
        else if (seen.type !== value.type) {
          throw new ParseError(
            parsed.fieldColumns[key] as number,
            `field type conflict: field ${JSON.stringify(key)} of measurement ${JSON.stringify(point.measurement)} is ` +
              `${TYPE_NAMES[value.type]} here and ${TYPE_NAMES[seen.type]} on line ${seen.line}`,
          );
        }
      }
      points.push(point);
      pointLines.push(n + 1);
    } catch (err) {
      if (err instanceof ParseError) return { ok: false, error: { line: n + 1, column: err.column, message: err.message } };
      return { ok: false, error: { line: n + 1, column: 1, message: String(err) } };
    }
  }
  return { ok: true, points, lines: pointLines };
}

/** A timestamp in the given precision as milliseconds since the epoch. */
export function timestampToMs(timestamp: bigint, precision: Precision): number {
  switch (precision) {
    case 'ns':
      return Number(timestamp / 1_000_000n);
    case 'us':
      return Number(timestamp / 1_000n);
    case 'ms':
      return Number(timestamp);
    case 's':
      return Number(timestamp * 1_000n);
    case 'm':
      return Number(timestamp * 60_000n);
    case 'h':
      return Number(timestamp * 3_600_000n);
    default: {
      const never: never = precision;
      throw new Error(`unknown precision ${String(never)}`);
    }
  }
}

const escapeWith = (chars: RegExp) => (s: string) => s.replace(chars, (c) => `\\${c}`);
const escapeMeasurement = escapeWith(/[\\, ]/g);
const escapeKey = escapeWith(/[\\,= ]/g);

function formatField(v: FieldValue): string {
  switch (v.type) {
    case 'float':
      return String(v.value);
    case 'integer':
      return `${v.value}i`;
    case 'unsigned':
      return `${v.value}u`;
    case 'boolean':
      return v.value ? 'true' : 'false';
    case 'string':
      return `"${v.value.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
    default: {
      const never: never = v;
      throw new Error(`unknown field ${String(never)}`);
    }
  }
}

/** One line for a point, escaped so that parseLineProtocol gives it back (measurement must not start with `#`). */
export function formatLine(p: Point): string {
  const tags = Object.entries(p.tags)
    .map(([k, v]) => `,${escapeKey(k)}=${escapeKey(v)}`)
    .join('');
  const fields = Object.entries(p.fields)
    .map(([k, v]) => `${escapeKey(k)}=${formatField(v)}`)
    .join(',');
  return `${escapeMeasurement(p.measurement)}${tags} ${fields}${p.timestamp === undefined ? '' : ` ${p.timestamp}`}`;
}
