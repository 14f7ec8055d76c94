// The broker area: the embedded MQTT broker (Aedes) with users, roles and topic ACLs.

export {
  type Broker,
  type BrokerDeps,
  type BrokerStartOptions,
  type BrokerStats,
  createBroker,
  type StartedBroker,
} from './broker.js';
export {
  canPublish,
  canReceive,
  canSubscribe,
  type Identity,
  isZoneWriteRefused,
  type ZoneWriters,
  zoneWritersOf,
} from './broker-acl.js';
export {
  type BrokerConfig,
  type BrokerRole,
  type BrokerUser,
  brokerConfigSchema,
  DEFAULT_BROKER_PORT,
  DEFAULT_BROKER_WS_PORT,
  hashPassword,
  isLoopbackHost,
  verifyPassword,
} from './broker-config.js';
