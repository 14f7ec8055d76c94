// Builds the alert engine from hub.yaml's `alerts` section: rule files and built-ins bound to the hub's
// series and fleet, the alert store next to the hub's database, and the configured notifiers.

import { dirname, join } from 'node:path';
import type { Registry } from 'prom-client';
import type { Clock, Logger } from '../../kit/index.js';
import type { Transport } from '../../transport/index.js';
import type { HubConfig } from '../config.js';
import type { HubStorage } from '../storage/storage.js';
import type { AlertEvent } from './alert.js';
import { AlertEngine } from './alert-engine.js';
import type { AlertStore } from './alert-store.js';
import { createBuiltinRules } from './builtins.js';
import { createAlertSeriesSource, type FleetView } from './fleet-series.js';
import { compileInhibitRules } from './inhibition.js';
import type { Notifier } from './notifiers/notifier.js';
import { createNotifiers } from './notifiers/registry.js';
import { loadRuleFiles } from './rule-file.js';
import { createSqliteAlertStore } from './sqlite/sqlite-alert-store.js';

export interface AlertEngineDeps {
  readonly fleet: FleetView;
  readonly storage: Pick<HubStorage, 'querySeries'>;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly registry?: Registry;
  readonly topicPrefix: string;
  /** The hub's transport once it exists. */
  readonly transport: () => Transport | undefined;
  /** The URL the hub listens on, once it does ("" before). */
  readonly listenUrl: () => string;
  /** Overrides the SQLite alert store (tests). */
  readonly store?: AlertStore;
  /** Replaces the configured notifiers (tests). */
  readonly notifiers?: readonly Notifier[];
  readonly onEvent?: (event: AlertEvent) => void;
  /** A store other processes share (a scale-out hub's): read again this often besides its change notices. */
  readonly syncIntervalMs?: number;
}

/** alerts.statePath, or alerts.db beside the hub's database (in memory when that is). */
export function alertStatePath(config: Pick<HubConfig, 'alerts' | 'storage'>): string {
  if (config.alerts.statePath !== undefined) return config.alerts.statePath;
  return config.storage.path === ':memory:' ? ':memory:' : join(dirname(config.storage.path), 'alerts.db');
}

/** Throws FM_CONFIG_UNREADABLE or FM_CONFIG_INVALID (every problem, with file and path) for bad rule files. */
export function createAlertEngine(config: Pick<HubConfig, 'alerts' | 'storage'>, deps: AlertEngineDeps): AlertEngine {
  const alerts = config.alerts;
  const source = createAlertSeriesSource(deps.storage, deps.fleet);
  const taken = new Set<string>();
  const rules = [...createBuiltinRules(alerts.builtins, deps.fleet, source, taken), ...loadRuleFiles(alerts.ruleFiles, source, taken)];
  const store = deps.store ?? createSqliteAlertStore({ path: alertStatePath(config), logger: deps.logger });
  const externalUrl = () => (alerts.externalUrl ?? deps.listenUrl()).replace(/\/+$/, '');
  return new AlertEngine({
    rules,
    store,
    notifiers: deps.notifiers ?? createNotifiers(alerts, deps.topicPrefix, deps.transport),
    clock: deps.clock,
    logger: deps.logger,
    ...(deps.registry === undefined ? {} : { registry: deps.registry }),
    evaluationIntervalMs: alerts.evaluationInterval,
    repeatIntervalMs: alerts.repeatInterval,
    groupBy: alerts.groupBy,
    inhibitRules: compileInhibitRules(alerts.inhibitRules),
    externalUrl,
    ...(deps.onEvent === undefined ? {} : { onEvent: deps.onEvent }),
    ...(deps.syncIntervalMs === undefined ? {} : { syncIntervalMs: deps.syncIntervalMs }),
  });
}
