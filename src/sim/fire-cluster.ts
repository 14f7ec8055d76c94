// The nodes of a simulated wildfire zone: each runs the real ZoneEngine with real PumpControllers over
// simulated pumps, on a simulated clock, and can be partitioned, stalled, killed and restarted. The
// network is pluggable (the discrete-event message network of fire-partitions, or the emulated radio).

import { rmSync } from 'node:fs';
import { join } from 'node:path';
import {
  createSimPumpDriver,
  MemoryZoneStateStore,
  messageEpoch,
  messageZone,
  PumpController,
  type PumpRecord,
  type SimPumpDriver,
  ZoneEngine,
  type ZoneRecord,
} from '../agent/index.js';
import type { Clock, TimerHandle } from '../kit/index.js';
import type { ActuationCause, Detection, Vote, ZoneConfig, ZoneFrame } from '../protocol/index.js';
import type { SimClock } from './sim-clock.js';

/** Carries a node's frames to the others; calls `cluster.deliver` for each frame that arrives. */
export interface FireNetwork {
  send(from: string, frame: ZoneFrame): void;
}

export interface PumpStart {
  readonly at: number;
  readonly pump: string;
  readonly node: string;
  readonly cause: ActuationCause;
  /** The certificate's zone and epoch (for causes majority, overlap, isolated-fallback). */
  readonly zone: string | undefined;
  readonly epoch: number | undefined;
}

export interface FireClusterHooks {
  /** Every vote a voter cast (sent), once. */
  onVoteCast?(vote: Vote, at: number): void;
  onPumpStart?(start: PumpStart): void;
  onPumpRecord?(record: PumpRecord, node: string): void;
  onZoneRecord?(record: ZoneRecord): void;
  onSend?(from: string, frame: ZoneFrame): void;
}

type NodeState = 'up' | 'down' | 'stalled';

interface SimNode {
  readonly name: string;
  boot: number;
  gen: number;
  state: NodeState;
  engine: ZoneEngine | undefined;
  readonly controllers: Map<string, PumpController>;
  readonly store: MemoryZoneStateStore;
  readonly buffered: { frame: ZoneFrame; from: string }[];
  readonly deferred: (() => void)[];
  /** Oracle: the newest epoch per zone this node has heard of or made (survives restarts, as its store does). */
  readonly knownEpoch: Map<string, number>;
  /** Oracle: when it was down or stalled, [from, to). */
  readonly outages: { from: number; to: number }[];
}

export interface FireClusterOptions {
  readonly clock: SimClock;
  readonly zones: readonly ZoneConfig[];
  readonly tickMs: number;
  /** Where the pump controllers keep their state files. */
  readonly dir: string;
  readonly hooks?: FireClusterHooks;
  /** Per node, the first tick's offset (ms) so nodes do not tick in lockstep. */
  readonly phase?: (node: string) => number;
  /** The voters a node can reach now (for the isolated fallback). */
  readonly reachableVoters?: (node: string, zone: string) => readonly string[];
}

export class FireCluster {
  readonly clock: SimClock;
  readonly nodes = new Map<string, SimNode>();
  /** The physical pumps: they keep their state when their node dies. */
  readonly drivers = new Map<string, SimPumpDriver>();
  /** Physical transitions per pump. */
  readonly transitions = new Map<string, { at: number; running: boolean }[]>();
  network: FireNetwork | undefined;
  readonly #o: FireClusterOptions;
  #dirty = false;
  readonly #votesSeen = new Set<string>();

  constructor(options: FireClusterOptions) {
    this.#o = options;
    this.clock = options.clock;
    const names = new Set(options.zones.flatMap((z) => [...z.voters, ...z.cameras.map((c) => c.node), ...z.pumps.map((p) => p.node)]));
    for (const name of [...names].sort()) {
      this.nodes.set(name, {
        name,
        boot: 0,
        gen: 0,
        state: 'down',
        engine: undefined,
        controllers: new Map(),
        store: new MemoryZoneStateStore(),
        buffered: [],
        deferred: [],
        knownEpoch: new Map(),
        outages: [],
      });
    }
    for (const zone of options.zones) {
      for (const pump of zone.pumps) {
        const list: { at: number; running: boolean }[] = [];
        this.transitions.set(pump.id, list);
        let was = false;
        this.drivers.set(
          pump.id,
          createSimPumpDriver({}, (_call, running) => {
            if (running !== was) list.push({ at: this.clock.now(), running });
            was = running;
          }),
        );
      }
    }
  }

  get zones(): readonly ZoneConfig[] {
    return this.#o.zones;
  }

  isUp(node: string): boolean {
    return this.nodes.get(node)?.state === 'up';
  }

  stateOf(node: string): NodeState {
    return this.nodes.get(node)?.state ?? 'down';
  }

  knownEpoch(node: string, zone: string): number {
    return this.nodes.get(node)?.knownEpoch.get(zone) ?? 0;
  }

  outages(node: string): readonly { from: number; to: number }[] {
    return this.nodes.get(node)?.outages ?? [];
  }

  engine(node: string): ZoneEngine | undefined {
    return this.nodes.get(node)?.engine;
  }

  controller(pump: string): PumpController | undefined {
    for (const n of this.nodes.values()) {
      const c = n.controllers.get(pump);
      if (c !== undefined && n.state !== 'down') return c;
    }
    return undefined;
  }

  /** Starts (or restarts) a node: a new boot, its engine from its store, its pumps from their state files. */
  async start(name: string): Promise<void> {
    const n = this.#node(name);
    if (n.state !== 'down') return;
    const open = n.outages.at(-1);
    if (open !== undefined && open.to === Number.POSITIVE_INFINITY) open.to = this.clock.now();
    n.boot++;
    n.gen++;
    n.state = 'up';
    const gen = n.gen;
    const clock = this.#nodeClock(n, gen);
    const hooks = this.#o.hooks;
    n.controllers.clear();
    for (const zone of this.#o.zones) {
      for (const pump of zone.pumps.filter((p) => p.node === name)) {
        const c = await PumpController.open({
          zone: zone.id,
          pump,
          driver: this.drivers.get(pump.id) as SimPumpDriver,
          statePath: join(this.#o.dir, `${pump.id}.json`),
          clock,
          onRecord: (r) => hooks?.onPumpRecord?.(r, name),
        });
        c.on('pumpStarted', (e) => {
          const m = /^zone:(.+)@(\d+)$/.exec(e.by);
          hooks?.onPumpStart?.({
            at: this.clock.now(),
            pump: pump.id,
            node: name,
            cause: e.cause,
            zone: m?.[1],
            epoch: m ? Number(m[2]) : undefined,
          });
        });
        n.controllers.set(pump.id, c);
      }
    }
    const controllers = [...n.controllers.values()];
    n.engine = new ZoneEngine({
      node: name,
      zones: this.#o.zones,
      clock,
      boot: n.boot,
      tickMs: this.#o.tickMs,
      store: n.store,
      pumps: controllers.map((c) => ({
        demand: (d) => this.#touch(c.demand(d)),
        command: (x) => this.#touch(c.command(x)),
        observeEpoch: (e, z) => this.#touch(c.observeEpoch(e, z)),
        state: () => c.state(),
      })),
      link: { send: (frame) => this.#send(n, gen, frame) },
      ...(this.#o.reachableVoters ? { reachableVoters: (zone: string) => this.#o.reachableVoters?.(name, zone) ?? [] } : {}),
      ...(hooks?.onZoneRecord ? { onRecord: hooks.onZoneRecord } : {}),
      onError: (error) => {
        throw error;
      },
    });
    for (const zone of n.engine.zones()) this.#know(n, zone, n.engine.epoch(zone) ?? 0);
    const phase = this.#o.phase?.(name) ?? 0;
    const tick = () => {
      if (n.gen !== gen) return;
      if (n.state === 'up') n.engine?.tick();
      this.clock.setTimeout(tick, this.#o.tickMs);
    };
    this.clock.setTimeout(tick, phase);
    await this.settle();
  }

  /** kill -9: the process is gone (its timers, its memory); the pump and the state files stay. */
  async kill(name: string): Promise<void> {
    const n = this.#node(name);
    if (n.state === 'down') return;
    if (n.state === 'stalled') this.#closeOutage(n);
    await this.settle();
    n.gen++;
    n.state = 'down';
    n.engine = undefined;
    n.buffered.length = 0;
    n.deferred.length = 0;
    n.outages.push({ from: this.clock.now(), to: Number.POSITIVE_INFINITY });
  }

  /** The process freezes (no ticks, no timers, frames queue in its socket) and resumes as it was. */
  stall(name: string, ms: number): void {
    const n = this.#node(name);
    if (n.state !== 'up') return;
    n.state = 'stalled';
    const gen = n.gen;
    n.outages.push({ from: this.clock.now(), to: Number.POSITIVE_INFINITY });
    this.clock.setTimeout(() => {
      if (n.gen !== gen || n.state !== 'stalled') return;
      n.state = 'up';
      this.#closeOutage(n);
      for (const fn of n.deferred.splice(0)) fn();
      for (const { frame, from } of n.buffered.splice(0)) this.deliver(name, frame, from);
      this.#dirty = true;
    }, ms);
  }

  /** A frame arrives at `to` from `from` (the network's word for the sender). */
  deliver(to: string, frame: ZoneFrame, from: string): void {
    const n = this.nodes.get(to);
    if (n === undefined || n.state === 'down') return;
    if (n.state === 'stalled') {
      n.buffered.push({ frame, from });
      return;
    }
    n.engine?.receive(frame, from);
    this.#know(n, messageZone(frame), messageEpoch(frame));
    this.#dirty = true;
  }

  /** A detection of one of `node`'s cameras (lost when the node is not running). */
  detect(node: string, d: Detection): boolean {
    const n = this.nodes.get(node);
    if (n?.state !== 'up' || n.engine === undefined) return false;
    n.engine.detect(d);
    this.#dirty = true;
    return true;
  }

  /** An operator elects a new epoch on `node`. */
  elect(node: string, zone: string): number | undefined {
    const n = this.nodes.get(node);
    if (n?.state !== 'up' || n.engine === undefined || !n.engine.zones().includes(zone)) return undefined;
    const epoch = n.engine.elect(zone);
    this.#know(n, zone, epoch);
    this.#dirty = true;
    return epoch;
  }

  /** Runs the simulation to the wall time `until`, letting the pump controllers act after every event. */
  async runUntil(until: number): Promise<void> {
    const target = until - (this.clock.now() - this.clock.monotonic());
    while (this.clock.step(target)) if (this.#dirty) await this.settle();
    await this.settle();
  }

  async settle(): Promise<void> {
    for (let i = 0; this.#dirty && i < 100; i++) {
      this.#dirty = false;
      const live = [...this.nodes.values()].filter((n) => n.state !== 'down');
      await Promise.all(live.map((n) => n.engine?.idle()));
      await Promise.all(live.flatMap((n) => [...n.controllers.values()]).map((c) => c.idle()));
    }
  }

  async close(): Promise<void> {
    for (const n of this.nodes.values()) {
      n.gen++;
      for (const c of n.controllers.values()) await c.close();
    }
    rmSync(this.#o.dir, { recursive: true, force: true });
  }

  #touch<T>(p: Promise<T>): Promise<T> {
    this.#dirty = true;
    return p;
  }

  #closeOutage(n: SimNode): void {
    const open = n.outages.at(-1);
    if (open !== undefined && open.to === Number.POSITIVE_INFINITY) open.to = this.clock.now();
  }

  #know(n: SimNode, zone: string, epoch: number): void {
    if (epoch > (n.knownEpoch.get(zone) ?? 0)) n.knownEpoch.set(zone, epoch);
  }

  #send(n: SimNode, gen: number, frame: ZoneFrame): void {
    if (n.gen !== gen || n.state !== 'up') return;
    if (frame.type === 'vote') {
      const v = frame.vote;
      const key = `${v.voter}/${v.zone}/${v.boot}/${v.seq}`;
      if (!this.#votesSeen.has(key)) {
        this.#votesSeen.add(key);
        this.#o.hooks?.onVoteCast?.(v, this.clock.now());
      }
    }
    this.#o.hooks?.onSend?.(n.name, frame);
    this.network?.send(n.name, frame);
  }

  /** The node's view of the clock: its timers die with it and wait while it is stalled. */
  #nodeClock(n: SimNode, gen: number): Clock {
    const clock = this.clock;
    return {
      now: () => clock.now(),
      monotonic: () => clock.monotonic(),
      setTimeout: (fn: () => void, ms: number): TimerHandle =>
        clock.setTimeout(() => {
          if (n.gen !== gen) return;
          this.#dirty = true;
          if (n.state === 'stalled') n.deferred.push(fn);
          else fn();
        }, ms),
      clearTimeout: (h: TimerHandle) => clock.clearTimeout(h),
    };
  }

  #node(name: string): SimNode {
    const n = this.nodes.get(name);
    if (n === undefined) throw new RangeError(`no node ${name}`);
    return n;
  }
}
