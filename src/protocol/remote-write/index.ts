// Prometheus remote write 1.0, both ways: the WriteRequest codec (protobuf + snappy block) and its rules.

export * from './forwarder.js';
export * from './remote-write-config.js';
export * from './remote-writes.js';
export * from './write-request.js';
