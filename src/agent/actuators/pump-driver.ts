// The pump driver port, its configuration and the registry that builds a driver from it.
//
// A driver is the only thing that touches the hardware (or the simulated pump). The safety envelope
// (pump-controller.ts) decides; the driver obeys and reports back. Drivers are idempotent: `start` on a
// running pump and `stop` on a stopped one succeed. A failure is thrown as a FieldmeshError
// FM_PUMP_DRIVER_FAILED (its message says which operation, and for a command its stderr); the
// controller turns it into its `fault` state, it never crashes the node.
//
// The `driver` block of a pump's configuration (`{type: sim}`, `{type: command, start, stop, read?,
// timeout}`, `{type: mqtt, topic, stateTopic, on, off, qos, retain}`) is validated by the zone
// configuration schema (src/protocol/consensus/zone-config.ts, pumpDriverSchema); this registry builds
// the driver it names.

import type { Clock, Logger } from '../../kit/index.js';
import type { PumpDriverConfig } from '../../protocol/consensus/index.js';
import type { Transport } from '../../transport/index.js';
import { createCommandPumpDriver } from './command-pump-driver.js';
import { createMqttPumpDriver } from './mqtt-pump-driver.js';
import { createSimPumpDriver } from './sim-pump-driver.js';

/** What a driver read back from the pump: `unknown` when it cannot tell (no read-back, no state yet). */
export type PumpReading = 'running' | 'stopped' | 'unknown';

export interface PumpDriver {
  /** Runs the pump (idempotent). Resolves once the driver has done it; throws FM_PUMP_DRIVER_FAILED. */
  start(): Promise<void>;
  /** Stops the pump (idempotent). Throws FM_PUMP_DRIVER_FAILED. */
  stop(): Promise<void>;
  /** Reads the pump's state back. Throws FM_PUMP_DRIVER_FAILED when the read itself fails. */
  read(): Promise<PumpReading>;
  /** Releases what the driver holds (subscriptions); does not change the pump. Optional. */
  close?(): Promise<void>;
}

export type {
  CommandPumpDriverConfig,
  MqttPumpDriverConfig,
  PumpDriverConfig,
  SimPumpDriverConfig,
} from '../../protocol/consensus/index.js';

export interface PumpDriverDeps {
  /** The pump's id (default topics, log lines). */
  readonly pump: string;
  /** Needed by the mqtt driver: the agent's link to the broker. */
  readonly transport?: Transport;
  readonly clock?: Clock;
  readonly logger?: Logger;
  /** The mqtt driver: how long `read` waits for the relay's state after a command (default 2000 ms). */
  readonly readTimeoutMs?: number;
  /** The mqtt driver: how long a command waits for the broker link to come up before it fails (default 5000 ms). */
  readonly linkTimeoutMs?: number;
}

type DriverFactory<C extends PumpDriverConfig> = (config: C, deps: PumpDriverDeps) => PumpDriver;

/** One entry per driver type: adding a driver is one file and one line here. */
const REGISTRY: { readonly [T in PumpDriverConfig['type']]: DriverFactory<Extract<PumpDriverConfig, { type: T }>> } = {
  sim: () => createSimPumpDriver(),
  command: (config, deps) => createCommandPumpDriver(config, deps),
  mqtt: (config, deps) => createMqttPumpDriver(config, deps),
};

/** Builds the driver a pump's configuration names. */
export function createPumpDriver(config: PumpDriverConfig, deps: PumpDriverDeps): PumpDriver {
  const factory = REGISTRY[config.type] as DriverFactory<PumpDriverConfig>;
  return factory(config, deps);
}
