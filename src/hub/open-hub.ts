// Opens a hub as hub.yaml describes it: the embedded hub (SQLite) as createHub builds it, or, with `storage.url`, all
// its stores in PostgreSQL (history and events, users and sessions, alerts and silences, registrations) on one pool,
// and, with `queue`, the leader lease of a scale-out hub that fences the leader's writes (docs/scale-out.md). The
// PostgreSQL driver is loaded only here, and only then; so is the OpenTelemetry SDK, with `tracing.endpoint`.

import type { PoolClient } from 'pg';
import { describeError, silentLogger } from '../kit/index.js';
import type { HubConfig } from './config.js';
import { createHub, type Hub, type HubOverrides } from './hub.js';
import type { Leadership } from './scale-out/leadership.js';
import { leaseLeadership } from './scale-out/lease-leadership.js';
import { createRegistrationSync, type RegistrationSync } from './scale-out/registration-sync.js';

/** The lease's name: one leader of the singleton duties per hub (per database). */
const LEADER_LEASE = 'hub-leader';
/** Connections of the pool a process's stores share (the lease keeps two of its own, so renewing never waits on them). */
const STORE_POOL_SIZE = 8;

export async function openHub(config: HubConfig, overrides: HubOverrides = {}): Promise<Hub> {
  // docs/tracing.md: the OpenTelemetry SDK is loaded only with `tracing.endpoint`; flushed and shut down at stop.
  const endpoint = config.tracing.endpoint;
  if (endpoint === undefined || overrides.tracing !== undefined) return openStores(config, overrides);
  const { startOtlpTracing } = await import('./tracing/otlp-tracing.js');
  const provider = startOtlpTracing({ ...config.tracing, endpoint, roles: config.roles });
  let hub: Hub;
  try {
    hub = await openStores(config, { ...overrides, tracing: provider.tracing });
  } catch (err) {
    await provider.shutdown().catch(() => {});
    throw err;
  }
  const { stop } = hub;
  return Object.assign(hub, {
    async stop() {
      await stop();
      // The spans of the last frames go out before the process ends; a collector away costs them, nothing else.
      await provider
        .shutdown()
        .catch((err: unknown) =>
          (overrides.logger ?? silentLogger).warn({ err: describeError(err) }, 'tracing: the last spans were not exported'),
        );
    },
  });
}

async function openStores(config: HubConfig, overrides: HubOverrides): Promise<Hub> {
  const url = config.storage.url;
  if (url === undefined) return createHub(config, overrides);
  const { openPool } = await import('./storage/postgres/pool.js');
  const { createPostgresStorage } = await import('./storage/postgres/postgres-storage.js');
  const { createPostgresAuthStore } = await import('./auth/postgres-auth-store.js');
  const { createPostgresAlertStore } = await import('./alerts/postgres/postgres-alert-store.js');
  const { createPostgresRegistrationStore } = await import('./registration/postgres-registration-store.js');
  const logger = (overrides.logger ?? silentLogger).child({ component: 'hub' });

  // Everything opened here is closed again when a later step fails (a bad URL, a database that refuses).
  const closers: (() => Promise<unknown>)[] = [];
  const closeAll = async () => {
    for (const close of closers.reverse()) await close().catch(() => {});
  };
  try {
    const pool = await openPool({ url, poolSize: STORE_POOL_SIZE, applicationName: 'fieldmesh-hub' });
    closers.push(() => pool.end());
    const shared = { url, pool };

    // With a queue: the lease, whose check fences the leader's writes (storage's leader writes, the alert store's commits).
    let leadership = overrides.leadership;
    let fence: ((client: PoolClient) => Promise<void>) | undefined;
    if (leadership === undefined && config.queue !== undefined) {
      const lease = await openLease(url, config.leader.lease, openPool);
      closers.push(() => lease.leadership.stop());
      leadership = lease.leadership;
      fence = lease.check;
    }

    const postgres =
      overrides.storage === undefined ? await createPostgresStorage({ ...shared, retentionMs: config.storage.retention }) : undefined;
    const storage = overrides.storage ?? postgres;
    if (postgres !== undefined) closers.push(() => postgres.close());
    const leaderStorage = overrides.leaderStorage ?? (postgres !== undefined && fence !== undefined ? postgres.fencedBy(fence) : undefined);
    const authStore = overrides.authStore ?? (await createPostgresAuthStore(shared));
    closers.push(() => authStore.close());
    const alertStore =
      overrides.alertStore ??
      (config.alerts.enabled && config.alerts.statePath === undefined
        ? await createPostgresAlertStore({ ...shared, ...(fence === undefined ? {} : { fence }) })
        : undefined);
    if (alertStore !== undefined) closers.push(() => alertStore.close());
    let sync: RegistrationSync | undefined;
    let flushRegistrations: () => Promise<void> = async () => {};
    let registrationStore = overrides.registrationStore;
    if (registrationStore === undefined) {
      const store = await createPostgresRegistrationStore({
        ...shared,
        onError: (err) => logger.error({ err: describeError(err) }, 'registration store: a write failed'),
      });
      closers.push(() => store.close());
      registrationStore = store;
      // Api processes behind one load balancer: each takes in the decisions made through the others.
      if (config.queue !== undefined && config.roles.includes('api'))
        sync = createRegistrationSync({ store, gate: () => hub.registrations, logger });
      flushRegistrations = () => store.flush();
    }

    const hub = createHub(config, {
      ...overrides,
      ...(storage === undefined ? {} : { storage }),
      ...(leaderStorage === undefined ? {} : { leaderStorage }),
      ...(leadership === undefined ? {} : { leadership }),
      authStore,
      registrationStore,
      ...(alertStore === undefined ? {} : { alertStore }),
    });
    // createHub closes the stores it was given and the lease; the shared pool is ours to end, after them.
    const { start, stop } = hub;
    return Object.assign(hub, {
      async start(options?: Parameters<Hub['start']>[0]) {
        const started = await start(options);
        sync?.start();
        return started;
      },
      async stop() {
        await sync?.stop();
        await stop();
        // createHub's stop closes the registration store without waiting for its writes behind: they go before the pool.
        await flushRegistrations();
        await pool.end().catch(() => {});
      },
    });
  } catch (err) {
    await closeAll();
    throw err;
  }
}

/** The leader lease on a pool of its own, as the hub's Leadership, and its check for other stores' transactions. */
async function openLease(
  url: string,
  ttlMs: number,
  openPool: typeof import('./storage/postgres/pool.js').openPool,
): Promise<{ leadership: Leadership; check: (client: PoolClient) => Promise<void> }> {
  const { createLeaderLease, migrateLeases } = await import('./storage/postgres/leader-lease.js');
  const pool = await openPool({ url, poolSize: 2, applicationName: 'fieldmesh-hub-lease' });
  try {
    await migrateLeases(pool);
  } catch (err) {
    await pool.end();
    throw err;
  }
  const adapter = leaseLeadership(() => lease);
  // Renewed from a thread of its own: a leader at the CPU's limit keeps its term while its event loop lags (at 10,000
  // nodes an api process's loop lagged 5 s and more), and still loses it when the loop stops for 4 ttls.
  const lease = createLeaderLease({ pool, name: LEADER_LEASE, ttlMs, onChange: adapter.onChange, renewThread: { url } });
  return {
    leadership: {
      get epoch() {
        return adapter.leadership.epoch;
      },
      start: (events) => adapter.leadership.start(events),
      async stop() {
        await adapter.leadership.stop();
        await pool.end().catch(() => {});
      },
    },
    check: (client) => lease.check(client),
  };
}
