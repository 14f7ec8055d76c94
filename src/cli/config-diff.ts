// fieldmesh config diff|plan: per node, what changes between two revisions of the configuration repository
// (git revisions read with `git show`, or two folders), which layer set each new value, whether it applies
// live or needs a restart, and (plan) the bytes per second on each node's link before and after, from the
// planes' cost model (estimateLinkCost). Exit codes: 0 no change, 1 changes, 2 a side unreadable or invalid.
// A changed secret shows as changed, its values redacted (docs/security.md).

import type { Command } from 'commander';
import {
  type ConfigSource,
  describeSource,
  diffRenderedNodes,
  estimateLinkCost,
  formatProblem,
  formatValue,
  isGitWorkTree,
  type LeafChange,
  type LinkCost,
  loadSource,
  type NodeDiff,
  type RenderedNode,
  validateConfigRepo,
} from '../fleet-config/index.js';
import { FieldmeshError, isFieldmeshError, isSecretKey, REDACTED, redactSecrets } from '../kit/index.js';
import { hubAlertFileValidator } from './config.js';
import { type CliIo, errorText } from './io.js';

interface DiffFlags {
  readonly repo?: string;
  readonly from?: string;
  readonly to?: string;
  readonly json?: boolean;
}

/** The two sides from the arguments: `[FROM [TO]]` revisions of --repo (default HEAD and the working tree), or --from/--to folders. */
export function diffSources(revs: readonly string[], flags: DiffFlags): { from: ConfigSource; to: ConfigSource } {
  const dir = flags.repo ?? '.';
  if (flags.from !== undefined || flags.to !== undefined) {
    if (flags.from === undefined || flags.to === undefined || revs.length > 0) {
      throw new FieldmeshError('FM_CLI_USAGE', 'give both --from DIR and --to DIR, and no revisions');
    }
    return { from: { kind: 'dir', dir: flags.from }, to: { kind: 'dir', dir: flags.to } };
  }
  if (revs.length > 2) throw new FieldmeshError('FM_CLI_USAGE', 'at most two revisions: FROM [TO]');
  if (!isGitWorkTree(dir)) {
    throw new FieldmeshError(
      'FM_FLEET_CONFIG_UNREADABLE',
      `${dir}: not a git repository: give revisions of a git repository with --repo, or two folders with --from and --to`,
      { details: { dir } },
    );
  }
  const [fromRev = 'HEAD', toRev] = revs;
  return { from: { kind: 'git', dir, rev: fromRev }, to: toRev === undefined ? { kind: 'dir', dir } : { kind: 'git', dir, rev: toRev } };
}

interface Side {
  readonly label: string;
  readonly nodes: readonly RenderedNode[];
  readonly problems: readonly string[];
}

function renderSide(source: ConfigSource): Side {
  const label = source.kind === 'dir' ? `${source.dir} (working tree)` : describeSource(source);
  const repo = loadSource(source);
  if (repo === undefined) return { label, nodes: [], problems: [] };
  const { problems, nodes } = validateConfigRepo(repo, { validateAlertFile: hubAlertFileValidator });
  return { label, nodes, problems: problems.map(formatProblem) };
}

export interface NodePlan extends NodeDiff {
  readonly linkBefore?: LinkCost;
  readonly linkAfter?: LinkCost;
}

/** A change as printed: a secret's old and new values redacted (that it changed still shows), URLs without their passwords. */
export function redactChange(c: LeafChange): LeafChange {
  const secret = isSecretKey(/([A-Za-z][A-Za-z0-9_-]*)$/.exec(c.path)?.[1] ?? '');
  const shown = (v: unknown) => (secret ? REDACTED : redactSecrets(v));
  return { ...c, ...('from' in c ? { from: shown(c.from) } : {}), ...('to' in c ? { to: shown(c.to) } : {}) };
}

function planOf(diffs: readonly NodeDiff[], from: Side, to: Side): NodePlan[] {
  const before = new Map(from.nodes.map((n) => [n.nodeId, n]));
  const after = new Map(to.nodes.map((n) => [n.nodeId, n]));
  return diffs.map((d) => {
    const a = before.get(d.nodeId)?.parsed;
    const b = after.get(d.nodeId)?.parsed;
    return {
      ...d,
      ...(a === undefined ? {} : { linkBefore: estimateLinkCost(a) }),
      ...(b === undefined ? {} : { linkAfter: estimateLinkCost(b) }),
    };
  });
}

function where(c: NodeDiff['changes'][number]): string {
  return c.setBy === undefined ? '' : `  (${c.change === 'removed' ? 'was ' : ''}${c.setBy.file}:${c.setBy.line})`;
}

function printNode(io: CliIo, d: NodePlan, plan: boolean): void {
  const head = `node ${d.nodeId} (site ${d.site}, zone ${d.zone})`;
  const bps = (c: LinkCost | undefined) => (c === undefined ? '-' : `${c.totalBps} B/s`);
  const link = plan ? `; link ${bps(d.linkBefore)} -> ${bps(d.linkAfter)}` : '';
  if (d.status === 'added') io.out(`${head}: added${plan ? `; link ${bps(d.linkAfter)}` : ''}`);
  else if (d.status === 'removed') io.out(`${head}: removed`);
  else if (d.status === 'unchanged') {
    if (plan) io.out(`${head}: unchanged${link}`);
  } else {
    const mode = plan ? (d.restart ? '; needs a restart' : '; all live') : '';
    io.out(`${head}: ${d.changes.length} change(s)${mode}${link}`);
    if (plan && d.linkBefore !== undefined && d.linkAfter !== undefined) {
      const a = d.linkBefore;
      const b = d.linkAfter;
      io.out(
        `  link by plane: live ${a.liveBps} -> ${b.liveBps}, awareness ${a.awarenessBps} -> ${b.awarenessBps}, durable ${a.durableBps} -> ${b.durableBps} B/s`,
      );
    }
    for (const c of d.changes) {
      const sign = c.change === 'added' ? '+' : c.change === 'removed' ? '-' : '~';
      const values =
        c.change === 'added'
          ? formatValue(c.to)
          : c.change === 'removed'
            ? formatValue(c.from)
            : `${formatValue(c.from)} -> ${formatValue(c.to)}`;
      io.out(`  ${sign} ${c.path}: ${values}${where(c)}${plan ? `  [${c.apply}]` : ''}`);
    }
  }
}

function summary(diffs: readonly NodeDiff[]): string {
  const n = (s: NodeDiff['status']) => diffs.filter((d) => d.status === s).length;
  return `${n('changed')} node(s) changed, ${n('added')} added, ${n('removed')} removed, ${n('unchanged')} unchanged`;
}

function run(io: CliIo, revs: readonly string[], flags: DiffFlags, plan: boolean): number {
  const { from, to } = diffSources(revs, flags);
  const sides = [renderSide(from), renderSide(to)] as const;
  const invalid = sides.filter((s) => s.problems.length > 0);
  if (invalid.length > 0) {
    if (flags.json === true)
      io.out(JSON.stringify({ error: 'invalid', sides: invalid.map((s) => ({ side: s.label, problems: s.problems })) }, null, 2));
    for (const s of invalid) {
      io.err(`${s.label}: ${s.problems.length} problem(s)`);
      for (const p of s.problems) io.err(`  ${p}`);
    }
    return 2;
  }
  const [a, b] = sides;
  const diffs = diffRenderedNodes(a.nodes, b.nodes).map((d) => ({ ...d, changes: d.changes.map(redactChange) }));
  const nodes: NodePlan[] = plan ? planOf(diffs, a, b) : diffs;
  const changed = nodes.some((d) => d.status !== 'unchanged');
  if (flags.json === true) {
    io.out(JSON.stringify({ from: a.label, to: b.label, changed, nodes }, null, 2));
  } else {
    io.out(`# ${a.label} -> ${b.label}`);
    for (const d of nodes) printNode(io, d, plan);
    io.out(summary(nodes));
    if (plan) {
      const costs = nodes.flatMap((d) => [d.linkBefore, d.linkAfter]).filter((c): c is LinkCost => c !== undefined);
      const notes = [...new Set(costs.flatMap((c) => c.assumptions))];
      if (notes.length > 0) io.out(`link cost assumptions:\n${notes.map((n) => `  - ${n}`).join('\n')}`);
    }
  }
  return changed ? 1 : 0;
}

function guarded(io: CliIo, body: () => number): void {
  try {
    process.exitCode = body();
  } catch (err) {
    if (isFieldmeshError(err, 'FM_FLEET_CONFIG_UNREADABLE') || isFieldmeshError(err, 'FM_CLI_USAGE')) {
      io.err(errorText(err));
      process.exitCode = 2;
      return;
    }
    throw err;
  }
}

export function registerConfigDiff(config: Command, io: CliIo): void {
  const options = (c: Command) =>
    c
      .option('--repo <dir>', 'the configuration repository (a git working tree for revisions)', '.')
      .option('--from <dir>', 'compare two folders: the old one')
      .option('--to <dir>', 'compare two folders: the new one')
      .option('--json', 'print {from, to, changed, nodes} as JSON');
  options(
    config
      .command('diff [revisions...]')
      .description('per node, what changes between two revisions (FROM [TO]; default HEAD and the working tree) or two folders'),
  ).action((revs: string[], flags: DiffFlags) => guarded(io, () => run(io, revs, flags, false)));
  options(
    config
      .command('plan [revisions...]')
      .description('the diff, with live or restart per change and each node link cost in bytes per second before and after'),
  ).action((revs: string[], flags: DiffFlags) => guarded(io, () => run(io, revs, flags, true)));
}
