// The Prometheus HTTP API as fieldmesh speaks it, shared by the hub and the node: parameters,
// query selectors, step evaluation and the response envelope. No Node built-ins, no HTTP framework.

export * from './aggregation-query.js';
export * from './envelope.js';
export * from './evaluate-query.js';
export * from './params.js';
export * from './query-selector.js';
export * from './range-query.js';
export * from './target-labels.js';
