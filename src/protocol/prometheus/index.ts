// The Prometheus HTTP API as fieldmesh speaks it, shared by the hub and the node: parameters,
// PromQL queries (../promql) in Prometheus' result shapes, and the response envelope. No Node built-ins,
// no HTTP framework.

export * from './envelope.js';
export * from './evaluate-query.js';
export * from './format-query.js';
export * from './metadata.js';
export * from './params.js';
export * from './range-query.js';
export * from './target-labels.js';
