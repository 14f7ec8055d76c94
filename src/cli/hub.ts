// `fieldmesh hub --config hub.yaml`: runs the hub (fleet state, storage, API, live page); `hub user` and
// `hub token` manage the console's users and API tokens (hub-auth.ts), `hub nodes` registrations (hub-nodes.ts).

import type { Command } from 'commander';
import { type HubConfig, hubConfigSchema, openHub, readRuleFiles } from '../hub/index.js';
import { redactUrl } from '../kit/index.js';
import { loadConfigFile } from './config-file.js';
import { type PasswordIo, registerHubAuthCommands } from './hub-auth.js';
import { registerHubBackupCommands } from './hub-backup.js';
import { renderConfigRepoFiles } from './hub-config-repo.js';
import { registerHubNodesCommands } from './hub-nodes.js';
import type { CliIo } from './io.js';
import { createCliLogger } from './logger.js';
import { otelVariables } from './otel-env.js';
import { stopOnSignals } from './signals.js';

function counted(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}

/**
 * Loads `alerts.ruleFiles` with the hub's own loader, so `--check` fails (FM_CONFIG_INVALID or
 * FM_CONFIG_UNREADABLE, with file, path and line) exactly when the hub would fail at start; says what
 * it checked ("3 rules in 1 file"), or undefined when there are no rule files.
 */
export function checkRuleFiles(alerts: HubConfig['alerts']): string | undefined {
  const files = alerts.ruleFiles;
  if (files.length === 0) return undefined;
  if (!alerts.enabled) return `alerts.enabled is false: ${counted(files.length, 'rule file')} not loaded`;
  // Nothing is evaluated here: the rules are only parsed, alerting and recording, as the hub parses them.
  const { alerting, recording } = readRuleFiles(files);
  const recorded = recording.length === 0 ? '' : ` (${recording.length} recording)`;
  return `${counted(alerting.length + recording.length, 'rule')}${recorded} in ${counted(files.length, 'file')}`;
}

export function registerHub(program: Command, io: CliIo & PasswordIo): void {
  const hubCommand = program
    .command('hub')
    .description('run the hub: fleet state, critical-metric history, HTTP API and live page')
    .option('-c, --config <file>', 'hub.yaml (FIELDMESH_CONFIG); FIELDMESH_* variables override it')
    .option('--check', 'validate the configuration and the alert rule files, and exit')
    .option('--storage <url>', 'postgres://... : the hub stores in PostgreSQL (storage.url, FIELDMESH_STORAGE__URL)')
    .option('--queue <url>', 'nats://host:port[,...]: durable frames through NATS JetStream (queue.url, FIELDMESH_QUEUE__URL)')
    .option('--roles <roles>', 'what this process of a scale-out hub does: ingest, worker, api, comma-separated (roles)')
    .option('--otlp-endpoint <url>', 'OpenTelemetry traces to this OTLP/HTTP collector (tracing.endpoint, OTEL_EXPORTER_OTLP_ENDPOINT)')
    .action(async (opts: { config?: string; check?: boolean; storage?: string; queue?: string; roles?: string; otlpEndpoint?: string }) => {
      // Flags win over the file and the variables: they are variables of the highest rank. OpenTelemetry's own
      // variables rank below FIELDMESH_* ones.
      const env = {
        ...otelVariables(process.env),
        ...process.env,
        ...(opts.storage === undefined ? {} : { FIELDMESH_STORAGE__URL: opts.storage }),
        ...(opts.queue === undefined ? {} : { FIELDMESH_QUEUE__URL: opts.queue }),
        ...(opts.roles === undefined ? {} : { FIELDMESH_ROLES: `[${opts.roles}]` }),
        ...(opts.otlpEndpoint === undefined ? {} : { FIELDMESH_TRACING__ENDPOINT: opts.otlpEndpoint }),
      };
      const config = loadConfigFile(hubConfigSchema, opts.config ?? process.env.FIELDMESH_CONFIG, env);
      if (opts.check) {
        const rules = checkRuleFiles(config.alerts);
        io.out(`${opts.config ?? 'configuration'}: valid${rules === undefined ? '' : ` (${rules})`}`);
        return;
      }
      const logger = createCliLogger();
      const hub = await openHub(config, {
        logger,
        configRepoRenderer: renderConfigRepoFiles,
        // A scale-out leader that lost its lease exits (75, EX_TEMPFAIL); its service manager starts it as a follower.
        onLeadershipLost: () => {
          void hub.stop().finally(() => process.exit(75));
        },
      });
      const { httpUrl } = await hub.start();
      io.out(`fieldmesh hub -> ${redactUrl(config.mqtt.url)}; console ${httpUrl}/`);
      await stopOnSignals(() => hub.stop());
    });
  registerHubAuthCommands(hubCommand, io);
  registerHubNodesCommands(hubCommand, io);
  registerHubBackupCommands(hubCommand, io);
}
