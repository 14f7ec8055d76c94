// Node registration with approval at the hub (docs/registration.md).

export {
  createPostgresRegistrationStore,
  type PostgresRegistrationStore,
  type PostgresRegistrationStoreOptions,
} from './postgres-registration-store.js';
export {
  type ApprovalResult,
  createRegistrationActions,
  type KnownPlaces,
  type RegistrationActions,
  type RegistrationActionsOptions,
} from './registration-actions.js';
export {
  type RegistrationAssignment,
  RegistrationGate,
  type RegistrationGateOptions,
  type RegistrationList,
  type RegistrationMode,
  type RegistrationView,
} from './registration-gate.js';
export {
  type ApprovalOrigin,
  type AssignmentState,
  createMemoryRegistrationStore,
  createSqliteRegistrationStore,
  type RegistrationRecord,
  type RegistrationStatus,
  type RegistrationStore,
} from './registration-store.js';
