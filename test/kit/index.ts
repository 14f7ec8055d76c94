// Test helpers shared by every test: free ports, a real Mosquitto, waiting without sleeps, a node's fleet view
// and metrics.
export * from './mosquitto.js';
export * from './node-api.js';
export * from './ports.js';
export * from './wait.js';
