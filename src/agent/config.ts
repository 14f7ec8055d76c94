// node.yaml: the agent's one configuration schema (identity, broker, tick, critical selectors, collectors).

import { z } from 'zod';
import { durationMs, ID_PATTERN } from '../kit/index.js';
import { DEFAULT_TOPIC_PREFIX, parseSelector } from '../protocol/index.js';
import { collectorConfigSchema } from './collectors/registry.js';

/** Default agent HTTP port: clear of Mosquitto, NATS, PostgreSQL, Redis, RabbitMQ, Prometheus, Grafana. */
export const DEFAULT_AGENT_HTTP_PORT = 18801;
/** Default broker port of `fieldmesh broker` (1883 is usually a system Mosquitto). */
export const DEFAULT_BROKER_URL = 'mqtt://127.0.0.1:18830';

const id = (what: string) => z.string().regex(ID_PATTERN, `${what} must be lowercase letters, digits, '-' or '_' (at most 63)`);

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

export const agentConfigSchema = z.strictObject({
  node: z.strictObject({
    id: id('node.id'),
    site: id('node.site'),
    zone: id('node.zone').default('default'),
  }),
  mqtt: z
    .strictObject({
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
  topicPrefix: z.string().default(DEFAULT_TOPIC_PREFIX),
  /** Where the agent keeps its state (boot counter; later the local store and outbox). */
  dataDir: z.string().default('./fieldmesh-data'),
  http: z
    .strictObject({
      enabled: z.boolean().default(true),
      host: z.string().default('127.0.0.1'),
      port: z.number().int().min(0).max(65_535).default(DEFAULT_AGENT_HTTP_PORT),
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
      /** Size cap of the store file with its WAL, in bytes; past it the oldest chunks go. */
      maxBytes: z.number().int().positive().optional(),
    })
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
  /** Which series leave the node; the first selector that matches a series decides its deadband. */
  critical: z.array(criticalSelectorSchema).default([]),
  collectors: z.array(collectorConfigSchema).default([]),
});

export type AgentConfig = z.output<typeof agentConfigSchema>;
export type CriticalSelectorConfig = z.output<typeof criticalSelectorSchema>;

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
