// `fieldmesh status --hub URL`: the fleet as a table, with exit codes monitoring scripts understand.
// `fieldmesh status --node URL`: the fleet as one node knows it through its awareness plane.

import type { Command } from 'commander';
import { createHubClient, type NodeSummary } from '../client/index.js';
import { FieldmeshError, formatAge } from '../kit/index.js';
import {
  explainHubAuthError,
  type HubTokenFlags,
  refuseTokenForNode,
  resolveHubToken,
  tokenFileOption,
  tokenOption,
} from './hub-credentials.js';
import type { CliIo } from './io.js';

/** Nagios-style: 0 every node online, 1 some stale or unknown, 2 some offline. */
export function statusExitCode(nodes: readonly NodeSummary[]): number {
  if (nodes.some((n) => n.state === 'offline')) return 2;
  if (nodes.some((n) => n.state === 'stale' || n.state === 'unknown')) return 1;
  return 0;
}

const BYTE_UNITS = ['KB', 'MB', 'GB', 'TB'] as const;

/** Bytes for people: `512 B`, `1.5 KB`, `38 KB`, `2.1 MB` (1 KB = 1,024 bytes; one decimal below 10). */
export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${Math.round(bytes)} B`;
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < BYTE_UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  const shown = value < 10 ? (Math.round(value * 10) / 10).toString() : Math.round(value).toLocaleString('en-US');
  return `${shown} ${BYTE_UNITS[unit]}`;
}

/**
 * The BACKLOG cell: outbox rows the node still has to send, what they will cost on the wire (the node's
 * estimate) and the age of the oldest: `1,204 rows, 38 KB, oldest 3 min ago`; `-` when none.
 */
export function formatBacklog(n: Pick<NodeSummary, 'backlogRows' | 'backlogOldest' | 'backlogBytes'>, nowMs: number): string {
  const rows = n.backlogRows ?? 0;
  if (rows === 0) return '-';
  const parts = [`${rows.toLocaleString('en-US')} ${rows === 1 ? 'row' : 'rows'}`];
  if (n.backlogBytes != null && n.backlogBytes > 0) parts.push(formatBytes(n.backlogBytes));
  const oldest = n.backlogOldest == null ? Number.NaN : Date.parse(n.backlogOldest);
  if (!Number.isNaN(oldest)) parts.push(`oldest ${formatAge(Math.max(0, nowMs - oldest))}`);
  return parts.join(', ');
}

export function formatTable(rows: readonly (readonly string[])[]): string {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length))) ?? [];
  return rows
    .map((r) =>
      r
        .map((c, i) => c.padEnd(widths[i] ?? 0))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

export function registerStatus(program: Command, io: CliIo): void {
  program
    .command('status')
    .description('print the fleet as the hub sees it; exit 0 all online, 1 stale/unknown, 2 offline')
    .option('--hub <url>', 'hub base URL', process.env.FIELDMESH_HUB_URL ?? 'http://127.0.0.1:18800')
    .option('--node <url>', "a node's HTTP URL: print the fleet as that node knows it (its awareness plane)")
    .option('--json', 'print the nodes as JSON')
    .option('--values', "also print every node's latest critical values, each with its age since it was sampled")
    .addOption(tokenOption())
    .addOption(tokenFileOption())
    .action(async (opts: HubTokenFlags & { hub: string; node?: string; json?: boolean; values?: boolean }) => {
      if (opts.node !== undefined) {
        refuseTokenForNode(opts);
        process.exitCode = await nodeStatus(opts.node, opts.json === true, io);
        return;
      }
      const token = resolveHubToken(opts, process.env);
      let nodes: NodeSummary[];
      try {
        const client = createHubClient(opts.hub, token === undefined ? {} : { token: token.token });
        nodes = await client.nodes({ values: opts.values === true });
      } catch (err) {
        throw explainHubAuthError(err, opts.hub, token);
      }
      if (opts.json) {
        io.out(JSON.stringify({ nodes }, null, 2));
      } else {
        const rows = [['SITE', 'ZONE', 'NODE', 'STATE', 'LAST HEARD', 'SERIES', 'BACKLOG', 'VERSION']];
        const now = Date.now();
        for (const n of nodes) {
          rows.push([
            n.site,
            n.zone,
            n.node,
            n.state,
            n.lastHeardAgeMs === null ? 'never' : formatAge(n.lastHeardAgeMs),
            String(n.series),
            formatBacklog(n, now),
            n.agentVersion ?? '-',
          ]);
        }
        io.out(formatTable(rows));
        const online = nodes.filter((n) => n.state === 'online').length;
        io.out(`${online}/${nodes.length} nodes online`);
        if (opts.values) io.out(`\n${formatTable(valueRows(nodes))}`);
      }
      process.exitCode = statusExitCode(nodes);
    });
}

/** One row per latest value: its age is the hub's time minus the time the node sampled it. */
export function valueRows(nodes: readonly NodeSummary[]): string[][] {
  const rows = [['SITE', 'NODE', 'SERIES', 'VALUE', 'AGE']];
  for (const n of nodes) {
    for (const v of n.values ?? []) {
      const labels = Object.entries(v.labels)
        .map(([k, l]) => `${k}="${l}"`)
        .join(',');
      rows.push([
        n.site,
        n.node,
        labels === '' ? v.name : `${v.name}{${labels}}`,
        `${v.value ?? '-'}${v.unit ? ` ${v.unit}` : ''}`,
        formatAge(v.ageMs),
      ]);
    }
  }
  return rows;
}

interface FleetAnswerNode {
  readonly site: string;
  readonly zone: string;
  readonly node: string;
  /** The node that answers. */
  readonly self?: boolean;
  readonly state: 'alive' | 'suspect' | 'unreachable' | 'dead' | 'left' | 'isolated';
  /** The member's pulses say it hears nobody. */
  readonly isolated?: boolean;
  readonly lastHeardAgeMs: number;
  readonly series: readonly { readonly name: string; readonly value: number | null; readonly unit: string }[];
}

/**
 * Exit codes as for the hub: 0 every member alive (or left); 1 some suspect, or unreachable (not judged: the node
 * hears nobody); 2 some dead, or the node that answers is isolated.
 */
export function fleetExitCode(nodes: readonly Pick<FleetAnswerNode, 'state'>[]): number {
  if (nodes.some((n) => n.state === 'dead' || n.state === 'isolated')) return 2;
  if (nodes.some((n) => n.state === 'suspect' || n.state === 'unreachable')) return 1;
  return 0;
}

/** The table of `fieldmesh status --node`, and its summary lines. */
export function formatFleet(nodes: readonly FleetAnswerNode[]): string[] {
  const rows = [['SITE', 'ZONE', 'NODE', 'STATE', 'LAST HEARD', 'VALUES']];
  for (const n of nodes) {
    const values = n.series.map((s) => `${s.name}=${s.value ?? '-'}${s.unit ? ` ${s.unit}` : ''}`).join(', ');
    const state = n.isolated && !n.self ? `${n.state}, hears nobody` : n.state;
    const heard = n.self ? `sent ${formatAge(n.lastHeardAgeMs)}` : formatAge(n.lastHeardAgeMs);
    rows.push([n.site, n.zone, n.self ? `${n.node} (self)` : n.node, state, heard, values]);
  }
  const lines = [formatTable(rows), `${nodes.filter((n) => n.state === 'alive').length}/${nodes.length} members alive`];
  if (nodes.some((n) => n.self && n.state === 'isolated')) {
    lines.push('this node hears nobody (isolated): the others are unreachable from here, not known dead');
  }
  return lines;
}

async function nodeStatus(url: string, json: boolean, io: CliIo): Promise<number> {
  const base = url.replace(/\/+$/, '');
  let res: Response;
  try {
    res = await fetch(`${base}/api/v1/fleet`);
  } catch (err) {
    throw new FieldmeshError('FM_TRANSPORT_UNAVAILABLE', `node at ${base} is unreachable: ${(err as Error).message}`);
  }
  const body = (await res.json()) as { status: string; error?: string; data?: { nodes: FleetAnswerNode[] } };
  if (!res.ok || body.data === undefined)
    throw new FieldmeshError(
      res.status === 404 ? 'FM_NOT_FOUND' : 'FM_QUERY_INVALID',
      `${base}/api/v1/fleet answered ${res.status}: ${body.error ?? ''}`,
    );
  const nodes = body.data.nodes;
  if (json) io.out(JSON.stringify(body.data, null, 2));
  else for (const line of formatFleet(nodes)) io.out(line);
  return fleetExitCode(nodes);
}
