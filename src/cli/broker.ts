// `fieldmesh broker --config broker.yaml`: runs the embedded MQTT broker (TCP and WebSocket).

import type { Command } from 'commander';
import { brokerConfigSchema, createBroker } from '../broker/index.js';
import { loadConfigFile } from './config-file.js';
import type { CliIo } from './io.js';
import { createCliLogger } from './logger.js';
import { stopOnSignals } from './signals.js';

export function registerBroker(program: Command, io: CliIo): void {
  program
    .command('broker')
    .description('run the embedded MQTT broker with per-node credentials and topic ACLs')
    .option('-c, --config <file>', 'broker.yaml (FIELDMESH_CONFIG); FIELDMESH_* variables override it')
    .option('--check', 'validate the configuration and exit')
    .action(async (opts: { config?: string; check?: boolean }) => {
      const config = loadConfigFile(brokerConfigSchema, opts.config ?? process.env.FIELDMESH_CONFIG, process.env);
      if (opts.check) {
        io.out(`${opts.config ?? 'configuration'}: valid`);
        return;
      }
      const broker = createBroker(config, { logger: createCliLogger() });
      const started = await broker.start();
      io.out(`fieldmesh broker on ${started.mqttUrl}${started.wsUrl ? ` and ${started.wsUrl}` : ''}`);
      await stopOnSignals(() => broker.stop());
    });
}
