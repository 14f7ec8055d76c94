// The hub-scale load generator: N simulated battery nodes speaking fieldmesh frames over a few MQTT connections, as
// cheap as it can be. Each node does what a real agent's publisher and replicator send (src/agent/publisher.ts,
// src/agent/outbox/replicator.ts): a birth (again on a rebirth request or a new hub epoch), a data frame of its five
// metrics every 2 s through the session encoder (QoS 1; every value is new, so the frame is also the heartbeat), and
// every 10 s a history frame carrying the same samples under an outbox seq range. It counts the acks, and sends a
// frame again, with the same range, when its ack has not come within the replicator's timeout.

import mqtt, { type MqttClient } from 'mqtt';
import {
  commandTopic,
  decodeWireFrame,
  encodeHistory,
  FIELDMESH_VERSION,
  type HistorySeries,
  hubTopic,
  nodeTopic,
  type SeriesDef,
  SessionEncoder,
} from '../src/protocol/index.js';
import type { NodeSimLike, Workload } from './workload.js';

const PREFIX = 'fieldmesh';
export const TICK_MS = 2_000;
/** Ticks per history frame: one every 10 s per node. */
const TICKS_PER_HISTORY = 5;
const ACK_TIMEOUT_MS = 15_000;
/** As the agent's replicator: at most this many history frames unacknowledged, at most this many rows in one. */
const MAX_IN_FLIGHT = 4;
const MAX_FRAME_ROWS = 2_000;
/** The scheduler's slot: every node ticks in one of TICK_MS / SLOT_MS slots, so the load is spread evenly. */
const SLOT_MS = 50;
const DECIMALS: Record<string, number> = { battery_soc: 1, dc_voltage: 2, dc_current: 1, ac_in_l1_power: 0, ac_out_l1_power: 0 };
const UNITS: Record<string, string> = {
  battery_soc: 'percent',
  dc_voltage: 'volts',
  dc_current: 'amperes',
  ac_in_l1_power: 'watts',
  ac_out_l1_power: 'watts',
};

interface InFlight {
  readonly firstSeq: number;
  readonly bytes: Buffer;
  readonly rows: number;
  /** Tick times the frame carries (every metric has a sample at each). */
  readonly ticks: readonly number[];
  readonly firstSentAt: number;
  sentAt: number;
}

interface SimNode {
  readonly site: string;
  readonly id: string;
  readonly sim: NodeSimLike;
  readonly slot: number;
  readonly encoder: SessionEncoder;
  readonly topics: { readonly birth: string; readonly data: string; readonly history: string };
  values: Record<string, number>;
  valuesAt: number;
  birthNeeded: boolean;
  ticks: number;
  /** Outbox: ticks not yet in a history frame, and the next seq. One row per sample, five per tick. */
  unsent: { t: number; values: Record<string, number> }[];
  nextSeq: number;
  readonly inFlight: Map<number, InFlight>;
  /** Tick times of every acknowledged sample row set, for the loss check. */
  readonly acked: number[];
}

export interface LoadCounters {
  births: number;
  dataFrames: number;
  liveSamples: number;
  historyFrames: number;
  historySamples: number;
  resentFrames: number;
  ackedFrames: number;
  ackedSamples: number;
  duplicateAcks: number;
  rebirthRequests: number;
  publishErrors: number;
}

export interface LoadGenerator {
  readonly counters: LoadCounters;
  readonly nodes: number;
  /** Stops making new samples; births, resends and acks go on. */
  stopSampling(): void;
  /** History frames sent and not yet acknowledged, plus one per node holding rows not yet sent. */
  pendingFrames(): number;
  /** Ack latencies (first send to ack) of frames acknowledged since the last call, ms. */
  takeAckLatencies(): number[];
  /** Per node, the tick times whose five samples the hub acknowledged. */
  acked(): ReadonlyMap<string, readonly number[]>;
  readonly metrics: readonly string[];
  close(): Promise<void>;
}

export interface LoadOptions {
  readonly brokerUrl: string;
  readonly nodes: number;
  readonly connections: number;
  readonly workload: Workload;
}

function birthSeries(w: Workload, sim: NodeSimLike, values: Record<string, number>, time: number): SeriesDef[] {
  return w.METRICS.map((name, i) => ({
    alias: i + 1,
    name,
    labels: sim.labels,
    type: 'gauge' as const,
    unit: UNITS[name] ?? '',
    decimals: DECIMALS[name] ?? 2,
    deadband: { kind: 'none' as const },
    maxSilenceMs: 30_000,
    value: values[name] ?? null,
    time,
  }));
}

export async function startLoad(o: LoadOptions): Promise<LoadGenerator> {
  const w = o.workload;
  const counters: LoadCounters = {
    births: 0,
    dataFrames: 0,
    liveSamples: 0,
    historyFrames: 0,
    historySamples: 0,
    resentFrames: 0,
    ackedFrames: 0,
    ackedSamples: 0,
    duplicateAcks: 0,
    rebirthRequests: 0,
    publishErrors: 0,
  };
  const slots = TICK_MS / SLOT_MS;
  const bootTime = Date.now();
  const byKey = new Map<string, SimNode>();
  const groups: SimNode[][] = Array.from({ length: o.connections }, () => []);
  for (let i = 0; i < o.nodes; i++) {
    const sim = new w.NodeSim(w.DEFAULT_SEED, i);
    const c = i % o.connections;
    const site = `s${c + 1}`;
    const node: SimNode = {
      site,
      id: sim.name,
      sim,
      slot: i % slots,
      encoder: new SessionEncoder(1),
      topics: {
        birth: nodeTopic(PREFIX, site, sim.name, 'birth'),
        data: nodeTopic(PREFIX, site, sim.name, 'data'),
        history: nodeTopic(PREFIX, site, sim.name, 'history'),
      },
      values: sim.step(),
      valuesAt: Date.now(),
      birthNeeded: true,
      ticks: 0,
      unsent: [],
      nextSeq: 1,
      inFlight: new Map(),
      acked: [],
    };
    byKey.set(`${site}/${sim.name}`, node);
    groups[c]?.push(node);
  }
  const latencies: number[] = [];
  let sampling = true;

  function publish(client: MqttClient, topic: string, bytes: Uint8Array): void {
    const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    client.publish(topic, buf, { qos: 1 }, (err) => {
      if (err) counters.publishErrors++;
    });
  }

  function birth(client: MqttClient, n: SimNode, now: number): void {
    n.birthNeeded = false;
    const bytes = n.encoder.birth({
      time: now,
      zone: 'default',
      agentVersion: FIELDMESH_VERSION,
      tickMs: TICK_MS,
      heartbeatMs: 10_000,
      series: birthSeries(w, n.sim, n.values, n.valuesAt),
      bootTime,
      configVersion: '',
    });
    counters.births++;
    publish(client, n.topics.birth, bytes);
  }

  function sendHistory(client: MqttClient, n: SimNode, now: number): void {
    // At the in-flight limit the rows wait in the outbox and go later, in a fuller frame.
    if (n.unsent.length === 0 || n.inFlight.size >= MAX_IN_FLIGHT) return;
    const rows = n.unsent.splice(0, Math.floor(MAX_FRAME_ROWS / w.METRICS.length));
    const firstSeq = n.nextSeq;
    const lastSeq = firstSeq + rows.length * w.METRICS.length - 1;
    n.nextSeq = lastSeq + 1;
    const series: HistorySeries[] = w.METRICS.map((name) => ({
      name,
      labels: n.sim.labels,
      type: 'gauge',
      unit: UNITS[name] ?? '',
      samples: rows.map((r) => [r.t, r.values[name] as number] as const),
    }));
    const bytes = encodeHistory({
      epoch: 1,
      zone: 'default',
      firstSeq,
      lastSeq,
      pendingRows: 0,
      oldestPendingMs: null,
      pendingBytes: 0,
      dropped: [],
      repaired: [],
      series,
    });
    const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    n.inFlight.set(lastSeq, {
      firstSeq,
      bytes: buf,
      rows: rows.length * w.METRICS.length,
      ticks: rows.map((r) => r.t),
      firstSentAt: now,
      sentAt: now,
    });
    counters.historyFrames++;
    counters.historySamples += rows.length * w.METRICS.length;
    client.publish(n.topics.history, buf, { qos: 1 }, (err) => {
      if (err) counters.publishErrors++;
    });
  }

  function tick(client: MqttClient, n: SimNode, now: number): void {
    if (n.birthNeeded) birth(client, n, now);
    if (!sampling) return;
    n.values = n.sim.step();
    n.valuesAt = now;
    const entries = w.METRICS.map((name, i) => ({ alias: i + 1, value: n.values[name] as number, time: now }));
    publish(client, n.topics.data, n.encoder.data(now, entries));
    counters.dataFrames++;
    counters.liveSamples += entries.length;
    n.unsent.push({ t: now, values: n.values });
    n.ticks++;
    if ((n.ticks + n.slot) % TICKS_PER_HISTORY === 0) sendHistory(client, n, now);
  }

  function resendLate(client: MqttClient, nodes: readonly SimNode[], now: number): void {
    for (const n of nodes) {
      for (const f of n.inFlight.values()) {
        if (now - f.sentAt < ACK_TIMEOUT_MS) continue;
        f.sentAt = now;
        counters.resentFrames++;
        client.publish(n.topics.history, f.bytes, { qos: 1 }, (err) => {
          if (err) counters.publishErrors++;
        });
      }
    }
  }

  function onMessage(
    client: MqttClient,
    nodes: readonly SimNode[],
    hubEpoch: { value?: number },
    topic: string,
    payload: Buffer,
    retained: boolean,
  ): void {
    const decoded = decodeWireFrame(payload);
    if (!decoded.ok) return;
    const frame = decoded.frame;
    if (frame.type === 'hubState') {
      if (!frame.online) return;
      const known = hubEpoch.value;
      hubEpoch.value = frame.epoch;
      // As the publisher does [FM-SESSION-5]: a hub that came online after our births has not seen them.
      if ((known !== undefined && known !== frame.epoch) || (known === undefined && !retained)) for (const n of nodes) n.birthNeeded = true;
      return;
    }
    const levels = topic.split('/');
    const n = byKey.get(`${levels[1]}/${levels[2]}`);
    if (n === undefined) return;
    if (frame.type === 'rebirth') {
      counters.rebirthRequests++;
      n.birthNeeded = true;
    } else if (frame.type === 'ack' && frame.lane === 'samples') {
      const f = n.inFlight.get(frame.lastSeq);
      if (f === undefined || f.firstSeq !== frame.firstSeq) {
        counters.duplicateAcks++;
        return;
      }
      n.inFlight.delete(frame.lastSeq);
      counters.ackedFrames++;
      counters.ackedSamples += f.rows;
      for (const t of f.ticks) n.acked.push(t);
      latencies.push(Date.now() - f.firstSentAt);
      // Draining: what waited behind the in-flight limit goes now.
      if (!sampling) sendHistory(client, n, Date.now());
    }
  }

  const clients: MqttClient[] = [];
  const timers: NodeJS.Timeout[] = [];
  for (const [c, nodes] of groups.entries()) {
    const site = `s${c + 1}`;
    const client = await mqtt.connectAsync(o.brokerUrl, {
      clientId: `fm-load-${process.pid}-${c}`,
      protocolVersion: 4,
      clean: true,
      reconnectPeriod: 1_000,
      keepalive: 30,
    });
    clients.push(client);
    const hubEpoch: { value?: number } = {};
    client.on('message', (topic, payload, packet) => onMessage(client, nodes, hubEpoch, topic, payload, packet.retain));
    await client.subscribeAsync([commandTopic(PREFIX, site, '+', '+' as never), hubTopic(PREFIX, 'state')], { qos: 1 });
    // One timer per connection walks the slots as wall time passes, catching up when it ran late.
    const bySlot: SimNode[][] = Array.from({ length: slots }, () => []);
    for (const n of nodes) bySlot[n.slot]?.push(n);
    let slotCursor = Math.floor(Date.now() / SLOT_MS);
    timers.push(
      setInterval(() => {
        const nowSlot = Math.floor(Date.now() / SLOT_MS);
        for (; slotCursor < nowSlot; slotCursor++) {
          const now = Date.now();
          for (const n of bySlot[slotCursor % slots] ?? []) tick(client, n, now);
        }
      }, SLOT_MS),
    );
    timers.push(setInterval(() => resendLate(client, nodes, Date.now()), ACK_TIMEOUT_MS / 3));
  }

  return {
    counters,
    nodes: o.nodes,
    metrics: w.METRICS,
    stopSampling() {
      sampling = false;
      // What a node holds unsent goes out now, so the drain can account for every sample made.
      for (const [c, nodes] of groups.entries()) for (const n of nodes) sendHistory(clients[c] as MqttClient, n, Date.now());
    },
    pendingFrames() {
      let pending = 0;
      for (const n of byKey.values()) pending += n.inFlight.size + (n.unsent.length > 0 ? 1 : 0);
      return pending;
    },
    takeAckLatencies() {
      return latencies.splice(0);
    },
    acked() {
      return new Map([...byKey.values()].map((n) => [n.id, n.acked]));
    },
    async close() {
      for (const t of timers) clearInterval(t);
      await Promise.all(clients.map((c) => c.endAsync(true).catch(() => {})));
    },
  };
}
