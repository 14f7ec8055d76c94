// `fieldmesh cmd TARGET COMMAND [ARGS...] --hub URL`: a command to any set of nodes through the hub
// (POST /api/v1/commands), a progress bar on a terminal, then one row per node (`service status`: one row
// per service of each node; `service logs`: the log lines, each prefixed by its node). Exit 0 when every
// node answered ok (or was skipped), 1 when any failed, timed out or was offline (or, for `service status`,
// a service shown is not running or healthy), 2 for usage or connection errors. docs/commands.md.

import type { Command } from 'commander';
import type { ServiceView } from '../agent/index.js';
import { createHubClient } from '../client/index.js';
import { FieldmeshError, isFieldmeshError, parseDurationMs } from '../kit/index.js';
import {
  type ActionSelector,
  COMMAND_NAMES,
  type CommandName,
  type CommandResult,
  type CommandRunView,
  MAX_REPLY_BODY_BYTES,
  POSITIONAL_ARGS,
  SERVICE_LOG_LINES,
  type ServiceLogsAnswer,
} from '../protocol/index.js';
import { explainHubAuthError, type HubTokenFlags, resolveHubToken, tokenFileOption, tokenOption } from './hub-credentials.js';
import { type CliIo, errorText } from './io.js';
import { formatLogLines, isUp, SERVICE_TABLE_HEAD, serviceRow } from './node-service.js';
import { formatTable } from './status.js';

/** How often the run's progress is read. */
const POLL_INTERVAL_MS = 200;
/** Widest result column in the table; --json has everything. */
const RESULT_WIDTH = 90;

export interface CmdFlags extends HubTokenFlags {
  hub: string;
  timeout: string;
  wait?: string;
  for?: string;
  range?: string;
  step?: string;
  lines?: string;
  json?: boolean;
}

function usage(message: string): FieldmeshError {
  return new FieldmeshError('FM_CLI_USAGE', message);
}

/** The POST body of a `fieldmesh cmd` line; throws FM_CLI_USAGE naming what is wrong. */
export function commandBody(target: string, command: string, positional: readonly string[], flags: CmdFlags) {
  if (!(COMMAND_NAMES as readonly string[]).includes(command))
    throw usage(`unknown command "${command}"; commands: ${COMMAND_NAMES.join(', ')}`);
  const name = command as CommandName;
  const names = POSITIONAL_ARGS[name];
  const required = names.filter((n) => !n.endsWith('?')).length;
  if (positional.length < required || positional.length > names.length)
    throw usage(
      names.length === 0
        ? `${name} takes no arguments, got ${positional.join(' ')}`
        : `${name} takes ${names.map((n) => (n.endsWith('?') ? `[${n.slice(0, -1).toUpperCase()}]` : n.toUpperCase())).join(' ')}, got ${positional.length === 0 ? 'none' : positional.join(' ')}`,
    );
  const args: Record<string, string> = {};
  positional.forEach((value, i) => {
    args[(names[i] as string).replace(/\?$/, '')] = value;
  });
  if (name === 'service' && args.name === undefined && args.action !== 'status')
    throw usage(`service ${args.action} takes NAME: service ${args.action} NAME`);
  const only = (flag: 'for' | 'range' | 'step', commands: readonly CommandName[]) => {
    if (flags[flag] === undefined) return;
    if (!commands.includes(name)) throw usage(`--${flag} applies to ${commands.join(', ')} only`);
    args[flag] = flags[flag];
  };
  only('for', ['set-log-level']);
  only('range', ['query']);
  only('step', ['query']);
  if (flags.lines !== undefined) {
    if (name !== 'service' || args.action !== 'logs') throw usage('--lines applies to service logs only');
    const n = /^\d+$/.test(flags.lines) ? Number(flags.lines) : Number.NaN;
    if (!Number.isSafeInteger(n) || n < 1 || n > SERVICE_LOG_LINES.max)
      throw usage(`--lines ${flags.lines}: expected a whole number from 1 to ${SERVICE_LOG_LINES.max}`);
    args.lines = String(n);
  }
  const timeoutMs = parseDurationMs(flags.timeout);
  if (timeoutMs === undefined || timeoutMs < 100 || timeoutMs > 120_000)
    throw usage(`--timeout ${flags.timeout}: expected a duration from 100ms to 2m like "10s"`);
  let parsedTarget: string | ActionSelector = target;
  if (target.trim().startsWith('{')) {
    try {
      parsedTarget = JSON.parse(target) as ActionSelector;
    } catch (err) {
      throw usage(`TARGET ${target}: not a JSON selector: ${(err as Error).message}`);
    }
  }
  if (flags.wait !== undefined && parseDurationMs(flags.wait) === undefined)
    throw usage(`--wait ${flags.wait}: expected a duration like "10m"`);
  return {
    target: parsedTarget,
    command: name,
    args,
    timeoutMs,
    ...(flags.wait === undefined ? {} : { wait: flags.wait }),
    detach: true,
  };
}

/** One line of what a node answered, for the table. */
export function summarize(command: CommandName, r: CommandResult): string {
  if (r.status !== 'ok') return r.error === undefined ? '' : `${r.error.code}: ${r.error.message}`;
  const v = (r.result ?? {}) as Record<string, unknown>;
  let text: string;
  switch (command) {
    case 'ping':
      text = `pong in ${Math.round(Number(v.rttMs))} ms (agent ${v.agentVersion}, epoch ${v.epoch})`;
      break;
    case 'rebirth':
      text = `new birth ${v.birthAfterMs} ms after the request`;
      break;
    case 'set-log-level':
      text = `${v.level} (was ${v.previous}${v.revertsAt === null ? '' : `; back to ${v.revertsTo} at ${v.revertsAt}`})`;
      break;
    case 'get': {
      const values = (v.values ?? []) as Array<{ key: string; value: unknown }>;
      text =
        values.map((x) => `${x.key}=${typeof x.value === 'object' ? JSON.stringify(x.value) : String(x.value)}`).join(' ') || 'no value';
      break;
    }
    case 'query': {
      const result = ((v.data as { result?: unknown[] } | undefined)?.result ?? []) as unknown[];
      text = `${result.length} series`;
      break;
    }
    case 'restart-collector':
      text = `${v.collector} (${v.kind}) restarted in ${v.restartedInMs} ms`;
      break;
    case 'service':
      if (Array.isArray(v.services)) text = `${v.services.length} services`;
      else if (Array.isArray(v.lines)) text = `${v.lines.length} lines${Number(v.cut) > 0 ? ` (${v.cut} older cut)` : ''}`;
      else text = `${v.service ?? v.name}: ${v.state}${v.pid === null || v.pid === undefined ? '' : ` (pid ${v.pid})`}`;
      break;
    case 'reload-config': {
      const running = (v.running ?? {}) as { hash?: string; source?: string };
      const pending = Array.isArray(v.pendingRestart) ? (v.pendingRestart as unknown[]) : [];
      text = `config ${String(running.hash ?? '-').slice(0, 12)} from ${running.source ?? '-'}${pending.length > 0 ? `; ${pending.length} changes wait for a restart` : ''}`;
      break;
    }
    case 'renew-cert':
      text = `${v.sent === false ? 'CSR made, sent when connected' : 'CSR sent'} (request ${v.requestId}); replaces ${v.serial ?? 'no certificate'}`;
      break;
    case 'pump-test':
      text = `test handed to the zone (epoch ${v.epoch ?? '-'})`;
      break;
    default:
      text = JSON.stringify(v);
  }
  return text.length > RESULT_WIDTH ? `${text.slice(0, RESULT_WIDTH - 1)}…` : text;
}

/** The results as a table and a counts line. */
export function formatRun(view: CommandRunView, elapsedMs: number): string {
  const rows = [['SITE', 'NODE', 'STATUS', 'MS', 'RESULT']];
  for (const r of view.results) rows.push([r.site, r.node, r.status, r.ms === null ? '-' : String(r.ms), summarize(view.command, r)]);
  const table = view.results.length === 0 ? 'no node matched the target' : formatTable(rows);
  return `${table}\n${countsLine(view, elapsedMs)}`;
}

/** The services a node's `service status` answered: every service, or the one named. */
function servicesOf(r: CommandResult): ServiceView[] {
  if (r.status !== 'ok' || typeof r.result !== 'object' || r.result === null) return [];
  const v = r.result as { services?: ServiceView[] } & Partial<ServiceView>;
  return Array.isArray(v.services) ? v.services : [v as ServiceView];
}

/** The counts line under every run's output. */
function countsLine(view: CommandRunView, elapsedMs: number): string {
  const counts = Object.entries(view.counts)
    .filter(([, n]) => n > 0)
    .map(([k, n]) => `${n} ${k}`)
    .join(', ');
  return `${view.results.length} node${view.results.length === 1 ? '' : 's'}${counts === '' ? '' : `: ${counts}`} in ${(elapsedMs / 1000).toFixed(1)} s`;
}

/** The nodes that did not answer ok, as the usual table (nothing when every node did). */
function notOkTable(view: CommandRunView): string[] {
  const bad = view.results.filter((r) => r.status !== 'ok');
  if (bad.length === 0) return [];
  return [
    formatTable([
      ['SITE', 'NODE', 'STATUS', 'MS', 'RESULT'],
      ...bad.map((r) => [r.site, r.node, r.status, r.ms === null ? '-' : String(r.ms), summarize(view.command, r)]),
    ]),
  ];
}

/**
 * `service status`: one row per service of each node that answered (SITE, NODE, then the columns of
 * `fieldmesh node service status`), then the nodes that did not answer, then the counts.
 */
export function formatServiceStatusRun(view: CommandRunView, elapsedMs: number, now: number): string {
  const rows = [['SITE', 'NODE', ...SERVICE_TABLE_HEAD]];
  for (const r of view.results) {
    if (r.status !== 'ok') continue;
    const services = servicesOf(r);
    if (services.length === 0) rows.push([r.site, r.node, '-', 'no services']);
    for (const s of services) rows.push([r.site, r.node, ...serviceRow(s, now)]);
  }
  const out = rows.length > 1 ? [formatTable(rows)] : [];
  return [...out, ...notOkTable(view), countsLine(view, elapsedMs)].join('\n');
}

/**
 * `service logs`: every node's lines, oldest first, each prefixed by `site/node`; a node whose tail was cut
 * to fit its reply says how many older lines were left out; then the nodes that did not answer, then the counts.
 */
export function formatServiceLogsRun(view: CommandRunView, elapsedMs: number): string {
  const out: string[] = [];
  for (const r of view.results) {
    if (r.status !== 'ok') continue;
    const answer = r.result as ServiceLogsAnswer;
    const prefix = `${r.site}/${r.node}`;
    if (answer.cut > 0)
      out.push(
        `${prefix} (${answer.cut} older line${answer.cut === 1 ? '' : 's'} cut: a reply carries at most ${MAX_REPLY_BODY_BYTES / 1024} KiB compressed)`,
      );
    for (const line of formatLogLines(answer.lines)) out.push(`${prefix} ${line}`);
  }
  return [...out, ...notOkTable(view), countsLine(view, elapsedMs)].join('\n');
}

/** The run as printed: a table per node, or the service views above. */
export function formatCommandRun(view: CommandRunView, elapsedMs: number, now: number): string {
  if (view.command === 'service' && view.args.action === 'status') return formatServiceStatusRun(view, elapsedMs, now);
  if (view.command === 'service' && view.args.action === 'logs') return formatServiceLogsRun(view, elapsedMs);
  return formatRun(view, elapsedMs);
}

/**
 * 0 every node ok or skipped, 1 any failed, timed out or offline; `service status` also 1 when a service it
 * shows is not running or healthy (as `fieldmesh node service status`).
 */
export function cmdExitCode(view: CommandRunView): number {
  if (view.counts.failed + view.counts.timeout + view.counts.offline + view.counts.pending > 0) return 1;
  if (view.command === 'service' && view.args.action === 'status') return view.results.every((r) => servicesOf(r).every(isUp)) ? 0 : 1;
  return 0;
}

function progressBar(view: CommandRunView): string {
  const total = view.results.length;
  const done = total - view.counts.pending;
  const width = 30;
  const filled = total === 0 ? width : Math.round((done / total) * width);
  return `\r[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${total} answered (${view.counts.ok} ok)`;
}

export function registerCmd(program: Command, io: CliIo): void {
  program
    .command('cmd')
    .description(
      'run a command on a set of nodes through the hub: TARGET is node:ID, node:SITE/ID, site:ID, zone:ID, all, a "site/node" glob, or a JSON selector; ' +
        `COMMAND is ${COMMAND_NAMES.join(', ')}; exit 0 all ok, 1 any failed/timeout/offline, 2 usage or connection`,
    )
    .argument('<target>', 'which nodes')
    .argument('<command>', 'what to run')
    .argument(
      '[args...]',
      "the command's arguments (set-log-level LEVEL, get KEY, query PROMQL, restart-collector NAME, pump-test ZONE PUMP, service start|stop|restart|logs NAME, service status [NAME])",
    )
    .option('--hub <url>', 'hub base URL', process.env.FIELDMESH_HUB_URL ?? 'http://127.0.0.1:18800')
    .option('--timeout <duration>', 'how long each node may take to answer', '10s')
    .option('--wait <duration>', 'wait this long for each offline node to come back, then run (default: offline fails at once)')
    .option('--for <duration>', 'set-log-level: revert to the previous level after this long')
    .option('--range <duration>', 'query: how far back (default 1h)')
    .option('--step <duration>', 'query: the step (default 1m)')
    .option(
      '-n, --lines <n>',
      `service logs: the newest N lines of each node (default ${SERVICE_LOG_LINES.default}, at most ${SERVICE_LOG_LINES.max})`,
    )
    .option('--json', 'print the run with every result as JSON')
    .addOption(tokenOption())
    .addOption(tokenFileOption())
    .action(async (target: string, command: string, positional: string[], flags: CmdFlags) => {
      let body: ReturnType<typeof commandBody>;
      let token: ReturnType<typeof resolveHubToken>;
      try {
        body = commandBody(target, command, positional, flags);
        token = resolveHubToken(flags, process.env);
      } catch (err) {
        io.err(errorText(err));
        process.exitCode = 2;
        return;
      }
      const client = createHubClient(flags.hub, token === undefined ? {} : { token: token.token });
      const began = Date.now();
      const tty = process.stderr.isTTY === true && flags.json !== true;
      let view: CommandRunView;
      try {
        view = await client.runCommand(body);
        while (view.state !== 'done') {
          if (tty) process.stderr.write(progressBar(view));
          await new Promise((resolve) => setTimeout(resolve, POLL_INTERVAL_MS));
          view = await client.commandRun(view.id);
        }
        if (tty) process.stderr.write(`${progressBar(view)}\n`);
      } catch (err) {
        if (tty) process.stderr.write('\n');
        // Usage (the hub refused the request), authentication or connection: the command never ran.
        io.err(errorText(isFieldmeshError(err) ? explainHubAuthError(err, flags.hub, token) : err));
        process.exitCode = 2;
        return;
      }
      io.out(flags.json === true ? JSON.stringify(view, null, 2) : formatCommandRun(view, Date.now() - began, Date.now()));
      process.exitCode = cmdExitCode(view);
    });
}
