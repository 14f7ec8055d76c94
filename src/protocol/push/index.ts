// The push bodies fieldmesh accepts (an `http_push` JSON body, InfluxDB line protocol), parsed the same way at a node
// and at a scale-out hub's ingest tier.

export * from './line-protocol.js';
export * from './line-protocol-samples.js';
export * from './push-json.js';
export * from './pushed.js';
export * from './strict-json.js';
