// The node side of reconciliation: live apply, the desired config from the hub or a repository clone, the last
// good on disk, the report. docs/config-as-code.md "Reconciliation on the node"; [FM-CONFIG-DIST] in docs/protocol.md.

export {
  type ApplyResult,
  applyConfigLive,
  changedKeys,
  diffCollectors,
  HTTP_COLLECTOR_TYPES,
  LIVE_KEYS,
  type LiveParts,
} from './apply-config.js';
export { ConfigReconciler, type ConfigReconcilerOptions, type ReconcileOutcome, type RunningConfigInfo } from './config-reconciler.js';
export { registerConfigRoutes } from './config-routes.js';
export { CONFIG_STATE_DIR, type ConfigOrigin, ConfigStore, type LastGoodConfig } from './config-store.js';
export {
  handEditedKeys,
  type LocalConfigFile,
  type LocalConfigRead,
  NODE_YAML_DEBOUNCE_MS,
  watchLocalFile,
} from './hand-edits.js';
export { checkConfigIdentity, mergeLocalKeys } from './local-keys.js';
export { createNodeReconcile, type NodeReconcile, type NodeReconcileOptions, type ReconcileOverrides } from './node-reconcile.js';
export { type RenderSelf, RepoReconciler, type RepoReconcilerOptions } from './repo-reconciler.js';
export { type ConfigSource, configSourceOf, nodeStateDir, resolveStartupConfig, type StartupConfig } from './startup-config.js';
