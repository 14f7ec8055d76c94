// Loads the standard BESS workload from ../shared/workloads (development-time only: the product ships
// its own port of it as the sim_battery collector).

import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';

export interface NodeSimLike {
  readonly name: string;
  readonly labels: Record<string, string>;
  step(): Record<string, number>;
}

export interface Workload {
  readonly METRICS: readonly string[];
  readonly DEFAULT_SEED: number;
  readonly NodeSim: new (seed: number, index: number, opts?: { intervalS?: number }) => NodeSimLike;
  /** The JSON-star baseline's message for one metric (the workload module's own name for it). */
  seedPayload(sim: NodeSimLike, value: number, tsNs: number): string;
}

export const WORKLOAD_PATH = fileURLToPath(new URL('../../shared/workloads/bess-workload.mjs', import.meta.url));

export async function loadWorkload(): Promise<Workload> {
  if (!existsSync(WORKLOAD_PATH))
    throw new Error(`the standard workload is expected at ${WORKLOAD_PATH} (../shared beside the repository)`);
  return (await import(pathToFileURL(WORKLOAD_PATH).href)) as Workload;
}
