// A test's alert engine over an in-memory store, the fleet facts the test gives, and only the built-in alerts it
// names enabled (the fleet ones the defaults turn on are off), stepped on a manual clock one evaluation at a time.

import { ManualClock } from '../../kit/index.js';
import { hubConfigSchema } from '../config.js';
import { hubTestKit } from '../hub-test-kit.js';
import { createSqliteStorage } from '../storage/sqlite/sqlite-storage.js';
import type { AlertEngine } from './alert-engine.js';
import { createAlertEngine } from './create-alert-engine.js';
import type { FleetView } from './fleet-series.js';
import { createSqliteAlertStore } from './sqlite/sqlite-alert-store.js';

/** The engine's evaluation interval by default. */
export const EVAL_MS = 15_000;
const { defer } = hubTestKit();

export interface BuiltinEngine {
  readonly engine: AlertEngine;
  readonly clock: ManualClock;
  /** Advances the clock by `ms`, one evaluation interval at a time, each evaluation awaited. */
  step(ms: number): Promise<void>;
}

/** `builtins`: hub.yaml `alerts.builtins` beyond the defaults; `fleet`: what the rules read besides nodes and backlogs. */
export async function builtinEngine(start: number, fleet: Partial<FleetView>, builtins: Record<string, unknown>): Promise<BuiltinEngine> {
  const clock = new ManualClock(start);
  const config = hubConfigSchema.parse({
    storage: { path: ':memory:' },
    alerts: {
      builtins: {
        nodeDown: { enabled: false },
        siteOffline: { enabled: false },
        lowSoc: { enabled: false },
        backlogAge: { enabled: false },
        ...builtins,
      },
    },
  });
  const storage = createSqliteStorage({ path: ':memory:', retentionMs: 86_400_000 });
  defer(() => storage.close());
  const engine = createAlertEngine(config, {
    fleet: { nodes: () => [], backlog: () => undefined, ...fleet },
    storage,
    clock,
    logger: undefined as never,
    topicPrefix: 'fieldmesh',
    transport: () => undefined,
    listenUrl: () => '',
    store: createSqliteAlertStore({ path: ':memory:' }),
    notifiers: [],
  });
  defer(() => engine.stop());
  await engine.start();
  return {
    engine,
    clock,
    async step(ms) {
      for (let t = 0; t < ms; t += EVAL_MS) {
        clock.advance(EVAL_MS);
        await engine.idle();
      }
    },
  };
}
