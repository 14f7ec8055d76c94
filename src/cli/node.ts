// `fieldmesh node --config node.yaml`: runs the edge agent; `fieldmesh node service ...` (node-service.ts)
// acts on a running node's services. When the hub assigns the node a site and zone at approval [FM-ASSIGN-4],
// the agent is stopped cleanly and started again under them, in this process.

import type { Command } from 'commander';
import {
  AGENT_ENV_ALIASES,
  type Agent,
  agentConfigSchema,
  type ConfigSource,
  configSourceOf,
  createAgent,
  resolveAssignedIdentity,
  resolveStartupConfig,
  seedEnvironment,
} from '../agent/index.js';
import { describeError, FieldmeshError, redactUrl } from '../kit/index.js';
import { LOG_LEVELS } from '../protocol/index.js';
import { loadConfigFile } from './config-file.js';
import type { CliIo } from './io.js';
import { createCliLogger } from './logger.js';
import { CONFIG_SOURCES, repoRenderer } from './node-config.js';
import { registerNodeService } from './node-service.js';
import { nodeYamlFile } from './node-yaml.js';
import { stopOnSignals } from './signals.js';

export function registerNode(program: Command, io: CliIo): void {
  const node = program
    .command('node')
    .description('run the edge agent: collect, keep, and share the critical part with the hub')
    .option('-c, --config <file>', 'node.yaml (FIELDMESH_CONFIG); FIELDMESH_* variables override it')
    .option('--check', 'validate the configuration and exit')
    .option('--config-source <source>', 'hub (apply the config a hub publishes), repo (reconcile.repo) or file (node.yaml only)')
    .action(async (opts: { config?: string; check?: boolean; configSource?: string }) => {
      const cliSource = CONFIG_SOURCES.find((s) => s === opts.configSource);
      if (opts.configSource !== undefined && cliSource === undefined) {
        throw new FieldmeshError('FM_CLI_USAGE', `--config-source must be ${CONFIG_SOURCES.join(', ')}; got "${opts.configSource}"`);
      }
      const env = seedEnvironment(process.env);
      const file = opts.config ?? env.FIELDMESH_CONFIG;
      const config = loadConfigFile(agentConfigSchema, file, env, AGENT_ENV_ALIASES);
      if (opts.check) {
        io.out(
          `${opts.config ?? 'configuration'}: valid (node ${config.node.site}/${config.node.id}, ${config.collectors.length} collectors)`,
        );
        return;
      }
      // pino lets everything through; the agent's own level filters, so `set-log-level` can lower it too. [FM-QUERY-7]
      const wanted = env.FIELDMESH_LOG_LEVEL ?? 'info';
      const logLevel = LOG_LEVELS.find((l) => l === wanted);
      const logger = createCliLogger(logLevel === undefined ? wanted : 'debug');
      const startupLogger = createCliLogger(wanted);
      const source: ConfigSource = configSourceOf(config, cliSource);
      let restarting: Promise<void> = Promise.resolve();
      let stopping = false;
      let failed: (err: unknown) => void = () => {};
      const restartFailed = new Promise<unknown>((resolve) => {
        failed = resolve;
      });
      // The agent running now: set before it starts, so an assignment that arrives during its start stops it.
      let agent: Agent | undefined;
      const run = async (): Promise<void> => {
        // [FM-ASSIGN-4] The hub's assignment, when the node keeps one, before anything reads the identity (the
        // state dir moves to the assigned site's here).
        const { config: local, assigned } = resolveAssignedIdentity(config, startupLogger);
        // [FM-CONFIG-DIST] The last good distributed config, when there is one, with node.yaml's local keys.
        const startup = resolveStartupConfig(local, source, startupLogger, Date.now());
        const next = createAgent(startup.config, {
          logger,
          ...(logLevel === undefined ? {} : { logLevel }),
          reconcile: {
            local,
            source,
            running: startup.running,
            ...(startup.lastGood !== undefined ? { lastGood: startup.lastGood } : {}),
            renderSelf: repoRenderer(local),
            // Hand edits of node.yaml while a distributed config runs: seen when the file changes.
            ...(file === undefined ? {} : { localFile: nodeYamlFile(file, env) }),
          },
          identity: { nodeYaml: config.node, ...(assigned !== undefined ? { assigned } : {}), onAssigned: () => restart() },
        });
        agent = next;
        const { httpUrl } = await next.start();
        io.out(
          `fieldmesh node ${local.node.site}/${local.node.id} (boot ${next.epoch}) -> ${local.mqtt.enabled ? redactUrl(local.mqtt.url) : 'no broker'}${httpUrl ? `; HTTP ${httpUrl}` : ''}` +
            (assigned === undefined ? '' : `; site and zone assigned by the hub (${assigned.site}, ${assigned.zone})`),
        );
      };
      // A restart waits for the start before it (an assignment may arrive while the agent starts).
      restarting = run();
      await restarting;
      // A clean stop, then a start under the assignment just kept (its topics and its state dir change with it).
      function restart(): void {
        restarting = restarting.then(async () => {
          if (stopping) return;
          await agent?.stop();
          try {
            await run();
          } catch (err) {
            startupLogger.error({ err: describeError(err) }, `identity: the restart under the assignment failed: ${describeError(err)}`);
            failed(err);
          }
        });
      }
      // SIGHUP: pull the repository clone and reconcile now (source repo).
      process.on('SIGHUP', () => void agent?.reconcile.reconcileNow());
      const failure = await Promise.race([
        stopOnSignals(async () => {
          stopping = true;
          await restarting;
          await agent?.stop();
        }).then(() => undefined),
        restartFailed.then((err) => ({ err })),
      ]);
      // The next start applies the kept assignment again; a service manager restarts the node.
      if (failure !== undefined) throw failure.err;
    });
  // `fieldmesh node service ...` talks to a running node; `fieldmesh node` without a subcommand runs one.
  registerNodeService(node, io);
}
