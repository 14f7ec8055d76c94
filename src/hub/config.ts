// The hub's configuration (hub.yaml + FIELDMESH_* overrides): one zod schema with defaults and units.

import { z } from 'zod';
import { durationMs, isValidId, parseDurationMs } from '../kit/index.js';
import { httpTlsSchema } from '../platform/index.js';
import { DEFAULT_TOPIC_PREFIX } from '../protocol/index.js';
import { remoteWritesSchema } from '../protocol/remote-write/index.js';
import { inhibitRulesSchema } from './alerts/inhibition.js';
import { authConfigSchema } from './auth/auth-config.js';
import { configRepoSchema } from './config-repo/config-repo-config.js';
import { consoleConfigSchema, sitesConfigSchema } from './health/console-config.js';
import { hubZonesSchema } from './zones/hub-zone-config.js';

export const hubConfigSchema = z
  .strictObject({
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
        /** HTTPS (with HSTS) for the API and the console; PEM files from `fieldmesh pki`. */
        tls: httpTlsSchema.optional(),
      })
      .prefault({} as never),
    storage: z
      .strictObject({
        /** SQLite file; ":memory:" keeps nothing across restarts. */
        path: z.string().default('./fieldmesh-data/hub.db'),
        /**
         * PostgreSQL instead of SQLite (docs/scale-out.md): a `postgres://` URL (`--storage`, FIELDMESH_STORAGE__URL;
         * the password through `url_file` or the URL's). Needed by every process of a scale-out hub.
         */
        url: z
          .string()
          .regex(/^postgres(ql)?:\/\//, 'expected a postgres:// or postgresql:// URL')
          .optional(),
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
    /** Backfill requests to nodes: the durable plane's repair of what nodes dropped. [FM-DURABLE-6] */
    backfill: z
      .strictObject({
        /** Ask a node for every range it reports dropped at its outbox's cap (once per range). */
        requestDropped: z.boolean().default(true),
        /** At most one request published per node within this interval (0: no limit). */
        minInterval: durationMs('5s'),
        /** A request not reported done this long after it was published goes out again. */
        timeout: durationMs('5m'),
      })
      .prefault({} as never),
    /** The awareness plane's MQTT path: the hub aggregates every node's frames into one digest per tick. [FM-AWARE-5] */
    awareness: z
      .strictObject({
        aggregate: z.boolean().default(true),
        /** One digest per tick at most (the nodes' publish tick). */
        tick: durationMs('2s'),
      })
      .prefault({} as never),
    /** The console's users and roles: when a login is needed, sessions, throttling (docs/console-auth.md). */
    auth: authConfigSchema,
    /** The alert engine: rule files, built-in alerts, notifications (docs/alerts.md). */
    alerts: z
      .strictObject({
        enabled: z.boolean().default(true),
        /** Every rule is evaluated this often (a group's own `interval` is rounded up to a multiple of it). */
        evaluationInterval: durationMs('15s').refine((ms) => ms > 0, 'must be longer than 0'),
        /** Prometheus-style rule files (groups[].rules[]), relative to the working directory. */
        ruleFiles: z.array(z.string().min(1)).default([]),
        /** SQLite file of alerts, acknowledgements, silences and queued notifications; default alerts.db beside storage.path. */
        statePath: z.string().optional(),
        /** The hub's URL as notifications link to it (externalURL, generatorURL); default the URL the hub listens on. */
        externalUrl: z.string().optional(),
        /** A firing alert nobody acknowledged is notified again this often (0: never). */
        repeatInterval: durationMs('4h'),
        /** Labels that split notifications into groups (Alertmanager's group_by). */
        groupBy: z.array(z.string()).default(['alertname']),
        /** Alertmanager-style inhibit rules: a firing source alert mutes matching targets with equal labels; [] turns the default off. */
        inhibitRules: inhibitRulesSchema,
        builtins: z
          .strictObject({
            nodeDown: z
              .strictObject({ enabled: z.boolean().default(true), for: durationMs('2m'), severity: z.string().default('critical') })
              .prefault({} as never),
            siteOffline: z
              .strictObject({ enabled: z.boolean().default(true), for: durationMs('5m'), severity: z.string().default('critical') })
              .prefault({} as never),
            lowSoc: z
              .strictObject({
                enabled: z.boolean().default(true),
                metric: z
                  .string()
                  .regex(/^[a-zA-Z_:][a-zA-Z0-9_:]*$/, 'expected a metric name')
                  .default('battery_soc'),
                /** Percent. */
                threshold: z.number().default(20),
                for: durationMs('5m'),
                severity: z.string().default('warning'),
              })
              .prefault({} as never),
            backlogAge: z
              .strictObject({ enabled: z.boolean().default(true), maxAge: durationMs('1h'), severity: z.string().default('warning') })
              .prefault({} as never),
            /** A zone whose evaluator (at the hub) says fire, or whose detections are pending, without a majority or a running pump. */
            consensusTimeout: z
              .strictObject({ enabled: z.boolean().default(true), for: durationMs('60s'), severity: z.string().default('critical') })
              .prefault({} as never),
            /** A pump running longer than its envelope's maxRuntime (the seed's PumpRuntime > 1200 s). */
            pumpRuntime: z
              .strictObject({ enabled: z.boolean().default(true), for: durationMs('0s'), severity: z.string().default('critical') })
              .prefault({} as never),
            /** A zone without a visible majority of its configured voters online at the hub. */
            quorumLost: z
              .strictObject({ enabled: z.boolean().default(true), for: durationMs('1m'), severity: z.string().default('warning') })
              .prefault({} as never),
            /** A node certificate of the hub's fleet CA (hub.yaml `pki`) expiring within 90 days (the seed's rule). */
            certificateExpiring: z
              .strictObject({ enabled: z.boolean().default(true), before: durationMs('90d'), severity: z.string().default('warning') })
              .prefault({} as never),
            /** The same within 14 days, or expired. */
            certificateExpiringSoon: z
              .strictObject({ enabled: z.boolean().default(true), before: durationMs('14d'), severity: z.string().default('critical') })
              .prefault({} as never),
            /** A scale-out hub's workers behind: messages not yet stored (pending plus in a worker's hands) above `maxPending`. */
            queueLag: z
              .strictObject({
                enabled: z.boolean().default(true),
                maxPending: z.number().int().positive().default(10_000),
                for: durationMs('2m'),
                severity: z.string().default('warning'),
              })
              .prefault({} as never),
            /** A copy of a replicated stream (queue.replicas 3) offline or not current: one more failure loses the quorum. */
            queueReplicaBehind: z
              .strictObject({ enabled: z.boolean().default(true), for: durationMs('2m'), severity: z.string().default('warning') })
              .prefault({} as never),
          })
          .prefault({} as never),
        /** Alertmanager-style webhook receivers. */
        webhooks: z
          .array(
            z.strictObject({
              url: z.url({ protocol: /^https?$/, error: 'expected an http:// or https:// URL' }),
              /** The payload's `receiver`. */
              receiver: z.string().min(1).default('fieldmesh'),
              sendResolved: z.boolean().default(true),
              timeout: durationMs('10s'),
              maxAttempts: z.number().int().min(1).default(10),
              headers: z.record(z.string(), z.string()).default({}),
            }),
          )
          .default([]),
        /** Notifications on <topicPrefix>/_hub/alerts (QoS 1). */
        mqtt: z
          .strictObject({ enabled: z.boolean().default(true), maxAttempts: z.number().int().min(1).default(10) })
          .prefault({} as never),
      })
      .prefault({} as never),
    /** Sites' names, coordinates, addresses and zone names, for the console (docs/console.md). */
    sites: sitesConfigSchema,
    /** The operator console: title, site-plan map, site health thresholds (docs/console.md). */
    console: consoleConfigSchema,
    /**
     * The zones the hub watches (docs/consensus.md "The hub's view"): the same blocks as the nodes' node.yaml
     * `zones:`, each with an optional `site:`.
     */
    zones: hubZonesSchema.prefault([] as never),
    /** The fleet's configuration repository the hub reconciles the nodes with (docs/config-as-code.md "Reconciliation at the hub"). */
    configRepo: configRepoSchema.optional(),
    /**
     * Which nodes the hub admits (docs/registration.md): `open`, any node that announces itself; `approve`, only
     * nodes an admin approved, the configuration repository defines, or the hub knew before approve was switched on.
     */
    registration: z.strictObject({ mode: z.enum(['open', 'approve']).default('open') }).prefault({} as never),
    /**
     * The hub as the fleet's online signer (docs/pki.md "Renewal over the fleet transport"): the fleet CA's folder
     * (`fieldmesh pki init`), the file holding its key's passphrase (first line), the validity of the certificates it
     * signs (days; a fraction for tests), and the fraction of it after which a node renews (told to nodes).
     */
    pki: z
      .strictObject({
        dir: z.string().min(1),
        passphraseFile: z.string().min(1).optional(),
        nodeCertDays: z.number().positive().max(36_500).default(365),
        renewAt: z
          .number()
          .gt(0, 'expected a fraction above 0')
          .lt(1, 'expected a fraction below 1')
          .default(2 / 3),
        /**
         * [FM-CERT-7] How long after a node reconnected with its renewed certificate its older ones are revoked as
         * superseded (a new CRL written): a duration, `0` at once, `never` to keep them until they expire.
         */
        revokeSupersededAfter: z
          .union([z.literal('never'), z.union([z.string(), z.number()])])
          .default('1h')
          .transform((v, ctx) => {
            if (v === 'never') return null;
            const ms = parseDurationMs(v);
            if (ms === undefined || ms < 0) {
              ctx.addIssue({ code: 'custom', message: `expected a duration like "1h", "30s", 0 or "never", got ${JSON.stringify(v)}` });
              return 0;
            }
            return ms;
          }),
      })
      .optional(),
    /**
     * The scale-out hub's queue (docs/scale-out.md): NATS JetStream between the MQTT-facing ingest and the workers that
     * store durable frames. Absent: the hub stores what it receives itself (the embedded default).
     */
    queue: z
      .strictObject({
        /** nats:// URL, or several separated by commas (a cluster); `--queue`, FIELDMESH_QUEUE__URL. */
        url: z.string().regex(/^(nats|tls):\/\/[^,]+(,(nats|tls):\/\/[^,]+)*$/, 'expected nats://host:port[,nats://...]'),
        /** The JetStream stream that holds every durable frame until a worker stored it. */
        stream: z
          .string()
          .regex(/^[A-Za-z0-9_-]+$/, 'expected letters, digits, - and _')
          .default('FIELDMESH_FRAMES'),
        /** The first token of the stream's subjects (and of the ack subjects). */
        subjectPrefix: z
          .string()
          .regex(/^[A-Za-z0-9_-]+$/, 'expected letters, digits, - and _')
          .default('fieldmesh'),
        /** Stream replicas: 1, or 3 on a three-server cluster (tolerates one server's failure). */
        replicas: z.union([z.literal(1), z.literal(3)]).default(1),
        /** How long JetStream remembers message ids to drop a frame sent twice. */
        duplicateWindow: durationMs('2m'),
        /** Workers this process runs when its roles include `worker`. */
        workers: z.number().int().min(1).max(64).default(1),
        /** The shared subscription group of the ingest processes (MQTT `$share/<group>/...`). */
        ingestGroup: z
          .string()
          .regex(/^[A-Za-z0-9_-]+$/)
          .default('fieldmesh-ingest'),
      })
      .optional(),
    /**
     * The ingest processes' HTTP push APIs (docs/scale-out.md "Pushes straight to the ingest tier"): `POST /events` and
     * InfluxDB line protocol (`/api/v2/write`, `/write`) on the hub's HTTP port, served by processes of the `ingest`
     * role with a queue and at least one token. A token belongs to one site (and optionally one node, else the request
     * names it with `?node=`); `token_file` reads it from a file. The embedded hub (no queue) serves only remote write,
     * `POST /api/v1/write`, with these tokens (docs/remote-write.md "On the embedded hub").
     */
    ingest: z
      .strictObject({
        tokens: z
          .array(
            z.strictObject({
              token: z.string().min(16, 'expected at least 16 characters (use token_file for a generated secret)'),
              site: z.string().refine(isValidId, 'expected a site id (a-z, 0-9, - and _)'),
              node: z.string().refine(isValidId, 'expected a node id (a-z, 0-9, - and _)').optional(),
              zone: z.string().default(''),
            }),
          )
          .default([]),
        /** Largest push body, as sent and, for gzip, decompressed (bytes). */
        maxBodyBytes: z
          .number()
          .int()
          .positive()
          .default(1024 * 1024),
        /** Priority of pushed events that do not name one. */
        defaultPriority: z.enum(['low', 'normal', 'high', 'critical']).default('normal'),
      })
      .prefault({} as never),
    /**
     * What this hub process does (docs/scale-out.md): `ingest` (MQTT durable frames into the queue, acks back to the
     * nodes), `worker` (the queue into storage), `api` (fleet state, HTTP API and console; the leader among them runs the
     * singleton duties). Without `queue` a hub always does all three in one process.
     */
    roles: z
      .array(z.enum(['ingest', 'worker', 'api']))
      .min(1)
      .default(['ingest', 'worker', 'api']),
    /** The lease through which one api process of a scale-out hub is the leader (PostgreSQL). */
    leader: z.strictObject({ lease: durationMs('10s') }).prefault({} as never),
    /**
     * OpenTelemetry traces of each frame and push through ingest, stream, worker and store (docs/tracing.md). Off until
     * `endpoint` is set (`--otlp-endpoint`, OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT).
     */
    tracing: z
      .strictObject({
        /** OTLP/HTTP URL of a collector (`http://collector:4318`; a URL without a path gets `/v1/traces`). */
        endpoint: z.url({ protocol: /^https?$/, error: 'expected an http:// or https:// URL' }).optional(),
        /** The resource's `service.name` (OTEL_SERVICE_NAME); every process adds `fieldmesh.role`, its roles. */
        serviceName: z.string().min(1).default('fieldmesh-hub'),
        /** Share of the traces this process starts that are recorded, 0 to 1 (OTEL_TRACES_SAMPLER_ARG); parent-based. */
        sampleRatio: z.number().min(0).max(1).default(1),
      })
      .prefault({} as never),
    /** Where the hub keeps its boot counter (hub-state.json) and its remote write cursors. */
    dataDir: z.string().default('./fieldmesh-data'),
    /** Remote write receivers the hub's history is forwarded to, by the leading process (docs/remote-write.md). */
    remoteWrite: remoteWritesSchema,
  })
  .superRefine((c, ctx) => {
    // docs/scale-out.md: the processes of a scale-out hub share one PostgreSQL; without a queue one process does all.
    if (c.queue !== undefined && c.storage.url === undefined)
      ctx.addIssue({
        code: 'custom',
        path: ['storage', 'url'],
        message: 'a hub with a queue needs storage.url (postgres://...): its processes share one database',
      });
    if (c.queue === undefined && new Set(c.roles).size < 3)
      ctx.addIssue({
        code: 'custom',
        path: ['roles'],
        message: 'roles other than all three (ingest, worker, api) need queue.url: without a queue one hub process does everything',
      });
  });

export type HubConfig = z.output<typeof hubConfigSchema>;
export type HubRole = HubConfig['roles'][number];
