// Zone consensus: types, zone configuration, the evaluator, votes and the zone frames.
export * from './evaluate.js';
export * from './types.js';
export * from './votes.js';
export * from './zone-config.js';
export * from './zone-datagram.js';
export * from './zone-frames.js';
export * from './zone-json.js';
export * from './zone-signature.js';
export * from './zone-writers.js';
