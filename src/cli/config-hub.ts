// `fieldmesh config status|sync|apply --hub URL`: the hub's side of reconciliation from the command line
// (GET /api/v1/config[/nodes], POST /api/v1/config/sync, POST /api/v1/config/apply). Exit codes: status 1
// when a node failed or drifted (or the newest revision is refused), sync 1 when the revision read is
// refused, apply 1 when the rollout stopped at a failing wave; 2 for usage, connection or authorization.
// docs/cli.md "fieldmesh config", docs/config-as-code.md "Reconciliation at the hub".

import type { Command } from 'commander';
import { FieldmeshError, formatAge, isFieldmeshError, parseDurationMs } from '../kit/index.js';
import type { ActionSelector } from '../protocol/index.js';
import {
  explainHubAuthError,
  type HubToken,
  type HubTokenFlags,
  resolveHubToken,
  tokenFileOption,
  tokenOption,
} from './hub-credentials.js';
import { hubRequest } from './hub-request.js';
import { type CliIo, errorText } from './io.js';
import { formatTable } from './status.js';

/** How often `apply` reads the run's progress. */
const POLL_INTERVAL_MS = 250;

interface HubFlags extends HubTokenFlags {
  hub: string;
  json?: boolean;
}

interface Problem {
  file: string;
  line: number;
  col: number;
  path: string;
  message: string;
}
interface Revision {
  revision: string;
  commit: string | null;
  at: number;
}
interface Summary {
  source: string;
  rollout: string;
  lastRead: Revision | null;
  lastGood: Revision | null;
  lastRefused: (Revision & { problems: Problem[] }) | null;
  refused: boolean;
  lastError: { at: number; message: string } | null;
  awaitingApply: boolean;
  nodes: { total: number; states: Record<string, number>; drift: number };
  lastRun: Run | null;
}
interface NodeView {
  site: string;
  node: string;
  state: string;
  drift: boolean;
  /** Absent from hubs older than drift reasons. */
  driftReason?: { kind: 'unissued-hash'; hash: string } | { kind: 'hand-edit'; keys: string[]; at: number } | null;
  desired: { hash: string; commit: string | null } | null;
  reported: { kind: string; hash: string; at: number; pendingRestart: string[]; stage?: string; error?: string } | null;
}
interface Run {
  id: string;
  state: 'running' | 'done' | 'stopped';
  startedAt: number;
  finishedAt: number | null;
  revision: string | null;
  commit: string | null;
  stoppedBy: string | null;
  waves: { index: number; state: string; nodes: { site: string; node: string; hash: string; result: string; error?: string }[] }[];
}

function usage(message: string): FieldmeshError {
  return new FieldmeshError('FM_CLI_USAGE', message);
}

const NO_CONFIG_REPO = 'reconciles no configuration repository (hub.yaml has no configRepo:)';

/** A request to the hub's config API; answers `data`, or throws a FieldmeshError that says what to do. */
function configRequest<T>(hub: string, token: HubToken | undefined, path: string, body?: unknown): Promise<T> {
  return hubRequest<T>(hub, token, path, { ...(body === undefined ? {} : { body }), missingRoute: NO_CONFIG_REPO });
}

const short = (hash: string | null | undefined) => (hash === null || hash === undefined ? '-' : hash.slice(0, 12));

function revisionLine(label: string, r: Revision | null, now: number): string {
  if (r === null) return `${label}: none`;
  return `${label}: ${short(r.commit ?? r.revision)}${r.commit === null ? ' (folder content hash)' : ''}, read ${formatAge(now - r.at)}`;
}

/** The header of `status` and `sync`: source, revisions, the refusal with every problem. */
export function formatSummary(s: Summary, now: number): string {
  const lines = [
    `source: ${s.source} (rollout ${s.rollout})`,
    revisionLine('current revision', s.lastRead, now),
    revisionLine('last good', s.lastGood, now),
  ];
  if (s.lastRefused !== null) {
    lines.push(
      `${s.refused ? 'REFUSED' : 'last refused'}: ${short(s.lastRefused.commit ?? s.lastRefused.revision)} (${s.lastRefused.problems.length} problem${s.lastRefused.problems.length === 1 ? '' : 's'}; no node got anything from it)`,
    );
    for (const p of s.lastRefused.problems.slice(0, s.refused ? 50 : 5))
      lines.push(`  ${p.file}:${p.line}:${p.col}: ${p.path}: ${p.message}`);
  }
  if (s.lastError !== null) lines.push(`read error: ${s.lastError.message} (${formatAge(now - s.lastError.at)})`);
  if (s.awaitingApply) lines.push('a new revision waits for `fieldmesh config apply` (rollout: manual)');
  const counts = Object.entries(s.nodes.states)
    .filter(([, n]) => n > 0)
    .map(([k, n]) => `${n} ${k}`)
    .join(', ');
  lines.push(`nodes: ${s.nodes.total}${counts === '' ? '' : ` (${counts})`}${s.nodes.drift > 0 ? `, ${s.nodes.drift} drifted` : ''}`);
  return lines.join('\n');
}

/** The DRIFT column: why, in a few words (`hand-edit: store, collectors`, `unissued hash 3f2c9e1d7a40`). */
export function driftText(n: Pick<NodeView, 'drift' | 'driftReason'>): string {
  if (!n.drift) return '';
  const r = n.driftReason;
  if (r === undefined || r === null) return 'yes';
  return r.kind === 'hand-edit' ? `hand-edit: ${r.keys.join(', ')}` : `unissued hash ${short(r.hash)}`;
}

export function formatNodes(nodes: readonly NodeView[], now: number): string {
  const rows = [['NODE', 'STATE', 'DRIFT', 'DESIRED', 'REPORTED', 'REPORT', 'WHEN']];
  for (const n of nodes) {
    const r = n.reported;
    const report =
      r === null
        ? '-'
        : r.kind === 'rejected'
          ? `rejected (${r.stage}: ${(r.error ?? '').slice(0, 60)})`
          : r.pendingRestart.length > 0
            ? `applied, restart for ${r.pendingRestart.join(',')}`
            : 'applied';
    rows.push([
      `${n.site}/${n.node}`,
      n.state,
      driftText(n),
      short(n.desired?.hash),
      short(r?.hash),
      report,
      r === null ? '-' : formatAge(now - r.at),
    ]);
  }
  return formatTable(rows);
}

/** `1,5,all` -> [1, 5] (the rest is the last wave); `size:10` -> {size: 10}. Throws FM_CLI_USAGE. */
export function parseWaves(text: string): number[] | { size: number } {
  const size = /^size:(\d+)$/.exec(text.trim());
  if (size !== null && Number(size[1]) >= 1) return { size: Number(size[1]) };
  const parts = text.split(',').map((p) => p.trim());
  const sizes: number[] = [];
  for (const [i, p] of parts.entries()) {
    if (p === 'all' && i === parts.length - 1) break;
    if (!/^\d+$/.test(p) || Number(p) < 1)
      throw usage(`--waves ${JSON.stringify(text)}: expected wave sizes like 1,5,all (all: the rest) or size:10`);
    sizes.push(Number(p));
  }
  return sizes;
}

/** `--target`: node:SITE/ID, site:ID, zone:ID, all, a "site/node" glob, or a JSON selector. */
export function parseTarget(text: string): ActionSelector {
  const t = text.trim();
  if (t.startsWith('{')) {
    try {
      return JSON.parse(t) as ActionSelector;
    } catch (err) {
      throw usage(`--target: not JSON: ${(err as Error).message}`);
    }
  }
  if (t === 'all') return { all: true };
  const m = /^(node|site|zone):(.+)$/.exec(t);
  if (m?.[1] === 'node') {
    if (!/^[^/]+\/[^/]+$/.test(m[2] as string)) throw usage(`--target ${t}: a node is node:SITE/ID`);
    return { nodes: [m[2] as string] };
  }
  if (m?.[1] === 'site') return { sites: [m[2] as string] };
  if (m?.[1] === 'zone') return { zones: [m[2] as string] };
  if (t.includes('/')) return { match: t };
  throw usage(`--target ${JSON.stringify(t)}: expected node:SITE/ID, site:ID, zone:ID, all, a "site/node" glob or a JSON selector`);
}

export function formatRun(run: Run): string {
  const rows = [['WAVE', 'NODE', 'RESULT', 'HASH', 'ERROR']];
  for (const w of run.waves)
    for (const n of w.nodes) rows.push([String(w.index + 1), `${n.site}/${n.node}`, n.result, short(n.hash), n.error ?? '']);
  const took = run.finishedAt === null ? '' : ` in ${((run.finishedAt - run.startedAt) / 1000).toFixed(1)} s`;
  const head = `apply ${short(run.commit ?? run.revision)}: ${run.waves.length} wave${run.waves.length === 1 ? '' : 's'}, ${run.state}${took}`;
  return [head, ...(run.stoppedBy === null ? [] : [`stopped at ${run.stoppedBy}`]), formatTable(rows)].join('\n');
}

function fail(io: CliIo, err: unknown, flags: HubFlags, token: HubToken | undefined): void {
  io.err(errorText(isFieldmeshError(err) ? explainHubAuthError(err, flags.hub, token) : err));
  process.exitCode = 2;
}

function hubOptions(command: Command): Command {
  return command
    .option('--hub <url>', 'hub base URL', process.env.FIELDMESH_HUB_URL ?? 'http://127.0.0.1:18800')
    .option('--json', 'print the answer as JSON')
    .addOption(tokenOption())
    .addOption(tokenFileOption());
}

/** Adds status, sync and apply to `fieldmesh config`. */
export function registerConfigHub(config: Command, io: CliIo): void {
  hubOptions(
    config
      .command('status')
      .description("the hub's configuration rollout: revisions, refusals and each node's state; exit 1 when a node failed or drifted"),
  ).action(async (flags: HubFlags) => {
    let token: HubToken | undefined;
    try {
      token = resolveHubToken(flags, process.env);
      const summary = await configRequest<Summary>(flags.hub, token, '/api/v1/config');
      const { nodes } = await configRequest<{ nodes: NodeView[] }>(flags.hub, token, '/api/v1/config/nodes');
      const now = Date.now();
      io.out(
        flags.json === true
          ? JSON.stringify({ ...summary, nodes }, null, 2)
          : `${formatSummary(summary, now)}\n\n${formatNodes(nodes, now)}`,
      );
      process.exitCode = summary.refused || nodes.some((n) => n.state === 'failed' || n.drift) ? 1 : 0;
    } catch (err) {
      fail(io, err, flags, token);
    }
  });

  hubOptions(
    config
      .command('sync')
      .description('make the hub read its configuration repository now (git fetch, or the folder); exit 1 when the revision is refused'),
  ).action(async (flags: HubFlags) => {
    let token: HubToken | undefined;
    try {
      token = resolveHubToken(flags, process.env);
      const summary = await configRequest<Summary>(flags.hub, token, '/api/v1/config/sync', {});
      io.out(flags.json === true ? JSON.stringify(summary, null, 2) : formatSummary(summary, Date.now()));
      process.exitCode = summary.refused ? 1 : 0;
    } catch (err) {
      fail(io, err, flags, token);
    }
  });

  hubOptions(
    config
      .command('apply')
      .description("roll the hub's last good revision out, in waves, stopping at the first failing wave; exit 1 when it stopped")
      .option('--waves <sizes>', 'wave sizes, e.g. 1,5,all (all: the rest) or size:10 (default: one wave)')
      .option('--pause <duration>', 'pause between waves, e.g. 30s', '0s')
      .option('--timeout <duration>', "how long a wave waits for each node's report (default: the hub's configRepo.applyTimeout)")
      .option('--target <target>', 'only these nodes: node:SITE/ID, site:ID, zone:ID, all, a "site/node" glob, or a JSON selector'),
  ).action(async (flags: HubFlags & { waves?: string; pause: string; timeout?: string; target?: string }) => {
    let token: HubToken | undefined;
    try {
      token = resolveHubToken(flags, process.env);
      const pauseMs = parseDurationMs(flags.pause);
      if (pauseMs === undefined) throw usage(`--pause ${JSON.stringify(flags.pause)}: expected a duration like 30s`);
      const timeoutMs = flags.timeout === undefined ? undefined : parseDurationMs(flags.timeout);
      if (timeoutMs === undefined && flags.timeout !== undefined)
        throw usage(`--timeout ${JSON.stringify(flags.timeout)}: expected a duration like 2m`);
      const body = {
        ...(flags.waves === undefined ? {} : { waves: parseWaves(flags.waves) }),
        ...(flags.target === undefined ? {} : { target: parseTarget(flags.target) }),
        pauseMs,
        ...(timeoutMs === undefined ? {} : { timeoutMs }),
      };
      let run = await configRequest<Run>(flags.hub, token, '/api/v1/config/apply', body);
      const tty = process.stderr.isTTY === true && flags.json !== true;
      let shown = '';
      while (run.state === 'running') {
        const line = run.waves
          .map((w) => `wave ${w.index + 1}: ${w.nodes.filter((n) => n.result !== 'waiting').length}/${w.nodes.length} ${w.state}`)
          .join(' | ');
        if (tty && line !== shown) process.stderr.write(`\r${line}`);
        shown = line;
        await new Promise((r) => setTimeout(r, POLL_INTERVAL_MS));
        const summary = await configRequest<Summary>(flags.hub, token, '/api/v1/config');
        if (summary.lastRun?.id !== run.id)
          throw new FieldmeshError(
            'FM_ACTION_CONFLICT',
            `another apply (${summary.lastRun?.id ?? 'none'}) started on the hub; run ${run.id} is no longer shown`,
          );
        run = summary.lastRun;
      }
      if (tty && shown !== '') process.stderr.write('\n');
      io.out(flags.json === true ? JSON.stringify(run, null, 2) : formatRun(run));
      process.exitCode = run.state === 'stopped' ? 1 : 0;
    } catch (err) {
      fail(io, err, flags, token);
    }
  });
}
