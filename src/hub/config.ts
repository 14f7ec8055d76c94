// The hub's configuration (hub.yaml + FIELDMESH_* overrides): one zod schema with defaults and units.

import { z } from 'zod';
import { durationMs } from '../kit/index.js';
import { DEFAULT_TOPIC_PREFIX } from '../protocol/index.js';

export const hubConfigSchema = z.strictObject({
  mqtt: z
    .strictObject({
      url: z.string().default('mqtt://127.0.0.1:18830'),
      clientId: z.string().min(1).default('fieldmesh-hub'),
      username: z.string().optional(),
      password: z.string().optional(),
      /** PEM file paths for TLS; read at the composition root. */
      ca: z.string().optional(),
      cert: z.string().optional(),
      key: z.string().optional(),
    })
    .prefault({} as never),
  topicPrefix: z.string().min(1).default(DEFAULT_TOPIC_PREFIX),
  http: z
    .strictObject({
      host: z.string().default('127.0.0.1'),
      port: z.number().int().min(0).max(65_535).default(18_800),
    })
    .prefault({} as never),
  storage: z
    .strictObject({
      /** SQLite file; ":memory:" keeps nothing across restarts. */
      path: z.string().default('./fieldmesh-data/hub.db'),
      /** Samples older than this are deleted (hourly and at start). */
      retention: durationMs('30d'),
    })
    .prefault({} as never),
  fleet: z
    .strictObject({
      /** A node is stale when silent for more than this many times its announced heartbeatMs. */
      staleAfterHeartbeats: z.number().positive().default(2),
      /** At most one rebirth request per node within this interval. */
      rebirthMinInterval: durationMs('5s'),
      /** How often the digest is considered; it is sent when something changed, and at least every 30 s. */
      digestInterval: durationMs('2s'),
    })
    .prefault({} as never),
  /** Where the hub keeps its boot counter (hub-state.json). */
  dataDir: z.string().default('./fieldmesh-data'),
});

export type HubConfig = z.output<typeof hubConfigSchema>;
