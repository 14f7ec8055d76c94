// Decision latency on the emulated radio: two agreeing cameras on two nodes of a zone, the zone's frames
// encoded and broadcast over UDP on one 1 MHz 802.11ah channel (medium.ts) with per-receiver loss; from
// the second detection to the pump's start, real engines, votes and envelopes. [FM-ZONE-SIM-6]

import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { quantile } from '../kit/index.js';
import { decodeZoneFrame, encodeZoneFrame, type ZoneConfig } from '../protocol/index.js';
import { FireCluster } from './fire-cluster.js';
import { FIRE_TICK_MS } from './fire-partitions.js';
import { createSharedRadio, createSimRandom } from './medium.js';
import { SimClock } from './sim-clock.js';

export interface RadioLatencyOptions {
  readonly trials: number;
  readonly seed: number;
  /** Per-receiver frame loss; default 0.1. */
  readonly loss?: number;
  /** Voters of the zone (every one a camera node); default 5. */
  readonly voters?: number;
}

export interface RadioLatencyReport {
  readonly medium: string;
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
  const latencies: number[] = [];
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
    // The zone's frames go as UDP broadcasts on the shared channel; the sender is who the radio says.
    cluster.network = { send: (from, frame) => radio.link(from).send(encodeZoneFrame(frame)) };
    for (const v of voters) {
      radio.link(v).onFrame((bytes, peer) => {
        const decoded = decodeZoneFrame(bytes);
        if (decoded.ok) cluster.deliver(v, decoded.frame, peer.address);
      });
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
    await cluster.close();
  }
  const q = (p: number) => (latencies.length === 0 ? null : Math.round(quantile(latencies, p)));
  return {
    medium: '802.11ah 1 MHz MCS0 (300 kbps), shared channel, airtime per frame',
    transport: 'UDP broadcast to the zone, zone frames as encoded',
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
