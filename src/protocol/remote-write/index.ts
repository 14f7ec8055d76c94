// Prometheus remote write 1.0, both ways: the WriteRequest codec (protobuf + snappy block) and its rules.

export * from './write-request.js';
