// The `mqtt` collector: subscribes to detector topics (seed 000's `frigate/+/fire`) on any broker
// with its own client and turns messages into samples or events. Bad payloads are counted, never thrown.

import { connect, type MqttClient } from 'mqtt';
import { z } from 'zod';
import { describeError } from '../../kit/index.js';
import { EVENT_PRIORITIES, type EventPriority } from '../../protocol/index.js';
import type { AgentEvent, Collector, CollectorContext, Sample } from './collector.js';
import { collectorName, collectorNameSchema } from './collector-name.js';
import { DetectionShapeError, detectionEvent, detectionOf, detectionOfFrigateEvent } from './detections.js';

export const mqttTopicSchema = z
  .strictObject({
    /** An MQTT topic filter; `+` and `#` wildcards allowed. */
    topic: z.string().min(1),
    /** `detection`: a detector's output for the zones (docs/consensus.md#detections), in `format`. */
    as: z.enum(['event', 'metric', 'detection']).default('metric'),
    /**
     * as: detection. `frigate`: Frigate's frigate/events JSON; `score`: a confidence per message (a number,
     * or JSON with it at `value_path`, default "score"), the camera from `labels_from_topic.camera`.
     */
    format: z.enum(['frigate', 'score']).default('frigate'),
    /** as: detection. The detector classes kept (frigate), or the class of every message (score: the first). */
    classes: z.array(z.string().min(1)).default(['fire', 'smoke']),
    /** Event kind (as: event); defaults to "mqtt_message". */
    kind: z.string().min(1).optional(),
    priority: z.enum(EVENT_PRIORITIES as [EventPriority, ...EventPriority[]]).default('normal'),
    /** Sample name (as: metric). */
    metric: z
      .string()
      .regex(/^[a-zA-Z_:][a-zA-Z0-9_:]*$/, 'expected a metric name of letters, digits, _ and :')
      .optional(),
    /** Dot path into a JSON payload ("after.score"); a plain numeric payload is used as it is. */
    value_path: z.string().min(1).optional(),
    /** Label name -> topic level (0-based): `{camera: 1}` on frigate/cam1/fire gives camera="cam1". */
    labels_from_topic: z.record(z.string().regex(/^[a-zA-Z_][a-zA-Z0-9_]*$/), z.number().int().min(0)).default({}),
    labels: z.record(z.string(), z.string()).default({}),
  })
  .superRefine((t, ctx) => {
    if (t.as === 'metric' && t.metric === undefined)
      ctx.addIssue({ code: 'custom', path: ['metric'], message: 'as: metric needs a metric name' });
    if (t.as === 'detection' && t.format === 'score' && t.labels_from_topic.camera === undefined && t.labels.camera === undefined)
      ctx.addIssue({
        code: 'custom',
        path: ['labels_from_topic'],
        message: 'format: score needs the camera: labels_from_topic: {camera: <level>} or labels: {camera: <id>}',
      });
    if (!isValidFilter(t.topic))
      ctx.addIssue({ code: 'custom', path: ['topic'], message: 'expected an MQTT topic filter ("#" only last, wildcards whole levels)' });
  });

export const mqttCollectorSchema = z.strictObject({
  type: z.literal('mqtt'),
  name: collectorNameSchema,
  url: z
    .string()
    .regex(/^(mqtts?|wss?):\/\//, 'expected an mqtt://, mqtts://, ws:// or wss:// URL')
    .default('mqtt://127.0.0.1:1883'),
  client_id: z.string().min(1).optional(),
  username: z.string().optional(),
  password: z.string().optional(),
  qos: z.union([z.literal(0), z.literal(1), z.literal(2)]).default(1),
  topics: z.array(mqttTopicSchema).min(1),
});

export type MqttCollectorConfig = z.output<typeof mqttCollectorSchema>;
export type MqttTopicConfig = z.output<typeof mqttTopicSchema>;

/** Reconnect delay of the detector link; mqtt.js retries forever at this period. */
const RECONNECT_PERIOD_MS = 2_000;

function isValidFilter(filter: string): boolean {
  const levels = filter.split('/');
  return levels.every((l, i) => (l.includes('#') ? l === '#' && i === levels.length - 1 : !l.includes('+') || l === '+'));
}

/** MQTT filter matching ([MQTT-4.7.1]); `$`-topics are not matched by leading wildcards. */
export function topicMatches(filter: string, topic: string): boolean {
  const f = filter.split('/');
  const t = topic.split('/');
  if (topic.startsWith('$') && (f[0] === '+' || f[0] === '#')) return false;
  for (let i = 0; i < f.length; i++) {
    if (f[i] === '#') return true;
    if (i >= t.length) return false;
    if (f[i] !== '+' && f[i] !== t[i]) return false;
  }
  return f.length === t.length;
}

function valueAt(data: unknown, path: string): unknown {
  let v = data;
  for (const key of path.split('.')) {
    if (typeof v !== 'object' || v === null) return undefined;
    v = (v as Record<string, unknown>)[key];
  }
  return v;
}

function asNumber(v: unknown): number | undefined {
  if (typeof v === 'number' && Number.isFinite(v)) return v;
  if (typeof v === 'boolean') return v ? 1 : 0;
  if (typeof v === 'string' && v.trim() !== '' && Number.isFinite(Number(v))) return Number(v);
  return undefined;
}

function parseJson(text: string): { ok: true; value: unknown } | { ok: false } {
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch {
    return { ok: false };
  }
}

/**
 * Decodes one message for one topic rule: a sample, an event, or a reason it cannot be used.
 * Exported for tests; never throws.
 */
export function decodeMqttMessage(
  rule: MqttTopicConfig,
  topic: string,
  payload: Buffer,
  now: number,
  node = '',
): { sample: Sample } | { event: AgentEvent } | { skip: true } | { error: string } {
  const levels = topic.split('/');
  const labels: Record<string, string> = { ...rule.labels };
  for (const [label, level] of Object.entries(rule.labels_from_topic)) {
    const v = levels[level];
    if (v !== undefined && v !== '') labels[label] = v;
  }
  const text = payload.toString('utf8');
  const json = parseJson(text);
  if (rule.as === 'event') {
    const message = json.ok ? json.value : text;
    return { event: { kind: rule.kind ?? 'mqtt_message', priority: rule.priority, time: now, payload: { topic, labels, message } } };
  }
  if (rule.as === 'detection') return decodeDetection(rule, json.ok ? json.value : text, labels, now, node);
  let value: number | undefined;
  if (json.ok && rule.value_path !== undefined && typeof json.value === 'object') value = asNumber(valueAt(json.value, rule.value_path));
  else if (json.ok) value = asNumber(json.value);
  else value = asNumber(text);
  if (value === undefined) {
    const where = rule.value_path === undefined ? 'payload' : `payload.${rule.value_path}`;
    return { error: `${where} is not a number: ${text.slice(0, 80)}` };
  }
  return { sample: { name: rule.metric as string, labels, value, time: now } };
}

function decodeDetection(
  rule: MqttTopicConfig,
  message: unknown,
  labels: Record<string, string>,
  now: number,
  node: string,
): { event: AgentEvent } | { skip: true } | { error: string } {
  try {
    if (rule.format === 'frigate') {
      const d = detectionOfFrigateEvent(message, node, rule.classes);
      return d === undefined ? { skip: true } : { event: detectionEvent(d) };
    }
    const score =
      typeof message === 'object' && message !== null ? asNumber(valueAt(message, rule.value_path ?? 'score')) : asNumber(message);
    const d = detectionOf({ camera: labels.camera, class: rule.classes[0], confidence: score }, node, now);
    return { event: detectionEvent(d) };
  } catch (err) {
    return { error: err instanceof DetectionShapeError ? `detection ${err.message}` : String(err) };
  }
}

export function createMqttCollector(config: MqttCollectorConfig, index: number): Collector {
  const name = collectorName('mqtt', config.name, index);
  let client: MqttClient | undefined;
  let queue: Promise<void> = Promise.resolve();

  async function handle(ctx: CollectorContext, topic: string, payload: Buffer): Promise<void> {
    for (const rule of config.topics) {
      if (!topicMatches(rule.topic, topic)) continue;
      const decoded = decodeMqttMessage(rule, topic, payload, ctx.clock.now(), ctx.identity.node);
      if ('skip' in decoded) continue;
      if ('error' in decoded) {
        ctx.reject('decode-failed');
        ctx.logger.debug({ topic, err: decoded.error }, 'MQTT payload could not be used');
      } else if ('sample' in decoded) {
        await ctx.record([decoded.sample]);
      } else {
        await ctx.emit(decoded.event);
      }
    }
  }

  return {
    kind: 'mqtt',
    name,
    async start(ctx) {
      const c = connect(config.url, {
        clientId: config.client_id ?? `fieldmesh-${ctx.identity.site}-${ctx.identity.node}-${name}`,
        ...(config.username === undefined ? {} : { username: config.username }),
        ...(config.password === undefined ? {} : { password: config.password }),
        reconnectPeriod: RECONNECT_PERIOD_MS,
        connectTimeout: 10_000,
      });
      client = c;
      let connectedOnce = false;
      let lastError = '';
      c.on('connect', () => {
        lastError = '';
        ctx.logger.info({ url: config.url, reconnect: connectedOnce }, `${name}: connected to ${config.url}`);
        connectedOnce = true;
        const topics = Object.fromEntries(config.topics.map((t) => [t.topic, { qos: config.qos }]));
        c.subscribe(topics, (err, granted) => {
          if (err) ctx.logger.warn({ err: describeError(err) }, `${name}: subscribe failed`);
          for (const g of granted ?? []) {
            if (g.qos === 128) ctx.logger.warn({ topic: g.topic }, `${name}: broker refused subscription to ${g.topic}`);
          }
        });
      });
      c.on('error', (err) => {
        const msg = describeError(err);
        // One line per distinct failure, not one per reconnect attempt.
        if (msg !== lastError) ctx.logger.warn({ url: config.url, err: msg }, `${name}: MQTT connection problem`);
        lastError = msg;
      });
      c.on('message', (topic, payload) => {
        queue = queue
          .then(() => handle(ctx, topic, payload))
          .catch((err: unknown) => ctx.logger.error({ topic, err: describeError(err) }, `${name}: message could not be recorded`));
      });
    },
    async stop() {
      const c = client;
      client = undefined;
      if (c !== undefined) await c.endAsync(true);
      await queue;
    },
  };
}
