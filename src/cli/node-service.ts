// `fieldmesh node service status [NAME] | logs NAME | start|stop|restart NAME`: a node's services through its
// HTTP API (`--node`, default the local node at http://127.0.0.1:18801). The actions need the node's
// `commands.token` (`--token`, `--token-file`, FIELDMESH_TOKEN). Exit codes: 0 ok; 1 a service shown by
// status is not running or healthy; 2 usage, connection, authorization or an unknown service.

import { userInfo } from 'node:os';
import { type Command, Option } from 'commander';
import { DEFAULT_AGENT_HTTP_PORT, SERVICE_ACTIONS, type ServiceLogLineView, type ServiceView } from '../agent/index.js';
import { FieldmeshError, formatAge } from '../kit/index.js';
import { type HubToken, type HubTokenFlags, resolveHubToken } from './hub-credentials.js';
import { type CliIo, errorText } from './io.js';
import { formatTable } from './status.js';

export const DEFAULT_NODE_URL = `http://127.0.0.1:${DEFAULT_AGENT_HTTP_PORT}`;

interface NodeTarget {
  readonly base: string;
  readonly token: HubToken | undefined;
  readonly operator: string | undefined;
}

interface TargetFlags extends HubTokenFlags {
  node?: string;
  by?: string;
  json?: boolean;
}

function usage(message: string): FieldmeshError {
  return new FieldmeshError('FM_CLI_USAGE', message);
}

function safeUserName(): string {
  try {
    return userInfo().username;
  } catch {
    return '';
  }
}

export function resolveNodeTarget(flags: TargetFlags, env: Readonly<Record<string, string | undefined>>): NodeTarget {
  const raw = flags.node ?? DEFAULT_NODE_URL;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw usage(`--node ${raw}: expected an http:// or https:// URL, e.g. ${DEFAULT_NODE_URL}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw usage(`--node ${raw}: expected an http:// or https:// URL`);
  const by = flags.by ?? env.USER ?? safeUserName();
  return { base: raw.replace(/\/+$/, ''), token: resolveHubToken(flags, env), operator: by === '' ? undefined : by };
}

const TOKEN_HINT = "pass the node's commands.token with --token-file <file>, --token or FIELDMESH_TOKEN";

/** GET or POST `path` on the node; the answer's `data`, or a FieldmeshError that says what to do. */
export async function nodeRequest<T>(target: NodeTarget, path: string, method: 'GET' | 'POST' = 'GET'): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (method === 'POST') {
    if (target.token !== undefined) headers.authorization = `Bearer ${target.token.token}`;
    if (target.operator !== undefined) headers['x-fieldmesh-operator'] = target.operator;
  }
  let res: Response;
  try {
    res = await fetch(`${target.base}${path}`, { method, headers });
  } catch (err) {
    const why = (err as { cause?: { code?: string; message?: string } }).cause;
    throw new FieldmeshError(
      'FM_TRANSPORT_UNAVAILABLE',
      `the node at ${target.base} is unreachable: ${why?.code ?? why?.message ?? (err as Error).message} (is it running? --node names another)`,
      { cause: err },
    );
  }
  const body = (await res.json().catch(() => ({}))) as { data?: T; code?: string; error?: string; message?: string };
  if (res.ok && body.data !== undefined) return body.data;
  const message = body.error ?? body.message ?? `HTTP ${res.status}`;
  if (res.status === 401) {
    const from = target.token === undefined ? 'no token was given' : `the token from ${target.token.source} was refused`;
    throw new FieldmeshError('FM_AUTH_REQUIRED', `the node at ${target.base} asks for its command token (${from}): ${TOKEN_HINT}`);
  }
  if (res.status === 403) throw new FieldmeshError('FM_AUTH_FORBIDDEN', `the node at ${target.base} refused the command: ${message}`);
  if (res.status === 404 && /^(no route|Route )/.test(message))
    throw new FieldmeshError('FM_NOT_FOUND', `the node at ${target.base} has no services API (${message}): is it an older fieldmesh?`);
  const code = (
    typeof body.code === 'string' ? body.code : res.status === 404 ? 'FM_NOT_FOUND' : 'FM_REQUEST_INVALID'
  ) as FieldmeshError['code'];
  throw new FieldmeshError(code, `the node at ${target.base} answered ${res.status}: ${message}`, { details: { status: res.status } });
}

/** Up for `status`: running, or healthy with a health check. */
export function isUp(s: ServiceView): boolean {
  return s.state === 'running' || s.state === 'healthy';
}

function formatBytes(n: number | null): string {
  if (n === null) return '-';
  if (n < 1024 * 1024) return `${Math.round(n / 1024)} KiB`;
  if (n < 1024 * 1024 * 1024) return `${(n / 1024 / 1024).toFixed(1)} MiB`;
  return `${(n / 1024 / 1024 / 1024).toFixed(2)} GiB`;
}

function formatExit(e: ServiceView['lastExit'], now: number): string {
  if (e === null) return '-';
  const what = e.error !== undefined ? 'not started' : e.signal !== null ? e.signal : `code ${e.code}`;
  return `${what}, ${formatAge(now - Date.parse(e.at))}`;
}

function formatSince(s: ServiceView, now: number): string {
  const age = formatAge(now - Date.parse(s.since)).replace(/ ago$/, '');
  if (s.state === 'backoff' && s.nextStartAt !== null)
    return `next start in ${Math.max(0, Math.ceil((Date.parse(s.nextStartAt) - now) / 1000))} s`;
  return age === 'just now' ? 'just now' : `for ${age}`;
}

/** The service table's head, and one service's row (`fieldmesh cmd ... service status` puts SITE and NODE before them). */
export const SERVICE_TABLE_HEAD: readonly string[] = ['SERVICE', 'STATE', 'SINCE', 'PID', 'RESTARTS', 'LAST EXIT', 'CPU', 'MEMORY'];

export function serviceRow(s: ServiceView, now: number): string[] {
  return [
    s.name,
    s.state,
    formatSince(s, now),
    s.pid === null ? '-' : String(s.pid),
    String(s.restarts),
    formatExit(s.lastExit, now),
    `${s.cpuSeconds.toFixed(1)} s`,
    formatBytes(s.memoryBytes),
  ];
}

export function formatServiceTable(services: readonly ServiceView[], now: number): string {
  return formatTable([SERVICE_TABLE_HEAD, ...services.map((s) => serviceRow(s, now))]);
}

export function formatServiceDetail(s: ServiceView, now: number): string[] {
  const out = [
    `service ${s.name}: ${s.state} (${formatSince(s, now)})`,
    `  command    ${s.command.map((a) => (/[\s"'$]/.test(a) ? JSON.stringify(a) : a)).join(' ')}`,
    `  policy     restart ${s.restart}, autostart ${s.autostart}`,
    `  pid        ${s.pid ?? '-'}${s.processes !== null ? ` (${s.processes} process${s.processes === 1 ? '' : 'es'} in its group)` : ''}`,
    `  restarts   ${s.restarts}`,
    `  last exit  ${s.lastExit === null ? '-' : `${formatExit(s.lastExit, now)}${s.lastExit.error !== undefined ? `: ${s.lastExit.error}` : ''}`}`,
    `  usage      ${s.cpuSeconds.toFixed(2)} s CPU, ${formatBytes(s.memoryBytes)} resident`,
  ];
  if (s.health !== null) {
    const last = s.health.lastResult;
    out.push(
      `  health     ${s.health.kind}: ${last === null ? 'not checked yet' : `${last.ok ? 'ok' : 'failed'} (${last.detail})`}${s.health.consecutiveFailures > 0 ? `, ${s.health.consecutiveFailures} failed in a row` : ''}`,
    );
  }
  return out;
}

export function formatLogLines(lines: readonly ServiceLogLineView[]): string[] {
  return lines.map((l) => `${l.time} ${l.stream === 'stderr' ? 'err' : 'out'} ${l.line}`);
}

/** Errors exit 2 (usage, connection, authorization, an unknown service): 1 is for services that are down. */
async function run(io: CliIo, action: () => Promise<number>): Promise<void> {
  try {
    process.exitCode = await action();
  } catch (err) {
    io.err(errorText(err));
    process.exitCode = 2;
  }
}

function targetOptions(command: Command): Command {
  return command
    .exitOverride()
    .option('--node <url>', `the node's HTTP API (default ${DEFAULT_NODE_URL})`)
    .addOption(new Option('--token <token>', "the node's commands.token (FIELDMESH_TOKEN); prefer --token-file"))
    .addOption(new Option('--token-file <path>', 'read the token from the first line of this file'))
    .option('--json', 'print the answer as JSON');
}

const path = (name: string, rest = '') => `/api/v1/services/${encodeURIComponent(name)}${rest}`;

/** `fieldmesh node service ...`, under the `node` command (which, without a subcommand, runs the agent). */
export function registerNodeService(node: Command, io: CliIo): void {
  const service = node
    .command('service')
    .description("a node's services (node.yaml services:): status, logs, start, stop, restart through its API")
    // Usage errors throw (main answers exit 2) instead of exiting: main sets this on top-level commands only.
    .exitOverride();

  targetOptions(
    service.command('status [name]').description('every service as a table, or one in detail; exit 0 all running or healthy, 1 one is not'),
  ).action(async (name: string | undefined, opts: TargetFlags) => {
    await run(io, async () => {
      const target = resolveNodeTarget(opts, process.env);
      const now = Date.now();
      if (name !== undefined) {
        const s = await nodeRequest<ServiceView>(target, path(name));
        if (opts.json) io.out(JSON.stringify(s, null, 2));
        else for (const line of formatServiceDetail(s, now)) io.out(line);
        return isUp(s) ? 0 : 1;
      }
      const { services } = await nodeRequest<{ services: ServiceView[] }>(target, '/api/v1/services');
      if (opts.json) io.out(JSON.stringify({ services }, null, 2));
      else if (services.length === 0) io.out(`no services on the node at ${target.base} (services: in its node.yaml)`);
      else io.out(formatServiceTable(services, now));
      return services.every(isUp) ? 0 : 1;
    });
  });

  targetOptions(
    service
      .command('logs <name>')
      .description("the newest lines of a service's stdout and stderr, oldest first")
      .option('-n, --lines <n>', 'how many lines', '100'),
  ).action(async (name: string, opts: TargetFlags & { lines: string }) => {
    await run(io, async () => {
      const lines = Number(opts.lines);
      if (!Number.isInteger(lines) || lines < 1) throw usage(`--lines ${opts.lines}: expected a whole number of at least 1`);
      const target = resolveNodeTarget(opts, process.env);
      const data = await nodeRequest<{ service: string; lines: ServiceLogLineView[] }>(target, path(name, `/logs?lines=${lines}`));
      if (opts.json) io.out(JSON.stringify(data, null, 2));
      else for (const line of formatLogLines(data.lines)) io.out(line);
      return 0;
    });
  });

  for (const action of SERVICE_ACTIONS) {
    targetOptions(
      service
        .command(`${action} <name>`)
        .description(`${action} a service (needs the node's commands.token)`)
        .option('--by <name>', "the operator named in the node's events (default: your user name)"),
    ).action(async (name: string, opts: TargetFlags) => {
      await run(io, async () => {
        const target = resolveNodeTarget(opts, process.env);
        const data = await nodeRequest<{ action: string; by: string; service: ServiceView }>(target, path(name, `/${action}`), 'POST');
        if (opts.json) io.out(JSON.stringify(data, null, 2));
        else {
          const s = data.service;
          io.out(`${action} ${s.name} at ${target.base}: ${s.state}${s.pid === null ? '' : ` (pid ${s.pid})`}, by ${data.by}`);
        }
        return 0;
      });
    });
  }
}
