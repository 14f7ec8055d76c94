// The pump controller's durable state: one small JSON document replaced atomically on every change.
//
// Why a JSON file and not SQLite: the state is one record of a few hundred bytes, always replaced
// whole; write-temp + fsync + rename + fsync of the directory gives "the old state or the new one,
// never a torn one" after kill -9 or power loss, with no schema, no WAL and one file per pump that
// an operator can read. SQLite (src/platform/sqlite-open.ts) earns its keep for many rows, not one.

import { existsSync, readFileSync, renameSync } from 'node:fs';
import { writeFileDurably } from '../../platform/index.js';
import type { ActuationCause } from '../../protocol/consensus/types.js';

export const PUMP_STATE_VERSION = 1;

/** Why a run ended. */
export type PumpStopReason =
  | 'manual'
  | 'estop'
  | 'max-runtime'
  | 'lease-lapsed'
  | 'epoch-superseded'
  | 'test-done'
  | 'restart'
  | 'state-lost';

/** The run in progress, as persisted. Times are wall-clock ms. */
export interface PersistedRun {
  readonly cause: ActuationCause;
  /** Who or what started it: an operator's name, or `zone:<id>@<epoch>` for a certificate. */
  readonly by: string;
  /** Zone and epoch of the certificate (or command) behind the run. */
  readonly zone: string;
  readonly epoch: number;
  readonly startedAt: number;
  /** End of the certificate's lease; null for manual and test runs. */
  readonly leaseUntil: number | null;
  /** When the lease lapsed and the run kept running (onLeaseLapse: keep-running); null while it holds. */
  readonly leaseLapsedAt: number | null;
  /** End of a test run; null otherwise. */
  readonly testUntil: number | null;
  /** Runtime of this run at `checkpointAt` (carried over restarts). */
  readonly runtimeMs: number;
  readonly checkpointAt: number;
}

export interface PersistedPumpState {
  readonly version: number;
  readonly zone: string;
  readonly pump: string;
  /** Newest epoch seen per zone (the pump's own and those that activate it). */
  readonly epochs: Readonly<Record<string, number>>;
  readonly estop: boolean;
  readonly run: PersistedRun | null;
  readonly overRuntime: boolean;
  readonly fault: { readonly op: 'start' | 'stop'; readonly error: string; readonly at: number } | null;
  readonly since: number;
  readonly lastStart: { readonly at: number; readonly cause: ActuationCause; readonly by: string } | null;
  readonly lastStop: { readonly at: number; readonly reason: PumpStopReason; readonly by: string } | null;
}

/** Reads the state; undefined when there is none; throws when the file is unreadable or not ours. */
export function readPumpState(path: string): PersistedPumpState | undefined {
  if (!existsSync(path)) return undefined;
  const parsed = JSON.parse(readFileSync(path, 'utf8')) as PersistedPumpState;
  if (parsed?.version !== PUMP_STATE_VERSION || typeof parsed.epochs !== 'object' || typeof parsed.estop !== 'boolean') {
    throw new Error(`not a pump state file of version ${PUMP_STATE_VERSION}`);
  }
  return parsed;
}

/** Replaces the state durably: temp file, fsync, rename, fsync of the directory. */
export function writePumpState(path: string, state: PersistedPumpState): void {
  writeFileDurably(path, `${JSON.stringify(state)}\n`);
}

/** Moves a damaged state file aside; returns where. */
export function quarantinePumpState(path: string, nowMs: number): string {
  const aside = `${path}.corrupt-${nowMs}`;
  renameSync(path, aside);
  return aside;
}
