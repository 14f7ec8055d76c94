// `fieldmesh node --config node.yaml`: runs the edge agent; `fieldmesh node service ...` (node-service.ts)
// acts on a running node's services.

import type { Command } from 'commander';
import { AGENT_ENV_ALIASES, agentConfigSchema, createAgent, seedEnvironment } from '../agent/index.js';
import { LOG_LEVELS } from '../protocol/index.js';
import { loadConfigFile } from './config-file.js';
import type { CliIo } from './io.js';
import { createCliLogger } from './logger.js';
import { registerNodeService } from './node-service.js';
import { stopOnSignals } from './signals.js';

export function registerNode(program: Command, io: CliIo): void {
  const node = program
    .command('node')
    .description('run the edge agent: collect, keep, and share the critical part with the hub')
    .option('-c, --config <file>', 'node.yaml (FIELDMESH_CONFIG); FIELDMESH_* variables override it')
    .option('--check', 'validate the configuration and exit')
    .action(async (opts: { config?: string; check?: boolean }) => {
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
      const agent = createAgent(config, { logger, ...(logLevel === undefined ? {} : { logLevel }) });
      const { httpUrl } = await agent.start();
      io.out(
        `fieldmesh node ${config.node.site}/${config.node.id} (boot ${agent.epoch}) -> ${config.mqtt.enabled ? config.mqtt.url : 'no broker'}${httpUrl ? `; HTTP ${httpUrl}` : ''}`,
      );
      await stopOnSignals(() => agent.stop());
    });
  // `fieldmesh node service ...` talks to a running node; `fieldmesh node` without a subcommand runs one.
  registerNodeService(node, io);
}
