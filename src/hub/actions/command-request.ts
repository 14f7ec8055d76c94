// What a caller posts to run a command on a set of nodes (POST /api/v1/commands, `fieldmesh cmd`):
// the target (`node:ID`, `node:SITE/ID`, `site:ID`, `zone:ID`, `all`, a "site/node" glob, or a bulk
// action selector), the command and its arguments, validated per command, the timeout and the wait
// for offline nodes. Bad input is FM_REQUEST_INVALID naming the field.

import { FieldmeshError, parseDurationMs } from '../../kit/index.js';
import {
  type ActionSelector,
  COMMAND_NAMES,
  type CommandArgs,
  type CommandName,
  LOG_LEVELS,
  parseKeyExpr,
  SERVICE_ACTIONS,
  SERVICE_LOG_LINES,
} from '../../protocol/index.js';
import { NODE_COMMAND_MAX_TIMEOUT_MS } from '../node-commands.js';
import { parseSelector, type SelectableNode, selectNodes } from './selection.js';

/** A node that does not answer within this long counts as timed out, unless `timeoutMs` says otherwise. */
export const DEFAULT_COMMAND_TIMEOUT_MS = 10_000;
export const COMMAND_TIMEOUT_RANGE_MS = { min: 100, max: NODE_COMMAND_MAX_TIMEOUT_MS } as const;
/** Longest wait for an offline node to come back (`wait`, `--wait`). */
export const MAX_COMMAND_WAIT_MS = 3_600_000;
/** Default `query` range and step. */
const DEFAULT_QUERY_RANGE_MS = 3_600_000;
const DEFAULT_QUERY_STEP_MS = 60_000;

/** Each command's arguments: required ones first, then optional; a value check per argument. */
const ARGS: Record<CommandName, { required: readonly string[]; optional: readonly string[] }> = {
  ping: { required: [], optional: [] },
  rebirth: { required: [], optional: [] },
  'set-log-level': { required: ['level'], optional: ['for'] },
  get: { required: ['key'], optional: [] },
  query: { required: ['query'], optional: ['range', 'step'] },
  'restart-collector': { required: ['name'], optional: [] },
  'pump-test': { required: ['zone', 'pump'], optional: [] },
  service: { required: ['action'], optional: ['name', 'lines'] },
  'reload-config': { required: [], optional: [] },
  'renew-cert': { required: [], optional: [] },
};

export interface CommandRequest {
  /** The target as given, echoed in the run's view. */
  readonly target: string | ActionSelector;
  readonly command: CommandName;
  readonly args: CommandArgs;
  readonly timeoutMs: number;
  /** 0: offline nodes fail fast. */
  readonly waitMs: number;
  /** Answer at once (202) and let the caller poll. */
  readonly detach: boolean;
}

function invalid(message: string): FieldmeshError {
  return new FieldmeshError('FM_REQUEST_INVALID', message);
}

function duration(value: string, field: string, max: number): number {
  const ms = parseDurationMs(value);
  if (ms === undefined || ms <= 0 || ms > max)
    throw invalid(`field "${field}": expected a duration like "10m" (at most ${max / 60_000} minutes), got ${JSON.stringify(value)}`);
  return ms;
}

/** Checks one command's arguments; returns them with defaults filled in. */
export function checkCommandArgs(command: CommandName, body: unknown): CommandArgs {
  if (body !== undefined && (typeof body !== 'object' || body === null || Array.isArray(body)))
    throw invalid('field "args": expected an object of strings like {"level": "debug", "for": "10m"}');
  const args = (body ?? {}) as Record<string, unknown>;
  const spec = ARGS[command];
  const known = [...spec.required, ...spec.optional];
  for (const [k, v] of Object.entries(args)) {
    if (!known.includes(k))
      throw invalid(`field "args.${k}" is unknown for ${command}; it takes ${known.length === 0 ? 'no arguments' : known.join(', ')}`);
    if (typeof v !== 'string' || v === '') throw invalid(`field "args.${k}": expected a non-empty string`);
  }
  for (const k of spec.required)
    if (args[k] === undefined) throw invalid(`field "args.${k}" is missing: ${command} takes ${spec.required.join(', ')}`);
  const out = args as Record<string, string>;
  switch (command) {
    case 'set-log-level':
      if (!(LOG_LEVELS as readonly string[]).includes(out.level as string))
        throw invalid(`field "args.level": expected one of ${LOG_LEVELS.join(', ')}, got ${JSON.stringify(out.level)}`);
      if (out.for !== undefined) duration(out.for, 'args.for', 24 * 3_600_000);
      break;
    case 'get': {
      const parsed = parseKeyExpr(`site/x/node/y/${out.key}`);
      if (typeof parsed === 'string') throw invalid(`field "args.key": ${parsed.replace('site/x/node/y/', '')}`);
      break;
    }
    case 'query':
      return {
        query: out.query as string,
        range: String(out.range === undefined ? DEFAULT_QUERY_RANGE_MS : duration(out.range, 'args.range', 31 * 86_400_000)),
        step: String(out.step === undefined ? DEFAULT_QUERY_STEP_MS : duration(out.step, 'args.step', 86_400_000)),
      };
    case 'service':
      return checkServiceArgs(out);
    default:
      break;
  }
  return { ...out };
}

/**
 * `service`: `action` start|stop|restart|status|logs; `name` for every action but status (which without one
 * answers every service); `lines` only for logs, a whole number from 1 to SERVICE_LOG_LINES.max (default
 * SERVICE_LOG_LINES.default, filled in).
 */
function checkServiceArgs(args: Record<string, string>): CommandArgs {
  const { action, name, lines } = args;
  if (!(SERVICE_ACTIONS as readonly string[]).includes(action as string))
    throw invalid(`field "args.action": expected one of ${SERVICE_ACTIONS.join(', ')}, got ${JSON.stringify(action)}`);
  if (name === undefined && action !== 'status') throw invalid(`field "args.name" is missing: service ${action} takes the service's name`);
  if (lines !== undefined && action !== 'logs') throw invalid(`field "args.lines" applies to service logs only, not service ${action}`);
  if (action !== 'logs') return { ...args };
  const n = lines === undefined ? SERVICE_LOG_LINES.default : /^\d+$/.test(lines) ? Number(lines) : Number.NaN;
  if (!Number.isSafeInteger(n) || n < 1 || n > SERVICE_LOG_LINES.max)
    throw invalid(`field "args.lines": expected a whole number of lines from 1 to ${SERVICE_LOG_LINES.max}, got ${JSON.stringify(lines)}`);
  return { action, name: name as string, lines: String(n) };
}

/** Validates `{target, command, args?, timeoutMs?, wait?, detach?}`; throws FM_REQUEST_INVALID naming the field. */
export function parseCommandRequest(body: unknown): CommandRequest {
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    throw invalid('the body must be a JSON object: {"target": "site:north", "command": "ping", "args": {}, "timeoutMs": 10000}');
  const b = body as Record<string, unknown>;
  for (const k of Object.keys(b))
    if (!['target', 'command', 'args', 'timeoutMs', 'wait', 'detach'].includes(k))
      throw invalid(`field "${k}" is unknown; a command has target, command, args, timeoutMs, wait, detach`);
  if (typeof b.command !== 'string' || !(COMMAND_NAMES as readonly string[]).includes(b.command))
    throw invalid(`field "command": expected one of ${COMMAND_NAMES.join(', ')}, got ${JSON.stringify(b.command)}`);
  const command = b.command as CommandName;
  if (b.target === undefined)
    throw invalid('field "target" is missing: "node:ID", "node:SITE/ID", "site:ID", "zone:ID", "all", a "site/node" glob, or a selector');
  let target: string | ActionSelector;
  if (typeof b.target === 'string') {
    targetSelector(b.target);
    target = b.target.trim();
  } else target = parseSelector(b.target);
  let timeoutMs = DEFAULT_COMMAND_TIMEOUT_MS;
  if (b.timeoutMs !== undefined) {
    if (
      typeof b.timeoutMs !== 'number' ||
      !Number.isFinite(b.timeoutMs) ||
      b.timeoutMs < COMMAND_TIMEOUT_RANGE_MS.min ||
      b.timeoutMs > COMMAND_TIMEOUT_RANGE_MS.max
    )
      throw invalid(
        `field "timeoutMs": expected a number of ms from ${COMMAND_TIMEOUT_RANGE_MS.min} to ${COMMAND_TIMEOUT_RANGE_MS.max}, got ${JSON.stringify(b.timeoutMs)}`,
      );
    timeoutMs = Math.round(b.timeoutMs);
  }
  let waitMs = 0;
  if (b.wait !== undefined && b.wait !== false && b.wait !== 0) {
    if (typeof b.wait === 'number' && Number.isFinite(b.wait) && b.wait >= 0 && b.wait <= MAX_COMMAND_WAIT_MS) waitMs = Math.round(b.wait);
    else if (typeof b.wait === 'string') waitMs = duration(b.wait, 'wait', MAX_COMMAND_WAIT_MS);
    else throw invalid(`field "wait": expected a duration like "10m" or ms up to ${MAX_COMMAND_WAIT_MS}, got ${JSON.stringify(b.wait)}`);
  }
  if (b.detach !== undefined && typeof b.detach !== 'boolean') throw invalid('field "detach": expected true or false');
  return { target, command, args: checkCommandArgs(command, b.args), timeoutMs, waitMs, detach: b.detach === true };
}

/**
 * A target string as a selector: `all`, `node:ID` (unique across sites: see resolveTargets), `node:SITE/ID`,
 * `site:ID`, `zone:ID`, or a glob over "site/node". Throws FM_REQUEST_INVALID.
 */
export function targetSelector(target: string): ActionSelector & { readonly nodeId?: string } {
  const t = target.trim();
  const syntax = 'expected node:ID, node:SITE/ID, site:ID, zone:ID, all, or a "site/node" glob like "north/*"';
  if (t === 'all') return { all: true };
  const m = /^(node|site|zone):(.+)$/.exec(t);
  if (m !== null) {
    const [, kind, id] = m as unknown as [string, string, string];
    if (kind === 'node') {
      const parts = id.split('/');
      if (parts.length === 2 && parts.every((p) => p !== '')) return { nodes: [id] };
      if (parts.length === 1) return { all: true, nodeId: id };
      throw invalid(`field "target": ${JSON.stringify(t)}: ${syntax}`);
    }
    if (id.includes('/')) throw invalid(`field "target": ${JSON.stringify(t)}: a ${kind} id has no "/"`);
    return kind === 'site' ? { sites: [id] } : { zones: [id] };
  }
  if (t.includes('/')) return parseSelector({ match: t });
  throw invalid(`field "target": ${JSON.stringify(t)}: ${syntax}`);
}

/**
 * The nodes a target names, sorted as given. A `node:`, `site:` or `zone:` target that names no node is
 * FM_NOT_FOUND (a typo must not look like an empty fleet); `node:ID` in several sites is FM_REQUEST_INVALID.
 */
export function resolveTargets<N extends SelectableNode>(nodes: readonly N[], target: string | ActionSelector): N[] {
  if (typeof target !== 'string') return selectNodes(nodes, target);
  const { nodeId, ...selector } = targetSelector(target);
  if (nodeId !== undefined) {
    const found = nodes.filter((n) => n.node === nodeId);
    if (found.length > 1)
      throw invalid(`field "target": node "${nodeId}" is in sites ${found.map((n) => n.site).join(', ')}; say node:SITE/${nodeId}`);
    if (found.length === 0) throw new FieldmeshError('FM_NOT_FOUND', `no node "${nodeId}" is known to this hub`);
    return found;
  }
  const picked = selectNodes(nodes, selector);
  if (picked.length === 0 && /^(node|site|zone):/.test(target.trim()))
    throw new FieldmeshError('FM_NOT_FOUND', `target ${JSON.stringify(target.trim())} names no node this hub knows`);
  return picked;
}
