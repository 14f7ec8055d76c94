// Typed access to the hub's HTTP API.
export * from './hub-client.js';
