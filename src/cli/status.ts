// `fieldmesh status --hub URL`: the fleet as a table, with exit codes monitoring scripts understand.

import type { Command } from 'commander';
import { createHubClient, type NodeSummary } from '../client/index.js';
import { formatAge } from '../kit/index.js';
import type { CliIo } from './io.js';

/** Nagios-style: 0 every node online, 1 some stale or unknown, 2 some offline. */
export function statusExitCode(nodes: readonly NodeSummary[]): number {
  if (nodes.some((n) => n.state === 'offline')) return 2;
  if (nodes.some((n) => n.state === 'stale' || n.state === 'unknown')) return 1;
  return 0;
}

/** The BACKLOG cell: outbox rows the node still has to send and the age of the oldest; `-` when none. */
export function formatBacklog(n: Pick<NodeSummary, 'backlogRows' | 'backlogOldest'>, nowMs: number): string {
  const rows = n.backlogRows ?? 0;
  if (rows === 0) return '-';
  const oldest = n.backlogOldest == null ? Number.NaN : Date.parse(n.backlogOldest);
  const count = `${rows.toLocaleString('en-US')} ${rows === 1 ? 'row' : 'rows'}`;
  return Number.isNaN(oldest) ? count : `${count}, oldest ${formatAge(Math.max(0, nowMs - oldest))}`;
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
    .option('--json', 'print the nodes as JSON')
    .action(async (opts: { hub: string; json?: boolean }) => {
      const nodes = await createHubClient(opts.hub).nodes();
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
      }
      process.exitCode = statusExitCode(nodes);
    });
}
