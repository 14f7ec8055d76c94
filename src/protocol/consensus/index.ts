// Zone consensus: types, zone configuration, the evaluator, votes.
export * from './evaluate.js';
export * from './types.js';
export * from './zone-config.js';
