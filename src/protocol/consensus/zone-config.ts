// Zones as configuration: the zod schema of a site's zone list (list or the seed's mapping), its defaults,
// the cross-field checks with precise paths, and zoneConfigHash. [FM-ZONE-CONFIG-1..4] in docs/consensus.md.

import { z } from 'zod';
import { type ConfigSource, durationMs, ID_PATTERN, loadConfig } from '../../kit/index.js';
import type { PumpEnvelope, ZoneCamera, ZoneConfig, ZonePolicy, ZonePump } from './types.js';

/**
 * Policy defaults, and why:
 * - window 60s: two detectors on different nodes see the same fire within seconds; a minute tolerates a
 *   slow detector and a radio that takes a few ticks, and forgets a passing glare soon after.
 * - classes fire and smoke: in wildland smoke is usually seen before flame.
 * - minConfidence 0.7: Frigate's and Wildfire Watch's default threshold for fire.
 * - minCameras 2 and minNodes 2: one camera stuck on, or one node's detector gone wrong, never decides.
 * - threshold 1: one fully trusted camera at full confidence; two weight-1 cameras at 0.7 reach it (1.4),
 *   two cameras weighted 0.6 at 0.8 do not (0.96): weak cameras need more evidence.
 * - cooldown 5m: Wildfire Watch's COOLDOWN_PERIOD.
 * - voteTtl 6s: three 2 s ticks (the publish tick's default), so a renewal lost twice does not lapse a vote.
 * - maxClockSkew 2s: one tick; it must stay below voteTtl (a vote from the future could outlive its TTL).
 * - isolatedFallback off; when on, 3 of the node's own cameras at 0.9 (the issue's example).
 * [FM-ZONE-CONFIG-3]
 */
export const ZONE_POLICY_DEFAULTS = {
  window: '60s',
  classes: ['fire', 'smoke'],
  minConfidence: 0.7,
  minCameras: 2,
  minNodes: 2,
  threshold: 1,
  cooldown: '5m',
  voteTtl: '6s',
  maxClockSkew: '2s',
  isolatedFallback: { enabled: false, minCameras: 3, minConfidence: 0.9 },
} as const;

/**
 * Envelope defaults: maxRuntime 20m (the seed's PumpRuntime > 1200 s alert) and stop there (a limit that only
 * alerts is no limit; say `alert` where the water supply is unlimited); minOff 1m (protects the motor);
 * keep running on lease lapse and on restart (a fire pump keeps running until an operator stops it, the
 * 20-minute limit bounds it, across restarts too).
 */
export const PUMP_ENVELOPE_DEFAULTS = {
  maxRuntime: '20m',
  atMaxRuntime: 'stop',
  minOff: '1m',
  onLeaseLapse: 'keep-running',
  onRestart: 'keep-running',
} as const;

/**
 * Scores are sums of a few products; a score equal to the threshold on paper may land 1e-16 below it.
 * The evaluator and the checks compare with this tolerance (deterministic: same floats, same answer).
 */
export const SCORE_TOLERANCE = 1e-9;

/** The seed's command topic for a pump (`gpio/pump/<id>`), the mqtt driver's default. */
export function defaultPumpTopic(pumpId: string): string {
  return `gpio/pump/${pumpId}`;
}

const ID_MESSAGE = "must be lowercase letters, digits, '-' or '_' (at most 63)";
const nodeId = z.string().regex(ID_PATTERN, `a node id ${ID_MESSAGE}`);
const zoneId = z.string().regex(ID_PATTERN, `a zone id ${ID_MESSAGE}`);
const pumpId = z.string().regex(ID_PATTERN, `a pump id ${ID_MESSAGE}`);
/** Frigate's camera names allow upper case and dots; detections carry them as they are. */
const CAMERA_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;
const cameraId = z.string().regex(CAMERA_ID_PATTERN, "a camera id must be letters, digits, '.', '-' or '_' (at most 63)");
const fraction = z.number().min(0, 'must be between 0 and 1').max(1, 'must be between 0 and 1');
const argv = z
  .array(z.string().min(1, 'an empty argument'))
  .min(1, 'expected a program and its arguments, e.g. [gpioset, gpiochip0, 17=1]');
const mqttTopic = z
  .string()
  .min(1)
  .refine((t) => !/[+#]/.test(t), 'a topic to publish to has no wildcards (+ or #)');

/**
 * The pump driver, validated here and implemented by the actuator (src/agent/actuators). Kept small:
 * - `sim`: a simulated pump (demo, tests).
 * - `command`: run `start` / `stop` (argv, no shell); `read` prints the state (the driver defines how it
 *   reads it); each run at most `timeout`.
 * - `mqtt`: publish `on` / `off` to `topic` (default `gpio/pump/<pump id>`, the seed's), read the state
 *   back from `stateTopic` (default `<topic>/state`). Never retained unless asked: a retained ON would
 *   start the pump again whenever its relay reconnects.
 */
export const pumpDriverSchema = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('sim') }),
  z.strictObject({
    type: z.literal('command'),
    start: argv,
    stop: argv,
    read: argv.optional(),
    timeout: durationMs('5s'),
  }),
  z.strictObject({
    type: z.literal('mqtt'),
    topic: mqttTopic.optional(),
    stateTopic: mqttTopic.optional(),
    on: z.string().min(1).default('ON'),
    off: z.string().min(1).default('OFF'),
    qos: z.union([z.literal(0), z.literal(1)]).default(1),
    retain: z.boolean().default(false),
  }),
]);

type PumpDriverInput = z.output<typeof pumpDriverSchema>;
export type SimPumpDriverConfig = Extract<PumpDriverInput, { type: 'sim' }>;
export type CommandPumpDriverConfig = Extract<PumpDriverInput, { type: 'command' }>;
/** The mqtt driver with its topics filled in. */
export type MqttPumpDriverConfig = Extract<PumpDriverInput, { type: 'mqtt' }> & { readonly topic: string; readonly stateTopic: string };
export type PumpDriverConfig = SimPumpDriverConfig | CommandPumpDriverConfig | MqttPumpDriverConfig;

/** A pump as configured: the consensus shape plus the driver only its own node uses (not hashed). */
export interface ConfiguredPump extends ZonePump {
  readonly driver: PumpDriverConfig;
}

/** A zone as configured: a `ZoneConfig` whose pumps carry their drivers. */
export interface ConfiguredZone extends ZoneConfig {
  readonly pumps: readonly ConfiguredPump[];
}

const envelopeSchema = z
  .strictObject({
    maxRuntime: durationMs(PUMP_ENVELOPE_DEFAULTS.maxRuntime),
    atMaxRuntime: z.enum(['alert', 'stop']).default(PUMP_ENVELOPE_DEFAULTS.atMaxRuntime),
    minOff: durationMs(PUMP_ENVELOPE_DEFAULTS.minOff),
    onLeaseLapse: z.enum(['keep-running', 'stop']).default(PUMP_ENVELOPE_DEFAULTS.onLeaseLapse),
    onRestart: z.enum(['keep-running', 'stop']).default(PUMP_ENVELOPE_DEFAULTS.onRestart),
  })
  .prefault({} as never);

/** One pump as written (input shape, for docs and tools; parse a site's zones with `zonesSchema`). */
export const pumpObjectSchema = z.strictObject({
  id: pumpId,
  node: nodeId,
  envelope: envelopeSchema,
  driver: pumpDriverSchema,
});

const cameraSchema = z.strictObject({
  id: cameraId,
  node: nodeId,
  /** The node's reliability times the camera's overlap with the zone. */
  weight: fraction.default(1),
});

const D = ZONE_POLICY_DEFAULTS;
const policySchema = z
  .strictObject({
    window: durationMs(D.window),
    classes: z
      .array(z.string().min(1))
      .min(1, 'name at least one detector class')
      .default([...D.classes]),
    minConfidence: fraction.default(D.minConfidence),
    minCameras: z.number().int().min(1).default(D.minCameras),
    minNodes: z.number().int().min(1).default(D.minNodes),
    threshold: z.number().min(0).optional(),
    cooldown: durationMs(D.cooldown),
    activates: z.array(zoneId).default([]),
    voteTtl: durationMs(D.voteTtl),
    maxClockSkew: durationMs(D.maxClockSkew),
    isolatedFallback: z
      .strictObject({
        enabled: z.boolean().default(D.isolatedFallback.enabled),
        minCameras: z.number().int().min(1).default(D.isolatedFallback.minCameras),
        minConfidence: fraction.default(D.isolatedFallback.minConfidence),
      })
      .prefault({} as never),
  })
  .prefault({} as never);

/** Re-emits a sub-schema's issues under the current path, so a hand-dispatched parse keeps precise paths. */
function parseInto<S extends z.ZodType>(schema: S, value: unknown, ctx: z.RefinementCtx, at: PropertyKey[] = []): z.output<S> | undefined {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  for (const issue of result.error.issues) {
    ctx.addIssue({ code: 'custom', message: issue.message, path: [...at, ...(issue.path as PropertyKey[])] });
  }
  return undefined;
}

/** The seed lists pumps by name; a pump needs the node wired to it, so a bare name is refused with a hint. */
const pumpSchema = z.unknown().transform((value, ctx) => {
  if (typeof value === 'string') {
    ctx.addIssue({
      code: 'custom',
      message: `a pump needs the node wired to it and its driver: write {id: ${value}, node: <node id>, driver: {type: sim|command|mqtt}}`,
    });
    return z.NEVER;
  }
  return parseInto(pumpObjectSchema, value, ctx) ?? z.NEVER;
});

/** One zone as written, before the checks across fields (input shape, for docs and tools; parse with `zonesSchema`). */
export const zoneObjectSchema = z.strictObject({
  id: zoneId,
  /** The voting nodes; `nodes` is the seed's name for them. */
  voters: z.array(nodeId).optional(),
  nodes: z.array(nodeId).optional(),
  cameras: z.array(cameraSchema).default([]),
  pumps: z.array(pumpSchema).default([]),
  /** `overlap` is the seed's name. */
  overlaps: z.array(zoneId).optional(),
  overlap: z.array(zoneId).optional(),
  policy: policySchema,
});

type ZoneInput = z.output<typeof zoneObjectSchema>;
/** A parsed zone and where it sits in the file (`[1]` in a list, `["north"]` in a mapping). */
interface ZoneEntry {
  readonly at: PropertyKey[];
  readonly zone: ZoneInput;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Sorted list of what appears more than once, with the index of each later occurrence. */
function laterDuplicates<T>(items: readonly T[], key: (item: T) => string): { index: number; key: string; first: number }[] {
  const seen = new Map<string, number>();
  const out: { index: number; key: string; first: number }[] = [];
  items.forEach((item, index) => {
    const k = key(item);
    const first = seen.get(k);
    if (first === undefined) seen.set(k, index);
    else out.push({ index, key: k, first });
  });
  return out;
}

function fmt(n: number): string {
  return String(Number(n.toFixed(6)));
}

/** The cross-field checks of one site's zones, each issue on the field it is about. [FM-ZONE-CONFIG-2] */
function checkZones(entries: readonly ZoneEntry[], allIds: ReadonlySet<string>, ctx: z.RefinementCtx): void {
  const issue = (path: PropertyKey[], message: string) => ctx.addIssue({ code: 'custom', path, message });
  const cameraHome = new Map<string, { node: string; zone: string }>();
  const pumpHome = new Map<string, string>();
  for (const { at, zone } of entries) {
    const voters = zone.voters ?? zone.nodes;
    const votersKey = zone.voters === undefined && zone.nodes !== undefined ? 'nodes' : 'voters';
    if (zone.voters !== undefined && zone.nodes !== undefined) {
      issue([...at, 'nodes'], 'give voters or nodes (the seed’s name for them), not both');
    }
    if (voters === undefined || voters.length === 0) {
      issue([...at, votersKey], 'a zone needs at least one voter: the nodes that vote on its fires');
    }
    const voterList = voters ?? [];
    for (const d of laterDuplicates(voterList, (v) => v)) issue([...at, votersKey, d.index], `"${d.key}" is listed twice`);
    const voterSet = new Set(voterList);
    const notVoter = (node: string) => `"${node}" is not a voter of zone "${zone.id}" (voters: ${voterList.join(', ') || 'none'})`;

    zone.cameras.forEach((camera, i) => {
      if (!voterSet.has(camera.node)) issue([...at, 'cameras', i, 'node'], notVoter(camera.node));
      const home = cameraHome.get(camera.id);
      if (home !== undefined && home.zone !== zone.id && home.node !== camera.node) {
        issue(
          [...at, 'cameras', i, 'node'],
          `camera "${camera.id}" is on node "${home.node}" in zone "${home.zone}"; a camera has one node`,
        );
      }
      if (home === undefined) cameraHome.set(camera.id, { node: camera.node, zone: zone.id });
    });
    for (const d of laterDuplicates(zone.cameras, (c) => c.id)) {
      issue([...at, 'cameras', d.index, 'id'], `camera "${d.key}" is listed twice (cameras[${d.first}])`);
    }

    zone.pumps.forEach((pump, i) => {
      if (!voterSet.has(pump.node)) issue([...at, 'pumps', i, 'node'], notVoter(pump.node));
      const home = pumpHome.get(pump.id);
      if (home !== undefined) {
        issue(
          [...at, 'pumps', i, 'id'],
          `pump "${pump.id}" is listed already in zone "${home}"; a pump belongs to one zone (other zones reach it through policy.activates)`,
        );
      } else pumpHome.set(pump.id, zone.id);
    });

    const overlaps = zone.overlaps ?? zone.overlap ?? [];
    const overlapsKey = zone.overlaps === undefined && zone.overlap !== undefined ? 'overlap' : 'overlaps';
    if (zone.overlaps !== undefined && zone.overlap !== undefined) {
      issue([...at, 'overlap'], 'give overlaps or overlap (the seed’s name), not both');
    }
    const checkZoneRefs = (refs: readonly string[], path: PropertyKey[], extra?: (ref: string) => string | undefined) => {
      refs.forEach((ref, i) => {
        if (ref === zone.id) issue([...path, i], `zone "${zone.id}" names itself`);
        else if (!allIds.has(ref)) issue([...path, i], `"${ref}" is not a zone of this site (zones: ${[...allIds].join(', ')})`);
        else {
          const problem = extra?.(ref);
          if (problem !== undefined) issue([...path, i], problem);
        }
      });
      for (const d of laterDuplicates(refs, (r) => r)) issue([...path, d.index], `"${d.key}" is listed twice`);
    };
    checkZoneRefs(overlaps, [...at, overlapsKey]);
    const overlapSet = new Set(overlaps);
    checkZoneRefs(zone.policy.activates, [...at, 'policy', 'activates'], (ref) =>
      overlapSet.has(ref)
        ? undefined
        : `"${ref}" is not among the zones zone "${zone.id}" overlaps; a fire activates only overlapping zones`,
    );

    checkPolicy(zone, [...at, 'policy'], issue);
  }
}

/** Policy checks: a policy that can never be met, or a zero duration. */
function checkPolicy(zone: ZoneInput, at: PropertyKey[], issue: (path: PropertyKey[], message: string) => void): void {
  const p = zone.policy;
  if (p.window <= 0) issue([...at, 'window'], 'must be more than 0');
  if (p.voteTtl <= 0) issue([...at, 'voteTtl'], 'must be more than 0');
  if (p.maxClockSkew >= p.voteTtl && p.voteTtl > 0) {
    issue([...at, 'maxClockSkew'], `must be less than voteTtl (${p.voteTtl} ms): a vote from the future would outlive its TTL`);
  }
  const cameras = zone.cameras.length;
  if (p.minCameras > cameras) issue([...at, 'minCameras'], `${p.minCameras} cameras needed, the zone has ${cameras}`);
  const cameraNodes = [...new Set(zone.cameras.map((c) => c.node))].sort();
  if (p.minNodes > cameraNodes.length) {
    issue(
      [...at, 'minNodes'],
      `${p.minNodes} nodes needed, the zone's cameras are on ${cameraNodes.length}${cameraNodes.length > 0 ? ` (${cameraNodes.join(', ')})` : ''}`,
    );
  }
  const threshold = p.threshold ?? ZONE_POLICY_DEFAULTS.threshold;
  const reachable = zone.cameras.reduce((sum, c) => sum + c.weight, 0);
  if (cameras > 0 && threshold > reachable + SCORE_TOLERANCE) {
    const which = p.threshold === undefined ? `the default threshold ${fmt(threshold)}` : `threshold ${fmt(threshold)}`;
    issue([...at, 'threshold'], `${which} can never be reached: the cameras' weights sum to ${fmt(reachable)}`);
  }
  const fb = p.isolatedFallback;
  if (fb.enabled) {
    const perNode = new Map<string, number>();
    for (const c of zone.cameras) perNode.set(c.node, (perNode.get(c.node) ?? 0) + 1);
    const most = Math.max(0, ...perNode.values());
    if (fb.minCameras > most) {
      issue(
        [...at, 'isolatedFallback', 'minCameras'],
        `${fb.minCameras} cameras of one node needed, no node of the zone has more than ${most}`,
      );
    }
    if (fb.minConfidence < p.minConfidence) {
      issue(
        [...at, 'isolatedFallback', 'minConfidence'],
        `must be at least policy.minConfidence (${p.minConfidence}): the fallback asks for stronger evidence, not weaker`,
      );
    }
  }
}

function buildPolicy(p: z.output<typeof policySchema>): ZonePolicy {
  return {
    windowMs: p.window,
    classes: p.classes,
    minConfidence: p.minConfidence,
    minCameras: p.minCameras,
    minNodes: p.minNodes,
    threshold: p.threshold ?? ZONE_POLICY_DEFAULTS.threshold,
    cooldownMs: p.cooldown,
    activates: p.activates,
    voteTtlMs: p.voteTtl,
    maxClockSkewMs: p.maxClockSkew,
    isolatedFallback: p.isolatedFallback,
  };
}

/** The policy a zone gets when it says nothing (durations in ms); see ZONE_POLICY_DEFAULTS for why. */
export const DEFAULT_ZONE_POLICY: ZonePolicy = Object.freeze(buildPolicy(policySchema.parse({})));

function buildZone(zone: ZoneInput): ConfiguredZone {
  const policy = buildPolicy(zone.policy);
  const pumps: ConfiguredPump[] = zone.pumps.map((pump) => {
    const e = pump.envelope;
    const envelope: PumpEnvelope = {
      maxRuntimeMs: e.maxRuntime,
      atMaxRuntime: e.atMaxRuntime,
      minOffMs: e.minOff,
      onLeaseLapse: e.onLeaseLapse,
      onRestart: e.onRestart,
    };
    let driver: PumpDriverConfig;
    if (pump.driver.type === 'mqtt') {
      const topic = pump.driver.topic ?? defaultPumpTopic(pump.id);
      driver = { ...pump.driver, topic, stateTopic: pump.driver.stateTopic ?? `${topic}/state` };
    } else driver = pump.driver;
    return { id: pump.id, node: pump.node, envelope, driver };
  });
  const cameras: ZoneCamera[] = zone.cameras.map((c) => ({ id: c.id, node: c.node, weight: c.weight }));
  return { id: zone.id, voters: zone.voters ?? zone.nodes ?? [], cameras, pumps, overlaps: zone.overlaps ?? zone.overlap ?? [], policy };
}

/**
 * A site's zones: a list of zones with ids, or the seed's mapping of zone id to zone (`zones: {north:
 * {nodes: [...], overlap: [...]}}`). Every problem is reported with its path; the result is the
 * `ConfiguredZone` list in file order (durations in ms). [FM-ZONE-CONFIG-1]
 */
export const zonesSchema = z.unknown().transform((value, ctx): ConfiguredZone[] => {
  let raw: { at: PropertyKey[]; value: unknown }[];
  if (Array.isArray(value)) raw = value.map((v, i) => ({ at: [i], value: v }));
  else if (isPlainObject(value)) {
    raw = Object.entries(value).map(([key, v]) => {
      if (isPlainObject(v) && v.id !== undefined && v.id !== key) {
        ctx.addIssue({
          code: 'custom',
          path: [key, 'id'],
          message: `the key "${key}" names the zone already; drop id or make it "${key}"`,
        });
      }
      return { at: [key], value: isPlainObject(v) ? { ...v, id: key } : v };
    });
  } else {
    ctx.addIssue({ code: 'custom', message: 'expected a list of zones, or a mapping of zone id to zone' });
    return z.NEVER;
  }
  const entries: ZoneEntry[] = [];
  for (const { at, value: v } of raw) {
    const zone = parseInto(zoneObjectSchema, v, ctx, at);
    if (zone !== undefined) entries.push({ at, zone });
  }
  const ids = raw.map((r) => (isPlainObject(r.value) && typeof r.value.id === 'string' ? r.value.id : undefined));
  const seen = new Map<string, number>();
  ids.forEach((id, i) => {
    if (id === undefined) return;
    const first = seen.get(id);
    if (first !== undefined) ctx.addIssue({ code: 'custom', path: [i, 'id'], message: `zone "${id}" is listed twice (zones[${first}])` });
    else seen.set(id, i);
  });
  checkZones(entries, new Set(seen.keys()), ctx);
  if (entries.length < raw.length) return z.NEVER;
  return entries.map((e) => buildZone(e.zone));
});

/** A file holding only a site's zones (`zones: [...]`); other configs embed `zonesSchema` under `zones`. */
export const zoneFileSchema = z.strictObject({ zones: zonesSchema.prefault([] as never) });

/**
 * Loads a zones file (YAML text and FIELDMESH_ overrides); throws FieldmeshError FM_CONFIG_INVALID listing
 * every problem with its path (`zones.yaml: zones[1].pumps[0].node: "n9" is not a voter of zone "east" ...`).
 */
export function loadZoneConfigs(source: ConfigSource): readonly ConfiguredZone[] {
  return loadConfig(zoneFileSchema, source).zones;
}

const compareStrings = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
const sortedStrings = (xs: readonly string[]): string[] => [...xs].sort(compareStrings);

/**
 * What the hash covers: the consensus shape of a zone (ZoneConfig's fields only, not the drivers, which
 * are the pump node's own business), with every set sorted (voters, cameras, pumps, overlaps, classes,
 * activates), so two nodes that list the same configuration in another order agree. [FM-ZONE-CONFIG-4]
 */
function canonicalZone(zone: ZoneConfig): unknown {
  const p = zone.policy;
  return {
    id: zone.id,
    voters: sortedStrings(zone.voters),
    cameras: [...zone.cameras].sort((a, b) => compareStrings(a.id, b.id)).map((c) => ({ id: c.id, node: c.node, weight: c.weight })),
    pumps: [...zone.pumps]
      .sort((a, b) => compareStrings(a.id, b.id))
      .map((pump) => {
        const e = pump.envelope;
        return {
          id: pump.id,
          node: pump.node,
          envelope: {
            maxRuntimeMs: e.maxRuntimeMs,
            atMaxRuntime: e.atMaxRuntime,
            minOffMs: e.minOffMs,
            onLeaseLapse: e.onLeaseLapse,
            onRestart: e.onRestart,
          },
        };
      }),
    overlaps: sortedStrings(zone.overlaps),
    policy: {
      windowMs: p.windowMs,
      classes: sortedStrings(p.classes),
      minConfidence: p.minConfidence,
      minCameras: p.minCameras,
      minNodes: p.minNodes,
      threshold: p.threshold,
      cooldownMs: p.cooldownMs,
      activates: sortedStrings(p.activates),
      voteTtlMs: p.voteTtlMs,
      maxClockSkewMs: p.maxClockSkewMs,
      isolatedFallback: {
        enabled: p.isolatedFallback.enabled,
        minCameras: p.isolatedFallback.minCameras,
        minConfidence: p.isolatedFallback.minConfidence,
      },
    },
  };
}

/** JSON with object keys sorted (by UTF-16 code units, not the locale), arrays in order. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (isPlainObject(value)) {
    const keys = Object.keys(value)
      .filter((k) => value[k] !== undefined)
      .sort(compareStrings);
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(value[k])}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/** UTF-8 bytes of a string (lone surrogates as U+FFFD, as TextEncoder does), without TextEncoder. */
function utf8(text: string): number[] {
  const out: number[] = [];
  for (let i = 0; i < text.length; i++) {
    let cp = text.charCodeAt(i);
    if (cp >= 0xd800 && cp <= 0xdbff && i + 1 < text.length) {
      const low = text.charCodeAt(i + 1);
      if (low >= 0xdc00 && low <= 0xdfff) {
        cp = 0x10000 + ((cp - 0xd800) << 10) + (low - 0xdc00);
        i++;
      }
    }
    if (cp >= 0xd800 && cp <= 0xdfff) cp = 0xfffd;
    if (cp < 0x80) out.push(cp);
    else if (cp < 0x800) out.push(0xc0 | (cp >> 6), 0x80 | (cp & 0x3f));
    else if (cp < 0x10000) out.push(0xe0 | (cp >> 12), 0x80 | ((cp >> 6) & 0x3f), 0x80 | (cp & 0x3f));
    else out.push(0xf0 | (cp >> 18), 0x80 | ((cp >> 12) & 0x3f), 0x80 | ((cp >> 6) & 0x3f), 0x80 | (cp & 0x3f));
  }
  return out;
}

const FNV64_OFFSET = 0xcbf29ce484222325n;
const FNV64_PRIME = 0x100000001b3n;

/** FNV-1a 64 over the UTF-8 bytes of `text`, as 16 lowercase hex digits. Tells texts apart; authenticates nothing. */
export function fnv1a64(text: string): string {
  let hash = FNV64_OFFSET;
  for (const byte of utf8(text)) hash = BigInt.asUintN(64, (hash ^ BigInt(byte)) * FNV64_PRIME);
  return hash.toString(16).padStart(16, '0');
}

/**
 * A stable hash of the zone's canonical JSON (FNV-1a 64, 16 hex digits), the same in Node and the browser.
 * Votes carry it: a vote cast under another configuration of the zone does not count. It only tells
 * configurations apart; it does not authenticate. [FM-ZONE-CONFIG-4]
 */
export function zoneConfigHash(zone: ZoneConfig): string {
  return fnv1a64(canonicalJson(canonicalZone(zone)));
}
