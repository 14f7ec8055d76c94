// Node registration with approval at the hub (docs/registration.md).
export {
  RegistrationGate,
  type RegistrationGateOptions,
  type RegistrationList,
  type RegistrationMode,
  type RegistrationView,
} from './registration-gate.js';
export {
  type ApprovalOrigin,
  createMemoryRegistrationStore,
  createSqliteRegistrationStore,
  type RegistrationRecord,
  type RegistrationStatus,
  type RegistrationStore,
} from './registration-store.js';
