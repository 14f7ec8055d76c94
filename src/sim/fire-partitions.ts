// `fieldmesh sim --scenario fire-partitions`: the simulator's proof of zone consensus. Each schedule is a
// random zone (2, 3, 4, 5 or 10 voters, cameras on several nodes, 1 or 2 pumps on random owners,
// sometimes an overlapping zone it activates) whose every node runs the real ZoneEngine, evaluator,
// votes and PumpController (over simulated pumps) on a lossy discrete-event network with random
// partitions, stalls, kills and restarts, elections, stale commands and fires on every side. An
// independent oracle judges every pump start against the ground truth (the votes actually cast), and
// the same schedules are judged with the seed's quorum rule. [FM-ZONE-SIM-n] in docs/consensus.md.

import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { quantile } from '../kit/index.js';
import {
  type Detection,
  encodeZoneFrame,
  evaluateZone,
  majorityOf,
  seedHasQuorum,
  type Vote,
  type ZoneConfig,
  type ZoneFrame,
  type ZonePolicy,
  type ZonePump,
} from '../protocol/index.js';
import { FireCluster } from './fire-cluster.js';
import { createSimRandom, type SimRandom } from './medium.js';
import { SimClock } from './sim-clock.js';

/** Zone sizes the schedules cycle through (the issue's). */
export const FIRE_ZONE_SIZES = [2, 3, 4, 5, 10] as const;
export const FIRE_TICK_MS = 1_000;
/** Simulated length of one schedule. */
export const FIRE_SCHEDULE_MS = 190_000;
/** Faults stop here; everything heals and the last fires play out. */
const FAULTS_END_MS = 165_000;
/** Ground truth is sampled this often for missed fires and the seed rule. */
const SAMPLE_MS = 500;
/** A side must hold a fire with a majority this long before a pump that never runs counts as missed. */
const MISSED_FIRE_HOLD_MS = 8_000;
/** A pump is not expected to stop at the exact millisecond: the controller's timer, 1 ms, plus this. */
const RUNTIME_SLACK_MS = 5;
/** Simulated wall clock at t = 0 (not a calendar date anyone reads; only differences matter). */
const SIM_EPOCH_MS = 1_000_000_000;

const POLICY: ZonePolicy = {
  windowMs: 15_000,
  classes: ['fire', 'smoke'],
  minConfidence: 0.6,
  minCameras: 2,
  minNodes: 2,
  threshold: 1,
  cooldownMs: 5_000,
  activates: [],
  voteTtlMs: 6_000,
  maxClockSkewMs: 2_000,
  isolatedFallback: { enabled: false, minCameras: 2, minConfidence: 0.9 },
};

export interface FireSafetyReport {
  readonly schedules: number;
  readonly seed: number;
  readonly zoneSizes: Readonly<Record<string, number>>;
  /** Starts by cause majority/overlap without floor(n/2)+1 configured voters' unexpired votes of that epoch at that instant. Must be 0. */
  readonly actuationsWithoutMajority: number;
  /** Operator commands of an older epoch than the actuator had seen, accepted. Must be 0. */
  readonly staleCommandsAccepted: number;
  /** Certificate starts in an epoch older than the actuator had seen. Must be 0. */
  readonly staleDecisionsAccepted: number;
  /** A pump running past its max runtime while its node was running. Must be 0. */
  readonly runtimeLimitViolations: number;
  /** A pump started within its min off time after a stop. Must be 0. */
  readonly minOffViolations: number;
  /** Fires held by a connected side with a majority of voters and the pump owner that never ran the pump. */
  readonly missedFires: number;
  readonly firesWithMajoritySide: number;
  readonly fires: number;
  /** Second agreeing detection (the one that completes the policy) to pump start, with the zone connected. */
  readonly decisionLatencyP50Ms: number | null;
  readonly decisionLatencyP99Ms: number | null;
  readonly decisionLatencyMaxMs: number | null;
  readonly latencySamples: number;
  readonly pumpStarts: Readonly<Record<string, number>>;
  readonly isolatedFallbackActuations: number;
  readonly staleCommandsInjected: number;
  readonly elections: number;
  readonly faults: Readonly<Record<string, number>>;
  readonly votesCast: number;
  readonly framesSent: number;
  /** Zone frame bytes per node per simulated second, encoded (no IP/radio headers). */
  readonly wire: {
    readonly framesPerNodePerS: number;
    readonly bytesPerNodePerS: number;
    readonly bytesByType: Readonly<Record<string, number>>;
  };
  /** The same schedules judged with the seed's rule `max(2, int(n x 0.51))` of visible voters. */
  readonly seedRule: {
    readonly unsafeActuations: number;
    readonly schedulesWithUnsafe: number;
    /** Instants at which two disjoint sides both actuated a zone's pumps. */
    readonly splitBrainSchedules: number;
    readonly unsafeBySize: Readonly<Record<string, number>>;
  };
}

export interface FirePartitionsOptions {
  readonly schedules: number;
  readonly seed: number;
  /** Default FIRE_ZONE_SIZES, cycled. */
  readonly sizes?: readonly number[];
  readonly onProgress?: (done: number, total: number) => void;
}

/** A fire: cameras of a zone that see it, each every `everyMs`, from `from` to `to`. */
export interface Fire {
  readonly zone: string;
  readonly from: number;
  readonly to: number;
  readonly cameras: readonly { readonly id: string; readonly node: string; readonly confidence: number; readonly offset: number }[];
  readonly everyMs: number;
}

export type FaultEvent =
  | { readonly at: number; readonly kind: 'partition'; readonly sides: readonly (readonly string[])[] }
  | { readonly at: number; readonly kind: 'heal' }
  | { readonly at: number; readonly kind: 'stall'; readonly node: string; readonly ms: number }
  | { readonly at: number; readonly kind: 'kill'; readonly node: string; readonly ms: number }
  | { readonly at: number; readonly kind: 'elect'; readonly node: string; readonly zone: string }
  | {
      readonly at: number;
      readonly kind: 'stale-command';
      readonly from: string;
      readonly pump: string;
      readonly zone: string;
      readonly action: 'start' | 'stop' | 'test';
    }
  | { readonly at: number; readonly kind: 'loss'; readonly loss: number };

export interface FireSchedule {
  readonly zones: readonly ZoneConfig[];
  readonly nodes: readonly string[];
  readonly fires: readonly Fire[];
  readonly faults: readonly FaultEvent[];
  readonly loss: number;
  readonly delayMs: readonly [number, number];
  /** Simulated length; default FIRE_SCHEDULE_MS. */
  readonly durationMs?: number;
}

const pick = <T>(r: SimRandom, xs: readonly T[]): T => xs[r.int(xs.length)] as T;

/** A random zone and its schedule of fires and faults, deterministic for (seed, index). */
export function buildFireSchedule(seed: number, index: number, size: number): FireSchedule {
  const r = createSimRandom(seed, 0xf1e0 + index);
  const voters = Array.from({ length: size }, (_, i) => `v${String(i + 1).padStart(2, '0')}`);
  const nodes = [...voters];
  if (r.next() < 0.25) nodes.push('pumphouse');
  const cameras = voters.flatMap((v) =>
    Array.from({ length: 1 + r.int(2) }, (_, k) => ({
      id: `a-${v}-c${k}`,
      node: v,
      weight: Math.round((0.7 + 0.3 * r.next()) * 100) / 100,
    })),
  );
  const envelope = (): ZonePump['envelope'] => ({
    maxRuntimeMs: 20_000 + 5_000 * r.int(15),
    atMaxRuntime: 'stop',
    minOffMs: 5_000,
    onLeaseLapse: r.next() < 0.5 ? 'stop' : 'keep-running',
    onRestart: r.next() < 0.5 ? 'stop' : 'keep-running',
  });
  // A pump house that does not vote, when there is one, owns the first pump.
  const pumps = Array.from({ length: 1 + r.int(2) }, (_, k) => ({
    id: `a-pump${k + 1}`,
    node: k === 0 && nodes.includes('pumphouse') ? 'pumphouse' : pick(r, nodes),
    envelope: envelope(),
  }));
  const overlap = r.next() < 0.3;
  const fallback = r.next() < 0.15;
  const a: ZoneConfig = {
    id: 'a',
    voters,
    cameras,
    pumps,
    overlaps: overlap ? ['b'] : [],
    policy: {
      ...POLICY,
      activates: overlap ? ['b'] : [],
      isolatedFallback: { ...POLICY.isolatedFallback, enabled: fallback },
    },
  };
  const zones: ZoneConfig[] = [a];
  if (overlap) {
    zones.push({
      id: 'b',
      voters,
      cameras: voters.map((v) => ({ id: `b-${v}`, node: v, weight: 1 })),
      pumps: [{ id: 'b-pump1', node: pick(r, nodes), envelope: envelope() }],
      overlaps: ['a'],
      policy: POLICY,
    });
  }
  // Fires 60 s apart (window 15 s + ttl 6 s + cooldown 5 s after the longest fire of 25 s fit between).
  const fires: Fire[] = [];
  for (let start = 5_000 + r.int(5_000); start < FAULTS_END_MS; start += 60_000) {
    const n = 2 + r.int(Math.min(cameras.length - 1, 5));
    const chosen = [...cameras];
    for (let i = chosen.length - 1; i > 0; i--) {
      const j = r.int(i + 1);
      [chosen[i], chosen[j]] = [chosen[j] as (typeof chosen)[number], chosen[i] as (typeof chosen)[number]];
    }
    fires.push({
      zone: 'a',
      from: start,
      to: start + 10_000 + r.int(15_000),
      everyMs: 2_000 + r.int(2_000),
      cameras: chosen.slice(0, n).map((c) => ({ id: c.id, node: c.node, confidence: 0.75 + 0.25 * r.next(), offset: r.int(3_000) })),
    });
  }
  const faults: FaultEvent[] = [];
  for (let t = 2_000 + r.int(6_000); t < FAULTS_END_MS; t += 3_000 + r.int(12_000)) {
    const x = r.next();
    if (x < 0.3) {
      const k = r.next() < 0.8 ? 2 : 3;
      const sides: string[][] = Array.from({ length: k }, () => []);
      for (const n of nodes) sides[r.int(k)]?.push(n);
      faults.push({ at: t, kind: 'partition', sides });
    } else if (x < 0.45) faults.push({ at: t, kind: 'heal' });
    else if (x < 0.6) faults.push({ at: t, kind: 'stall', node: pick(r, nodes), ms: 1_000 + r.int(15_000) });
    else if (x < 0.72) faults.push({ at: t, kind: 'kill', node: pick(r, nodes), ms: 1_000 + r.int(20_000) });
    else if (x < 0.82) {
      // A paused voter misses an election: the classic stale leader.
      const node = pick(r, voters);
      faults.push({ at: t, kind: 'stall', node, ms: 6_000 + r.int(10_000) });
      faults.push({
        at: t + 500,
        kind: 'elect',
        node: pick(r, nodes.filter((n) => n !== node).length > 0 ? nodes.filter((n) => n !== node) : nodes),
        zone: 'a',
      });
    } else if (x < 0.9) faults.push({ at: t, kind: 'elect', node: pick(r, nodes), zone: pick(r, zones).id });
    else if (x < 0.96) {
      const zone = pick(r, zones);
      const pump = pick(r, zone.pumps);
      faults.push({
        at: t,
        kind: 'stale-command',
        from: pick(r, nodes),
        pump: pump.id,
        zone: zone.id,
        action: pick(r, ['start', 'stop', 'test'] as const),
      });
    } else faults.push({ at: t, kind: 'loss', loss: 0.3 * r.next() });
  }
  faults.push({ at: FAULTS_END_MS, kind: 'heal' });
  const lo = 1 + r.int(20);
  return { zones, nodes, fires, faults, loss: 0.25 * r.next(), delayMs: [lo, lo + r.int(80)] };
}

/** Per-link delay and loss, partitions into sides; a frame in flight when a partition starts still arrives. */
class MessageNetwork {
  loss: number;
  side = new Map<string, number>();
  framesSent = 0;
  bytes = 0;
  readonly bytesByType: Record<string, number> = {};

  constructor(
    private readonly cluster: FireCluster,
    private readonly random: SimRandom,
    loss: number,
    private readonly delayMs: readonly [number, number],
  ) {
    this.loss = loss;
  }

  connected(a: string, b: string): boolean {
    return (this.side.get(a) ?? 0) === (this.side.get(b) ?? 0);
  }

  send(from: string, frame: ZoneFrame): void {
    this.framesSent++;
    const size = frameBytes(frame);
    this.bytes += size;
    this.bytesByType[frame.type] = (this.bytesByType[frame.type] ?? 0) + size;
    for (const to of this.cluster.nodes.keys()) {
      if (to === from || !this.connected(from, to) || this.random.next() < this.loss) continue;
      const [lo, hi] = this.delayMs;
      const delay = lo + this.random.int(hi - lo + 1);
      this.cluster.clock.setTimeout(() => this.cluster.deliver(to, frame, from), delay);
    }
  }
}

const sizeCache = new WeakMap<object, number>();

/** A frame's encoded size (the codec of protocol/consensus/zone-frames.ts). */
function frameBytes(frame: ZoneFrame): number {
  const hit = sizeCache.get(frame);
  if (hit !== undefined) return hit;
  const n = encodeZoneFrame(frame).length;
  sizeCache.set(frame, n);
  return n;
}

interface CastVote {
  readonly voter: string;
  readonly epoch: number;
  readonly time: number;
  readonly ttlMs: number;
}

export interface ScheduleOutcome {
  actuationsWithoutMajority: number;
  staleCommandsAccepted: number;
  staleDecisionsAccepted: number;
  runtimeLimitViolations: number;
  minOffViolations: number;
  missedFires: number;
  firesWithMajoritySide: number;
  fires: number;
  latencies: number[];
  starts: Record<string, number>;
  staleCommandsInjected: number;
  elections: number;
  faults: Record<string, number>;
  votesCast: number;
  framesSent: number;
  bytes: number;
  bytesByType: Record<string, number>;
  nodeSeconds: number;
  seedUnsafe: number;
  seedSplitBrain: boolean;
  failures: string[];
}

/** Runs one random schedule and judges it. */
export function runFireSchedule(seed: number, index: number, size: number): Promise<ScheduleOutcome> {
  return judgeFireSchedule(buildFireSchedule(seed, index, size), seed, index);
}

/** Runs a schedule (random or made by hand) and judges it; `seed` and `index` seed the network's randomness. */
export async function judgeFireSchedule(s: FireSchedule, seed: number, index: number): Promise<ScheduleOutcome> {
  const clock = new SimClock(SIM_EPOCH_MS);
  const dir = mkdtempSync(join(process.platform === 'linux' ? '/dev/shm' : tmpdir(), 'fm-fire-'));
  const votes = new Map<string, CastVote[]>();
  const out: ScheduleOutcome = {
    actuationsWithoutMajority: 0,
    staleCommandsAccepted: 0,
    staleDecisionsAccepted: 0,
    runtimeLimitViolations: 0,
    minOffViolations: 0,
    missedFires: 0,
    firesWithMajoritySide: 0,
    fires: s.fires.length,
    latencies: [],
    starts: {},
    staleCommandsInjected: 0,
    elections: 0,
    faults: {},
    votesCast: 0,
    framesSent: 0,
    bytes: 0,
    bytesByType: {},
    nodeSeconds: (s.nodes.length * (s.durationMs ?? FIRE_SCHEDULE_MS)) / 1000,
    seedUnsafe: 0,
    seedSplitBrain: false,
    failures: [],
  };
  const zoneOf = new Map(s.zones.map((z) => [z.id, z]));
  const pumpZone = new Map(s.zones.flatMap((z) => z.pumps.map((p) => [p.id, z] as const)));
  const startsLog: { at: number; pump: string }[] = [];
  let network: MessageNetwork | undefined;
  const reachable = (node: string, zone: string): string[] =>
    (zoneOf.get(zone)?.voters ?? []).filter((v) => v === node || (cluster.isUp(v) && (network?.connected(node, v) ?? true)));
  const cluster: FireCluster = new FireCluster({
    clock,
    zones: s.zones,
    tickMs: FIRE_TICK_MS,
    dir,
    phase: (node) => createSimRandom(seed ^ index, node.length * 131 + node.charCodeAt(node.length - 1)).int(FIRE_TICK_MS),
    reachableVoters: reachable,
    hooks: {
      onVoteCast(v: Vote) {
        out.votesCast++;
        const list = votes.get(v.zone) ?? [];
        votes.set(v.zone, list);
        list.push({ voter: v.voter, epoch: v.epoch, time: v.time, ttlMs: v.ttlMs });
      },
      onPumpStart(start) {
        const now = clock.now();
        out.starts[start.cause] = (out.starts[start.cause] ?? 0) + 1;
        startsLog.push({ at: now, pump: start.pump });
        if (start.cause !== 'majority' && start.cause !== 'overlap') return;
        // [FM-ZONE-SIM-1] Ground truth: distinct configured voters with a cast, unexpired vote of that epoch now.
        const zone = start.zone === undefined ? undefined : zoneOf.get(start.zone);
        if (zone === undefined || start.epoch === undefined) {
          out.actuationsWithoutMajority++;
          out.failures.push(`${start.pump} started by ${start.cause} with no certificate zone`);
          return;
        }
        const voters = new Set<string>();
        for (const v of votes.get(zone.id) ?? []) {
          if (v.epoch === start.epoch && v.time <= now && now <= v.time + v.ttlMs && zone.voters.includes(v.voter)) voters.add(v.voter);
        }
        if (voters.size < majorityOf(zone.voters.length)) {
          out.actuationsWithoutMajority++;
          out.failures.push(
            `${start.pump} started at ${now - SIM_EPOCH_MS} ms by ${start.cause} of ${zone.id}@${start.epoch} with ${voters.size} live votes`,
          );
        }
        if (start.epoch < cluster.knownEpoch(start.node, zone.id)) {
          out.staleDecisionsAccepted++;
          out.failures.push(
            `${start.pump} started in epoch ${start.epoch} after its node had seen ${cluster.knownEpoch(start.node, zone.id)}`,
          );
        }
      },
      onPumpRecord(record, node) {
        // [FM-ZONE-SIM-2] A command accepted in an epoch older than the actuator had seen for the pump's zone.
        if (record.kind === 'command' && record.outcome === 'accepted' && record.action !== 'estop' && record.epoch !== undefined) {
          if (record.epoch < cluster.knownEpoch(node, record.zone)) {
            out.staleCommandsAccepted++;
            out.failures.push(`stale command ${record.action} accepted at ${node}`);
          }
        }
      },
    },
  });
  network = new MessageNetwork(cluster, createSimRandom(seed, 0x9e7 + index), s.loss, s.delayMs);
  cluster.network = network;
  for (const n of s.nodes) await cluster.start(n);

  // Ground truth of detections: emitted at a running camera node.
  const emitted: { d: Detection; node: string; whole: boolean }[] = [];
  let seq = 0;
  const events: { at: number; run: () => Promise<void> | void }[] = [];
  for (const f of s.fires) {
    for (const c of f.cameras) {
      for (let t = f.from + c.offset; t <= f.to; t += f.everyMs) {
        events.push({
          at: t,
          run: () => {
            const d: Detection = {
              id: `det-${++seq}`,
              camera: c.id,
              node: c.node,
              class: 'fire',
              confidence: c.confidence,
              time: clock.now(),
            };
            if (cluster.detect(c.node, d))
              emitted.push({ d, node: c.node, whole: network.side.size === 0 && s.nodes.every((n) => cluster.isUp(n)) });
          },
        });
      }
    }
  }
  for (const f of s.faults) {
    events.push({
      at: f.at,
      run: async () => {
        out.faults[f.kind] = (out.faults[f.kind] ?? 0) + 1;
        switch (f.kind) {
          case 'partition':
            network.side = new Map(f.sides.flatMap((side, i) => side.map((n) => [n, i + 1] as const)));
            return;
          case 'heal':
            network.side = new Map();
            return;
          case 'loss':
            network.loss = f.loss;
            return;
          case 'stall':
            cluster.stall(f.node, f.ms);
            return;
          case 'kill': {
            await cluster.kill(f.node);
            const node = f.node;
            clock.setTimeout(() => {
              restarts.push(node);
            }, f.ms);
            return;
          }
          case 'elect':
            if (cluster.elect(f.node, f.zone) !== undefined) out.elections++;
            return;
          case 'stale-command': {
            const owner = zoneOf.get(f.zone)?.pumps.find((p) => p.id === f.pump)?.node ?? '';
            const known = cluster.knownEpoch(owner, f.zone);
            if (known === 0) return;
            out.staleCommandsInjected++;
            const frame: ZoneFrame = {
              type: 'command',
              zone: f.zone,
              pump: f.pump,
              action: f.action,
              epoch: known - 1,
              id: `stale-${f.at}`,
              by: 'operator-on-a-stale-console',
              time: clock.now(),
            };
            network.send(f.from === owner ? (s.nodes.find((n) => n !== owner) ?? f.from) : f.from, frame);
            return;
          }
        }
      },
    });
  }
  const restarts: string[] = [];
  events.sort((x, y) => x.at - y.at);

  // Samples of the ground truth: who can reach whom, which side holds a fire with a majority, the seed rule.
  const components = (): Map<string, number> => {
    const m = new Map<string, number>();
    for (const n of s.nodes) if (cluster.isUp(n)) m.set(n, network.side.get(n) ?? 0);
    return m;
  };
  const a = zoneOf.get('a') as ZoneConfig;
  const need = majorityOf(a.voters.length);
  const holdStart = new Map<string, number>();
  const fireSeen = s.fires.map(() => ({ held: false, ran: false, heldFrom: 0 }));
  let seedActive = new Set<string>();
  const sample = () => {
    const now = clock.now();
    const t = now - SIM_EPOCH_MS;
    const comp = components();
    const sidesWithFire = new Map<number, boolean>();
    const fireOn = (side: number): boolean => {
      const hit = sidesWithFire.get(side);
      if (hit !== undefined) return hit;
      const here = emitted.filter((e) => comp.get(e.node) === side && e.d.time > now - a.policy.windowMs).map((e) => e.d);
      const fire = here.length >= 2 && evaluateZone(a, here, now).fire;
      sidesWithFire.set(side, fire);
      return fire;
    };
    const visible = (side: number) => a.voters.filter((v) => comp.get(v) === side).length;
    // Missed fires: a side with a majority of voters, a pump owner of the zone and the fire on its cameras.
    s.fires.forEach((f, i) => {
      const seen = fireSeen[i] as { held: boolean; ran: boolean; heldFrom: number };
      if (t < f.from || t > f.to + a.policy.windowMs) return;
      const running = a.pumps.some((p) => cluster.drivers.get(p.id)?.running);
      if (running) seen.ran = true;
      const ok = a.pumps.some((p) => {
        const side = comp.get(p.node);
        return side !== undefined && visible(side) >= need && fireOn(side);
      });
      const key = `fire${i}`;
      if (ok) {
        if (!holdStart.has(key)) holdStart.set(key, t);
        if (t - (holdStart.get(key) ?? t) >= MISSED_FIRE_HOLD_MS) seen.held = true;
      } else holdStart.delete(key);
    });
    // [FM-ZONE-SIM-3] The seed's rule: a coordinator on each side actuates the pumps it reaches when
    // max(2, int(n x 0.51)) voters are visible there and a weighted detection holds on its side.
    const active = new Set<string>();
    const actingSides = new Set<number>();
    for (const p of a.pumps) {
      const side = comp.get(p.node);
      if (side === undefined) continue;
      const vis = visible(side);
      if (seedHasQuorum(vis, a.voters.length) && fireOn(side)) {
        actingSides.add(side);
        if (vis < need) {
          active.add(p.id);
          if (!seedActive.has(p.id)) out.seedUnsafe++;
        }
      }
    }
    if (actingSides.size > 1) out.seedSplitBrain = true;
    seedActive = active;
  };

  let nextSample = 0;
  const runTo = async (until: number) => {
    while (nextSample <= until) {
      await cluster.runUntil(SIM_EPOCH_MS + nextSample);
      for (const n of restarts.splice(0)) await cluster.start(n);
      sample();
      nextSample += SAMPLE_MS;
    }
    await cluster.runUntil(SIM_EPOCH_MS + until);
    for (const n of restarts.splice(0)) await cluster.start(n);
  };
  for (const e of events) {
    await runTo(e.at);
    await e.run();
    await cluster.settle();
  }
  const durationMs = s.durationMs ?? FIRE_SCHEDULE_MS;
  await runTo(durationMs);
  for (const n of s.nodes) if (!cluster.isUp(n) && cluster.stateOf(n) === 'down') await cluster.start(n);
  await cluster.runUntil(SIM_EPOCH_MS + durationMs + 1);

  for (const seen of fireSeen) {
    if (!seen.held) continue;
    out.firesWithMajoritySide++;
    if (!seen.ran) out.missedFires++;
  }

  // [FM-ZONE-SIM-4] Runtime limit and min off, from the physical pump's transitions.
  const end = clock.now();
  for (const [pump, list] of cluster.transitions) {
    const zone = pumpZone.get(pump) as ZoneConfig;
    const cfg = zone.pumps.find((p) => p.id === pump) as ZonePump;
    const outages = cluster.outages(cfg.node);
    let lastStop: number | undefined;
    for (let i = 0; i < list.length; i++) {
      const tr = list[i] as { at: number; running: boolean };
      if (!tr.running) {
        lastStop = tr.at;
        continue;
      }
      if (lastStop !== undefined && tr.at < lastStop + cfg.envelope.minOffMs - RUNTIME_SLACK_MS) {
        out.minOffViolations++;
        out.failures.push(`${pump} restarted ${tr.at - lastStop} ms after a stop`);
      }
      const stop = list[i + 1]?.at ?? end;
      const limit = tr.at + cfg.envelope.maxRuntimeMs + RUNTIME_SLACK_MS;
      if (stop > limit && uncovered(limit, stop, outages) > RUNTIME_SLACK_MS) {
        out.runtimeLimitViolations++;
        out.failures.push(`${pump} ran ${stop - tr.at} ms (limit ${cfg.envelope.maxRuntimeMs})`);
      }
    }
  }

  // [FM-ZONE-SIM-5] Latency: the detection that completes the policy, the zone whole, no pump running.
  for (const f of s.fires) {
    const mine = emitted.filter((e) => e.d.time >= SIM_EPOCH_MS + f.from && e.d.time <= SIM_EPOCH_MS + f.to);
    let completed: (typeof mine)[number] | undefined;
    for (let i = 0; i < mine.length && completed === undefined; i++) {
      const e = mine[i] as (typeof mine)[number];
      if (
        evaluateZone(
          a,
          mine.slice(0, i + 1).map((x) => x.d),
          e.d.time,
        ).fire
      )
        completed = e;
    }
    if (completed === undefined || !completed.whole) continue;
    const c = completed.d.time - SIM_EPOCH_MS;
    // The zone whole when the policy completes, and no fault in the next 2 s.
    const quiet = s.faults.every((x) => x.at < c || x.at > c + 2_000 || x.kind === 'loss');
    const busy = a.pumps.some((p) => {
      const list = cluster.transitions.get(p.id) ?? [];
      const before = list.filter((x) => x.at - SIM_EPOCH_MS <= c).at(-1);
      return before !== undefined && (before.running || before.at - SIM_EPOCH_MS > c - p.envelope.minOffMs - 1_000);
    });
    if (!quiet || busy) continue;
    const first = startsLog.find((x) => x.at - SIM_EPOCH_MS >= c && a.pumps.some((p) => p.id === x.pump));
    if (first !== undefined) out.latencies.push(first.at - SIM_EPOCH_MS - c);
  }

  out.framesSent = network.framesSent;
  out.bytes = network.bytes;
  Object.assign(out.bytesByType, network.bytesByType);
  await cluster.close();
  return out;
}

/** Measure of [from, to] not covered by the outages. */
function uncovered(from: number, to: number, outages: readonly { from: number; to: number }[]): number {
  let left = to - from;
  for (const o of outages) {
    const lo = Math.max(from, o.from);
    const hi = Math.min(to, o.to === Number.POSITIVE_INFINITY ? to : o.to + RUNTIME_SLACK_MS);
    if (hi > lo) left -= hi - lo;
  }
  return left;
}

/** Runs `schedules` schedules and sums them up. */
export async function runFirePartitions(o: FirePartitionsOptions): Promise<{ safety: FireSafetyReport; failures: string[] }> {
  const sizes = o.sizes ?? FIRE_ZONE_SIZES;
  const total: ScheduleOutcome[] = [];
  const bySize: Record<string, number> = {};
  const unsafeBySize: Record<string, number> = {};
  const failures: string[] = [];
  for (let i = 0; i < o.schedules; i++) {
    const size = sizes[i % sizes.length] as number;
    const r = await runFireSchedule(o.seed, i, size);
    total.push(r);
    bySize[size] = (bySize[size] ?? 0) + 1;
    unsafeBySize[size] = (unsafeBySize[size] ?? 0) + r.seedUnsafe;
    for (const f of r.failures) failures.push(`schedule ${i} (${size} voters): ${f}`);
    o.onProgress?.(i + 1, o.schedules);
  }
  const sum = (f: (x: ScheduleOutcome) => number) => total.reduce((acc, x) => acc + f(x), 0);
  const latencies = total.flatMap((x) => x.latencies);
  const q = (p: number) => (latencies.length === 0 ? null : Math.round(quantile(latencies, p)));
  const merge = (f: (x: ScheduleOutcome) => Record<string, number>) => {
    const m: Record<string, number> = {};
    for (const x of total) for (const [k, v] of Object.entries(f(x))) m[k] = (m[k] ?? 0) + v;
    return m;
  };
  const nodeSeconds = sum((x) => x.nodeSeconds);
  return {
    safety: {
      schedules: o.schedules,
      seed: o.seed,
      zoneSizes: bySize,
      actuationsWithoutMajority: sum((x) => x.actuationsWithoutMajority),
      staleCommandsAccepted: sum((x) => x.staleCommandsAccepted),
      staleDecisionsAccepted: sum((x) => x.staleDecisionsAccepted),
      runtimeLimitViolations: sum((x) => x.runtimeLimitViolations),
      minOffViolations: sum((x) => x.minOffViolations),
      missedFires: sum((x) => x.missedFires),
      firesWithMajoritySide: sum((x) => x.firesWithMajoritySide),
      fires: sum((x) => x.fires),
      decisionLatencyP50Ms: q(0.5),
      decisionLatencyP99Ms: q(0.99),
      decisionLatencyMaxMs: q(1),
      latencySamples: latencies.length,
      pumpStarts: merge((x) => x.starts),
      isolatedFallbackActuations: total.reduce((acc, x) => acc + (x.starts['isolated-fallback'] ?? 0), 0),
      staleCommandsInjected: sum((x) => x.staleCommandsInjected),
      elections: sum((x) => x.elections),
      faults: merge((x) => x.faults),
      votesCast: sum((x) => x.votesCast),
      framesSent: sum((x) => x.framesSent),
      wire: {
        framesPerNodePerS: Math.round((sum((x) => x.framesSent) / nodeSeconds) * 100) / 100,
        bytesPerNodePerS: Math.round((sum((x) => x.bytes) / nodeSeconds) * 10) / 10,
        bytesByType: merge((x) => x.bytesByType),
      },
      seedRule: {
        unsafeActuations: sum((x) => x.seedUnsafe),
        schedulesWithUnsafe: total.filter((x) => x.seedUnsafe > 0).length,
        splitBrainSchedules: total.filter((x) => x.seedSplitBrain).length,
        unsafeBySize,
      },
    },
    failures,
  };
}
