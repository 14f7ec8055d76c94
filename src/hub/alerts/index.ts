// The hub's alert engine: Prometheus-style rules and built-ins over the hub's data and fleet state,
// acknowledgements and silences, Alertmanager-shaped notifications by webhook and MQTT.
export * from './alert.js';
export { AlertEngine, type AlertEngineOptions, type AlertSnapshot, RESOLVED_RETENTION_MS, type RuleHealth } from './alert-engine.js';
export { type AlertExpression, evaluateAlertExpression, parseAlertExpression, type SeriesSource } from './alert-expr.js';
export type { AlertCommit, AlertStore, PendingNotification } from './alert-store.js';
export { BUILTIN_GROUP, type BuiltinsConfig, createBuiltinRules } from './builtins.js';
export { type AlertEngineDeps, alertStatePath, createAlertEngine } from './create-alert-engine.js';
export { fingerprint } from './fingerprint.js';
export { type AlertNode, createAlertSeriesSource, FLEET_SERIES, type FleetView } from './fleet-series.js';
export {
  compileInhibitRules,
  computeInhibitions,
  DEFAULT_INHIBIT_RULES,
  type InhibitRule,
  type InhibitRuleConfig,
  inhibitRulesSchema,
} from './inhibition.js';
export { alertsTopic } from './notifiers/mqtt-notifier.js';
export { createPostgresAlertStore, type PostgresAlertStoreOptions } from './postgres/postgres-alert-store.js';
export { formatPromDuration, parsePromDurationMs } from './prom-duration.js';
export { type RecordingGroup, RecordingRules, type RecordingRulesOptions } from './recording-rules.js';
export {
  loadRuleFiles,
  type ParsedRules,
  parseRuleFile,
  parseRules,
  type RecordingRuleDefinition,
  readRuleFiles,
} from './rule-file.js';
export { parseSilenceInput, SILENCE_RETENTION_MS, type SilenceInput, silenceState } from './silences.js';
export { createSqliteAlertStore } from './sqlite/sqlite-alert-store.js';
export { buildWebhookPayload, type WebhookAlert, type WebhookPayload, ZERO_TIME } from './webhook-payload.js';
