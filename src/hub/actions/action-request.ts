// What an operator posts to preview a bulk action, validated and with defaults filled in: the action,
// its selector, and its parameters (comment, silence duration, per-target timeout).

import { FieldmeshError, formatDurationMs, parseDurationMs } from '../../kit/index.js';
import { ACTION_NAMES, type ActionName, type ActionParams, type ActionSelector } from '../../protocol/index.js';
import { formatPromDuration, parsePromDurationMs } from '../alerts/prom-duration.js';
import { parseSelector } from './selection.js';

/** Each target may take this long before it counts as failed, unless `params.timeout` says otherwise. */
export const DEFAULT_TARGET_TIMEOUT_MS = 15_000;
/** A per-target timeout outside this range is refused: shorter cannot reach a node, longer blocks the run. */
export const TARGET_TIMEOUT_RANGE_MS = { min: 100, max: 300_000 } as const;
/** silence-alerts silences for this long unless `params.duration` says otherwise. */
export const DEFAULT_SILENCE_MS = 2 * 3_600_000;
const MAX_COMMENT_LENGTH = 1_000;

export interface ActionRequest {
  readonly action: ActionName;
  readonly selector: ActionSelector;
  /** As echoed to the caller: `timeout` always, `duration` for silence-alerts. */
  readonly params: ActionParams;
  readonly timeoutMs: number;
  /** silence-alerts only. */
  readonly silenceMs: number | undefined;
}

function invalid(message: string): FieldmeshError {
  return new FieldmeshError('FM_REQUEST_INVALID', message);
}

function parseParams(action: ActionName, body: unknown): { params: ActionParams; timeoutMs: number; silenceMs: number | undefined } {
  if (body !== undefined && (typeof body !== 'object' || body === null || Array.isArray(body)))
    throw invalid('field "params": expected an object like {"comment": "why", "duration": "2h", "timeout": "10s"}');
  const p = (body ?? {}) as Record<string, unknown>;
  for (const k of Object.keys(p))
    if (!['comment', 'duration', 'timeout'].includes(k))
      throw invalid(`field "params.${k}" is unknown; params are comment, duration, timeout`);
  let comment: string | undefined;
  if (p.comment !== undefined) {
    if (typeof p.comment !== 'string' || p.comment.length > MAX_COMMENT_LENGTH)
      throw invalid(`field "params.comment": expected a string of at most ${MAX_COMMENT_LENGTH} characters`);
    comment = p.comment.trim() === '' ? undefined : p.comment.trim();
  }
  let timeoutMs = DEFAULT_TARGET_TIMEOUT_MS;
  if (p.timeout !== undefined) {
    const ms = typeof p.timeout === 'string' ? parseDurationMs(p.timeout) : undefined;
    if (ms === undefined || ms < TARGET_TIMEOUT_RANGE_MS.min || ms > TARGET_TIMEOUT_RANGE_MS.max)
      throw invalid(`field "params.timeout": expected a duration from 100ms to 5m like "10s", got ${JSON.stringify(p.timeout)}`);
    timeoutMs = ms;
  }
  let silenceMs: number | undefined;
  if (action === 'silence-alerts') {
    silenceMs = DEFAULT_SILENCE_MS;
    if (p.duration !== undefined) {
      const ms = typeof p.duration === 'string' ? parsePromDurationMs(p.duration) : undefined;
      if (ms === undefined || ms <= 0)
        throw invalid(`field "params.duration": expected a duration like "2h" or "30m", got ${JSON.stringify(p.duration)}`);
      silenceMs = ms;
    }
    // As Alertmanager: a silence says why.
    if (comment === undefined) throw invalid('field "params.comment": silence-alerts needs a comment saying why the nodes are silenced');
  } else if (p.duration !== undefined) {
    throw invalid(`field "params.duration" applies to silence-alerts only, not ${action}`);
  }
  const params: ActionParams = {
    ...(comment === undefined ? {} : { comment }),
    ...(silenceMs === undefined ? {} : { duration: formatPromDuration(silenceMs) }),
    timeout: formatDurationMs(timeoutMs),
  };
  return { params, timeoutMs, silenceMs };
}

/** Validates `{action, selector, params?}`; throws FM_REQUEST_INVALID naming the field. */
export function parseActionRequest(body: unknown): ActionRequest {
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    throw invalid('the body must be a JSON object: {"action": "ping", "selector": {...}, "params": {...}}');
  const b = body as Record<string, unknown>;
  for (const k of Object.keys(b))
    if (!['action', 'selector', 'params'].includes(k)) throw invalid(`field "${k}" is unknown; a preview has action, selector, params`);
  if (typeof b.action !== 'string' || !(ACTION_NAMES as readonly string[]).includes(b.action))
    throw invalid(`field "action": expected one of ${ACTION_NAMES.join(', ')}, got ${JSON.stringify(b.action)}`);
  const action = b.action as ActionName;
  if (b.selector === undefined) throw invalid('field "selector" is missing: which nodes, e.g. {"sites": ["farm-1"]} or {"all": true}');
  const selector = parseSelector(b.selector);
  return { action, selector, ...parseParams(action, b.params) };
}
