// The hub side of reconciliation: the configuration repository watched, rendered, distributed, tracked.
export * from './config-reconciler.js';
export * from './config-repo-config.js';
export * from './config-repo-port.js';
export * from './config-source.js';
export * from './config-tracker.js';
