// `fieldmesh node --config node.yaml`: runs the edge agent; `fieldmesh node service ...` (node-service.ts)
// acts on a running node's services.

import type { Command } from 'commander';
import {
  AGENT_ENV_ALIASES,
  agentConfigSchema,
  type ConfigSource,
  configSourceOf,
  createAgent,
  resolveStartupConfig,
  seedEnvironment,
} from '../agent/index.js';
import { FieldmeshError } from '../kit/index.js';
import { LOG_LEVELS } from '../protocol/index.js';
import { loadConfigFile } from './config-file.js';
import type { CliIo } from './io.js';
import { createCliLogger } from './logger.js';
import { CONFIG_SOURCES, repoRenderer } from './node-config.js';
import { registerNodeService } from './node-service.js';
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
      const config = loadConfigFile(agentConfigSchema, opts.config ?? env.FIELDMESH_CONFIG, env, AGENT_ENV_ALIASES);
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
      // [FM-CONFIG-DIST] The last good distributed config, when there is one, with node.yaml's local keys.
      const source: ConfigSource = configSourceOf(config, cliSource);
      const startup = resolveStartupConfig(config, source, createCliLogger(wanted), Date.now());
      const agent = createAgent(startup.config, {
        logger,
        ...(logLevel === undefined ? {} : { logLevel }),
        reconcile: {
          local: config,
          source,
          running: startup.running,
          ...(startup.lastGood !== undefined ? { lastGood: startup.lastGood } : {}),
          renderSelf: repoRenderer(config),
        },
      });
      const { httpUrl } = await agent.start();
      // SIGHUP: pull the repository clone and reconcile now (source repo).
      process.on('SIGHUP', () => void agent.reconcile.reconcileNow());
      io.out(
        `fieldmesh node ${config.node.site}/${config.node.id} (boot ${agent.epoch}) -> ${config.mqtt.enabled ? config.mqtt.url : 'no broker'}${httpUrl ? `; HTTP ${httpUrl}` : ''}`,
      );
      await stopOnSignals(() => agent.stop());
    });
  // `fieldmesh node service ...` talks to a running node; `fieldmesh node` without a subcommand runs one.
  registerNodeService(node, io);
}
