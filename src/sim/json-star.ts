// The baseline column of `fieldmesh sim`: the JSON-per-metric MQTT star that deployments run today,
// through a real Mosquitto on the scenario's workload, its MQTT traffic turned into frames and airtime
// on the scenario's radio model.

import { type BatteryReading, BatterySim } from '../agent/index.js';
import { type Logger, silentLogger } from '../kit/index.js';
import { createMqttTransport, type Transport, type TransportMessage } from '../transport/index.js';
import { type AirtimeModel, frameAirtimeUs, IPV4_UDP_HEADER_BYTES } from './medium.js';
import { findMosquitto, MOSQUITTO_MISSING_NOTE, type SimMosquitto, startSimMosquitto } from './mosquitto.js';
import type { DesignMeasures, DesignResult, TimeSeries } from './report.js';

export const JSON_STAR_NAME = 'json-star baseline (Mosquitto)';
/** The baseline's five critical metrics, in its order; one JSON message each per node-tick. */
export const JSON_STAR_METRICS: readonly (keyof BatteryReading)[] = [
  'battery_soc',
  'dc_voltage',
  'dc_current',
  'ac_in_l1_power',
  'ac_out_l1_power',
];
/** IPv4 (20) + TCP (20) without options. Linux adds 12 B of timestamps; the baselines counted them (52 B). */
export const IPV4_TCP_HEADER_BYTES = 40;
/** Ticks driven through the broker unless the caller asks for more: keeps a 50-node CI run to seconds. */
export const JSON_STAR_MAX_TICKS = 30;
/** Bound on one tick's deliveries; on loopback a 50-node tick takes well under a second. */
const DEFAULT_TICK_TIMEOUT_MS = 15_000;
/** Bound on connecting and subscribing every client. */
const CONNECT_TIMEOUT_MS = 15_000;
/** paho's default, the client library of the baseline's deployments. */
const JSON_STAR_KEEPALIVE_S = 60;
/** Timestamps of tick 0 (ns): a fixed instant, so the JSON and its length are the same on every run. */
const EPOCH_NS = Date.UTC(2026, 0, 1) * 1e6;

export interface JsonStarOptions {
  readonly nodes: number;
  readonly durationS: number;
  readonly tickMs: number;
  readonly seed: number;
  readonly airtime: AirtimeModel;
  /** Ticks actually driven through the broker, at most; default 30. Per-second figures are per simulated second. */
  readonly maxTicks?: number;
  /** How long one tick may take to reach every subscriber before the run stops early. Default 15 s. */
  readonly tickTimeoutMs?: number;
  /** Path of the mosquitto binary; default `/usr/sbin/mosquitto` or the first on PATH. */
  readonly mosquittoPath?: string;
  readonly onProgress?: (fraction: number) => void;
  readonly logger?: Logger;
}

/** The baseline's node names, as in the standard battery workload: node001, node002, ... */
export function jsonStarNodeName(index: number): string {
  return `node${String(index + 1).padStart(3, '0')}`;
}

/** The baseline's message for one metric: `{"value":..,"labels":{node,system_id,device},"timestamp":<ns>}`. */
export function jsonStarPayload(labels: JsonStarLabels, value: number, timestampNs: number): string {
  return JSON.stringify({ value, labels, timestamp: timestampNs });
}

export interface JsonStarLabels {
  readonly node: string;
  readonly system_id: string;
  readonly device: 'battery';
}

const NULL_MEASURES: DesignMeasures = Object.freeze({
  onAirBps: null,
  airtimeShare: null,
  framesPerNodePerS: null,
  payloadBytesPerNodeTick: null,
  completeness: null,
  ageP50Ms: null,
  ageP99Ms: null,
  duplicates: null,
  detectionP50Ms: null,
  detectionP99Ms: null,
  detectionMaxMs: null,
  falseVerdicts: null,
  coldStartFullViewMs: null,
});

function notRun(note: string): DesignResult {
  return { name: JSON_STAR_NAME, measures: NULL_MEASURES, series: {}, notes: [note] };
}

/** Traffic of one tick, summed over every client. */
interface TickTraffic {
  /** MQTT bytes client -> broker and broker -> client (socket counters). */
  readonly bytesUp: number;
  readonly bytesDown: number;
  /** PUBLISH packets client -> broker (each answered by a PUBACK down) and broker -> client (each answered up). */
  readonly publishesUp: number;
  readonly publishesDown: number;
}

function sumStats(clients: readonly Transport[]): TickTraffic {
  let bytesUp = 0;
  let bytesDown = 0;
  let publishesUp = 0;
  let publishesDown = 0;
  for (const c of clients) {
    const s = c.stats();
    bytesUp += s.bytesOut;
    bytesDown += s.bytesIn;
    publishesUp += s.messagesOut;
    publishesDown += s.messagesIn;
  }
  return { bytesUp, bytesDown, publishesUp, publishesDown };
}

function connectClient(
  url: string,
  clientId: string,
  filters: readonly string[],
  onMessage: (message: TransportMessage) => void,
  logger: Logger,
): Promise<Transport> {
  // The baseline's paho clients speak MQTT 3.1.1: no topic aliases, full topic in every PUBLISH.
  const t = createMqttTransport({ url, clientId, protocolVersion: 4, keepaliveS: JSON_STAR_KEEPALIVE_S, logger });
  // Subscriptions registered before start go out on connect; 'connected' follows their SUBACKs.
  for (const f of filters) t.subscribe(f, onMessage);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      t.off('connected', onConnected);
      void t.close({ graceful: false });
      reject(new Error(`${clientId} did not connect and subscribe within ${CONNECT_TIMEOUT_MS} ms`));
    }, CONNECT_TIMEOUT_MS);
    const onConnected = () => {
      clearTimeout(timer);
      t.off('connected', onConnected);
      resolve(t);
    };
    t.on('connected', onConnected);
    t.start();
  });
}

/** Resolves true when `promise` settles in time, false on timeout; never rejects. */
async function within(promise: Promise<unknown>, timeoutMs: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), timeoutMs);
  });
  try {
    return await Promise.race([promise.then(() => true), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

function formatBps(bps: number): string {
  return bps >= 1e6 ? `${(bps / 1e6).toFixed(2)} Mbps` : `${(bps / 1e3).toFixed(1)} kbps`;
}

/**
 * Runs the JSON-star baseline through a real Mosquitto: every node publishes its five metrics as five JSON
 * messages at QoS 1 to `bess/<node>/<metric>` each tick and subscribes to `bess/+/<metric>` for each.
 * Time is compressed: a tick ends when every subscriber holds all of its messages, so each tick's
 * traffic is exact. Returns all-null measures with a note when Mosquitto is not installed.
 */
export async function runJsonStar(o: JsonStarOptions): Promise<DesignResult> {
  const logger = (o.logger ?? silentLogger).child({ component: 'json-star' });
  const binary = o.mosquittoPath ?? findMosquitto();
  if (binary === undefined) return notRun(MOSQUITTO_MISSING_NOTE);
  const n = o.nodes;
  const tickS = o.tickMs / 1_000;
  const scenarioTicks = Math.floor((o.durationS * 1_000) / o.tickMs);
  const ticks = Math.min(scenarioTicks, o.maxTicks ?? JSON_STAR_MAX_TICKS);
  if (n < 1 || ticks < 1) return notRun(`not run: ${n} nodes and ${ticks} ticks leave nothing to measure`);
  const tickTimeoutMs = o.tickTimeoutMs ?? DEFAULT_TICK_TIMEOUT_MS;
  const metricCount = JSON_STAR_METRICS.length;

  let broker: SimMosquitto;
  try {
    broker = await startSimMosquitto({ binary, logger });
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    if (/not installed/.test(message)) return notRun(MOSQUITTO_MISSING_NOTE);
    throw err;
  }
  const clients: Transport[] = [];
  try {
    const names = Array.from({ length: n }, (_, i) => jsonStarNodeName(i));
    const nodeIndex = new Map(names.map((name, i) => [name, i]));
    const metricIndex = new Map(JSON_STAR_METRICS.map((m, i) => [m as string, i]));
    // The product's copy of the workload's physics: same (seed, index) -> same values, tick for tick.
    const sims = names.map((_, i) => new BatterySim(o.seed, i, tickS));
    const labels: JsonStarLabels[] = sims.map((sim, i) => ({ node: names[i] as string, system_id: sim.systemId, device: 'battery' }));

    // received[((s * ticks + k) * n + origin) * 5 + metric]: copies subscriber s got of that message.
    const received = new Uint8Array(n * ticks * n * metricCount);
    const deliveredInTick = new Uint32Array(ticks);
    const perTick = n * n * metricCount;
    let duplicates = 0;
    let strays = 0;
    let waiting: { tick: number; resolve: () => void } | undefined;
    const tickNs = o.tickMs * 1e6;

    /** Subscriber s received a message. */
    const receive = (s: number, { topic, payload }: TransportMessage): void => {
      const [, origin, metric] = topic.split('/');
      const oi = nodeIndex.get(origin ?? '');
      const mi = metricIndex.get(metric ?? '');
      let k = -1;
      try {
        k = ((JSON.parse(Buffer.from(payload).toString('utf8')) as { timestamp: number }).timestamp - EPOCH_NS) / tickNs;
      } catch {}
      if (oi === undefined || mi === undefined || !Number.isInteger(k) || k < 0 || k >= ticks) {
        strays++;
        return;
      }
      const at = ((s * ticks + k) * n + oi) * metricCount + mi;
      const copies = received[at] ?? 0;
      received[at] = Math.min(255, copies + 1);
      if (copies > 0) {
        duplicates++;
        return;
      }
      deliveredInTick[k] = (deliveredInTick[k] ?? 0) + 1;
      if (waiting !== undefined && waiting.tick === k && deliveredInTick[k] === perTick) waiting.resolve();
    };
    const filters = JSON_STAR_METRICS.map((m) => `bess/+/${m}`);
    const connected = await Promise.allSettled(
      names.map((name, s) => connectClient(broker.url, `json-star-${name}`, filters, (m) => receive(s, m), logger)),
    );
    for (const c of connected) if (c.status === 'fulfilled') clients.push(c.value);
    const failed = connected.find((c) => c.status === 'rejected');
    if (failed !== undefined) throw (failed as PromiseRejectedResult).reason;
    o.onProgress?.(0);

    const enc = new TextEncoder();
    const tcpModel: AirtimeModel = { ...o.airtime, headerBytes: o.airtime.headerBytes - IPV4_UDP_HEADER_BYTES + IPV4_TCP_HEADER_BYTES };
    const series: { tS: number[]; values: number[] } = { tS: [], values: [] };
    const completenessSeries: { tS: number[]; values: number[] } = { tS: [], values: [] };
    let jsonBytes = 0;
    let wireBytes = 0;
    let wireUp = 0;
    let wireDown = 0;
    let frames = 0;
    let airtimeUs = 0;
    let failedPublishes = 0;
    let ticksRun = 0;
    let stoppedEarly: string | undefined;
    let before = sumStats(clients);

    for (let k = 0; k < ticks; k++) {
      const timestampNs = EPOCH_NS + k * tickNs;
      const delivered = new Promise<void>((resolve) => {
        waiting = { tick: k, resolve };
        if (deliveredInTick[k] === perTick) resolve();
      });
      const publishes: Promise<void>[] = [];
      for (let i = 0; i < n; i++) {
        const reading = (sims[i] as BatterySim).step();
        for (const metric of JSON_STAR_METRICS) {
          const payload = enc.encode(jsonStarPayload(labels[i] as JsonStarLabels, reading[metric], timestampNs));
          jsonBytes += payload.length;
          publishes.push(
            (clients[i] as Transport).publish(`bess/${names[i]}/${metric}`, payload, { qos: 1 }).catch(() => {
              failedPublishes++;
            }),
          );
        }
      }
      // Every PUBACK back and every subscriber holding all n x 5 messages: the tick's traffic is complete.
      const complete = await within(Promise.all([Promise.all(publishes), delivered]), tickTimeoutMs);
      waiting = undefined;
      const after = sumStats(clients);
      const up = after.bytesUp - before.bytesUp;
      const down = after.bytesDown - before.bytesDown;
      const publishesUp = after.publishesUp - before.publishesUp;
      const publishesDown = after.publishesDown - before.publishesDown;
      before = after;
      // Each QoS 1 PUBLISH and the PUBACK answering it are one TCP segment each, one unicast frame each
      // on the shared channel (the hub is a radio node too): a PUBLISH up is acked down, a PUBLISH down
      // is acked up.
      const tickFrames = 2 * (publishesUp + publishesDown);
      const tickBytes = up + down;
      // frameAirtimeUs is affine in its bytes, so the frames' sum equals frames x the mean frame.
      const tickAirtimeUs = tickFrames === 0 ? 0 : tickFrames * frameAirtimeUs(tickBytes / tickFrames, tcpModel, true);
      const onAirBytes = tickBytes + tickFrames * tcpModel.headerBytes;
      wireBytes += tickBytes;
      wireUp += up;
      wireDown += down;
      frames += tickFrames;
      airtimeUs += tickAirtimeUs;
      ticksRun++;
      series.tS.push((k + 1) * tickS);
      series.values.push(onAirBytes / tickS);
      completenessSeries.tS.push((k + 1) * tickS);
      completenessSeries.values.push(tickCompleteness(received, n, ticks, k, metricCount));
      o.onProgress?.((k + 1) / ticks);
      if (!complete) {
        stoppedEarly = `stopped after tick ${k + 1} of ${ticks}: not every subscriber held every message of it within ${tickTimeoutMs} ms`;
        logger.warn({ tick: k, delivered: deliveredInTick[k], expected: perTick }, 'json-star baseline tick incomplete; stopping');
        break;
      }
    }

    const seconds = ticksRun * tickS;
    const onAirBps = ((wireBytes + frames * tcpModel.headerBytes) * 8) / seconds;
    const airtimeShare = airtimeUs / 1e6 / seconds;
    const completeness = completenessSeries.values.reduce((a, b) => a + b, 0) / completenessSeries.values.length;
    const measures: DesignMeasures = {
      ...NULL_MEASURES,
      onAirBps,
      airtimeShare,
      framesPerNodePerS: frames / n / seconds,
      payloadBytesPerNodeTick: jsonBytes / (n * ticksRun),
      completeness,
      duplicates,
    };

    const notes = [
      `The JSON-star baseline through a real Mosquitto ${broker.version} on loopback: ${n} MQTT 3.1.1 clients, each publishing ` +
        `its ${metricCount} metrics as ${metricCount} JSON messages at QoS 1 to bess/<node>/<metric> every tick and subscribed to ` +
        `bess/+/<metric> for each (so it also receives its own).`,
      `Compressed time: ${ticksRun} of the scenario's ${scenarioTicks} ticks driven through the broker, each ending when every ` +
        `subscriber held all ${n * metricCount} messages of it; per-second figures are per ${tickS} s of simulated time per tick.`,
      `Frames: each PUBLISH and each PUBACK is one TCP segment and one unicast radio frame on the shared channel, the broker's ` +
        `host being a radio node too; ${(frames / (n * ticksRun)).toFixed(0)} frames per node-tick (10 + 10 x nodes). ` +
        `Pure TCP ACKs are not counted (optimistic: with delayed ACKs up to one per two segments received would add ` +
        `up to half as many frames again).`,
      `Headers: ${IPV4_TCP_HEADER_BYTES} B of IPv4/TCP (no TCP options; the baselines counted 52 B with timestamps) + ` +
        `${tcpModel.headerBytes - IPV4_TCP_HEADER_BYTES} B MAC/LLC/FCS per frame.`,
      `MQTT bytes on the wire (the baselines' "payload on air"): ${formatBps((wireBytes * 8) / seconds)} for the fleet, ` +
        `${formatBps((wireUp * 8) / seconds / n)} up and ${formatBps((wireDown * 8) / seconds / n)} down per node.`,
      `No failure detector of its own (the broker's keepalive only sees the broker's clients; deployments add a gossip agent, Serf, beside it): ` +
        'failure detection, false verdicts and cold start are not measured. The age of values is not measured either: ' +
        'in compressed time on loopback it says nothing about the radio.',
    ];
    if (airtimeShare > 1) {
      notes.push(
        `It would not fit on the real channel: it needs ${airtimeShare.toFixed(1)} times its airtime, so queues would grow ` +
          `without bound and completeness would collapse; the ${(completeness * 100).toFixed(1)} % completeness is loopback's.`,
      );
    }
    if (duplicates > 0) notes.push(`${duplicates} messages delivered more than once.`);
    if (failedPublishes > 0) notes.push(`${failedPublishes} publishes failed.`);
    if (strays > 0) notes.push(`${strays} messages received that no tick of this run sent.`);
    if (stoppedEarly !== undefined) notes.push(stoppedEarly);

    const onAirBytesPerS: TimeSeries = series;
    return { name: JSON_STAR_NAME, measures, series: { onAirBytesPerS, completeness: completenessSeries }, notes };
  } finally {
    await Promise.allSettled(clients.map((c) => c.close()));
    await broker.stop();
  }
}

/** Share of (subscriber, origin) pairs, origin another node, in which the subscriber holds all of tick k's metrics. */
function tickCompleteness(received: Uint8Array, n: number, ticks: number, k: number, metricCount: number): number {
  if (n < 2) return 1;
  let complete = 0;
  for (let s = 0; s < n; s++) {
    for (let origin = 0; origin < n; origin++) {
      if (origin === s) continue;
      const base = ((s * ticks + k) * n + origin) * metricCount;
      let all = true;
      for (let m = 0; m < metricCount; m++) if ((received[base + m] ?? 0) === 0) all = false;
      if (all) complete++;
    }
  }
  return complete / (n * (n - 1));
}
