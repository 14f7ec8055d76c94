// Zones on a node: the zone engine (detections, votes, counting, epochs, the pumps it drives).

export * from './zone-engine.js';
export * from './zone-messages.js';
