// The `http_push` body (seed 001's `POST /events`): JSON objects become samples (their `metrics`) and events (any
// object with a `kind`). Checked whole before anything is recorded; shape in docs/collectors.md#http_push. Parsed
// here once for a node's collector and for a scale-out hub's ingest tier.

import { EVENT_PRIORITIES, type EventPriority } from '../frames.js';
import type { Sample } from '../sample.js';
import { isStorableTime, type PushedEvent, PushShapeError } from './pushed.js';
import { findJsonProblem } from './strict-json.js';

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/**
 * An event kind the receiver reads itself (a node: `detection`, for its zones). It returns the event, or throws
 * PushShapeError whose message is `<path within the object>: <what is wrong>` (`(root)` for the object itself).
 */
export type PushKindReader = (obj: Record<string, unknown>, time: number) => PushedEvent;

export interface DecodePushOptions {
  /** Hub or node time for elements without `time`, ms. */
  readonly now: number;
  /** Priority of events that do not name one. */
  readonly defaultPriority: EventPriority;
  /** Kinds read by the receiver rather than taken as they are. */
  readonly kinds?: Readonly<Record<string, PushKindReader>>;
}

export interface DecodedPush {
  readonly samples: Sample[];
  /** `sampleElements[i]` is the index of the element `samples[i]` came from (0 for a single object). */
  readonly sampleElements: number[];
  readonly events: PushedEvent[];
  /** Elements of the body (1 for a single object). */
  readonly elements: number;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Turns a parsed body into samples and events, or throws PushShapeError naming the path at fault. */
export function decodePushBody(body: unknown, options: DecodePushOptions): DecodedPush {
  const isArray = Array.isArray(body);
  const items: unknown[] = isArray ? body : [body];
  const samples: Sample[] = [];
  const sampleElements: number[] = [];
  const events: PushedEvent[] = [];
  items.forEach((item, i) => {
    const at = (rest: string) => (isArray ? `[${i}]${rest === '' ? '' : `.${rest}`}` : rest === '' ? '(root)' : rest);
    const fail = (rest: string, msg: string): never => {
      throw new PushShapeError(`${at(rest)}: ${msg}`);
    };
    if (!isObject(item)) fail('', isArray ? 'expected an object' : 'expected an object or an array of objects');
    const obj = item as Record<string, unknown>;
    let time = options.now;
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
    let priority = options.defaultPriority;
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
      const reader = options.kinds?.[obj.kind as string];
      if (reader !== undefined) {
        try {
          events.push(reader(obj, time));
        } catch (err) {
          if (!(err instanceof PushShapeError)) throw err;
          const sep = err.message.indexOf(': ');
          const path = err.message.slice(0, sep);
          fail(path === '(root)' ? '' : path, err.message.slice(sep + 2));
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

/** Where a JSON push body is wrong, as its answer names it: a message, and the path of the value at fault if known. */
export interface PushJsonProblem {
  readonly message: string;
  readonly path?: string;
}

/**
 * The body's text parsed strictly (RFC 8259's unpredictable corners refused: duplicate names, lone surrogates,
 * numbers beyond float64) and decoded, or what is wrong with it.
 */
export function parsePushJson(
  text: string,
  options: DecodePushOptions,
): { ok: true; push: DecodedPush } | { ok: false; problem: PushJsonProblem } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    return { ok: false, problem: { message: `invalid JSON: ${(err as Error).message}` } };
  }
  const problem = findJsonProblem(text);
  if (problem !== undefined) return { ok: false, problem: { message: `${problem.path}: ${problem.message}`, path: problem.path } };
  try {
    return { ok: true, push: decodePushBody(parsed, options) };
  } catch (err) {
    if (!(err instanceof PushShapeError)) throw err;
    return { ok: false, problem: { message: err.message } };
  }
}
