// Typed access to the hub's HTTP API and to the Prometheus API that nodes and the hub serve.
export type { ClientOptions } from './client-options.js';
export * from './hub-client.js';
export * from './prometheus-client.js';
