// Simulation: the demo fleet, and `fieldmesh sim` (emulated media, scenarios, the awareness plane
// under faults, reports beside the JSON-star baseline).
export * from './awareness-sim.js';
export * from './demo.js';
export * from './demo-fleet.js';
export { FIRE_ZONE_SIZES, type FireSafetyReport, runFirePartitions } from './fire-partitions.js';
export { measureRadioLatency, type RadioLatencyReport, type RadioTransport } from './fire-radio.js';
export { runJsonStar } from './json-star.js';
export { createPointToPointNetwork, createSharedRadio, frameAirtimeUs, MCS0_1MHZ_CHANNEL } from './medium.js';
export * from './report.js';
export * from './run-sim.js';
export { BUILTIN_SCENARIOS, loadScenario, parseScenario, type Scenario } from './scenario.js';
