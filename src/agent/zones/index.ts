// Zones on a node: the zone engine (detections, votes, counting, epochs, the pumps it drives).

// What the simulator needs of the actuators to run the engine over real envelopes (until agent/index.ts
// exports the actuators area itself).
export { PumpController, type PumpRecord } from '../actuators/pump-controller.js';
export { createSimPumpDriver, type SimPumpDriver } from '../actuators/sim-pump-driver.js';
export * from './zone-engine.js';
export * from './zone-messages.js';
