// The node agent: collects, keeps, and shares the critical part with the hub.

export * from './actuators/index.js';
export { type Agent, type AgentOverrides, type AgentStats, createAgent } from './agent.js';
export {
  SERVICE_ACTIONS,
  type ServiceAction,
  type ServiceLogLineView,
  type ServiceView,
  serviceView,
} from './api/service-routes.js';
export * from './assignment/index.js';
export type { AgentEvent, Collector, CollectorContext, NodeIdentity, Sample } from './collectors/collector.js';
export { type BatteryReading, BatterySim } from './collectors/index.js';
export {
  AGENT_ENV_ALIASES,
  type AgentConfig,
  agentConfigSchema,
  DEFAULT_AGENT_HTTP_PORT,
  DEFAULT_BROKER_URL,
  seedEnvironment,
} from './config.js';
export { CriticalSet, DueCursor } from './critical-set.js';
export * from './reconcile/index.js';
export * from './services/index.js';
export * from './zones/index.js';
