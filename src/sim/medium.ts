// Emulated media for the simulator: one shared radio channel and a network of point-to-point links,
// each handing every node a FrameLink and delivering frames through the injected clock's timers.

import { type Clock, hash32, SeededRandom, type TimerHandle } from '../kit/index.js';
import type { FrameLink, LinkPeer, LinkStats } from '../transport/index.js';

// ---------------------------------------------------------------------------------------------
// Airtime model of a 1 MHz 802.11ah (S1G) channel at MCS0, with the S1G PHY and MAC timings of IEEE
// 802.11ah-2016 below, the model the benchmark baselines are measured with (docs/awareness.md,
// "Measured"): optimistic, no collisions, hidden nodes, retries, beacons or rate fallback.

/** S1G slot time. */
export const S1G_SLOT_US = 52;
/** S1G short interframe space. */
export const S1G_SIFS_US = 160;
/** AIFS for best effort: SIFS + AIFSN 3 slots = 316 us. */
export const S1G_AIFS_US = S1G_SIFS_US + 3 * S1G_SLOT_US;
/** Mean random backoff with CWmin 15: 7.5 slots = 390 us. */
export const S1G_MEAN_BACKOFF_US = 7.5 * S1G_SLOT_US;
/** 1 MHz S1G preamble (STF + LTF1 + SIG): 14 OFDM symbols of 40 us. */
export const S1G_1MHZ_PREAMBLE_US = 14 * 40;
/** A 1 MHz NDP ACK is a preamble-only frame. */
export const S1G_1MHZ_NDP_ACK_US = S1G_1MHZ_PREAMBLE_US;
/** Fixed cost of every frame: AIFS + mean backoff + preamble = 1,266 us ("about 1.3 ms"). */
export const RADIO_FRAME_OVERHEAD_US = S1G_AIFS_US + S1G_MEAN_BACKOFF_US + S1G_1MHZ_PREAMBLE_US;
/** Extra cost of a unicast frame: SIFS + NDP ACK = 720 us. Broadcasts are not acknowledged. */
export const RADIO_UNICAST_ACK_US = S1G_SIFS_US + S1G_1MHZ_NDP_ACK_US;
/** 1 MHz, MCS0 (BPSK 1/2, 24 data subcarriers, 40 us symbols): 300 kbps, 26.7 us per byte. */
export const MCS0_1MHZ_BITS_PER_SECOND = 300_000;
/** IPv4 (20) + UDP (8). */
export const IPV4_UDP_HEADER_BYTES = 28;
/** 802.11 QoS data MAC header (26) + LLC/SNAP (8) + FCS (4). */
export const MAC_LLC_FCS_BYTES = 38;
/** Header bytes on air per UDP datagram: 66. */
export const RADIO_HEADER_BYTES = IPV4_UDP_HEADER_BYTES + MAC_LLC_FCS_BYTES;
/** Ethernet-sized IP MTU; larger datagrams go as IP fragments, one radio frame each. */
export const RADIO_MTU_BYTES = 1_500;

export interface AirtimeModel {
  readonly bitsPerSecond: number;
  /** Fixed cost per frame on air, microseconds (access delay and preamble). */
  readonly perFrameOverheadUs: number;
  /** Bytes added to each frame's payload on air (IP, UDP, MAC, LLC, FCS). */
  readonly headerBytes: number;
  /** Extra cost of an acknowledged (unicast) frame, microseconds. */
  readonly unicastAckUs: number;
}

/** One 1 MHz 802.11ah channel at MCS0, the channel of the JSON-star baseline's deployments and of the goals. */
export const MCS0_1MHZ_CHANNEL: AirtimeModel = Object.freeze({
  bitsPerSecond: MCS0_1MHZ_BITS_PER_SECOND,
  perFrameOverheadUs: RADIO_FRAME_OVERHEAD_US,
  headerBytes: RADIO_HEADER_BYTES,
  unicastAckUs: RADIO_UNICAST_ACK_US,
});

/** Airtime of one frame carrying `payloadBytes`, microseconds: 3,452.7 us for 16 B broadcast at MCS0. */
export function frameAirtimeUs(payloadBytes: number, model: AirtimeModel = MCS0_1MHZ_CHANNEL, unicast = false): number {
  const bits = (payloadBytes + model.headerBytes) * 8;
  return model.perFrameOverheadUs + (bits * 1e6) / model.bitsPerSecond + (unicast ? model.unicastAckUs : 0);
}

// ---------------------------------------------------------------------------------------------
// Seeded randomness: the simulator never calls Math.random.

export interface SimRandom {
  /** Uniform in [0, 1). */
  next(): number;
  /** Uniform integer in [0, n). */
  int(n: number): number;
}

/** FNV-1a of a string, so a stream keyed by a node name does not depend on registration order. */
export function hashName(name: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193) >>> 0;
  return h >>> 0;
}

/** A mulberry32 stream for (seed, stream): same inputs, same numbers, on every platform. */
export function createSimRandom(seed: number, stream = 0): SimRandom {
  const random = new SeededRandom(hash32(seed >>> 0, stream >>> 0));
  return { next: () => random.next(), int: (n) => Math.floor(random.next() * n) };
}

/** A seeded Fisher-Yates shuffle (returns a new array). */
export function shuffled<T>(items: readonly T[], random: SimRandom): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = random.int(i + 1);
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Topologies: who hears whom on the radio, or which pairs a point-to-point network links.

export type TopologySpec =
  | { readonly kind: 'full' }
  | { readonly kind: 'ring' }
  | { readonly kind: 'line' }
  /** Connected (a random spanning path) plus random edges up to about `degree` links per node. */
  | { readonly kind: 'random'; readonly degree: number }
  /** Explicit neighbours; made symmetric. */
  | { readonly kind: 'adjacency'; readonly neighbours: Readonly<Record<string, readonly string[]>> };

export type NodePair = readonly [string, string];

/** The undirected pairs of a topology over `nodes`, deterministic for (nodes, spec, seed). */
export function buildTopology(nodes: readonly string[], spec: TopologySpec, seed = 0): NodePair[] {
  const n = nodes.length;
  const pairs: NodePair[] = [];
  const at = (i: number) => nodes[i] as string;
  switch (spec.kind) {
    case 'full':
      for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) pairs.push([at(i), at(j)]);
      return pairs;
    case 'line':
      for (let i = 0; i + 1 < n; i++) pairs.push([at(i), at(i + 1)]);
      return pairs;
    case 'ring':
      for (let i = 0; i + 1 < n; i++) pairs.push([at(i), at(i + 1)]);
      if (n > 2) pairs.push([at(n - 1), at(0)]);
      return pairs;
    case 'random': {
      if (spec.degree >= n - 1) return buildTopology(nodes, { kind: 'full' }, seed);
      const random = createSimRandom(seed, 0x70b0);
      const order = shuffled(nodes, random);
      const degree = new Map<string, number>(nodes.map((x) => [x, 0]));
      const seen = new Set<string>();
      const add = (a: string, b: string) => {
        const key = a < b ? `${a}\0${b}` : `${b}\0${a}`;
        if (a === b || seen.has(key)) return false;
        seen.add(key);
        pairs.push([a, b]);
        degree.set(a, (degree.get(a) ?? 0) + 1);
        degree.set(b, (degree.get(b) ?? 0) + 1);
        return true;
      };
      for (let i = 0; i + 1 < n; i++) add(order[i] as string, order[i + 1] as string);
      const target = Math.round((n * spec.degree) / 2);
      for (let attempt = 0; pairs.length < target && attempt < 50 * n; attempt++) {
        const a = nodes[random.int(n)] as string;
        const b = nodes[random.int(n)] as string;
        if ((degree.get(a) ?? 0) < spec.degree && (degree.get(b) ?? 0) < spec.degree) add(a, b);
      }
      return pairs;
    }
    case 'adjacency': {
      const seen = new Set<string>();
      for (const [a, list] of Object.entries(spec.neighbours)) {
        for (const b of list) {
          const key = a < b ? `${a}\0${b}` : `${b}\0${a}`;
          if (a === b || seen.has(key)) continue;
          seen.add(key);
          pairs.push([a, b]);
        }
      }
      return pairs;
    }
  }
}

/** Neighbour lists of undirected pairs. */
export function neighboursOf(pairs: readonly NodePair[]): Map<string, string[]> {
  const out = new Map<string, string[]>();
  const push = (a: string, b: string) => {
    const list = out.get(a);
    if (list === undefined) out.set(a, [b]);
    else list.push(b);
  };
  for (const [a, b] of pairs) {
    push(a, b);
    push(b, a);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// What both media share: controls, counters, and one timer for all frames in flight.

export type DropReason = 'loss' | 'partition' | 'down' | 'queue' | 'closed';

export interface NodeTraffic {
  /** Datagrams the node's agent sent (one per `send`). */
  readonly framesSent: number;
  readonly payloadBytesSent: number;
  readonly framesReceived: number;
  readonly payloadBytesReceived: number;
  /** Airtime of the node's own transmissions, seconds. */
  readonly airtimeSeconds: number;
}

/** The controls every emulated medium offers the runner. */
export interface SimMedium<S> {
  readonly kind: 'radio' | 'p2p';
  /** The FrameLink of `node`: the open one, or a new one after the previous was closed. */
  link(node: string): FrameLink;
  /** Frames between a node of `a` and a node of `b` (default: every other node) no longer arrive. */
  partition(a: readonly string[], b?: readonly string[]): void;
  /** Removes every partition. */
  heal(): void;
  /** A down node neither sends nor receives (a killed machine or radio). */
  down(node: string): void;
  up(node: string): void;
  isUp(node: string): boolean;
  stats(): S;
  /** Cancels every frame in flight; links stay usable no more. */
  close(): void;
}

/** The open link of `node`, or a new one that forgets itself when closed. */
function openLink(
  links: Map<string, SimLink>,
  node: string,
  name: string,
  transmit: (link: SimLink, from: string, frame: Uint8Array) => void,
): SimLink {
  const open = links.get(node);
  if (open !== undefined) return open;
  const link = new SimLink(
    name,
    (l, frame) => transmit(l, node, frame),
    (l) => {
      if (links.get(node) === l) links.delete(node);
    },
  );
  links.set(node, link);
  return link;
}

const EPSILON_MS = 1e-6;

/** A min-heap of deliveries behind one clock timer, so a backlog costs the clock one pending timer. */
class DeliveryQueue {
  private readonly heap: { due: number; seq: number; run: () => void }[] = [];
  private seq = 0;
  private timer: TimerHandle | undefined;
  private timerDue = Number.POSITIVE_INFINITY;
  private closed = false;

  constructor(private readonly clock: Clock) {}

  at(dueMs: number, run: () => void): void {
    if (this.closed) return;
    const item = { due: dueMs, seq: this.seq++, run };
    const h = this.heap;
    h.push(item);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.before(h[i] as typeof item, h[p] as typeof item)) break;
      [h[i], h[p]] = [h[p] as typeof item, h[i] as typeof item];
      i = p;
    }
    this.arm();
  }

  close(): void {
    this.closed = true;
    this.heap.length = 0;
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
    this.timer = undefined;
  }

  private before(a: { due: number; seq: number }, b: { due: number; seq: number }): boolean {
    return a.due < b.due || (a.due === b.due && a.seq < b.seq);
  }

  private pop(): { due: number; seq: number; run: () => void } | undefined {
    const h = this.heap;
    const top = h[0];
    const last = h.pop();
    if (top === undefined || last === undefined || h.length === 0) return top;
    h[0] = last;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < h.length && this.before(h[l] as typeof last, h[m] as typeof last)) m = l;
      if (r < h.length && this.before(h[r] as typeof last, h[m] as typeof last)) m = r;
      if (m === i) break;
      [h[i], h[m]] = [h[m] as typeof last, h[i] as typeof last];
      i = m;
    }
    return top;
  }

  private arm(): void {
    const head = this.heap[0];
    if (head === undefined || this.closed) return;
    if (this.timer !== undefined && this.timerDue <= head.due) return;
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
    this.timerDue = head.due;
    this.timer = this.clock.setTimeout(() => this.fire(), Math.max(0, head.due - this.clock.monotonic()));
  }

  private fire(): void {
    this.timer = undefined;
    this.timerDue = Number.POSITIVE_INFINITY;
    try {
      for (;;) {
        const head = this.heap[0];
        if (head === undefined || head.due > this.clock.monotonic() + EPSILON_MS) break;
        this.pop();
        head.run();
      }
    } finally {
      this.arm();
    }
  }
}

/** Partitions and down nodes. */
class Reachability {
  private readonly cuts: { a: ReadonlySet<string>; b: ReadonlySet<string> | undefined }[] = [];
  private readonly downNodes = new Set<string>();

  partition(a: readonly string[], b?: readonly string[]): void {
    this.cuts.push({ a: new Set(a), b: b === undefined ? undefined : new Set(b) });
  }

  heal(): void {
    this.cuts.length = 0;
  }

  down(node: string): void {
    this.downNodes.add(node);
  }

  up(node: string): void {
    this.downNodes.delete(node);
  }

  isUp(node: string): boolean {
    return !this.downNodes.has(node);
  }

  /** The SimMedium methods that only touch reachability, bound to this one. */
  controls(): Pick<SimMedium<unknown>, 'partition' | 'heal' | 'down' | 'up' | 'isUp'> {
    return {
      partition: (a, b) => this.partition(a, b),
      heal: () => this.heal(),
      down: (node) => this.down(node),
      up: (node) => this.up(node),
      isUp: (node) => this.isUp(node),
    };
  }

  blocked(from: string, to: string): boolean {
    for (const { a, b } of this.cuts) {
      const side = (x: string) => (a.has(x) ? 'a' : b === undefined || b.has(x) ? 'b' : undefined);
      const s = side(from);
      const t = side(to);
      if (s !== undefined && t !== undefined && s !== t) return true;
    }
    return false;
  }
}

function emptyDrops(): Record<DropReason, number> {
  return { loss: 0, partition: 0, down: 0, queue: 0, closed: 0 };
}

class MutableTraffic {
  framesSent = 0;
  payloadBytesSent = 0;
  framesReceived = 0;
  payloadBytesReceived = 0;
  airtimeSeconds = 0;
  snapshot(): NodeTraffic {
    return { ...this };
  }
}

type Receiver = (frame: Uint8Array, from: LinkPeer) => void;

/** One node's FrameLink on a medium; the medium does the work. */
class SimLink implements FrameLink {
  receiver: Receiver | undefined;
  closed = false;
  framesSent = 0;
  bytesSent = 0;
  framesReceived = 0;
  bytesReceived = 0;
  sendErrors = 0;

  constructor(
    readonly description: string,
    private readonly transmit: (link: SimLink, frame: Uint8Array) => void,
    private readonly detach: (link: SimLink) => void,
  ) {}

  send(frame: Uint8Array): void {
    if (this.closed) {
      this.sendErrors++;
      return;
    }
    this.transmit(this, frame);
  }

  onFrame(receiver: Receiver): void {
    this.receiver = receiver;
  }

  deliver(frame: Uint8Array, from: LinkPeer): void {
    this.framesReceived++;
    this.bytesReceived += frame.length;
    this.receiver?.(frame, from);
  }

  stats(): LinkStats {
    const { framesSent, bytesSent, framesReceived, bytesReceived, sendErrors } = this;
    return { framesSent, bytesSent, framesReceived, bytesReceived, sendErrors };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.receiver = undefined;
    this.detach(this);
  }
}

function checkProbability(p: number, what: string): number {
  if (!(p >= 0 && p <= 1)) throw new RangeError(`${what} must be a probability in [0, 1], got ${p}`);
  return p;
}

const MAX_UDP_PAYLOAD_BYTES = 65_507;

// ---------------------------------------------------------------------------------------------
// The shared radio.

export interface LossOverride {
  readonly from: string;
  readonly to: string;
  /** Probability that `to` misses a frame of `from` (directional). */
  readonly loss: number;
}

export interface SharedRadioOptions {
  readonly clock: Clock;
  readonly seed: number;
  /** Nodes known from the start; others join when their link is first asked for. */
  readonly nodes?: readonly string[];
  /** Default 300,000 (1 MHz MCS0). */
  readonly bitsPerSecond?: number;
  /** Default RADIO_FRAME_OVERHEAD_US (1,266 us: AIFS + mean backoff + 1 MHz preamble). */
  readonly perFrameOverheadUs?: number;
  /** Default RADIO_HEADER_BYTES (66: IPv4 + UDP 28, MAC + LLC/SNAP + FCS 38). */
  readonly headerBytes?: number;
  /** IP MTU; a larger datagram goes as ceil(payload / (mtu - 28)) frames. Default 1,500. */
  readonly mtuBytes?: number;
  /** Probability that one receiver misses one frame, independently per receiver. Default 0. */
  readonly loss?: number;
  readonly lossOverrides?: readonly LossOverride[];
  /** Who hears whom; default everyone hears everyone. Multi-hop: one channel per neighbourhood (spatial reuse). */
  readonly topology?: TopologySpec;
  /** Frames a node may have queued or on air before it drops new ones. Default unbounded. */
  readonly txQueueLimit?: number;
}

export interface RadioStats {
  readonly elapsedSeconds: number;
  /** Frames put on air (IP fragments count one each). */
  readonly frames: number;
  /** Datagrams sent by the agents. */
  readonly datagrams: number;
  readonly payloadBytes: number;
  /** Payload plus headers of every frame on air. */
  readonly onAirBytes: number;
  /** Airtime of every frame put on air (offered load: it can exceed the elapsed time under overload). */
  readonly airtimeSeconds: number;
  /** airtimeSeconds / elapsedSeconds: the share of one channel. */
  readonly airtimeShare: number;
  /** The busiest neighbourhood's share (equals airtimeShare when everyone hears everyone). */
  readonly maxLocalAirtimeShare: number;
  /** (frame, receiver) pairs delivered. */
  readonly deliveries: number;
  /** (frame, receiver) pairs not delivered, by reason; `down` and `queue` also count refused sends. */
  readonly drops: Readonly<Record<DropReason, number>>;
  /** Wait for the channel before going on air, ms. */
  readonly queueDelayMs: { readonly mean: number; readonly max: number };
  /** How far the channel is booked beyond now, ms (grows without bound under overload). */
  readonly backlogMs: number;
  readonly perNode: Readonly<Record<string, NodeTraffic>>;
}

export interface SharedRadio extends SimMedium<RadioStats> {
  readonly kind: 'radio';
  readonly model: AirtimeModel;
  /** Changes the default loss, or one directional pair's loss. */
  setLoss(loss: number, pair?: { readonly from: string; readonly to: string }): void;
}

/** One shared channel: frames are serialised on it, heard by every node in range, lost per receiver. */
export function createSharedRadio(options: SharedRadioOptions): SharedRadio {
  const { clock, seed } = options;
  const model: AirtimeModel = Object.freeze({
    bitsPerSecond: options.bitsPerSecond ?? MCS0_1MHZ_BITS_PER_SECOND,
    perFrameOverheadUs: options.perFrameOverheadUs ?? RADIO_FRAME_OVERHEAD_US,
    headerBytes: options.headerBytes ?? RADIO_HEADER_BYTES,
    unicastAckUs: RADIO_UNICAST_ACK_US,
  });
  const fragmentPayload = (options.mtuBytes ?? RADIO_MTU_BYTES) - IPV4_UDP_HEADER_BYTES;
  let defaultLoss = checkProbability(options.loss ?? 0, 'loss');
  const pairLoss = new Map<string, number>();
  for (const o of options.lossOverrides ?? []) pairLoss.set(`${o.from}\0${o.to}`, checkProbability(o.loss, `loss ${o.from}->${o.to}`));
  const txQueueLimit = options.txQueueLimit ?? Number.POSITIVE_INFINITY;
  const topology = options.topology ?? { kind: 'full' };
  if (topology.kind !== 'full' && topology.kind !== 'adjacency' && options.nodes === undefined) {
    throw new RangeError(`a ${topology.kind} radio topology needs the node list`);
  }
  const neighbours = topology.kind === 'full' ? undefined : neighboursOf(buildTopology(options.nodes ?? [], topology, seed));

  const startMs = clock.monotonic();
  const queue = new DeliveryQueue(clock);
  const reach = new Reachability();
  const nodes = new Set<string>(options.nodes ?? []);
  const links = new Map<string, SimLink>();
  const traffic = new Map<string, MutableTraffic>();
  const heardUs = new Map<string, number>();
  const pending = new Map<string, number>();
  const lossStreams = new Map<string, SimRandom>();
  let busyUntil = startMs;
  const localBusyUntil = new Map<string, number>();
  const drops = emptyDrops();
  let frames = 0;
  let datagrams = 0;
  let payloadBytes = 0;
  let onAirBytes = 0;
  let airtimeUs = 0;
  let deliveries = 0;
  let delaySumMs = 0;
  let delayMaxMs = 0;
  let closed = false;

  const trafficOf = (node: string) => {
    let t = traffic.get(node);
    if (t === undefined) {
      t = new MutableTraffic();
      traffic.set(node, t);
    }
    return t;
  };
  const lossStream = (node: string) => {
    let r = lossStreams.get(node);
    if (r === undefined) {
      r = createSimRandom(seed, hashName(node));
      lossStreams.set(node, r);
    }
    return r;
  };
  const hearers = (from: string): Iterable<string> => (neighbours === undefined ? nodes : (neighbours.get(from) ?? []));

  const deliver = (from: string, frame: Uint8Array, fragments: number) => {
    pending.set(from, (pending.get(from) ?? 1) - 1);
    const peer: LinkPeer = { address: from };
    for (const to of [...hearers(from)]) {
      if (to === from) continue;
      if (!reach.isUp(to)) {
        drops.down++;
        continue;
      }
      if (reach.blocked(from, to)) {
        drops.partition++;
        continue;
      }
      const p = pairLoss.get(`${from}\0${to}`) ?? defaultLoss;
      if (p > 0) {
        const random = lossStream(to);
        let lost = false;
        for (let f = 0; f < fragments; f++) if (random.next() < p) lost = true;
        if (lost) {
          drops.loss++;
          continue;
        }
      }
      const link = links.get(to);
      if (link === undefined) {
        drops.closed++;
        continue;
      }
      deliveries++;
      const t = trafficOf(to);
      t.framesReceived++;
      t.payloadBytesReceived += frame.length;
      link.deliver(frame.slice(), peer);
    }
  };

  const transmit = (link: SimLink, from: string, frame: Uint8Array) => {
    if (closed) {
      link.sendErrors++;
      return;
    }
    if (frame.length > MAX_UDP_PAYLOAD_BYTES) {
      link.sendErrors++;
      return;
    }
    if (!reach.isUp(from)) {
      drops.down++;
      return;
    }
    if ((pending.get(from) ?? 0) >= txQueueLimit) {
      drops.queue++;
      return;
    }
    link.framesSent++;
    link.bytesSent += frame.length;
    const fragments = Math.max(1, Math.ceil(frame.length / fragmentPayload));
    let durationUs = 0;
    for (let f = 0; f < fragments; f++) {
      const bytes = f < fragments - 1 ? fragmentPayload : frame.length - fragmentPayload * (fragments - 1);
      durationUs += frameAirtimeUs(bytes, model);
    }
    const now = clock.monotonic();
    const durationMs = durationUs / 1_000;
    let start: number;
    if (neighbours === undefined) {
      start = Math.max(now, busyUntil);
      busyUntil = start + durationMs;
    } else {
      const around = neighbours.get(from) ?? [];
      start = Math.max(now, localBusyUntil.get(from) ?? startMs);
      const end = start + durationMs;
      for (const n of [from, ...around]) {
        localBusyUntil.set(n, Math.max(localBusyUntil.get(n) ?? startMs, end));
        heardUs.set(n, (heardUs.get(n) ?? 0) + durationUs);
      }
    }
    const end = start + durationMs;
    datagrams++;
    frames += fragments;
    payloadBytes += frame.length;
    onAirBytes += frame.length + fragments * model.headerBytes;
    airtimeUs += durationUs;
    delaySumMs += start - now;
    delayMaxMs = Math.max(delayMaxMs, start - now);
    const t = trafficOf(from);
    t.framesSent++;
    t.payloadBytesSent += frame.length;
    t.airtimeSeconds += durationUs / 1e6;
    pending.set(from, (pending.get(from) ?? 0) + 1);
    const copy = frame.slice();
    queue.at(end, () => deliver(from, copy, fragments));
  };

  return {
    kind: 'radio',
    model,
    link(node) {
      nodes.add(node);
      trafficOf(node);
      return openLink(links, node, neighbours === undefined ? 'sim radio' : 'sim radio (multi-hop)', transmit);
    },
    ...reach.controls(),
    setLoss(loss, pair) {
      checkProbability(loss, 'loss');
      if (pair === undefined) defaultLoss = loss;
      else pairLoss.set(`${pair.from}\0${pair.to}`, loss);
    },
    stats() {
      const now = clock.monotonic();
      const elapsedSeconds = (now - startMs) / 1_000;
      const share = (us: number) => (elapsedSeconds > 0 ? us / 1e6 / elapsedSeconds : 0);
      let maxHeard = 0;
      for (const us of heardUs.values()) maxHeard = Math.max(maxHeard, us);
      let booked = busyUntil;
      for (const t of localBusyUntil.values()) booked = Math.max(booked, t);
      const perNode: Record<string, NodeTraffic> = {};
      for (const [node, t] of traffic) perNode[node] = t.snapshot();
      return {
        elapsedSeconds,
        frames,
        datagrams,
        payloadBytes,
        onAirBytes,
        airtimeSeconds: airtimeUs / 1e6,
        airtimeShare: share(airtimeUs),
        maxLocalAirtimeShare: neighbours === undefined ? share(airtimeUs) : share(maxHeard),
        deliveries,
        drops: { ...drops },
        queueDelayMs: { mean: datagrams > 0 ? delaySumMs / datagrams : 0, max: delayMaxMs },
        backlogMs: Math.max(0, booked - now),
        perNode,
      };
    },
    close() {
      closed = true;
      queue.close();
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Point-to-point links.

export interface PointToPointLinkOptions {
  /** Default 300,000. */
  readonly bitsPerSecond?: number;
  /** One-way propagation and processing delay, ms. Default 2. */
  readonly latencyMs?: number;
  /** Uniform extra delay in [0, jitterMs], ms; frames may overtake each other. Default 0. */
  readonly jitterMs?: number;
  /** Probability that a frame is lost on this link, per direction. Default 0. */
  readonly loss?: number;
  /** Frames waiting or being serialised per direction before new ones are dropped. Default 64. */
  readonly queueLimit?: number;
}

export interface PointToPointLinkSpec extends PointToPointLinkOptions {
  readonly a: string;
  readonly b: string;
}

export interface PointToPointOptions {
  readonly clock: Clock;
  readonly seed: number;
  readonly links: readonly PointToPointLinkSpec[];
  /** Applied to every link that does not set its own. */
  readonly defaults?: PointToPointLinkOptions;
  /** Header bytes per frame on the wire. Default RADIO_HEADER_BYTES (66). */
  readonly headerBytes?: number;
  /** Prices every transmission as an acknowledged unicast frame of this channel. Default MCS0_1MHZ_CHANNEL. */
  readonly airtime?: AirtimeModel;
}

export interface DirectionStats {
  readonly from: string;
  readonly to: string;
  readonly frames: number;
  readonly payloadBytes: number;
  readonly wireBytes: number;
  readonly delivered: number;
  readonly drops: Readonly<Record<DropReason, number>>;
  readonly queueDelayMs: { readonly mean: number; readonly max: number };
}

export interface PointToPointLinkStats {
  /** "a<->b". */
  readonly name: string;
  readonly aToB: DirectionStats;
  readonly bToA: DirectionStats;
}

export interface PointToPointStats {
  readonly elapsedSeconds: number;
  /** Transmissions over all links (one datagram sent to three neighbours counts three). */
  readonly frames: number;
  readonly datagrams: number;
  readonly payloadBytes: number;
  readonly wireBytes: number;
  /** What these transmissions would take as unicast frames on one shared channel (`airtime` option). */
  readonly airtimeSeconds: number;
  readonly airtimeShare: number;
  readonly deliveries: number;
  readonly drops: Readonly<Record<DropReason, number>>;
  readonly links: readonly PointToPointLinkStats[];
  readonly perNode: Readonly<Record<string, NodeTraffic>>;
}

export interface PointToPointNetwork extends SimMedium<PointToPointStats> {
  readonly kind: 'p2p';
}

interface Direction {
  readonly from: string;
  readonly to: string;
  readonly bitsPerSecond: number;
  readonly latencyMs: number;
  readonly jitterMs: number;
  loss: number;
  readonly queueLimit: number;
  readonly random: SimRandom;
  /** Serialisation end times of frames not yet fully sent, ascending. */
  readonly inFlight: number[];
  busyUntil: number;
  frames: number;
  payloadBytes: number;
  wireBytes: number;
  delivered: number;
  delaySumMs: number;
  delayMaxMs: number;
  readonly drops: Record<DropReason, number>;
}

const P2P_DEFAULTS = { bitsPerSecond: 300_000, latencyMs: 2, jitterMs: 0, loss: 0, queueLimit: 64 } as const;

/** Named links between pairs of nodes; a node's `send` goes over each of its links. */
export function createPointToPointNetwork(options: PointToPointOptions): PointToPointNetwork {
  const { clock, seed } = options;
  const headerBytes = options.headerBytes ?? RADIO_HEADER_BYTES;
  const pricing: AirtimeModel = { ...(options.airtime ?? MCS0_1MHZ_CHANNEL), headerBytes };
  const startMs = clock.monotonic();
  const queue = new DeliveryQueue(clock);
  const reach = new Reachability();
  const links = new Map<string, SimLink>();
  const traffic = new Map<string, MutableTraffic>();
  const outgoing = new Map<string, Direction[]>();
  const pairs: { name: string; aToB: Direction; bToA: Direction }[] = [];
  let datagrams = 0;
  let airtimeUs = 0;
  let closed = false;

  const trafficOf = (node: string) => {
    let t = traffic.get(node);
    if (t === undefined) {
      t = new MutableTraffic();
      traffic.set(node, t);
    }
    return t;
  };
  const direction = (from: string, to: string, spec: PointToPointLinkOptions): Direction => {
    const o = { ...P2P_DEFAULTS, ...options.defaults, ...spec };
    checkProbability(o.loss, `loss ${from}->${to}`);
    const d: Direction = {
      from,
      to,
      bitsPerSecond: o.bitsPerSecond,
      latencyMs: o.latencyMs,
      jitterMs: o.jitterMs,
      loss: o.loss,
      queueLimit: o.queueLimit,
      random: createSimRandom(seed, hash32(hashName(from), hashName(to))),
      inFlight: [],
      busyUntil: startMs,
      frames: 0,
      payloadBytes: 0,
      wireBytes: 0,
      delivered: 0,
      delaySumMs: 0,
      delayMaxMs: 0,
      drops: emptyDrops(),
    };
    const list = outgoing.get(from);
    if (list === undefined) outgoing.set(from, [d]);
    else list.push(d);
    return d;
  };
  for (const spec of options.links) {
    const { a, b, ...rest } = spec;
    if (a === b) throw new RangeError(`a point-to-point link needs two different nodes, got ${a}<->${b}`);
    pairs.push({ name: `${a}<->${b}`, aToB: direction(a, b, rest), bToA: direction(b, a, rest) });
    trafficOf(a);
    trafficOf(b);
  }

  const arrive = (d: Direction, frame: Uint8Array) => {
    if (!reach.isUp(d.to)) d.drops.down++;
    else if (reach.blocked(d.from, d.to)) d.drops.partition++;
    else {
      const link = links.get(d.to);
      if (link === undefined) d.drops.closed++;
      else {
        d.delivered++;
        const t = trafficOf(d.to);
        t.framesReceived++;
        t.payloadBytesReceived += frame.length;
        link.deliver(frame.slice(), { address: d.from });
      }
    }
  };

  const transmit = (link: SimLink, from: string, frame: Uint8Array) => {
    if (closed || frame.length > MAX_UDP_PAYLOAD_BYTES) {
      link.sendErrors++;
      return;
    }
    const list = outgoing.get(from) ?? [];
    if (!reach.isUp(from)) {
      for (const d of list) d.drops.down++;
      return;
    }
    link.framesSent++;
    link.bytesSent += frame.length;
    datagrams++;
    const t = trafficOf(from);
    t.framesSent++;
    t.payloadBytesSent += frame.length;
    const now = clock.monotonic();
    const copy = frame.slice();
    for (const d of list) {
      while (d.inFlight.length > 0 && (d.inFlight[0] as number) <= now + EPSILON_MS) d.inFlight.shift();
      if (reach.blocked(from, d.to)) {
        d.drops.partition++;
        continue;
      }
      if (d.inFlight.length >= d.queueLimit) {
        d.drops.queue++;
        continue;
      }
      const wire = frame.length + headerBytes;
      const start = Math.max(now, d.busyUntil);
      const end = start + (wire * 8 * 1_000) / d.bitsPerSecond;
      d.busyUntil = end;
      d.inFlight.push(end);
      d.frames++;
      d.payloadBytes += frame.length;
      d.wireBytes += wire;
      d.delaySumMs += start - now;
      d.delayMaxMs = Math.max(d.delayMaxMs, start - now);
      const us = frameAirtimeUs(frame.length, pricing, true);
      airtimeUs += us;
      t.airtimeSeconds += us / 1e6;
      const lost = d.loss > 0 && d.random.next() < d.loss;
      const jitter = d.jitterMs > 0 ? d.random.next() * d.jitterMs : 0;
      if (lost) {
        d.drops.loss++;
        continue;
      }
      queue.at(end + d.latencyMs + jitter, () => arrive(d, copy));
    }
  };

  const directionStats = (d: Direction): DirectionStats => ({
    from: d.from,
    to: d.to,
    frames: d.frames,
    payloadBytes: d.payloadBytes,
    wireBytes: d.wireBytes,
    delivered: d.delivered,
    drops: { ...d.drops },
    queueDelayMs: { mean: d.frames > 0 ? d.delaySumMs / d.frames : 0, max: d.delayMaxMs },
  });

  return {
    kind: 'p2p',
    link(node) {
      trafficOf(node);
      return openLink(links, node, 'sim point-to-point', transmit);
    },
    ...reach.controls(),
    stats() {
      const elapsedSeconds = (clock.monotonic() - startMs) / 1_000;
      const drops = emptyDrops();
      let frames = 0;
      let payloadBytes = 0;
      let wireBytes = 0;
      let deliveries = 0;
      for (const { aToB, bToA } of pairs) {
        for (const d of [aToB, bToA]) {
          frames += d.frames;
          payloadBytes += d.payloadBytes;
          wireBytes += d.wireBytes;
          deliveries += d.delivered;
          for (const reason of Object.keys(drops) as DropReason[]) drops[reason] += d.drops[reason];
        }
      }
      const perNode: Record<string, NodeTraffic> = {};
      for (const [node, t] of traffic) perNode[node] = t.snapshot();
      return {
        elapsedSeconds,
        frames,
        datagrams,
        payloadBytes,
        wireBytes,
        airtimeSeconds: airtimeUs / 1e6,
        airtimeShare: elapsedSeconds > 0 ? airtimeUs / 1e6 / elapsedSeconds : 0,
        deliveries,
        drops,
        links: pairs.map((p) => ({ name: p.name, aToB: directionStats(p.aToB), bToA: directionStats(p.bToA) })),
        perNode,
      };
    },
    close() {
      closed = true;
      queue.close();
    },
  };
}
