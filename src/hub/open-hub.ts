// Opens a hub as hub.yaml describes it: the embedded hub (SQLite) as createHub builds it, or, with `storage.url`, its
// stores in PostgreSQL and, with `queue`, the leader lease of a scale-out hub (docs/scale-out.md). The PostgreSQL
// driver is loaded only here, and only then.

import type { HubConfig } from './config.js';
import { createHub, type Hub, type HubOverrides } from './hub.js';
import { leaseLeadership } from './scale-out/lease-leadership.js';

/** The lease's name: one leader of the singleton duties per hub (per database). */
const LEADER_LEASE = 'hub-leader';

export async function openHub(config: HubConfig, overrides: HubOverrides = {}): Promise<Hub> {
  const url = config.storage.url;
  if (url === undefined) return createHub(config, overrides);
  const { createPostgresStorage } = await import('./storage/postgres/postgres-storage.js');
  const storage = overrides.storage ?? (await createPostgresStorage({ url, retentionMs: config.storage.retention }));
  let leadership = overrides.leadership;
  if (leadership === undefined && config.queue !== undefined) {
    const { openPool } = await import('./storage/postgres/pool.js');
    const { createLeaderLease, migrateLeases } = await import('./storage/postgres/leader-lease.js');
    const pool = await openPool({ url, poolSize: 2, applicationName: 'fieldmesh-hub-lease' });
    await migrateLeases(pool);
    const adapter = leaseLeadership(() => lease);
    const lease = createLeaderLease({ pool, name: LEADER_LEASE, ttlMs: config.leader.lease, onChange: adapter.onChange });
    leadership = {
      get epoch() {
        return adapter.leadership.epoch;
      },
      start: (events) => adapter.leadership.start(events),
      async stop() {
        await adapter.leadership.stop();
        await pool.end();
      },
    };
  }
  return createHub(config, { ...overrides, storage, ...(leadership === undefined ? {} : { leadership }) });
}
