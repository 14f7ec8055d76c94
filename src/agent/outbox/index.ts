// The durable outbox and its replicator.
export * from './sqlite-outbox.js';
