// The hub side of reconciliation: the configuration repository watched, rendered, distributed, tracked;
// its sites and consensus zones handed to the hub's monitors.
export * from './config-reconciler.js';
export * from './config-repo-config.js';
export * from './config-repo-port.js';
export * from './config-source.js';
export * from './config-tracker.js';
export * from './repo-definitions.js';
