// Actuators on a node: the safety envelope every pump runs inside (PumpController) and the drivers
// behind one interface (sim, command, mqtt). Rules [FM-ZONE-ACT-n] in docs/consensus.md.

export * from './pump-controller.js';
export * from './pump-driver.js';
export { createSimPumpDriver, type SimPumpDriver } from './sim-pump-driver.js';
