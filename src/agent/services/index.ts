// Node services: the programs a node supervises (docs/services.md).

export { type LogLine, LogRing, type LogStream, MAX_LOG_LINE_CHARS } from './log-ring.js';
export {
  createHealthProbe,
  createPidRegistry,
  createProcessSpawner,
  createProcUsageReader,
  parseProcStat,
  stopGroup,
} from './process-host.js';
export {
  SERVICE_NAME_PATTERN,
  type ServiceConfig,
  type ServiceHealthConfig,
  serviceConfigSchema,
  serviceHash,
  servicesSchema,
} from './service-config.js';
export { isServiceUp, registerServiceMetrics } from './service-metrics.js';
export { createServicesCollector, SERVICE_UP_SERIES } from './services-collector.js';
export {
  createServiceSupervisor,
  type HealthProbe,
  type HealthResult,
  type PidRegistry,
  type ReconcileResult,
  SERVICE_STATES,
  type ServiceEvent,
  type ServiceEventKind,
  type ServiceExit,
  type ServiceProcess,
  type ServiceSpawner,
  type ServiceState,
  type ServiceStatus,
  type ServiceSupervisor,
  type ServiceSupervisorOptions,
  type ServiceUsage,
  type SpawnHandlers,
  type UsageReader,
} from './supervisor.js';
