// `fieldmesh broker --config broker.yaml`: runs the embedded MQTT broker (TCP, WebSocket, TLS) and its /metrics.

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
      const urls = [started.mqttUrl, started.wsUrl, started.mqttsUrl, started.wssUrl].filter((u) => u !== undefined);
      io.out(`fieldmesh broker on ${urls.join(' and ')}${started.metricsUrl ? `; metrics ${started.metricsUrl}` : ''}`);
      await stopOnSignals(() => broker.stop());
    });
}
