// Bulk actions: a selector becomes exact targets with a preview; a run acts on exactly those, with
// bounded concurrency, per-target timeouts and throttled progress.
export {
  ActionEngine,
  type ActionEngineOptions,
  DEFAULT_CONCURRENCY,
  MAX_ACTIONS_KEPT,
  PREVIEW_TTL_MS,
  PROGRESS_INTERVAL_MS,
} from './action-engine.js';
export type { ActionAlerts, ActionPorts, ActiveAlert, PingResult } from './action-ports.js';
export { type ActionRequest, DEFAULT_SILENCE_MS, DEFAULT_TARGET_TIMEOUT_MS, parseActionRequest } from './action-request.js';
export { BirthWatch } from './birth-watch.js';
export { alertActionsOf, createHubActionPorts, type HubActionPortsOptions } from './hub-action-ports.js';
export { globToRegExp, parseSelector, type SelectableNode, selectNodes } from './selection.js';
