// The transport area: the Transport port and its MQTT and in-memory implementations.
export { createMemoryTransport, MemoryBroker, type MemoryTransportOptions, publishPacketBytes } from './memory-transport.js';
export { createMqttTransport } from './mqtt-transport.js';
export { isValidFilter, isValidTopic, matchesFilter } from './topic-filter.js';
export type * from './transport.js';
