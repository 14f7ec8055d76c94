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
export {
  COMMAND_CONCURRENCY,
  CommandEngine,
  type CommandEngineOptions,
  type CommandPorts,
  failureOf,
  MAX_COMMAND_RUNS_KEPT,
} from './command-engine.js';
export {
  type CommandRequest,
  checkCommandArgs,
  DEFAULT_COMMAND_TIMEOUT_MS,
  MAX_COMMAND_WAIT_MS,
  parseCommandRequest,
  resolveTargets,
  targetSelector,
} from './command-request.js';
export { type FleetGetOptions, getFleetKeys } from './fleet-get.js';
export { alertActionsOf, createHubActionPorts, type HubActionPortsOptions } from './hub-action-ports.js';
export { createHubCommandPorts, type HubCommandPortsOptions } from './hub-command-ports.js';
export { globToRegExp, parseSelector, type SelectableNode, selectNodes } from './selection.js';
