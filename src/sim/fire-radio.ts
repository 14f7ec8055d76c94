// Decision latency on the emulated radio: two agreeing cameras on two nodes of a zone, the zone's frames
// encoded and carried on one 1 MHz 802.11ah channel (medium.ts airtime) with 10 % loss; from the second
// detection to the pump's start, real engines, votes and envelopes. [FM-ZONE-SIM-6] Three paths:
// - `udp`: zone datagrams broadcast on the shared channel (no retries: a lost frame waits for the engine's
//   repeat on the next tick);
// - `mqtt`: the broker star the zone link runs through (`<prefix>/<site>/<node>/zone/<zone>`, QoS 1): every frame
//   goes up to the broker and down to each other node as acknowledged unicasts on the same channel, each
//   lost attempt retried by the MAC (up to 7 retries, backoff doubling), TCP's retransmission (200 ms, then
//   doubling) only when all fail; PUBACKs take airtime too;
// - `mqtt-digest`: the same star, but the broker forwards once per tick one bundle per node, as the
//   awareness plane's aggregator does ([FM-AWARE-5]): what zone frames would cost on the digest.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { quantile } from '../kit/index.js';
import { decodeZoneFrame, encodeZoneFrame, type ZoneConfig } from '../protocol/index.js';
import { MQTT_HEADER_BYTES } from './awareness-sim.js';
import { FireCluster } from './fire-cluster.js';
import { FIRE_TICK_MS } from './fire-partitions.js';
import { createSharedRadio, createSimRandom, frameAirtimeUs, MCS0_1MHZ_CHANNEL, S1G_MEAN_BACKOFF_US, type SimRandom } from './medium.js';
import { SimClock } from './sim-clock.js';

export interface RadioLatencyOptions {
  readonly trials: number;
  readonly seed: number;
  /** Per-receiver frame loss; default 0.1. */
  readonly loss?: number;
  /** Voters of the zone (every one a camera node); default 5. */
  readonly voters?: number;
  /** How the zone's frames travel; default `udp`. */
  readonly transport?: RadioTransport;
}

export type RadioTransport = 'udp' | 'mqtt' | 'mqtt-digest';

export interface RadioLatencyReport {
  readonly medium: string;
  /** `udp`, `mqtt` or `mqtt-digest`. */
  readonly path: RadioTransport;
  readonly transport: string;
  readonly loss: number;
  readonly voters: number;
  readonly tickMs: number;
  readonly trials: number;
  /** Trials whose pump never started within 10 s (counted as a miss, not in the quantiles). */
  readonly notStarted: number;
  readonly p50Ms: number | null;
  readonly p99Ms: number | null;
  readonly maxMs: number | null;
  readonly withinOneSecond: number;
}

const SIM_EPOCH_MS = 2_000_000_000;

export async function measureRadioLatency(o: RadioLatencyOptions): Promise<RadioLatencyReport> {
  const loss = o.loss ?? 0.1;
  const size = o.voters ?? 5;
  const path = o.transport ?? 'udp';
  const latencies: number[] = [];
  const stars: BrokerStar[] = [];
  let notStarted = 0;
  for (let trial = 0; trial < o.trials; trial++) {
    const r = createSimRandom(o.seed, 0x4ad10 + trial);
    const voters = Array.from({ length: size }, (_, i) => `n${i + 1}`);
    const zone: ZoneConfig = {
      id: 'z',
      voters,
      cameras: voters.map((v) => ({ id: `cam-${v}`, node: v, weight: 1 })),
      pumps: [
        {
          id: 'pump',
          node: voters[r.int(size)] as string,
          envelope: { maxRuntimeMs: 600_000, atMaxRuntime: 'stop', minOffMs: 5_000, onLeaseLapse: 'stop', onRestart: 'stop' },
        },
      ],
      overlaps: [],
      policy: {
        windowMs: 15_000,
        classes: ['fire'],
        minConfidence: 0.6,
        minCameras: 2,
        minNodes: 2,
        threshold: 1,
        cooldownMs: 5_000,
        activates: [],
        voteTtlMs: 6_000,
        maxClockSkewMs: 2_000,
        isolatedFallback: { enabled: false, minCameras: 3, minConfidence: 0.9 },
      },
    };
    const clock = new SimClock(SIM_EPOCH_MS);
    const radio = createSharedRadio({ clock, seed: o.seed * 7919 + trial, nodes: voters, loss });
    let started: number | undefined;
    const cluster = new FireCluster({
      clock,
      zones: [zone],
      tickMs: FIRE_TICK_MS,
      dir: mkdtempSync(join(process.platform === 'linux' ? '/dev/shm' : tmpdir(), 'fm-fire-radio-')),
      phase: () => r.int(FIRE_TICK_MS),
      hooks: {
        onPumpStart: (s) => {
          started ??= s.at;
        },
      },
    });
    if (path === 'udp') {
      // The zone's frames go as UDP broadcasts on the shared channel; the sender is who the radio says.
      cluster.network = { send: (from, frame) => radio.link(from).send(encodeZoneFrame(frame)) };
      for (const v of voters) {
        radio.link(v).onFrame((bytes, peer) => {
          const decoded = decodeZoneFrame(bytes);
          if (decoded.ok) cluster.deliver(v, decoded.frame, peer.address);
        });
      }
    } else {
      // Through the broker: the sender is the topic's node, as the broker's ACL makes it.
      const star = new BrokerStar({
        clock,
        random: createSimRandom(o.seed * 7919 + trial, 0x57a2),
        loss,
        nodes: voters,
        digestEveryMs: path === 'mqtt-digest' ? FIRE_TICK_MS : undefined,
        digestPhaseMs: r.int(FIRE_TICK_MS),
        deliver: (to, bytes, from) => {
          const decoded = decodeZoneFrame(bytes);
          if (decoded.ok) cluster.deliver(to, decoded.frame, from);
        },
      });
      cluster.network = { send: (from, frame) => star.publish(from, encodeZoneFrame(frame)) };
      stars.push(star);
    }
    for (const v of voters) await cluster.start(v);
    const a = voters[r.int(size)] as string;
    const others = voters.filter((v) => v !== a);
    const b = others[r.int(others.length)] as string;
    const t1 = 3_000 + r.int(1_000);
    const t2 = t1 + r.int(2_000);
    await cluster.runUntil(SIM_EPOCH_MS + t1);
    cluster.detect(a, { id: 'd1', camera: `cam-${a}`, node: a, class: 'fire', confidence: 0.9, time: clock.now() });
    await cluster.runUntil(SIM_EPOCH_MS + t2);
    const second = clock.now();
    cluster.detect(b, { id: 'd2', camera: `cam-${b}`, node: b, class: 'fire', confidence: 0.9, time: second });
    await cluster.runUntil(second + 10_000);
    if (started === undefined) notStarted++;
    else latencies.push(started - second);
    radio.close();
    for (const star of stars.splice(0)) star.close();
    await cluster.close();
  }
  const q = (p: number) => (latencies.length === 0 ? null : Math.round(quantile(latencies, p)));
  return {
    medium: '802.11ah 1 MHz MCS0 (300 kbps), shared channel, airtime per frame',
    path,
    transport: TRANSPORT_NAMES[path],
    loss,
    voters: size,
    tickMs: FIRE_TICK_MS,
    trials: o.trials,
    notStarted,
    p50Ms: q(0.5),
    p99Ms: q(0.99),
    maxMs: q(1),
    withinOneSecond: latencies.filter((x) => x <= 1_000).length,
  };
}

const TRANSPORT_NAMES: Record<RadioTransport, string> = {
  udp: 'UDP broadcast to the zone, zone frames as encoded',
  mqtt: `MQTT QoS 1 through a broker on the channel: each frame up and down again as acknowledged unicasts (MAC retries, TCP retransmission after 7), ${MQTT_HEADER_BYTES + 2} B of TCP/IP, MAC and MQTT header per message, PUBACKs on air`,
  'mqtt-digest': "MQTT through a broker that forwards one bundle per node per tick (the awareness digest's way), same channel and retries",
};

/** 802.11 retries an unacknowledged unicast frame up to 7 times (dot11ShortRetryLimit). */
const MAC_RETRIES = 7;
/** Linux's minimum TCP retransmission timeout. */
const TCP_RTO_MS = 200;
/** A PUBACK: MQTT 4 bytes in its own TCP segment. */
const PUBACK_BYTES = 4;
/** MQTT QoS 1 adds a 2-byte packet id to every PUBLISH. */
const QOS1_BYTES = 2;
/** The star's messages on air: TCP/IP, MAC and MQTT headers instead of UDP's. */
const STAR_CHANNEL = { ...MCS0_1MHZ_CHANNEL, headerBytes: MQTT_HEADER_BYTES + QOS1_BYTES };

interface BrokerStarOptions {
  readonly clock: SimClock;
  readonly random: SimRandom;
  readonly loss: number;
  readonly nodes: readonly string[];
  /** Undefined: the broker forwards each message at once. A number: one bundle per node this often. */
  readonly digestEveryMs: number | undefined;
  readonly digestPhaseMs: number;
  readonly deliver: (to: string, frame: Uint8Array, from: string) => void;
}

/**
 * The MQTT star on one shared channel: every message is an acknowledged unicast between a node and the
 * broker, serialised on the channel with every other, each attempt lost with `loss` and retried.
 */
class BrokerStar {
  #busyUntil = 0;
  #closed = false;
  readonly #timers: ReturnType<SimClock['setTimeout']>[] = [];
  #pending: { from: string; frame: Uint8Array }[] = [];

  constructor(private readonly o: BrokerStarOptions) {
    if (o.digestEveryMs !== undefined) {
      const every = o.digestEveryMs;
      const flush = (): void => {
        if (this.#closed) return;
        this.#flushDigest();
        this.#later(every, flush);
      };
      this.#later(o.digestPhaseMs, flush);
    }
  }

  /** A node publishes a frame: up to the broker, then on to every other node. */
  publish(from: string, frame: Uint8Array): void {
    const copy = frame.slice();
    this.#transmit(copy.length, STAR_CHANNEL, () => {
      this.#puback();
      if (this.o.digestEveryMs !== undefined) this.#pending.push({ from, frame: copy });
      else
        for (const to of this.o.nodes)
          if (to !== from)
            this.#transmit(copy.length, STAR_CHANNEL, () => {
              this.#puback();
              this.o.deliver(to, copy, from);
            });
    });
  }

  close(): void {
    this.#closed = true;
    for (const t of this.#timers) this.o.clock.clearTimeout(t);
  }

  #flushDigest(): void {
    const pending = this.#pending;
    this.#pending = [];
    for (const to of this.o.nodes) {
      const frames = pending.filter((p) => p.from !== to);
      if (frames.length === 0) continue;
      // One bundle: each frame prefixed by its varint length (1 or 2 bytes here).
      const bytes = frames.reduce((n, p) => n + p.frame.length + (p.frame.length < 128 ? 1 : 2), 0);
      this.#transmit(bytes, STAR_CHANNEL, () => {
        for (const p of frames) this.o.deliver(to, p.frame, p.from);
      });
    }
  }

  /** The receiver's PUBACK: airtime only, nobody waits for it. */
  #puback(): void {
    this.#transmit(PUBACK_BYTES, { ...STAR_CHANNEL, headerBytes: MQTT_HEADER_BYTES - 2 - 32 }, () => {});
  }

  /**
   * Books one message on the channel: attempts until one gets through (MAC retries with doubling backoff;
   * after the last, TCP retransmits it `TCP_RTO_MS` later, doubling), then runs `arrived` at its end.
   */
  #transmit(bytes: number, model: typeof STAR_CHANNEL, arrived: () => void, rto = TCP_RTO_MS): void {
    if (this.#closed) return;
    let t = this.o.clock.monotonic();
    for (let attempt = 0; attempt <= MAC_RETRIES; attempt++) {
      const backoffMs = (S1G_MEAN_BACKOFF_US * (2 ** attempt - 1)) / 1_000;
      const start = Math.max(t, this.#busyUntil) + backoffMs;
      const end = start + frameAirtimeUs(bytes, model, true) / 1_000;
      this.#busyUntil = end;
      t = end;
      if (this.o.random.next() >= this.o.loss) {
        this.#later(end - this.o.clock.monotonic(), arrived);
        return;
      }
    }
    this.#later(t + rto - this.o.clock.monotonic(), () => this.#transmit(bytes, model, arrived, rto * 2));
  }

  #later(ms: number, fn: () => void): void {
    this.#timers.push(this.o.clock.setTimeout(fn, Math.max(0, ms)));
  }
}
