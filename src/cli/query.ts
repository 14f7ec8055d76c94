// `fieldmesh query --node URL | --hub URL 'selector'`: a range query against a node's or the hub's
// Prometheus API, printed as one block per series (labels, then time and value) or as raw JSON.

import type { Command } from 'commander';
import { createPrometheusClient, type MatrixResponse } from '../client/index.js';
import { FieldmeshError, isFieldmeshError } from '../kit/index.js';
import { parseStepMs, parseTimeMs } from '../protocol/index.js';
import {
  explainHubAuthError,
  type HubTokenFlags,
  refuseTokenForNode,
  resolveHubToken,
  tokenFileOption,
  tokenOption,
} from './hub-credentials.js';
import type { CliIo } from './io.js';
import { formatTable } from './status.js';

/** Time and value pairs per output line, so a long range stays compact. */
const PAIRS_PER_LINE = 4;

function usage(message: string): FieldmeshError {
  return new FieldmeshError('FM_CLI_USAGE', message);
}

/**
 * A time for --start/--end: `now`, a duration ago (`-1h`, `1h30m`, `now-15m`), RFC 3339 or unix
 * seconds. Returns ms.
 */
export function parseCliTimeMs(text: string, nowMs: number, name: string): number {
  const t = text.trim();
  if (t === 'now') return nowMs;
  const relative = /^(?:now)?-?((?:\d+(?:ms|s|m|h|d|w|y))+)$/.exec(t);
  if (relative) return nowMs - parseStepMs(relative[1] as string, name);
  try {
    return parseTimeMs(t, name);
  } catch {
    throw usage(`--${name} "${text}": expected now, a duration ago like -1h, RFC 3339 or unix seconds`);
  }
}

function formatTime(seconds: number): string {
  const iso = new Date(seconds * 1_000).toISOString();
  return Number.isInteger(seconds) ? iso.slice(11, 19) : iso.slice(11, 23);
}

function formatLabels(metric: Readonly<Record<string, string>>): string {
  const { __name__: name, ...labels } = metric;
  const inner = Object.entries(labels)
    .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
    .join(', ');
  if (name === undefined) return `{${inner}}`;
  return inner === '' ? name : `${name}{${inner}}`;
}

/** Human output: per series its labels, then time/value pairs a few to a line; times in UTC. */
export function formatMatrix(response: MatrixResponse): string {
  const series = response.data.result;
  if (series.length === 0) return 'no series matched';
  const blocks: string[] = [];
  for (const s of series) {
    const first = s.values[0];
    const day = first === undefined ? '' : new Date(first[0] * 1_000).toISOString().slice(0, 10);
    const rows: string[][] = [];
    for (let i = 0; i < s.values.length; i += PAIRS_PER_LINE) {
      rows.push(s.values.slice(i, i + PAIRS_PER_LINE).flatMap(([t, v]) => [formatTime(t), v]));
    }
    blocks.push(`${formatLabels(s.metric)}  (${s.values.length} points from ${day}, UTC)\n${formatTable(rows).replace(/^/gm, '  ')}`);
  }
  return blocks.join('\n\n');
}

interface QueryOptions extends HubTokenFlags {
  node?: string;
  hub?: string;
  start: string;
  end: string;
  step: string;
  json?: boolean;
}

export function registerQuery(program: Command, io: CliIo): void {
  program
    .command('query')
    .description("run a range query against a node's or the hub's Prometheus API")
    .argument('<selector>', 'a series selector, or sum|avg|min|max|count by|without (labels) (selector) on a node')
    .option('--node <url>', 'query a node (its HTTP base URL)')
    .option('--hub <url>', 'query the hub (its HTTP base URL)')
    .option('--start <time>', 'now, -1h, RFC 3339 or unix seconds', '-1h')
    .option('--end <time>', 'now, -5m, RFC 3339 or unix seconds', 'now')
    .option('--step <duration>', 'resolution: 15s, 1m or seconds', '15s')
    .option('--json', 'print the Prometheus response as it came')
    .addOption(tokenOption())
    .addOption(tokenFileOption())
    .action(async (selector: string, opts: QueryOptions) => {
      if ((opts.node === undefined) === (opts.hub === undefined)) throw usage('give exactly one of --node URL or --hub URL');
      const target = opts.node !== undefined ? 'node' : 'hub';
      if (opts.node !== undefined) refuseTokenForNode(opts);
      const token = opts.hub === undefined ? undefined : resolveHubToken(opts, process.env);
      const nowMs = Date.now();
      const startMs = parseCliTimeMs(opts.start, nowMs, 'start');
      const endMs = parseCliTimeMs(opts.end, nowMs, 'end');
      let stepMs: number;
      try {
        stepMs = parseStepMs(opts.step);
      } catch {
        throw usage(`--step "${opts.step}": expected a positive duration like 15s or 1m, or seconds`);
      }
      if (endMs < startMs) throw usage('--end is before --start');
      const client = createPrometheusClient((opts.node ?? opts.hub) as string, token === undefined ? {} : { token: token.token });
      let response: MatrixResponse;
      try {
        response = await client.queryRange(selector, startMs / 1_000, endMs / 1_000, stepMs / 1_000);
      } catch (err) {
        // A query the server refuses is the user's to fix: report it as usage.
        if (isFieldmeshError(err, 'FM_QUERY_INVALID')) throw usage(`the ${target} refused the query: ${err.message}`);
        throw opts.hub === undefined ? err : explainHubAuthError(err, opts.hub, token);
      }
      io.out(opts.json ? JSON.stringify(response) : formatMatrix(response));
    });
}
