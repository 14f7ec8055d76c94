// node.yaml: the agent's one configuration schema (identity, broker, tick, critical selectors, collectors).

import { z } from 'zod';
import { durationMs, formatDurationMs, ID_PATTERN } from '../kit/index.js';
import { httpTlsSchema } from '../platform/index.js';
import { DEFAULT_TOPIC_PREFIX, parseSelector, zonesSchema } from '../protocol/index.js';
import { remoteWritesSchema } from '../protocol/remote-write/index.js';
import { collectorsConfigSchema } from './collectors/registry.js';
import { servicesSchema } from './services/service-config.js';
import { DEFAULT_CHUNK_SPAN_MS } from './store/store.js';

/** Default agent HTTP port: clear of Mosquitto, NATS, PostgreSQL, Redis, RabbitMQ, Prometheus, Grafana. */
export const DEFAULT_AGENT_HTTP_PORT = 18801;
/** Default broker port of `fieldmesh broker` (1883 is usually a system Mosquitto). */
export const DEFAULT_BROKER_URL = 'mqtt://127.0.0.1:18830';

const id = (what: string) => z.string().regex(ID_PATTERN, `${what} must be lowercase letters, digits, '-' or '_' (at most 63)`);

const sparkplugId = (what: string) => z.string().regex(/^[^/+#]+$/, `${what} must be a non-empty Sparkplug id without '/', '+' or '#'`);

/** The finest rollup: finer buckets hold about as many values as the raw samples they summarise. */
export const MIN_ROLLUP_RESOLUTION_MS = 60_000;

export const rollupConfigSchema = z.strictObject({
  /** Bucket width: at least 1 min, dividing the store's 2 h chunk span (1m, 2m, 5m, 10m, 15m, 30m, 1h, 2h, ...). */
  resolution: durationMs(),
  /** Buckets older than this are deleted; at least `store.retention`, since a rollup exists to outlive raw samples. */
  retention: durationMs(),
});

/**
 * Paths (relative to `store`) whose value already failed to parse, by store object: the rollup checks
 * skip those, so a bad duration is reported once, and run despite them, so every problem shows at once.
 */
const failedStorePaths = new WeakMap<object, Set<string>>();

function noteFailedPaths(payload: { value: unknown; issues: readonly { path?: readonly PropertyKey[] }[] }): boolean {
  if (typeof payload.value !== 'object' || payload.value === null) return false;
  failedStorePaths.set(payload.value, new Set(payload.issues.map((i) => (i.path ?? []).join('.'))));
  return true;
}

/** Rollup checks that need the whole `store` section, each issue on the field it is about. */
function checkRollups(store: { retention: number; rollups: { resolution: number; retention: number }[] }, ctx: z.RefinementCtx): void {
  if (!Array.isArray(store.rollups)) return;
  const failed = failedStorePaths.get(store) ?? new Set<string>();
  const valid = (value: unknown, path: string): value is number => typeof value === 'number' && !failed.has(path);
  const span = formatDurationMs(DEFAULT_CHUNK_SPAN_MS);
  const seen = new Set<number>();
  store.rollups.forEach((r, i) => {
    if (typeof r !== 'object' || r === null) return;
    const at = (field: string) => ['rollups', i, field];
    if (valid(r.resolution, `rollups.${i}.resolution`)) {
      const resolution = formatDurationMs(r.resolution);
      if (r.resolution < MIN_ROLLUP_RESOLUTION_MS) {
        ctx.addIssue({ code: 'custom', path: at('resolution'), message: `must be at least 1m, got ${resolution}` });
      } else if (DEFAULT_CHUNK_SPAN_MS % r.resolution !== 0) {
        ctx.addIssue({
          code: 'custom',
          path: at('resolution'),
          message: `must divide the store's ${span} chunk span evenly (1m, 2m, 5m, 10m, 15m, 20m, 30m, 1h, 2h, ...), got ${resolution}`,
        });
      } else if (seen.has(r.resolution)) {
        ctx.addIssue({ code: 'custom', path: at('resolution'), message: `${resolution} is listed twice; one rollup per resolution` });
      }
      seen.add(r.resolution);
    }
    if (valid(r.retention, `rollups.${i}.retention`) && valid(store.retention, 'retention') && r.retention < store.retention) {
      ctx.addIssue({
        code: 'custom',
        path: at('retention'),
        message: `must be at least store.retention (${formatDurationMs(store.retention)}), got ${formatDurationMs(r.retention)}`,
      });
    }
  });
}

/** A deadband: a number is absolute (in the series' unit); "2%" is relative to the last sent value. */
const deadbandSchema = z.union([
  z.number().nonnegative(),
  z.string().regex(/^\d+(\.\d+)?%$/, 'expected a number or a percentage like "2%"'),
]);

export const criticalSelectorSchema = z.strictObject({
  /** Prometheus series selector, e.g. `dc_voltage{device="battery"}`. */
  match: z.string().superRefine((text, ctx) => {
    try {
      parseSelector(text);
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: (err as Error).message });
    }
  }),
  deadband: deadbandSchema.default(0),
  /** Never send a series more often than this, however much it moves. */
  minInterval: durationMs('0ms'),
  /** Re-send an unchanged value at least this often, so receivers know it is still true. */
  maxSilence: durationMs('30s'),
  /** Decimal digits on the wire; inferred from the first value when absent. */
  decimals: z.number().int().min(0).max(9).optional(),
});

const agentConfigObject = z.strictObject({
  node: z.strictObject({
    id: id('node.id'),
    site: id('node.site'),
    zone: id('node.zone').default('default'),
  }),
  mqtt: z
    .strictObject({
      /**
       * false: no broker at all (a mesh-only node): no live frames nor durable-plane frames leave it, the outbox keeps
       * its rows for a broker configured later, and `awareness.transport` cannot be mqtt.
       */
      enabled: z.boolean().default(true),
      url: z
        .string()
        .regex(/^(mqtts?|wss?):\/\//, 'expected an mqtt://, mqtts://, ws:// or wss:// URL')
        .default(DEFAULT_BROKER_URL),
      clientId: z.string().min(1).optional(),
      username: z.string().optional(),
      password: z.string().optional(),
      /** PEM files for TLS. */
      ca: z.string().optional(),
      cert: z.string().optional(),
      key: z.string().optional(),
      qos: z.union([z.literal(0), z.literal(1)]).default(1),
      /** 5 (topic aliases: a data frame's topic costs 2 bytes), 4 (3.1.1), or auto: 5, else 3.1.1. */
      protocolVersion: z.union([z.literal(4), z.literal(5), z.literal('auto')]).default('auto'),
      keepalive: durationMs('30s'),
    })
    .prefault({} as never),
  /**
   * The node's certificate, renewed over the fleet transport by the hub (docs/pki.md "Renewal over the fleet
   * transport"): its folder (`<node>.key`, `<node>.crt`, `ca.crt`; these replace `mqtt.cert`, `mqtt.key` and
   * `mqtt.ca` once there), the fraction of the validity after which it renews (default: the hub's `pki.renewAt`,
   * else 2/3), how often it checks and asks again while unanswered, and the names for its CSR.
   */
  pki: z
    .strictObject({
      dir: z.string().min(1),
      renewAt: z.number().gt(0, 'expected a fraction above 0').lt(1, 'expected a fraction below 1').optional(),
      retry: durationMs('1m').refine((ms) => ms >= 100, 'must be at least 100ms'),
      sans: z.array(z.string().min(1)).default([]),
    })
    .optional(),
  topicPrefix: z.string().default(DEFAULT_TOPIC_PREFIX),
  /** Where the agent keeps its state (boot counter; later the local store and outbox). */
  dataDir: z.string().default('./fieldmesh-data'),
  http: z
    .strictObject({
      enabled: z.boolean().default(true),
      host: z.string().default('127.0.0.1'),
      port: z.number().int().min(0).max(65_535).default(DEFAULT_AGENT_HTTP_PORT),
      /** HTTPS (with HSTS) for the node's API; with requireClientCert, only fleet certificates (clientIdentities: [hub]). */
      tls: httpTlsSchema.optional(),
    })
    .prefault({} as never),
  publish: z
    .strictObject({
      /** Data frames are built at most once per tick. */
      tick: durationMs('2s'),
      /** The longest the node stays silent: an empty data frame goes out when nothing else did. */
      heartbeat: durationMs('10s'),
    })
    .prefault({} as never),
  /** The node's local history of every series it collects (docs/storage.md). */
  store: z
    .strictObject({
      /** Samples older than this are deleted (hourly and at start). */
      retention: durationMs('30d'),
      /** Size cap of the store file with its WAL, in bytes; past it the oldest chunks go, then the oldest rollups. */
      maxBytes: z.number().int().positive().optional(),
      /** Downsampled rollups written at compaction, each kept for its own retention; empty: none. */
      rollups: z.array(rollupConfigSchema).default([]),
    })
    .superRefine(checkRollups, { when: noteFailedPaths })
    .prefault({} as never),
  /** The durable plane to the hub. [FM-DURABLE-1..5] */
  outbox: z
    .strictObject({
      /**
       * Replicate every sample of the critical series to the hub at full resolution (the durable plane).
       * Off, the hub gets the live values by exception only; events always go through the outbox.
       */
      replicateSamples: z.boolean().default(true),
      /** Sample rows kept for the hub at most; past it they coalesce to the latest per series (counted). */
      maxSampleRows: z.number().int().positive().default(5_000_000),
      /** Bytes per second history may use on the link to the hub; 0 means no limit. */
      budgetBytesPerSecond: z.number().int().nonnegative().default(0),
      /** Outbox rows per history frame. */
      maxFrameRows: z.number().int().min(1).max(100_000).default(2_000),
      /** A history frame that is not full waits this long after the previous one (frames name their series inline). */
      historyInterval: durationMs('30s'),
    })
    .prefault({} as never),
  /** The awareness plane: what this node tells its neighbours and learns of them (docs/awareness.md). */
  awareness: z
    .strictObject({
      /** none: off; udp: broadcast on the shared segment, no broker; mqtt: through the broker's digest. */
      transport: z.enum(['none', 'udp', 'mqtt']).default('none'),
      /** A 16-bit origin id; derived from "site/node" when absent. */
      origin: z.number().int().min(0).max(0xffff).optional(),
      /** The longest this node stays silent on the plane (an empty pulse then); default one publish tick. */
      heartbeat: durationMs().optional(),
      /** Hops frames travel beyond the first: 0 on one shared segment, more for multi-hop meshes. */
      radius: z.number().int().min(0).max(7).default(0),
      /** Keep and relay only the frames of nodes of this node's zone. */
      zoneOnly: z.boolean().default(false),
      /** Extra pulses that repeat a changed value, so one lost frame does not leave it stale. */
      repeat: z.number().int().min(0).max(3).default(2),
      udp: z
        .strictObject({
          mode: z.enum(['multicast', 'broadcast']).default('multicast'),
          group: z.string().default('239.255.70.77'),
          broadcastAddress: z.string().default('255.255.255.255'),
          port: z.number().int().min(1).max(65_535).default(18_870),
          /** The interface's address to send and join on; the route to the group decides when absent. */
          interface: z.string().optional(),
          ttl: z.number().int().min(0).max(255).default(1),
        })
        .prefault({} as never),
      /** MQTT: aggregate the digest here always, only while the hub is away (auto), or never. */
      aggregator: z.enum(['never', 'auto', 'always']).default('auto'),
    })
    .prefault({} as never),
  /** Which series leave the node; the first selector that matches a series decides its deadband. */
  critical: z.array(criticalSelectorSchema).default([]),
  /**
   * Where this node takes its desired config from (docs/config-as-code.md "Reconciliation on the node"). A local
   * key: a distributed config never changes it.
   */
  reconcile: z
    .strictObject({
      /**
       * hub: apply the config a hub publishes for this node (the default); repo: render it from the clone `repo`
       * (the default when `repo` is set); file: run node.yaml only. `fieldmesh node --config-source` overrides it.
       */
      source: z.enum(['hub', 'repo', 'file']).optional(),
      /** A local clone of the configuration repository, pulled (`git pull --ff-only`) every `pull` and on SIGHUP. */
      repo: z.string().min(1).optional(),
      pull: durationMs('5m'),
    })
    .superRefine((r, ctx) => {
      if (r.source === 'repo' && r.repo === undefined)
        ctx.addIssue({ code: 'custom', path: ['repo'], message: "source: repo needs repo: <the clone's folder>" });
    })
    .prefault({} as never),
  /**
   * The zones this node votes in, sees with its cameras or drives pumps for (docs/consensus.md); every
   * node of a zone carries the same zone blocks (their hash must agree for votes to count).
   */
  zones: zonesSchema.optional(),
  /**
   * Zone frames signed with the node's key and checked against the fleet CA (docs/consensus.md "Authorised
   * twice"). `required` for any fleet with a CA; `off` (default) for fleets without one. Files default to
   * `pki.dir` (`ca.crt`, `<node>.crt`, `<node>.key`), else `mqtt.ca`, `mqtt.cert`, `mqtt.key`.
   */
  zoneSecurity: z
    .strictObject({
      signing: z.enum(['off', 'required']).default('off'),
      ca: z.string().min(1).optional(),
      crl: z.string().min(1).optional(),
      cert: z.string().min(1).optional(),
      key: z.string().min(1).optional(),
    })
    .prefault({} as never),
  /** Operators' commands through this node's API (elect, pump start/stop/estop/clear/test). */
  zoneCommands: z
    .strictObject({
      /** The bearer token the POST /api/v1/zones/... endpoints need; none: they answer 403. */
      token: z.string().min(16, 'a zone command token has at least 16 characters').optional(),
    })
    .prefault({} as never),
  /** Operators' commands through this node's API (services start/stop/restart; zone commands too). */
  commands: z
    .strictObject({
      /** The bearer token the node's command endpoints need (POST /api/v1/services/...); none: they answer 403. */
      token: z.string().min(16, 'a command token has at least 16 characters').optional(),
    })
    .prefault({} as never),
  /** Programs this node supervises: started, restarted with backoff, health-checked (docs/services.md). */
  services: servicesSchema.default([]),
  collectors: collectorsConfigSchema.default([]),
  /** Remote write receivers this node's store is forwarded to (docs/remote-write.md). */
  remoteWrite: remoteWritesSchema,
  /** Sparkplug B edge mode: the node as an edge node of its site's group, each collector a device (docs/sparkplug.md). */
  sparkplug: z
    .strictObject({
      enabled: z.boolean().default(false),
      /** Sparkplug group id; default: node.site. */
      groupId: sparkplugId('sparkplug.groupId').optional(),
      /** Sparkplug edge node id; default: node.id. */
      edgeNodeId: sparkplugId('sparkplug.edgeNodeId').optional(),
      /** The primary host application whose STATE (spBv1.0/STATE/<id>) the node waits for before its NBIRTH. */
      primaryHostId: sparkplugId('sparkplug.primaryHostId').optional(),
      /** The broker of the Sparkplug session; default: the node's own `mqtt` link (url, user, TLS files). */
      broker: z
        .strictObject({
          url: z.string().regex(/^(mqtts?|wss?):\/\//, 'expected an mqtt://, mqtts://, ws:// or wss:// URL'),
          /** Default: the node's mqtt.clientId (or fieldmesh-<site>-<node>) with "-spb". */
          clientId: z.string().min(1).optional(),
          username: z.string().optional(),
          password: z.string().optional(),
          ca: z.string().optional(),
          cert: z.string().optional(),
          key: z.string().optional(),
        })
        .optional(),
      /** Wait before connecting again after the Sparkplug session is lost. */
      reconnect: durationMs('2s'),
    })
    .prefault({} as never),
});

export const agentConfigSchema = agentConfigObject.superRefine((config, ctx) => {
  if (config.sparkplug.enabled && !config.mqtt.enabled && config.sparkplug.broker === undefined) {
    ctx.addIssue({
      code: 'custom',
      path: ['sparkplug', 'broker'],
      message: "the Sparkplug session goes to the node's broker by default, and mqtt.enabled is false: set sparkplug.broker",
    });
  }
  if (!config.mqtt.enabled && config.awareness.transport === 'mqtt') {
    ctx.addIssue({
      code: 'custom',
      path: ['awareness', 'transport'],
      message: 'mqtt goes through a broker, and mqtt.enabled is false: use udp (or none)',
    });
  }
});

export type AgentConfig = z.output<typeof agentConfigSchema>;
export type CriticalSelectorConfig = z.output<typeof criticalSelectorSchema>;
export type RollupConfig = z.output<typeof rollupConfigSchema>;

/**
 * Plain environment names of the seed deployments mapped onto node.yaml paths: seed 000 writes
 * NODE_ID, CENTRAL_BROKER and HEARTBEAT_INTERVAL (seconds) in /etc/wildfire/node.conf.
 */
export const AGENT_ENV_ALIASES: Readonly<Record<string, string>> = {
  NODE_ID: 'node.id',
  SITE_ID: 'node.site',
  ZONE_ID: 'node.zone',
  MQTT_BROKER: 'mqtt.url',
  CENTRAL_BROKER: 'mqtt.url',
};

/** Seed 000 gives HEARTBEAT_INTERVAL in seconds and brokers as host:port; turn both into our shapes. */
export function seedEnvironment(env: Readonly<Record<string, string | undefined>>): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = { ...env };
  for (const name of ['MQTT_BROKER', 'CENTRAL_BROKER']) {
    const v = env[name];
    if (v !== undefined && v !== '' && !/^[a-z]+:\/\//.test(v)) out[name] = `${v.endsWith(':8883') ? 'mqtts' : 'mqtt'}://${v}`;
  }
  const hb = env.HEARTBEAT_INTERVAL;
  if (hb !== undefined && /^\d+(\.\d+)?$/.test(hb) && env.FIELDMESH_PUBLISH__HEARTBEAT === undefined) {
    out.FIELDMESH_PUBLISH__HEARTBEAT = `${hb}s`;
  }
  return out;
}
