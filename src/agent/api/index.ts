// The node's HTTP query API over its store, and an in-memory store for tests and tools.

export { registerFleetRoutes } from './fleet-routes.js';
export { createMemorySampleStore, type MemorySampleStoreOptions } from './memory-store.js';
export { NODE_PROMETHEUS_COMPAT_VERSION, registerStoreRoutes, type StoreRoutesOptions } from './store-routes.js';
