// A scale-out hub's servers for the integration tests: a real Mosquitto, a single nats-server with JetStream and a
// private PostgreSQL (one fresh database), and `open(roles, extra)` starting a hub process's parts in this process on
// them (its own data dir, alerts off, not listening). `close` stops the hubs in reverse, then the servers.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Hub, hubConfigSchema, openHub } from '../../src/hub/index.js';
import { type MosquittoInstance, startMosquitto } from '../kit/mosquitto.js';
import { type NatsServerSet, startNatsServer } from '../kit/nats.js';
import { type PostgresInstance, startPostgres } from '../kit/postgres.js';

export interface ScaleOutRig {
  readonly mosquitto: MosquittoInstance;
  readonly nats: NatsServerSet;
  readonly pg: PostgresInstance;
  /** The hub's database. */
  readonly url: string;
  /** A started hub with `roles` and hub.yaml keys `extra` (ingest tokens, tracing...) over the defaults. */
  open(roles: readonly string[], extra?: Record<string, unknown>): Promise<Hub>;
  /** Stops every hub opened so far, the last first (a hub flushes its spans and writes as it stops). */
  stopHubs(): Promise<void>;
  close(): Promise<void>;
}

export async function startScaleOutRig(): Promise<ScaleOutRig> {
  const [mosquitto, nats, pg] = await Promise.all([startMosquitto(), startNatsServer(), startPostgres()]);
  const hubs: Hub[] = [];
  const dirs: string[] = [];
  const stopHubs = async () => {
    for (const hub of hubs.splice(0).reverse()) await hub.stop().catch(() => {});
  };
  const close = async () => {
    await stopHubs();
    // A test may have stopped a server itself (NATS, to see the 503); stopping it again is harmless.
    await Promise.all([mosquitto.stop(), nats.stop(), pg.stop()].map((p) => p.catch(() => {})));
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  };
  try {
    const url = await pg.createDatabase();
    return {
      mosquitto,
      nats,
      pg,
      url,
      async open(roles, extra = {}) {
        const dataDir = mkdtempSync(join(tmpdir(), 'fm-scale-out-rig-'));
        dirs.push(dataDir);
        const hub = await openHub(
          hubConfigSchema.parse({
            dataDir,
            mqtt: { url: mosquitto.url },
            storage: { path: join(dataDir, 'hub.db'), url },
            queue: { url: nats.urls.join(','), workers: 1 },
            roles,
            alerts: { enabled: false },
            ...extra,
          }),
        );
        hubs.push(hub);
        await hub.start({ listen: false });
        return hub;
      },
      stopHubs,
      close,
    };
  } catch (err) {
    await close();
    throw err;
  }
}
