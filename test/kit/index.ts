// Test helpers shared by every test: free ports, a real Mosquitto, and waiting without sleeps.
export * from './mosquitto.js';
export * from './ports.js';
export * from './wait.js';
