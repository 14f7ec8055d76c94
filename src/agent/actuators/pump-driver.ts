// The pump driver port, its configuration and the registry that builds a driver from it.
//
// A driver is the only thing that touches the hardware (or the simulated pump). The safety envelope
// (pump-controller.ts) decides; the driver obeys and reports back. Drivers are idempotent: `start` on a
// running pump and `stop` on a stopped one succeed. A failure is thrown as a FieldmeshError
// FM_PUMP_DRIVER_FAILED (its message says which operation, and for a command its stderr); the
// controller turns it into its `fault` state, it never crashes the node.
//
// The `driver` block of a pump's configuration is validated by the zone configuration schema
// (src/protocol/consensus/zone-config.ts); the option types here are what this registry needs of it.

import type { Clock, Logger } from '../../kit/index.js';
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

/** A simulated pump: state in memory. */
export interface SimPumpDriverConfig {
  readonly type: 'sim';
}

/** Runs programs (argv arrays, no shell) to start, stop and read back the pump. */
export interface CommandPumpDriverConfig {
  readonly type: 'command';
  readonly start: readonly string[];
  readonly stop: readonly string[];
  /** Prints the pump's state on stdout: 1/on/running/true/active, or 0/off/stopped/false/inactive; else unknown. */
  readonly read?: readonly string[];
  /** A program that runs longer is killed and the operation fails (default 5000 ms). */
  readonly timeoutMs?: number;
}

/** Publishes ON/OFF to the seed's `gpio/pump/<id>` topic and reads back state from a state topic. */
export interface MqttPumpDriverConfig {
  readonly type: 'mqtt';
  /** Command topic; default `gpio/pump/<pump id>`. */
  readonly topic?: string;
  /** Where the relay reports its state; default `<topic>/state`. `null`: no read-back (read says unknown). */
  readonly stateTopic?: string | null;
  readonly payloadOn?: string;
  readonly payloadOff?: string;
  /** State payloads meaning running / stopped; default the command payloads. */
  readonly stateOn?: string;
  readonly stateOff?: string;
  /** Retain the command (a relay that reboots takes the last command again); default false. */
  readonly retain?: boolean;
  /** How long `read` waits for a state published after the last command (default 2000 ms). */
  readonly readTimeoutMs?: number;
}

export type PumpDriverConfig = SimPumpDriverConfig | CommandPumpDriverConfig | MqttPumpDriverConfig;

export interface PumpDriverDeps {
  /** The pump's id (default topics, log lines). */
  readonly pump: string;
  /** Needed by the mqtt driver: the agent's link to the broker. */
  readonly transport?: Transport;
  readonly clock?: Clock;
  readonly logger?: Logger;
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
