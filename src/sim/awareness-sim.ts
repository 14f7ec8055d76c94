// The awareness simulator: N nodes, each running the agent's own critical set and awareness plane
// (the code `fieldmesh node` runs), fed by the battery physics, over an emulated medium, on a
// simulated clock. Faults from the scenario; measures for the report. [issue 4]

import { BatterySim, CriticalSet } from '../agent/index.js';
import { AwarenessPlane, type MembershipChange, othersInDigest } from '../awareness/index.js';
import { type Clock, ManualClock, quantile, silentLogger, type TimerHandle } from '../kit/index.js';
import { type Deadband, encodeBundle, type WireValue } from '../protocol/index.js';
import type { FrameLink, LinkPeer } from '../transport/index.js';
import {
  buildTopology,
  createPointToPointNetwork,
  createSharedRadio,
  type PointToPointLinkSpec,
  type PointToPointStats,
  type RadioStats,
  type SimMedium,
} from './medium.js';
import type { DesignResult, TimeSeries } from './report.js';
import type { ResolvedFault, Scenario, ScenarioNode } from './scenario.js';

/** The critical selectors of the simulated battery nodes: the demo's deadbands, a 10 s max silence. */
export const SIM_CRITICAL = [
  { match: 'battery_soc', deadband: 0, minInterval: 0, maxSilence: 10_000, decimals: 1 },
  { match: 'dc_voltage', deadband: 0.05, minInterval: 0, maxSilence: 10_000, decimals: 2 },
  { match: 'dc_current', deadband: 1, minInterval: 0, maxSilence: 10_000, decimals: 1 },
  { match: 'ac_in_l1_power', deadband: '5%', minInterval: 0, maxSilence: 10_000, decimals: 0 },
  { match: 'ac_out_l1_power', deadband: '5%', minInterval: 0, maxSilence: 10_000, decimals: 0 },
] as const;

const METRIC_OF_ALIAS = ['', 'battery_soc', 'dc_voltage', 'dc_current', 'ac_in_l1_power', 'ac_out_l1_power'] as const;

function withinDeadband(deadband: Deadband, held: WireValue, actual: WireValue): boolean {
  if (held === null || actual === null) return held === actual;
  switch (deadband.kind) {
    case 'none':
      return Math.abs(held - actual) < 1e-9;
    case 'absolute':
      return Math.abs(held - actual) <= deadband.value + 1e-9;
    case 'relative':
      return Math.abs(held - actual) <= deadband.value * Math.abs(held) + 1e-9;
  }
}

function deadbandOf(rule: (typeof SIM_CRITICAL)[number]): Deadband {
  const d: number | string = rule.deadband;
  if (typeof d === 'string') return { kind: 'relative', value: Number(d.slice(0, -1)) / 100 };
  return d === 0 ? { kind: 'none' } : { kind: 'absolute', value: d };
}
const DEADBANDS = SIM_CRITICAL.map(deadbandOf);

/** A node's view of time and of its link while its process may be frozen (a stall). */
class StallableClock implements Clock {
  stalled = false;
  private held: (() => void)[] = [];
  constructor(private readonly base: Clock) {}
  now(): number {
    return this.base.now();
  }
  monotonic(): number {
    return this.base.monotonic();
  }
  setTimeout(fn: () => void, ms: number): TimerHandle {
    return this.base.setTimeout(() => (this.stalled ? this.held.push(fn) : fn()), ms);
  }
  clearTimeout(handle: TimerHandle): void {
    this.base.clearTimeout(handle);
  }
  /** The process runs again: what was due while frozen runs now, in order. */
  resume(): void {
    this.stalled = false;
    const due = this.held;
    this.held = [];
    for (const fn of due) fn();
  }
}

/** Frames that arrive during a stall wait in the socket buffer and are read after it. */
function stallableLink(link: FrameLink, clock: StallableClock): FrameLink {
  let receiver: ((frame: Uint8Array, from: LinkPeer) => void) | undefined;
  link.onFrame((frame, from) => {
    if (clock.stalled) clock.setTimeout(() => receiver?.(frame, from), 0);
    else receiver?.(frame, from);
  });
  return { ...link, send: (f) => link.send(f), onFrame: (r) => (receiver = r), stats: () => link.stats(), close: () => link.close() };
}

/** The broker's node in the MQTT path's star. */
const BROKER = '_broker';
/** Per MQTT message on the radio: IPv4+TCP 40, MAC/LLC/FCS 38, MQTT fixed header 2, topic ("fieldmesh/site-1/node001/aware") 32. */
export const MQTT_HEADER_BYTES = 40 + 38 + 2 + 32;

/** The aggregator in the star: what reaches the broker in one tick goes to every node as one digest. */
function startSimAggregator(link: FrameLink, clock: Clock, tickMs: number): void {
  let pending: Uint8Array[] = [];
  link.onFrame((frame) => pending.push(frame));
  const flush = () => {
    if (pending.length > 0) link.send(encodeBundle(pending));
    pending = [];
    clock.setTimeout(flush, tickMs);
  };
  clock.setTimeout(flush, tickMs);
}

/** A node's side of the star: digests unpacked into frames, its own left out (as `createMqttLink` does). */
function digestReader(link: FrameLink, self: () => number | undefined): FrameLink {
  let receiver: ((frame: Uint8Array, from: LinkPeer) => void) | undefined;
  link.onFrame((bundle, from) => {
    for (const frame of othersInDigest(bundle, self()).frames) receiver?.(frame, from);
  });
  return { ...link, send: (f) => link.send(f), onFrame: (r) => (receiver = r), stats: () => link.stats(), close: () => link.close() };
}

/** The traffic figures both media report, under one name. */
interface Traffic {
  readonly frames: number;
  readonly payloadBytes: number;
  /** What the nodes themselves sent (the broker's digests left out). */
  readonly nodePayloadBytes: number;
  readonly onAirBytes: number;
  readonly airtimeSeconds: number;
}

function trafficOf(stats: RadioStats | PointToPointStats): Traffic {
  return {
    frames: stats.frames,
    payloadBytes: stats.payloadBytes,
    nodePayloadBytes: Object.entries(stats.perNode).reduce((n, [name, t]) => (name === BROKER ? n : n + t.payloadBytesSent), 0),
    onAirBytes: 'onAirBytes' in stats ? stats.onAirBytes : stats.wireBytes,
    airtimeSeconds: stats.airtimeSeconds,
  };
}

interface SimNode {
  readonly plan: ScenarioNode;
  epoch: number;
  running: boolean;
  left: boolean;
  stalledUntil: number;
  bootedAt: number;
  clock: StallableClock;
  battery: BatterySim;
  critical: CriticalSet;
  plane: AwarenessPlane | undefined;
  stepTimer: TimerHandle | undefined;
  /** The node's actual readings per tick, newest last, per metric index (0..4): [ms, value]. */
  readonly history: [number, number][][];
}

export interface AwarenessSimOptions {
  readonly onProgress?: (simulatedMs: number) => void;
  /** Simulated ms per clock step. Default 5. */
  readonly stepMs?: number;
}

export interface AwarenessSimOutcome {
  readonly design: DesignResult;
  readonly medium: RadioStats | PointToPointStats;
  /** Failure verdicts, for the report's notes and tests. */
  readonly verdicts: readonly { observer: string; origin: string; atMs: number; false: boolean; reason?: string }[];
  readonly detections: readonly { origin: string; killedAtMs: number; observer: string; afterMs: number }[];
  /** Frames the planes sent, by type, over the whole run (warm-up included). */
  readonly framesByType: Readonly<Record<string, number>>;
  /** At the end, per running node: how many of the other running nodes it holds alive or merely suspect (not dead, not unknown). */
  readonly finalView: readonly { node: string; alive: number; of: number }[];
}

/** Runs the fieldmesh awareness plane of a scenario on the emulated medium (UDP-style datagrams). */
export async function runAwarenessSim(s: Scenario, options: AwarenessSimOptions = {}): Promise<AwarenessSimOutcome> {
  const start = Date.UTC(2026, 0, 1, 10);
  const clock = new ManualClock(start);
  const names = s.fleet.map((n) => n.name);
  const mqtt = s.transport === 'mqtt';
  const medium: SimMedium<RadioStats | PointToPointStats> = mqtt
    ? // The MQTT path: every node has one TCP connection to the broker; the broker sends each node its own copy.
      createPointToPointNetwork({
        clock,
        seed: s.seed,
        links: names.map((name) => ({
          a: name,
          b: BROKER,
          bitsPerSecond: s.link.bitsPerSecond,
          latencyMs: s.link.model === 'p2p' ? s.link.latencyMs : 2,
          jitterMs: 0,
          // TCP repairs loss by retransmission; the retransmitted frames are not counted (optimistic).
          loss: 0,
          queueLimit: 1_000,
        })),
        headerBytes: MQTT_HEADER_BYTES,
      })
    : s.link.model === 'radio'
      ? createSharedRadio({
          clock,
          seed: s.seed,
          nodes: names,
          bitsPerSecond: s.link.bitsPerSecond,
          perFrameOverheadUs: s.link.perFrameOverheadUs,
          headerBytes: s.link.headerBytes,
          loss: s.loss,
          lossOverrides: s.link.lossOverrides,
          topology: s.link.topology,
        })
      : createPointToPointNetwork({
          clock,
          seed: s.seed,
          links: p2pLinks(s, names),
          headerBytes: s.link.headerBytes,
        });
  if (mqtt) startSimAggregator(medium.link(BROKER), clock, s.tickMs);
  const tickMs = s.tickMs;
  const freshnessMs = s.freshnessMs ?? 2 * tickMs;
  const joinGraceMs = 3 * tickMs;
  const warmupMs = s.warmupS * 1000;
  const durationMs = s.durationS * 1000;
  const nodes = new Map<string, SimNode>();
  const byOrigin = new Map<number, SimNode>();
  const verdicts: { observer: string; origin: string; atMs: number; false: boolean; reason?: string }[] = [];
  const detections: { origin: string; killedAtMs: number; observer: string; afterMs: number }[] = [];
  const killedAt = new Map<string, number>();
  let partitioned: Set<string> | undefined;
  let healedAt = Number.NEGATIVE_INFINITY;
  let duplicatesAtWarmup = 0;

  // Who can hear whom: on the radio, the two sides of a cut; through the broker, only the broker's side
  // (the cut-off nodes lose each other too: the star's single point of failure).
  const sameSide = (a: string, b: string) =>
    partitioned === undefined || (mqtt ? !partitioned.has(a) && !partitioned.has(b) : partitioned.has(a) === partitioned.has(b));
  const rel = (ms: number) => ms - start;

  function onVerdict(observer: SimNode, change: MembershipChange): void {
    if (change.kind !== 'failed') return;
    const target = byOrigin.get(change.origin);
    const origin = target?.plan.name ?? `origin ${change.origin}`;
    const now = clock.now();
    if (target === undefined) return;
    const dead = !target.running;
    // A verdict that falls just after a heal was reached on the partition's silence: it is the partition's.
    const unreachable = !sameSide(observer.plan.name, target.plan.name) || now - healedAt < 2 * tickMs;
    verdicts.push({
      observer: observer.plan.name,
      origin,
      atMs: rel(now),
      false: !dead && !unreachable,
      ...(unreachable && !dead ? { reason: 'partitioned' } : {}),
    });
    const killed = killedAt.get(origin);
    if (dead && killed !== undefined)
      detections.push({ origin, killedAtMs: rel(killed), observer: observer.plan.name, afterMs: now - killed });
  }

  function boot(node: SimNode): void {
    node.epoch++;
    node.bootedAt = clock.now();
    node.running = true;
    node.left = false;
    node.clock = new StallableClock(clock);
    node.critical = new CriticalSet(SIM_CRITICAL.map((c) => ({ ...c })));
    const raw = medium.link(node.plan.name);
    const link = stallableLink(mqtt ? digestReader(raw, () => node.plane?.originId) : raw, node.clock);
    const plane = new AwarenessPlane({
      identity: { site: node.plan.site, node: node.plan.name, zone: node.plan.zone },
      epoch: node.epoch,
      link,
      critical: node.critical.cursor(),
      clock: node.clock,
      logger: silentLogger,
      tickMs,
      radius: s.radius,
      onEvent: (change) => onVerdict(node, change),
    });
    node.plane = plane;
    byOrigin.set(plane.originId, node);
    medium.up(node.plan.name);
    // Readings first, then the plane's tick 1 ms later, every tick.
    const step = () => {
      const reading = node.battery.step();
      const now = clock.now();
      SIM_CRITICAL.forEach((c, m) => {
        const value = reading[c.match] as number;
        node.critical.observe({ name: c.match, labels: { device: 'battery' }, time: now, value, type: 'gauge' });
        const h = node.history[m] as [number, number][];
        h.push([now, value]);
        if (h.length > 64) h.shift();
      });
      node.stepTimer = node.clock.setTimeout(step, tickMs);
    };
    step();
    node.clock.setTimeout(() => plane.start(), 1);
  }

  function halt(node: SimNode, graceful: boolean): void {
    node.running = false;
    if (node.stepTimer !== undefined) node.clock.clearTimeout(node.stepTimer);
    const plane = node.plane;
    node.plane = undefined;
    if (plane === undefined) return;
    void plane.stop(graceful);
    if (!graceful) medium.down(node.plan.name);
    // A leave frame goes on air before the node is gone.
    else clock.setTimeout(() => medium.down(node.plan.name), tickMs);
  }

  // Boot the fleet, spread over startSpreadS.
  const spreadMs = s.startSpreadS * 1000;
  s.fleet.forEach((plan, i) => {
    const node: SimNode = {
      plan,
      epoch: 0,
      running: false,
      left: false,
      stalledUntil: 0,
      bootedAt: 0,
      clock: new StallableClock(clock),
      battery: new BatterySim(s.workload.seed, plan.index, tickMs / 1000),
      critical: new CriticalSet([]),
      plane: undefined,
      stepTimer: undefined,
      history: SIM_CRITICAL.map(() => []),
    };
    nodes.set(plan.name, node);
    const at = s.fleet.length > 1 ? Math.round((spreadMs * i) / (s.fleet.length - 1)) : 0;
    clock.setTimeout(() => boot(node), at);
  });

  // Faults.
  for (const fault of s.schedule) clock.setTimeout(() => applyFault(fault), fault.atMs);
  function applyFault(f: ResolvedFault): void {
    for (const name of f.nodes) {
      const node = nodes.get(name);
      if (node === undefined) continue;
      if (f.action === 'kill' && node.running) {
        killedAt.set(name, clock.now());
        halt(node, false);
      } else if (f.action === 'leave' && node.running) {
        node.left = true;
        halt(node, true);
      } else if (f.action === 'restart' && !node.running) {
        killedAt.delete(name);
        boot(node);
      } else if (f.action === 'stall' && node.running) {
        node.clock.stalled = true;
        node.stalledUntil = clock.now() + (f.durationMs ?? 5000);
        const stalled = node.clock;
        clock.setTimeout(() => stalled.resume(), f.durationMs ?? 5000);
      }
    }
    if (f.action === 'partition') {
      partitioned = new Set(f.nodes);
      medium.partition(f.nodes);
    } else if (f.action === 'heal') {
      partitioned = undefined;
      healedAt = clock.now();
      medium.heal();
    }
  }

  // Measurement, once per tick after the warm-up.
  const completenessSeries = { tS: [] as number[], values: [] as (number | null)[] } satisfies TimeSeries;
  const ageSeries = { tS: [] as number[], values: [] as (number | null)[] } satisfies TimeSeries;
  const bytesSeries = { tS: [] as number[], values: [] as (number | null)[] } satisfies TimeSeries;
  const farthestAges: number[] = [];
  let fresh = 0;
  let pairs = 0;
  let fullViewAtMs: number | undefined;
  let lastOnAir = 0;
  let statsAtWarmup: Traffic | undefined;

  function heldAge(observer: SimNode, origin: SimNode, now: number): number {
    const plane = observer.plane as AwarenessPlane;
    const held = plane.fleet.valuesOf((origin.plane as AwarenessPlane).originId);
    if (held === undefined) return Number.POSITIVE_INFINITY;
    let worst = 0;
    for (let alias = 1; alias < METRIC_OF_ALIAS.length; alias++) {
      const value = held.get(alias);
      if (value === undefined) return Number.POSITIVE_INFINITY;
      const history = origin.history[alias - 1] as [number, number][];
      // The value held is as old as the latest moment the origin's reading was within its deadband of it.
      let age = Number.POSITIVE_INFINITY;
      for (let k = history.length - 1; k >= 0; k--) {
        const actual = (history[k] as [number, number])[1];
        if (withinDeadband(DEADBANDS[alias - 1] as Deadband, value, actual)) {
          age = k === history.length - 1 ? 0 : now - (history[k + 1] as [number, number])[0];
          break;
        }
      }
      worst = Math.max(worst, age);
    }
    return worst;
  }

  /** Full view: every running node holds every other's announce and a value of each of its series. */
  function checkFullView(now: number, running: readonly SimNode[]): void {
    if (fullViewAtMs !== undefined || running.length !== nodes.size) return;
    const holds = (r: SimNode, o: SimNode) =>
      (r.plane as AwarenessPlane).fleet.valuesOf((o.plane as AwarenessPlane).originId)?.size === SIM_CRITICAL.length;
    if (running.every((o) => running.every((r) => r === o || holds(r, o)))) fullViewAtMs = rel(now);
  }

  function measure(): void {
    const now = clock.now();
    const tS = Math.round(rel(now) / 100) / 10;
    const running = [...nodes.values()].filter((n) => n.running && n.plane !== undefined);
    checkFullView(now, running);
    // Completeness counts nodes past their join (a few ticks to be announced) and not frozen or just thawed.
    const live = running.filter((n) => now >= n.stalledUntil + freshnessMs && now >= n.bootedAt + joinGraceMs);
    let tickFresh = 0;
    let tickPairs = 0;
    const ages: number[] = [];
    for (const origin of live) {
      let farthest = 0;
      for (const observer of live) {
        if (observer === origin || !sameSide(observer.plan.name, origin.plan.name)) continue;
        const age = heldAge(observer, origin, now);
        tickPairs++;
        if (age <= freshnessMs) tickFresh++;
        farthest = Math.max(farthest, age);
      }
      if (Number.isFinite(farthest)) ages.push(farthest);
      else ages.push(durationMs);
    }
    const onAir = trafficOf(medium.stats()).onAirBytes;
    if (now - start >= warmupMs) {
      fresh += tickFresh;
      pairs += tickPairs;
      farthestAges.push(...ages);
      completenessSeries.tS.push(tS);
      completenessSeries.values.push(tickPairs === 0 ? null : tickFresh / tickPairs);
      ageSeries.tS.push(tS);
      ageSeries.values.push(ages.length === 0 ? null : quantile(ages, 0.99));
      bytesSeries.tS.push(tS);
      bytesSeries.values.push((onAir - lastOnAir) / (tickMs / 1000));
    }
    lastOnAir = onAir;
  }
  // Measure half a tick off the nodes' ticks, so a frame in flight does not decide a sample.
  const measureEvery = () => {
    measure();
    clock.setTimeout(measureEvery, tickMs);
  };
  clock.setTimeout(measureEvery, tickMs / 2);
  const watchFullView = () => {
    checkFullView(
      clock.now(),
      [...nodes.values()].filter((n) => n.running && n.plane !== undefined),
    );
    if (fullViewAtMs === undefined) clock.setTimeout(watchFullView, 100);
  };
  clock.setTimeout(watchFullView, 100);
  clock.setTimeout(() => {
    statsAtWarmup = trafficOf(medium.stats());
    duplicatesAtWarmup = sumDuplicates();
  }, warmupMs);

  function sumDuplicates(): number {
    let n = 0;
    for (const node of nodes.values()) n += node.plane?.stats().duplicates ?? 0;
    return n;
  }

  // Run the clock.
  const stepMs = options.stepMs ?? 5;
  for (let t = 0; t < durationMs; t += stepMs) {
    clock.advance(stepMs);
    if (t % 1000 === 0) {
      options.onProgress?.(t);
      // Let promise continuations (link sends, plane stops) run between simulated seconds.
      await new Promise((resolve) => setImmediate(resolve));
    }
  }
  const endStats = medium.stats();
  const framesByType: Record<string, number> = {};
  for (const n of nodes.values())
    for (const [type, count] of Object.entries(n.plane?.stats().framesSent ?? {})) framesByType[type] = (framesByType[type] ?? 0) + count;
  const runningAtEnd = [...nodes.values()].filter((n) => n.running && n.plane !== undefined);
  const finalView = runningAtEnd.map((n) => {
    const members = new Map((n.plane as AwarenessPlane).membership.view(clock.now()).map((m) => [m.origin, m.state]));
    const alive = runningAtEnd.filter((o) => {
      const state = members.get((o.plane as AwarenessPlane).originId);
      return o !== n && (state === 'alive' || state === 'suspect');
    }).length;
    return { node: n.plan.name, alive, of: runningAtEnd.length - 1 };
  });
  const end = trafficOf(endStats);
  for (const node of nodes.values()) if (node.plane) await node.plane.stop(false);
  medium.close();

  const w = statsAtWarmup ?? end;
  const seconds = (durationMs - warmupMs) / 1000;
  const nodeTicks = (nodes.size * (durationMs - warmupMs)) / tickMs;
  const detectionTimes = detections.map((d) => d.afterMs);
  const falseVerdicts = verdicts.filter((v) => v.false).length;
  const design: DesignResult = {
    name: mqtt ? 'fieldmesh mqtt digest' : `fieldmesh ${s.transport}`,
    measures: {
      onAirBps: ((end.onAirBytes - w.onAirBytes) * 8) / seconds,
      airtimeShare: (end.airtimeSeconds - w.airtimeSeconds) / seconds,
      framesPerNodePerS: (end.frames - w.frames) / nodes.size / seconds,
      payloadBytesPerNodeTick: (end.nodePayloadBytes - w.nodePayloadBytes) / nodeTicks,
      completeness: pairs === 0 ? null : fresh / pairs,
      ageP50Ms: farthestAges.length === 0 ? null : quantile(farthestAges, 0.5),
      ageP99Ms: farthestAges.length === 0 ? null : quantile(farthestAges, 0.99),
      duplicates: sumDuplicates() - duplicatesAtWarmup,
      detectionP50Ms: detectionTimes.length === 0 ? null : quantile(detectionTimes, 0.5),
      detectionP99Ms: detectionTimes.length === 0 ? null : quantile(detectionTimes, 0.99),
      detectionMaxMs: detectionTimes.length === 0 ? null : Math.max(...detectionTimes),
      falseVerdicts,
      coldStartFullViewMs: fullViewAtMs ?? null,
    },
    series: { onAirBytesPerS: bytesSeries, completeness: completenessSeries, ageP99Ms: ageSeries },
    notes: [
      ...(mqtt
        ? [
            `MQTT path: each node publishes its frames to the broker (QoS 0); the aggregator sends every node one digest per tick; frames count both directions; ${MQTT_HEADER_BYTES} B of TCP/IP, MAC and MQTT header per message; TCP retransmissions are not counted (no loss at this layer)`,
          ]
        : []),
      `every node runs the agent's critical set and awareness plane on a simulated clock; values from the battery physics`,
      `freshness bound ${freshnessMs} ms: a held value is fresh while the origin's reading was within its deadband of it at some moment in the bound`,
      `completeness leaves out a node's first ${joinGraceMs / 1000} s after it boots and a stalled node until ${freshnessMs / 1000} s after its stall; full view is when every node holds every other's announce and values`,
      ...(verdicts.some((v) => v.reason === 'partitioned')
        ? [
            `${verdicts.filter((v) => v.reason === 'partitioned').length} dead verdicts across the partition (expected: each side carries on)`,
          ]
        : []),
    ],
  };
  return { design, medium: endStats, verdicts, detections, finalView, framesByType };
}

function p2pLinks(s: Scenario, names: readonly string[]): PointToPointLinkSpec[] {
  if (s.link.model !== 'p2p') return [];
  const l = s.link;
  return buildTopology(names, l.topology, s.seed).map(([a, b]) => ({
    a,
    b,
    bitsPerSecond: l.bitsPerSecond,
    latencyMs: l.latencyMs,
    jitterMs: l.jitterMs,
    loss: s.loss,
    queueLimit: l.queueLimit,
  }));
}
