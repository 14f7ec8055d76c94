// fieldmesh config validate|render|nodes: the configuration repository (docs/config-as-code.md) checked
// as a whole, one node's effective config with the file and line that set each value, and the nodes
// with their content address. Exit codes: 0 valid, 1 problems (each listed), 2 unreadable or usage. render
// shows secrets as <redacted> (their provenance kept) unless --show-secrets.

import type { Command } from 'commander';
import {
  type AlertRuleFile,
  type ConfigRepo,
  type ConfigRepoProblem,
  checkAlertRuleFile,
  formatPath,
  formatProblem,
  leaves,
  loadConfigRepo,
  parseConfigFile,
  renderAnnotatedYaml,
  renderNode,
  validateConfigRepo,
} from '../fleet-config/index.js';
import { parseRuleFile } from '../hub/index.js';
import { isFieldmeshError, redactSecrets } from '../kit/index.js';
import { registerConfigDiff } from './config-diff.js';
import { registerConfigHub } from './config-hub.js';
import { type CliIo, errorText } from './io.js';

/** The hub's own rule-file loader as the repository's alert check: expressions and templates too. */
export function hubAlertFileValidator(file: AlertRuleFile): ConfigRepoProblem[] {
  const shape = checkAlertRuleFile(file);
  if (shape.some((p) => p.kind === 'syntax')) return shape;
  try {
    parseRuleFile(file.text, file.file);
    return [];
  } catch (err) {
    const problems = isFieldmeshError(err, 'FM_CONFIG_INVALID')
      ? (err.details.problems as { path: string; message: string; line?: number }[])
      : undefined;
    if (problems === undefined)
      return [...shape, { kind: 'alerts', file: file.file, line: 1, col: 1, path: '(root)', message: (err as Error).message }];
    const tree = parseConfigFile(file.text, file.file, 'fleet').tree;
    const positions = new Map(tree === undefined ? [] : leaves(tree).map((l) => [formatPath(l.path), l.at]));
    return problems.map((p) => {
      const at = positions.get(p.path);
      return { kind: 'alerts', file: file.file, line: at?.line ?? p.line ?? 1, col: at?.col ?? 1, path: p.path, message: p.message };
    });
  }
}

/** Runs a command body; an unreadable repository or an unknown node exits 2 with one line. */
function guarded(io: CliIo, body: () => number): void {
  try {
    process.exitCode = body();
  } catch (err) {
    if (isFieldmeshError(err, 'FM_FLEET_CONFIG_UNREADABLE') || isFieldmeshError(err, 'FM_FLEET_CONFIG_NODE_UNKNOWN')) {
      io.err(errorText(err));
      process.exitCode = 2;
      return;
    }
    throw err;
  }
}

function load(dir: string | undefined): ConfigRepo {
  return loadConfigRepo(dir ?? '.');
}

export function registerConfig(program: Command, io: CliIo): void {
  const config = program
    .command('config')
    .description('the fleet as code: validate a configuration repository, render a node, list nodes, diff and plan a change');
  registerConfigDiff(config, io);
  registerConfigHub(config, io);
  config
    .command('validate [dir]')
    .description('check every file and every node of a configuration repository (default: the current directory)')
    .option('--json', 'print {valid, problems, nodes} as JSON')
    .action((dir: string | undefined, flags: { json?: boolean }) =>
      guarded(io, () => {
        const repo = load(dir);
        const { problems, nodes } = validateConfigRepo(repo, { validateAlertFile: hubAlertFileValidator });
        if (flags.json === true) {
          io.out(
            JSON.stringify(
              { valid: problems.length === 0, problems, nodes: nodes.map((n) => ({ node: n.nodeId, hash: n.configHash })) },
              null,
              2,
            ),
          );
        } else if (problems.length === 0) {
          io.out(
            `${repo.root}: valid (${repo.layout} layout): ${nodes.length} node(s), ${repo.siteMetadata.length} site(s), ${repo.consensusZones.length} consensus zone(s), ${repo.alertFiles.length} alert file(s)`,
          );
        } else {
          for (const p of problems) io.err(formatProblem(p));
          io.err(`${problems.length} problem(s) in ${repo.root}`);
        }
        return problems.length === 0 ? 0 : 1;
      }),
    );
  config
    .command('render <node>')
    .description("print a node's effective config, each value with the file and line that set it")
    .option('--repo <dir>', 'the configuration repository', '.')
    .option('--json', 'print {config, provenance, hash} as JSON')
    .option('--show-secrets', 'print passwords, tokens and URL passwords as they are (default: <redacted>)')
    .action((nodeId: string, flags: { repo: string; json?: boolean; showSecrets?: boolean }) =>
      guarded(io, () => {
        const rendered = renderNode(load(flags.repo), nodeId);
        // The hash is the real config's: what the node will report, whatever is shown.
        const shown = flags.showSecrets === true ? rendered.config : redactSecrets(rendered.config);
        if (flags.json === true) {
          io.out(JSON.stringify({ config: shown, provenance: rendered.provenance, hash: rendered.configHash }, null, 2));
        } else {
          io.out(`# node ${rendered.nodeId} (site ${rendered.site}, zone ${rendered.zone}) sha256:${rendered.configHash}`);
          io.out(renderAnnotatedYaml(shown, rendered.provenance));
        }
        for (const p of rendered.problems) io.err(formatProblem(p));
        return rendered.problems.length === 0 ? 0 : 1;
      }),
    );
  config
    .command('nodes [dir]')
    .description('list the nodes of a configuration repository with their site, zone and config hash')
    .option('--json', 'print a JSON list')
    .action((dir: string | undefined, flags: { json?: boolean }) =>
      guarded(io, () => {
        const { nodes } = validateConfigRepo(load(dir), { validateAlertFile: () => [] });
        if (flags.json === true) {
          io.out(
            JSON.stringify(
              nodes.map((n) => ({ node: n.nodeId, site: n.site, zone: n.zone, hash: n.configHash, valid: n.problems.length === 0 })),
              null,
              2,
            ),
          );
        } else {
          const rows = [
            ['NODE', 'SITE', 'ZONE', 'HASH', 'VALID'],
            ...nodes.map((n) => [
              n.nodeId,
              n.site,
              n.zone,
              n.configHash.slice(0, 12),
              n.problems.length === 0 ? 'yes' : `no (${n.problems.length})`,
            ]),
          ];
          const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length))) ?? [];
          for (const r of rows)
            io.out(
              r
                .map((c, i) => c.padEnd(widths[i] ?? 0))
                .join('  ')
                .trimEnd(),
            );
        }
        return nodes.every((n) => n.problems.length === 0) ? 0 : 1;
      }),
    );
}
