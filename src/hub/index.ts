// The hub: fleet state, critical-metric history, Prometheus-compatible HTTP API and live page.
export { loadRuleFiles, parseRuleFile, parseRules, RecordingRules, readRuleFiles } from './alerts/index.js';
export type { HubApiDeps, Readiness } from './api/api-deps.js';
export { createHubApp } from './api/app.js';
export type { MeView } from './api/auth/index.js';
export { LiveFeed } from './api/live/live-feed.js';
export type { NodeValueView, NodeView } from './api/nodes/node-view.js';
export type { SiteView } from './api/sites/sites-routes.js';
export * from './auth/index.js';
export { backupHub, postgresBackupCommands, restoreHub } from './backup/hub-backup.js';
export { type HubConfig, hubConfigSchema } from './config.js';
export * from './config-repo/index.js';
export {
  type FleetEvent,
  type FleetEventType,
  FleetState,
  type FrameOutcome,
  type NodeRecord,
  REJECT_REASONS,
  type RebirthCause,
  type RejectReason,
} from './fleet/fleet-state.js';
export { createHub, type Hub, type HubOverrides, type HubStartOptions, type HubStats } from './hub.js';
export { createHubMetrics, type HubMetrics } from './hub-metrics.js';
export { openHub } from './open-hub.js';
export { createPostgresStorage, type PostgresStorageOptions } from './storage/postgres/postgres-storage.js';
export { createSqliteStorage, type SqliteStorageOptions } from './storage/sqlite/sqlite-storage.js';
export type { HubStorage, SampleInput, SeriesIdentity, SeriesPoints, StoredNode, StoredSeries } from './storage/storage.js';
export * from './zones/index.js';
