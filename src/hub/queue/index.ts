// The hub's queue path (docs/scale-out.md): the JetStream frame stream, its workers, the MQTT-facing ingest tier, and
// their metrics.

export * from './frame-stream.js';
export * from './frame-workers.js';
export * from './nats-connection.js';
export * from './push-ingest.js';
export * from './push-message.js';
export * from './queue-acks.js';
export * from './queue-ingest.js';
export * from './queue-metrics.js';
export * from './subjects.js';
