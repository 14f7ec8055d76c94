// The durable outbox and its replicator.

export * from './replicator.js';
export * from './sqlite-outbox.js';
