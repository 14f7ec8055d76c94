// Silences as Alertmanager has them: matchers on labels, a start and an end, who and why. While a
// silence is active, alerts whose labels match all of its matchers notify nobody; they still show, as
// silenced. Expired silences stay listed for Alertmanager's default retention, then are forgotten.

import { FieldmeshError } from '../../kit/index.js';
import type { Silence, SilenceMatcher, SilenceState } from './alert.js';

/** Expired silences are kept this long (Alertmanager's --data.retention default, 120h). */
export const SILENCE_RETENTION_MS = 120 * 3_600_000;

const LABEL_NAME_RE = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const regexCache = new Map<string, RegExp>();

function anchored(pattern: string): RegExp {
  let re = regexCache.get(pattern);
  if (re === undefined) {
    re = new RegExp(`^(?:${pattern})$`);
    regexCache.set(pattern, re);
  }
  return re;
}

export function matcherMatches(m: SilenceMatcher, labels: Readonly<Record<string, string>>): boolean {
  const actual = labels[m.name] ?? '';
  const hit = m.isRegex ? anchored(m.value).test(actual) : actual === m.value;
  return hit === m.isEqual;
}

export function silenceState(s: Silence, nowMs: number): SilenceState {
  if (s.endsAt <= nowMs) return 'expired';
  return s.startsAt > nowMs ? 'pending' : 'active';
}

/** True when the silence is active at `nowMs` and every matcher matches. */
export function silences(s: Silence, labels: Readonly<Record<string, string>>, nowMs: number): boolean {
  return silenceState(s, nowMs) === 'active' && s.matchers.every((m) => matcherMatches(m, labels));
}

/** What a client posts: Alertmanager's PostableSilence, with `duration` as an alternative to `endsAt`. */
export interface SilenceInput {
  readonly id?: string;
  readonly matchers: readonly SilenceMatcher[];
  readonly startsAt: number;
  readonly endsAt: number;
  readonly createdBy: string;
  readonly comment: string;
}

function invalid(message: string): FieldmeshError {
  return new FieldmeshError('FM_REQUEST_INVALID', message);
}

function time(value: unknown, field: string): number {
  if (typeof value === 'string' && /^\d{4}-\d{2}-\d{2}T/.test(value)) {
    const ms = Date.parse(value);
    if (!Number.isNaN(ms)) return ms;
  }
  throw invalid(`field "${field}": expected an RFC 3339 time like "2026-11-24T10:00:00Z", got ${JSON.stringify(value)}`);
}

/**
 * Validates a posted silence (FM_REQUEST_INVALID naming the field). `durationMs` parses an optional
 * `duration` ("2h"), used when `endsAt` is absent. `actor`, when the request is authenticated, is
 * recorded as `createdBy` whatever the body says.
 */
export function parseSilenceInput(
  body: unknown,
  nowMs: number,
  durationMs: (text: string) => number | undefined,
  actor?: string,
): SilenceInput {
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    throw invalid('the body must be a JSON object: {"matchers": [...], "endsAt" or "duration", "createdBy", "comment"}');
  const b = body as Record<string, unknown>;
  const known = ['id', 'matchers', 'startsAt', 'endsAt', 'duration', 'createdBy', 'comment'];
  for (const k of Object.keys(b)) if (!known.includes(k)) throw invalid(`field "${k}" is unknown; a silence has ${known.join(', ')}`);
  if (b.id !== undefined && (typeof b.id !== 'string' || b.id === ''))
    throw invalid('field "id": expected the id of the silence to update');
  if (!Array.isArray(b.matchers) || b.matchers.length === 0)
    throw invalid('field "matchers": expected a non-empty array of {name, value, isRegex}');
  const matchers = b.matchers.map((m: unknown, i): SilenceMatcher => {
    const at = `matchers[${i}]`;
    if (typeof m !== 'object' || m === null || Array.isArray(m)) throw invalid(`field "${at}": expected {name, value, isRegex}`);
    const f = m as Record<string, unknown>;
    for (const k of Object.keys(f))
      if (!['name', 'value', 'isRegex', 'isEqual'].includes(k))
        throw invalid(`field "${at}.${k}" is unknown; a matcher has name, value, isRegex, isEqual`);
    if (typeof f.name !== 'string' || !LABEL_NAME_RE.test(f.name))
      throw invalid(`field "${at}.name": expected a label name, got ${JSON.stringify(f.name)}`);
    if (typeof f.value !== 'string') throw invalid(`field "${at}.value": expected a string`);
    if (f.isRegex !== undefined && typeof f.isRegex !== 'boolean') throw invalid(`field "${at}.isRegex": expected true or false`);
    if (f.isEqual !== undefined && typeof f.isEqual !== 'boolean') throw invalid(`field "${at}.isEqual": expected true or false`);
    const isRegex = f.isRegex === true;
    if (isRegex) {
      try {
        anchored(f.value);
      } catch (err) {
        throw invalid(`field "${at}.value": invalid regular expression: ${(err as Error).message}`);
      }
    }
    return { name: f.name, value: f.value, isRegex, isEqual: f.isEqual !== false };
  });
  // As Alertmanager: a silence must not match every alert by accident.
  if (matchers.every((m) => matcherMatches(m, {})))
    throw invalid('field "matchers": at least one matcher must not match an empty label value');
  const startsAt = b.startsAt === undefined ? nowMs : time(b.startsAt, 'startsAt');
  let endsAt: number;
  if (b.endsAt !== undefined) {
    if (b.duration !== undefined) throw invalid('fields "endsAt" and "duration": give one of them');
    endsAt = time(b.endsAt, 'endsAt');
  } else if (b.duration !== undefined) {
    const ms = typeof b.duration === 'string' ? durationMs(b.duration) : undefined;
    if (ms === undefined || ms <= 0)
      throw invalid(`field "duration": expected a duration like "2h" or "30m", got ${JSON.stringify(b.duration)}`);
    endsAt = startsAt + ms;
  } else {
    throw invalid('field "endsAt" is missing: give "endsAt" (RFC 3339) or "duration" ("2h")');
  }
  if (endsAt <= startsAt) throw invalid('field "endsAt" must be after "startsAt"');
  if (endsAt <= nowMs) throw invalid('field "endsAt" must be in the future');
  const createdBy = actor ?? (typeof b.createdBy === 'string' ? b.createdBy.trim() : '');
  if (createdBy === '') throw invalid('field "createdBy": expected who creates the silence');
  if (typeof b.comment !== 'string' || b.comment.trim() === '') throw invalid('field "comment": expected why (a non-empty string)');
  return {
    ...(b.id === undefined ? {} : { id: b.id as string }),
    matchers,
    startsAt,
    endsAt,
    createdBy,
    comment: b.comment.trim(),
  };
}
