// `fieldmesh cmd TARGET COMMAND [ARGS...] --hub URL`: a command to any set of nodes through the hub
// (POST /api/v1/commands), a progress bar on a terminal, then one row per node. Exit 0 when every node
// answered ok (or was skipped), 1 when any failed, timed out or was offline, 2 for usage or connection
// errors. docs/commands.md.

import type { Command } from 'commander';
import { createHubClient } from '../client/index.js';
import { FieldmeshError, isFieldmeshError, parseDurationMs } from '../kit/index.js';
import {
  type ActionSelector,
  COMMAND_NAMES,
  type CommandName,
  type CommandResult,
  type CommandRunView,
  POSITIONAL_ARGS,
} from '../protocol/index.js';
import { explainHubAuthError, type HubTokenFlags, resolveHubToken, tokenFileOption, tokenOption } from './hub-credentials.js';
import { type CliIo, errorText } from './io.js';
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
  if (positional.length !== names.length)
    throw usage(
      names.length === 0
        ? `${name} takes no arguments, got ${positional.join(' ')}`
        : `${name} takes ${names.map((n) => n.toUpperCase()).join(' ')}, got ${positional.length === 0 ? 'none' : positional.join(' ')}`,
    );
  const args: Record<string, string> = {};
  names.forEach((n, i) => {
    args[n] = positional[i] as string;
  });
  const only = (flag: 'for' | 'range' | 'step', commands: readonly CommandName[]) => {
    if (flags[flag] === undefined) return;
    if (!commands.includes(name)) throw usage(`--${flag} applies to ${commands.join(', ')} only`);
    args[flag] = flags[flag];
  };
  only('for', ['set-log-level']);
  only('range', ['query']);
  only('step', ['query']);
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
      text = `${v.service}: ${v.state}${v.pid === null || v.pid === undefined ? '' : ` (pid ${v.pid})`}`;
      break;
    case 'reload-config': {
      const running = (v.running ?? {}) as { hash?: string; source?: string };
      const pending = Array.isArray(v.pendingRestart) ? (v.pendingRestart as unknown[]) : [];
      text = `config ${String(running.hash ?? '-').slice(0, 12)} from ${running.source ?? '-'}${pending.length > 0 ? `; ${pending.length} changes wait for a restart` : ''}`;
      break;
    }
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
  const counts = Object.entries(view.counts)
    .filter(([, n]) => n > 0)
    .map(([k, n]) => `${n} ${k}`)
    .join(', ');
  const table = view.results.length === 0 ? 'no node matched the target' : formatTable(rows);
  return `${table}\n${view.results.length} node${view.results.length === 1 ? '' : 's'}${counts === '' ? '' : `: ${counts}`} in ${(elapsedMs / 1000).toFixed(1)} s`;
}

/** 0 every node ok or skipped, 1 any failed, timed out or offline. */
export function cmdExitCode(view: CommandRunView): number {
  return view.counts.failed + view.counts.timeout + view.counts.offline + view.counts.pending > 0 ? 1 : 0;
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
      "the command's arguments (set-log-level LEVEL, get KEY, query PROMQL, restart-collector NAME, pump-test ZONE PUMP, service start|stop|restart NAME)",
    )
    .option('--hub <url>', 'hub base URL', process.env.FIELDMESH_HUB_URL ?? 'http://127.0.0.1:18800')
    .option('--timeout <duration>', 'how long each node may take to answer', '10s')
    .option('--wait <duration>', 'wait this long for each offline node to come back, then run (default: offline fails at once)')
    .option('--for <duration>', 'set-log-level: revert to the previous level after this long')
    .option('--range <duration>', 'query: how far back (default 1h)')
    .option('--step <duration>', 'query: the step (default 1m)')
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
      io.out(flags.json === true ? JSON.stringify(view, null, 2) : formatRun(view, Date.now() - began));
      process.exitCode = cmdExitCode(view);
    });
}
