// Simulation: the demo fleet now; emulated links and scenarios in a later issue.
export * from './demo.js';
export * from './demo-fleet.js';
