// The durable outbox, its replicator and the backfiller that answers the hub's repair requests.

export * from './backfiller.js';
export * from './outbox-carry-over.js';
export * from './replicator.js';
export * from './sqlite-outbox.js';
