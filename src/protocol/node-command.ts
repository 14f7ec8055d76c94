// Commands to any set of nodes (POST /api/v1/commands, `fieldmesh cmd`): their names, arguments, the
// per-node result and the run's view; and the key expressions of `fieldmesh get` over
// `site/<site>/node/<node>/<key>`. [FM-QUERY-7] in docs/protocol.md, docs/commands.md.

import type { ActionSelector } from './api.js';

/**
 * Every command. `ping`, `rebirth`, `query` and `pump-test` travel as the older frames (ping, rebirth,
 * query_range, zone_command with action test); the others as a `command` query frame naming them.
 */
export const COMMAND_NAMES = [
  'ping',
  'rebirth',
  'set-log-level',
  'get',
  'query',
  'restart-collector',
  'pump-test',
  'service',
  'reload-config',
  'renew-cert',
] as const;
export type CommandName = (typeof COMMAND_NAMES)[number];

/**
 * Positional arguments of `fieldmesh cmd TARGET COMMAND [ARGS...]`, by command; a name ending in `?` may be
 * left out (`service status` without a NAME: every service).
 */
export const POSITIONAL_ARGS: Readonly<Record<CommandName, readonly string[]>> = {
  ping: [],
  rebirth: [],
  'set-log-level': ['level'],
  get: ['key'],
  query: ['query'],
  'restart-collector': ['name'],
  'pump-test': ['zone', 'pump'],
  service: ['action', 'name?'],
  'reload-config': [],
  'renew-cert': [],
};

/** Commands that read and change nothing on the node. */
export const READ_ONLY_COMMANDS: readonly CommandName[] = ['ping', 'get', 'query'];

/** The commands a node carries out itself, by name, in a `command` query frame ([FM-QUERY-7]). */
export const NODE_SIDE_COMMANDS: readonly CommandName[] = [
  'set-log-level',
  'get',
  'restart-collector',
  'service',
  'reload-config',
  'renew-cert',
];

/** The log levels `set-log-level` takes (pino's names). */
export const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;
export type LogLevelName = (typeof LOG_LEVELS)[number];

/** `service ACTION [NAME]`: act on a service, read its status (every service without NAME) or its log tail. */
export const SERVICE_ACTIONS = ['start', 'stop', 'restart', 'status', 'logs'] as const;
export type ServiceCommandAction = (typeof SERVICE_ACTIONS)[number];
/** `service logs NAME`: lines answered when `lines` is not given, and the most one command may ask for. */
export const SERVICE_LOG_LINES = { default: 50, max: 1_000 } as const;

/**
 * `service logs`' answer. `cut`: the oldest of the lines asked for that were left out so the answer fits one
 * reply ([FM-QUERY-3], MAX_REPLY_BODY_BYTES compressed); 0 when every line fits.
 */
export interface ServiceLogsAnswer {
  readonly service: string;
  readonly lines: readonly { readonly time: string; readonly stream: 'stdout' | 'stderr'; readonly line: string }[];
  readonly cut: number;
}

/** A command's arguments by name, as posted and as the node receives them (query parameters). */
export type CommandArgs = Readonly<Record<string, string>>;

/** What happened at one node. `skipped`: the target selected it but the command does not apply (never sent). */
export type CommandStatus = 'ok' | 'failed' | 'timeout' | 'offline' | 'skipped';
export const COMMAND_STATUSES: readonly CommandStatus[] = ['ok', 'failed', 'timeout', 'offline', 'skipped'];

/** One node's result. */
export interface CommandResult {
  readonly site: string;
  readonly node: string;
  readonly status: CommandStatus | 'pending';
  /** From the request's start at that node to its answer, ms; null while pending. */
  readonly ms: number | null;
  /** The node's answer (status ok). */
  readonly result?: unknown;
  /** Why not (any other status). */
  readonly error?: { readonly code: string; readonly message: string };
}

/** POST /api/v1/commands and GET /api/v1/commands/:id. */
export interface CommandRunView {
  readonly id: string;
  readonly command: CommandName;
  readonly args: CommandArgs;
  /** The target as given (a string like "site:north", or a selector). */
  readonly target: string | ActionSelector;
  readonly timeoutMs: number;
  /** How long an offline node is waited for before the command is sent to it, ms (0: offline fails fast). */
  readonly waitMs: number;
  readonly createdBy: string | null;
  readonly createdAt: string;
  readonly finishedAt: string | null;
  readonly state: 'running' | 'done';
  readonly counts: Readonly<Record<CommandStatus | 'pending', number>>;
  /** Sorted by site, then node. */
  readonly results: readonly CommandResult[];
}

/** One value `fieldmesh get` found: the full key, the value, and where it came from. */
export interface KeyValue {
  /** `site/<site>/node/<node>/<key>`. */
  readonly key: string;
  readonly value: unknown;
  /** Labels of a metric's series (one entry per series). */
  readonly labels?: Readonly<Record<string, string>>;
  /** When the value was sampled, ms since the Unix epoch (metrics). */
  readonly time?: number;
  /** `hub`: the hub's live fleet state; `node`: the node answered. */
  readonly source: 'hub' | 'node';
}

/** GET /api/v1/get: the values, and the nodes that could not answer. */
export interface KeyValues {
  readonly values: readonly KeyValue[];
  readonly errors: readonly CommandResult[];
}

/** A key expression split: the site and node patterns, and the pattern of the key below the node. */
export interface KeyExpr {
  readonly site: string;
  readonly node: string;
  /** Segments below `node/<node>/`; `*` one segment, `**` any number (including none). */
  readonly rest: readonly string[];
}

const SEGMENT = /^[A-Za-z0-9_.:*-]+$/;

/**
 * Parses `site/<site>/node/<node>/<key...>`: `*` is one segment, `**` any number; a `**` in the site or
 * node place means every site (node), and a lone `**` means every key of every node. Returns a message
 * naming what is wrong instead of throwing (the caller makes it its own error).
 */
export function parseKeyExpr(expr: string): KeyExpr | string {
  const segs = expr.trim().split('/');
  if (expr.trim() === '**') return { site: '*', node: '*', rest: ['**'] };
  if (segs.some((s) => s === '')) return `key expression ${JSON.stringify(expr)}: empty segment (a "//", or a "/" at an end)`;
  const bad = segs.find((s) => !SEGMENT.test(s) || (s.includes('*') && s !== '*' && s !== '**'));
  if (bad !== undefined)
    return `key expression ${JSON.stringify(expr)}: segment ${JSON.stringify(bad)}: expected a name of letters, digits, _ . : - or exactly * or **`;
  if (segs[0] !== 'site' || segs.length < 2)
    return `key expression ${JSON.stringify(expr)}: expected site/<site>/node/<node>/<key>, e.g. site/north/node/*/battery_soc`;
  const site = segs[1] === '**' ? '*' : (segs[1] as string);
  if (segs[1] === '**' && segs.length === 2) return { site: '*', node: '*', rest: ['**'] };
  if (segs[2] !== 'node' || segs.length < 4)
    return `key expression ${JSON.stringify(expr)}: expected site/<site>/node/<node>/<key>, e.g. site/north/node/*/battery_soc`;
  const node = segs[3] === '**' ? '*' : (segs[3] as string);
  const rest = segs.slice(4);
  return { site, node, rest: rest.length === 0 || segs[3] === '**' ? ['**', ...rest] : rest };
}

/** One segment pattern against a name: `*` or `**` match any, else equality. */
export function segmentMatches(pattern: string, name: string): boolean {
  return pattern === '*' || pattern === '**' || pattern === name;
}

/** Whether a key below a node (`battery_soc`, `config/publish/tick`) matches the pattern's segments. */
export function keyMatches(rest: readonly string[], key: string): boolean {
  const segs = key.split('/');
  const match = (p: number, k: number): boolean => {
    if (p === rest.length) return k === segs.length;
    const pat = rest[p] as string;
    if (pat === '**') {
      for (let i = k; i <= segs.length; i++) if (match(p + 1, i)) return true;
      return false;
    }
    return k < segs.length && segmentMatches(pat, segs[k] as string) && match(p + 1, k + 1);
  };
  return match(0, 0);
}

/** The key pattern is one exact key (no wildcard). */
export function isExactKey(rest: readonly string[]): boolean {
  return rest.every((s) => s !== '*' && s !== '**');
}
