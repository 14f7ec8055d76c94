// The transport area: the Transport port and its MQTT, in-memory and no-broker implementations.

export type * from './frame-link.js';
export { createMemoryTransport, MemoryBroker, type MemoryTransportOptions, publishPacketBytes } from './memory-transport.js';
export { createMqttTransport } from './mqtt-transport.js';
export { createNoBrokerTransport } from './no-broker-transport.js';
export { isValidFilter, isValidTopic, matchesFilter, sharedFilter } from './topic-filter.js';
export type * from './transport.js';
export { createUdpLink, MAX_UDP_PAYLOAD_BYTES, UDP_LINK_DEFAULT_GROUP, UDP_LINK_DEFAULT_PORT, type UdpLinkOptions } from './udp-link.js';
