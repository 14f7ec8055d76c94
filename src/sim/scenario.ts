// Simulation scenarios: the YAML schema (fleet, link model, workload, faults), the built-in scenarios,
// and the loader that turns a built-in name or a file path into a validated, frozen scenario.

import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { FieldmeshError, loadConfig } from '../kit/index.js';
import { MAX_HOPS } from '../protocol/index.js';
import {
  createSimRandom,
  IPV4_UDP_HEADER_BYTES,
  MCS0_1MHZ_BITS_PER_SECOND,
  RADIO_FRAME_OVERHEAD_US,
  RADIO_HEADER_BYTES,
  RADIO_MTU_BYTES,
  shuffled,
} from './medium.js';

/** The seed of the standard battery workload (docs/benchmarks.md), so figures compare with the baselines. */
export const DEFAULT_SCENARIO_SEED = 20241123;
/** The standard workload's five critical metrics, as the JSON-star baseline publishes them. */
export const BESS_CRITICAL_METRICS = ['battery_soc', 'dc_voltage', 'dc_current', 'ac_in_l1_power', 'ac_out_l1_power'] as const;
export const BUILTIN_SCENARIOS = ['steady', 'partition', 'churn', 'cold-start'] as const;
export type BuiltinScenario = (typeof BUILTIN_SCENARIOS)[number];

/** Node names of a simulated fleet, as in the standard battery workload: node001, node002, ... */
export function scenarioNodeName(index: number): string {
  return `node${String(index + 1).padStart(3, '0')}`;
}

const topologySchema = z.preprocess(
  (v) => (typeof v === 'string' ? { kind: v } : v),
  z.discriminatedUnion('kind', [
    z.strictObject({ kind: z.literal('full') }),
    z.strictObject({ kind: z.literal('ring') }),
    z.strictObject({ kind: z.literal('line') }),
    z.strictObject({ kind: z.literal('random'), degree: z.number().int().min(2) }),
    z.strictObject({ kind: z.literal('adjacency'), neighbours: z.record(z.string(), z.array(z.string())) }),
  ]),
);

const radioSchema = z.strictObject({
  model: z.literal('radio'),
  /** Channel rate; 300 kbps is 1 MHz 802.11ah at MCS0. */
  bitsPerSecond: z.number().positive().default(MCS0_1MHZ_BITS_PER_SECOND),
  perFrameOverheadUs: z.number().min(0).default(RADIO_FRAME_OVERHEAD_US),
  headerBytes: z.number().int().min(0).default(RADIO_HEADER_BYTES),
  mtuBytes: z
    .number()
    .int()
    .min(IPV4_UDP_HEADER_BYTES + 1)
    .default(RADIO_MTU_BYTES),
  /** Who hears whom; default everyone hears everyone. */
  topology: topologySchema.default({ kind: 'full' }),
  lossOverrides: z.array(z.strictObject({ from: z.string(), to: z.string(), loss: z.number().min(0).max(1) })).default([]),
  txQueueLimit: z.number().int().positive().optional(),
});

const p2pSchema = z.strictObject({
  model: z.literal('p2p'),
  topology: topologySchema.default({ kind: 'full' }),
  bitsPerSecond: z.number().positive().default(MCS0_1MHZ_BITS_PER_SECOND),
  latencyMs: z.number().min(0).default(2),
  jitterMs: z.number().min(0).default(0),
  queueLimit: z.number().int().positive().default(64),
  headerBytes: z.number().int().min(0).default(RADIO_HEADER_BYTES),
});

export type NodeSelection =
  | { readonly kind: 'names'; readonly names: readonly string[] }
  | { readonly kind: 'count'; readonly count: number }
  | { readonly kind: 'fraction'; readonly fraction: number };

/** `[node003, node007]`, a count (`2`), or a fraction (`0.5` or `"50%"`; 1 is a count, write "100%"). */
const nodeSelectionSchema = z.union([z.array(z.string()).min(1), z.number(), z.string()]).transform((v, ctx): NodeSelection => {
  if (Array.isArray(v)) return { kind: 'names', names: v };
  if (typeof v === 'string') {
    const m = /^\s*(\d+(?:\.\d+)?)\s*%\s*$/.exec(v);
    const percent = m === null ? Number.NaN : Number(m[1]);
    if (!(percent > 0 && percent <= 100)) {
      ctx.addIssue({ code: 'custom', message: `expected node names, a count, or a share like "50%", got ${JSON.stringify(v)}` });
      return { kind: 'count', count: 0 };
    }
    return { kind: 'fraction', fraction: percent / 100 };
  }
  if (Number.isInteger(v) && v >= 1) return { kind: 'count', count: v };
  if (v > 0 && v < 1) return { kind: 'fraction', fraction: v };
  ctx.addIssue({ code: 'custom', message: `expected a count of at least 1 or a fraction between 0 and 1, got ${v}` });
  return { kind: 'count', count: 0 };
});

export const FAULT_ACTIONS = ['kill', 'restart', 'partition', 'heal', 'stall', 'leave'] as const;
export type FaultAction = (typeof FAULT_ACTIONS)[number];

const faultSchema = z.strictObject({
  /** Simulated seconds from the start. */
  atS: z.number().min(0),
  /**
   * kill: the node dies (down on the medium, agent stopped); restart: a killed or departed node boots
   * again with a new epoch; partition: the chosen nodes are cut off from the rest; heal: every
   * partition ends; stall: the node's agent freezes for durationS (a CPU stall) while its radio stays
   * up; leave: the node announces its departure and stops.
   */
  action: z.enum(FAULT_ACTIONS),
  /** Which nodes; count and fraction are drawn from the eligible nodes with the scenario's seed. */
  nodes: nodeSelectionSchema.optional(),
  durationS: z.number().positive().optional(),
});

const scenarioObjectSchema = z.strictObject({
  name: z.string().regex(/^[a-z0-9][a-z0-9-]*$/, 'expected lowercase letters, digits and dashes'),
  description: z.string().optional(),
  seed: z.number().int().min(0).default(DEFAULT_SCENARIO_SEED),
  /** Fleet size; nodes are named node001, node002, ... */
  nodes: z.number().int().min(1).max(1_000),
  /** Sites, each a contiguous block of nodes. */
  sites: z.number().int().min(1).default(1),
  /** Zones per site, each a contiguous block of the site's nodes. */
  zones: z.number().int().min(1).default(1),
  durationS: z.number().positive(),
  /** Measures (completeness, age, bytes) start after this; 0 measures from the first boot. */
  warmupS: z.number().min(0).default(0),
  /** Nodes boot at random times within this many seconds of the start; 0 boots all at once. */
  startSpreadS: z.number().min(0).default(0),
  tickMs: z.number().int().positive().default(2_000),
  /** A value counts as fresh while no older than this; default two ticks (the issue's 4 s at 2 s ticks). */
  freshnessMs: z.number().int().positive().optional(),
  workload: z
    .strictObject({
      kind: z.literal('bess').default('bess'),
      seed: z.number().int().min(0).default(DEFAULT_SCENARIO_SEED),
      metrics: z
        .array(z.enum(BESS_CRITICAL_METRICS))
        .min(1)
        .default([...BESS_CRITICAL_METRICS]),
    })
    .prefault({}),
  link: z.discriminatedUnion('model', [radioSchema, p2pSchema]).prefault({ model: 'radio' }),
  /** Per receiver (radio) or per link direction (p2p) probability that a frame is lost. */
  loss: z.number().min(0).max(1).default(0),
  /** Awareness transport: UDP broadcast on the medium, or MQTT through an aggregator's digest. */
  transport: z.enum(['udp', 'mqtt']).default('udp'),
  /** Hops a frame is relayed beyond the sender's neighbours (0: one hop). */
  radius: z.number().int().min(0).max(MAX_HOPS).default(0),
  faults: z.array(faultSchema).default([]),
});

export interface ScenarioNode {
  readonly name: string;
  readonly index: number;
  readonly site: string;
  readonly zone: string;
}

/** A fault with its nodes chosen. */
export interface ResolvedFault {
  readonly atMs: number;
  readonly action: FaultAction;
  /** Empty for heal; for partition, the side cut off from every other node. */
  readonly nodes: readonly string[];
  /** Stall length. */
  readonly durationMs?: number;
  /** Index in the scenario's `faults`. */
  readonly index: number;
}

type ScenarioObject = z.output<typeof scenarioObjectSchema>;

/** Sites and zones as contiguous blocks: site-1 holds node001.., zone-a its first block. */
function planNodes(s: Pick<ScenarioObject, 'nodes' | 'sites' | 'zones'>): ScenarioNode[] {
  return Array.from({ length: s.nodes }, (_, index) => {
    const site = Math.floor((index * s.sites) / s.nodes);
    const first = Math.ceil((site * s.nodes) / s.sites);
    const size = Math.ceil(((site + 1) * s.nodes) / s.sites) - first;
    const zone = Math.floor(((index - first) * s.zones) / size);
    return {
      name: scenarioNodeName(index),
      index,
      site: `site-${site + 1}`,
      zone: `zone-${String.fromCharCode(97 + (zone % 26))}${zone >= 26 ? zone : ''}`,
    };
  });
}

interface Problem {
  readonly path: (string | number)[];
  readonly message: string;
}

/** Walks the faults in time order, choosing nodes and checking each step against the fleet's state. */
function resolveFaults(s: ScenarioObject, names: readonly string[]): { faults: ResolvedFault[]; problems: Problem[] } {
  const problems: Problem[] = [];
  const faults: ResolvedFault[] = [];
  const running = new Set(names);
  const gone: string[] = [];
  const order = s.faults.map((f, index) => ({ f, index })).sort((a, b) => a.f.atS - b.f.atS || a.index - b.index);
  for (const { f, index } of order) {
    const at = (...rest: (string | number)[]) => ['faults', index, ...rest];
    if (f.atS > s.durationS) problems.push({ path: at('atS'), message: `at ${f.atS} s is after the end of the run (${s.durationS} s)` });
    if (f.action === 'stall' && f.durationS === undefined) problems.push({ path: at('durationS'), message: 'a stall needs durationS' });
    if (f.action !== 'stall' && f.durationS !== undefined)
      problems.push({ path: at('durationS'), message: `only a stall takes durationS, not ${f.action}` });
    if (f.action === 'heal') {
      if (f.nodes !== undefined) problems.push({ path: at('nodes'), message: 'heal ends every partition and takes no nodes' });
      faults.push({ atMs: f.atS * 1_000, action: 'heal', nodes: [], index });
      continue;
    }
    if (f.nodes === undefined) {
      problems.push({ path: at('nodes'), message: `${f.action} needs nodes: names, a count or a share` });
      continue;
    }
    const eligible = f.action === 'restart' ? gone : f.action === 'partition' ? names : names.filter((n) => running.has(n));
    const what = f.action === 'restart' ? 'killed or departed' : f.action === 'partition' ? 'in the fleet' : 'running';
    let chosen: string[];
    const sel = f.nodes;
    if (sel.kind === 'names') {
      chosen = [];
      sel.names.forEach((name, i) => {
        if (!names.includes(name))
          problems.push({ path: at('nodes', i), message: `no node "${name}" in a fleet of ${names.length} (node001..)` });
        else if (!eligible.includes(name)) problems.push({ path: at('nodes', i), message: `${name} is not ${what} at ${f.atS} s` });
        else chosen.push(name);
      });
    } else {
      const count = sel.kind === 'count' ? sel.count : Math.max(1, Math.round(sel.fraction * eligible.length));
      if (count > eligible.length) {
        problems.push({
          path: at('nodes'),
          message: `${f.action} of ${count} node(s) at ${f.atS} s, but only ${eligible.length} are ${what}`,
        });
        continue;
      }
      // Restarts take the longest-gone nodes first; the others draw with the scenario's seed.
      chosen =
        f.action === 'restart' ? eligible.slice(0, count) : shuffled(eligible, createSimRandom(s.seed, 0xfa17 + index)).slice(0, count);
    }
    if (f.action === 'kill' || f.action === 'leave') {
      for (const n of chosen) {
        running.delete(n);
        gone.push(n);
      }
    } else if (f.action === 'restart') {
      for (const n of chosen) {
        running.add(n);
        gone.splice(gone.indexOf(n), 1);
      }
    }
    faults.push({
      atMs: f.atS * 1_000,
      action: f.action,
      nodes: chosen,
      ...(f.durationS === undefined ? {} : { durationMs: f.durationS * 1_000 }),
      index,
    });
  }
  return { faults, problems };
}

function topologyNames(topology: z.output<typeof topologySchema>): [string, number][] {
  if (topology.kind !== 'adjacency') return [];
  return Object.entries(topology.neighbours).flatMap(([from, list]) => [
    [from, -1] as [string, number],
    ...list.map((to, i) => [to, i] as [string, number]),
  ]);
}

/** The scenario schema; its output carries the planned fleet and the faults with their nodes chosen. */
export const scenarioSchema = scenarioObjectSchema
  .superRefine((s, ctx) => {
    const problem = (path: (string | number)[], message: string) => ctx.addIssue({ code: 'custom', path, message });
    if (s.warmupS >= s.durationS) problem(['warmupS'], `must be shorter than durationS (${s.durationS} s)`);
    if (s.sites > s.nodes) problem(['sites'], `more sites than nodes (${s.nodes})`);
    else if (s.sites * s.zones > s.nodes) problem(['zones'], `${s.sites * s.zones} zones in all for ${s.nodes} nodes`);
    const names = new Set(Array.from({ length: s.nodes }, (_, i) => scenarioNodeName(i)));
    if (s.link.topology.kind === 'random' && s.link.topology.degree >= s.nodes) {
      problem(['link', 'topology', 'degree'], `must be below the fleet size (${s.nodes}); use full`);
    }
    if (s.link.topology.kind === 'adjacency') {
      for (const [name, i] of topologyNames(s.link.topology)) {
        if (!names.has(name))
          problem(['link', 'topology', 'neighbours', ...(i < 0 ? [name] : [name, i])], `no node "${name}" in the fleet`);
      }
    }
    if (s.link.model === 'radio') {
      s.link.lossOverrides.forEach((o, i) => {
        for (const key of ['from', 'to'] as const) {
          if (!names.has(o[key])) problem(['link', 'lossOverrides', i, key], `no node "${o[key]}" in the fleet`);
        }
      });
    }
    for (const p of resolveFaults(s, [...names]).problems) problem(p.path, p.message);
  })
  .transform((s) => {
    const fleet = planNodes(s);
    return {
      ...s,
      freshnessMs: s.freshnessMs ?? 2 * s.tickMs,
      fleet,
      schedule: resolveFaults(
        s,
        fleet.map((n) => n.name),
      ).faults,
    };
  });

export type Scenario = z.output<typeof scenarioSchema>;
export type ScenarioInput = z.input<typeof scenarioSchema>;
export type LinkModel = Scenario['link'];

/** Scalar settings to apply over the file, by dotted path: { nodes: 10, 'link.model': 'p2p', loss: 0.3 }. */
export type ScenarioOverrides = Readonly<Record<string, string | number | boolean>>;

/**
 * Validates scenario YAML. Throws FieldmeshError FM_CONFIG_UNREADABLE for bad YAML and
 * FM_CONFIG_INVALID naming the file and every field at fault ("steady.yaml: faults[1].nodes: ...").
 */
export function parseScenario(text: string, file: string, overrides: ScenarioOverrides = {}): Scenario {
  // Overrides ride on loadConfig's alias mechanism, so they are parsed and reported like the file.
  const env: Record<string, string> = {};
  const aliases: Record<string, string> = {};
  Object.entries(overrides).forEach(([path, value], i) => {
    env[`SIM_OVERRIDE_${i}`] = String(value);
    aliases[`SIM_OVERRIDE_${i}`] = path;
  });
  return loadConfig(scenarioSchema, { text, file, env, aliases }) as Scenario;
}

/** Where the built-in scenarios live: next to this module, in src/sim/scenarios or dist/sim/scenarios. */
export const BUILTIN_SCENARIO_DIR = fileURLToPath(new URL('./scenarios/', import.meta.url));

export function isBuiltinScenario(name: string): name is BuiltinScenario {
  return (BUILTIN_SCENARIOS as readonly string[]).includes(name);
}

/** The file a built-in name or a path stands for (paths relative to `cwd`). */
export function resolveScenarioFile(nameOrPath: string, cwd: string = process.cwd()): string {
  return isBuiltinScenario(nameOrPath) ? resolve(BUILTIN_SCENARIO_DIR, `${nameOrPath}.yaml`) : resolve(cwd, nameOrPath);
}

/** Loads a built-in scenario by name (steady, partition, churn, cold-start) or a scenario file by path. */
export async function loadScenario(nameOrPath: string, options: { cwd?: string; overrides?: ScenarioOverrides } = {}): Promise<Scenario> {
  const file = resolveScenarioFile(nameOrPath, options.cwd);
  if (!existsSync(file)) {
    const hint = isBuiltinScenario(nameOrPath)
      ? `the built-in scenario "${nameOrPath}" is missing from ${BUILTIN_SCENARIO_DIR} (was the build's copy step skipped?)`
      : `no such file, and not a built-in scenario (${BUILTIN_SCENARIOS.join(', ')})`;
    throw new FieldmeshError('FM_CONFIG_UNREADABLE', `${nameOrPath}: ${hint}`, { details: { file } });
  }
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new FieldmeshError('FM_CONFIG_UNREADABLE', `${file}: ${(err as Error).message}`, { cause: err, details: { file } });
  }
  return parseScenario(text, file, options.overrides);
}
