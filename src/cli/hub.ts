// `fieldmesh hub --config hub.yaml`: runs the hub (fleet state, storage, API, live page); `hub user` and
// `hub token` manage the console's users and API tokens (hub-auth.ts).

import type { Command } from 'commander';
import { createHub, hubConfigSchema } from '../hub/index.js';
import { loadConfigFile } from './config-file.js';
import { type PasswordIo, registerHubAuthCommands } from './hub-auth.js';
import type { CliIo } from './io.js';
import { createCliLogger } from './logger.js';
import { stopOnSignals } from './signals.js';

export function registerHub(program: Command, io: CliIo & PasswordIo): void {
  const hubCommand = program
    .command('hub')
    .description('run the hub: fleet state, critical-metric history, HTTP API and live page')
    .option('-c, --config <file>', 'hub.yaml (FIELDMESH_CONFIG); FIELDMESH_* variables override it')
    .option('--check', 'validate the configuration and exit')
    .action(async (opts: { config?: string; check?: boolean }) => {
      const config = loadConfigFile(hubConfigSchema, opts.config ?? process.env.FIELDMESH_CONFIG, process.env);
      if (opts.check) {
        io.out(`${opts.config ?? 'configuration'}: valid`);
        return;
      }
      const hub = createHub(config, { logger: createCliLogger() });
      const { httpUrl } = await hub.start();
      io.out(`fieldmesh hub -> ${config.mqtt.url}; console ${httpUrl}/`);
      await stopOnSignals(() => hub.stop());
    });
  registerHubAuthCommands(hubCommand, io);
}
