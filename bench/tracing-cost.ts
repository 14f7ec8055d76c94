// What OpenTelemetry tracing costs the hub's durable ingest (docs/tracing.md): history frames through the embedded hub
// (SQLite, in-memory broker) and through a scale-out ingest and worker process pair (a real Mosquitto, NATS JetStream
// and PostgreSQL), with tracing off, on at a sample ratio of 0.01 and on at 1, the spans exported over OTLP/HTTP to a
// sink in another process. Runs alternate. Standalone: npx tsx bench/tracing-cost.ts [frames per run] [rounds]

import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { type Hub, hubConfigSchema, openHub } from '../src/hub/index.js';
import { commandTopic, encodeHistory, nodeTopic } from '../src/protocol/index.js';
import { createMemoryTransport, createMqttTransport, MemoryBroker, type Transport } from '../src/transport/index.js';
import { startMosquitto } from '../test/kit/mosquitto.js';
import { startNatsServer } from '../test/kit/nats.js';
import { startPostgres } from '../test/kit/postgres.js';

type Mode = 'off' | 'ratio 0.01' | 'ratio 1';
const MODES: readonly Mode[] = ['off', 'ratio 0.01', 'ratio 1'];
const SAMPLES_PER_FRAME = 10;
/** Frames sent and not yet acknowledged at most, as a node's outbox keeps several in flight. */
const WINDOW = 64;

interface RunFigures {
  readonly framesPerSecond: number;
  /** CPU time of the hub's process (user and system) per 1,000 frames, ms: the load generator's share is the same in every mode. */
  readonly cpuMsPer1000Frames: number;
  /** Span bytes the sink received (OTLP JSON) per frame. */
  readonly exportedBytesPerFrame: number;
}

export interface TracingCostResult {
  readonly target: string;
  readonly frames: number;
  readonly samplesPerFrame: number;
  readonly rounds: number;
  /** The median run of each mode, and every run's frames per second. */
  readonly modes: Readonly<Record<Mode, RunFigures & { readonly runs: readonly number[] }>>;
}

/** An OTLP/HTTP sink in a process of its own (so decoding spans costs the measured process nothing): counts bytes. */
async function startSink(): Promise<{ url: string; bytes(): Promise<number>; stop(): void }> {
  const script = `
    const http = require('node:http'); let bytes = 0;
    const s = http.createServer((req, res) => {
      if (req.url === '/bytes') return res.end(String(bytes));
      req.on('data', (c) => { bytes += c.length; }); req.on('end', () => res.end('{}'));
    });
    s.listen(0, '127.0.0.1', () => console.log(s.address().port));
    process.stdin.on('end', () => process.exit(0)); process.stdin.resume();`;
  // Its standard input is a pipe from this process: it ends when this process does, however it ends.
  const child: ChildProcess = spawn(process.execPath, ['-e', script], { stdio: ['pipe', 'pipe', 'inherit'] });
  const line = await new Promise<string>((resolve) =>
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).once('line', resolve),
  );
  const url = `http://127.0.0.1:${line.trim()}`;
  return {
    url,
    bytes: async () => Number(await (await fetch(`${url}/bytes`)).text()),
    stop: () => child.kill(),
  };
}

function historyFrame(seq: number, now: number): Uint8Array {
  return encodeHistory({
    epoch: 1,
    zone: 'z1',
    firstSeq: seq,
    lastSeq: seq,
    pendingRows: 0,
    oldestPendingMs: null,
    pendingBytes: 0,
    dropped: [],
    repaired: [],
    series: [
      {
        name: 'probe_value',
        labels: { probe: 'p1' },
        type: 'gauge',
        unit: '',
        // Ascending, and apart from every other frame's: a sample per millisecond from 3 h ago.
        samples: Array.from(
          { length: SAMPLES_PER_FRAME },
          (_, i) => [now - 3 * 3_600_000 + seq * SAMPLES_PER_FRAME + i, seq + i] as [number, number],
        ),
      },
    ],
  });
}

/** A run that has not finished by then has lost an ack (the bench's node does not resend): given up, not waited for. */
const RUN_TIMEOUT_MS = 120_000;

/** Sends `frames` history frames of one node, at most WINDOW unacknowledged; resolves once every one was acknowledged. */
async function drive(node: Transport, frames: number, firstSeq: number): Promise<void> {
  const now = Date.now();
  let sent = 0;
  let acked = 0;
  let timer: NodeJS.Timeout | undefined;
  await new Promise<void>((resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`${acked} of ${frames} frames acknowledged after ${RUN_TIMEOUT_MS} ms`)), RUN_TIMEOUT_MS);
    const sub = node.subscribe(
      commandTopic('fieldmesh', 'lab', 'rig-1', 'ack'),
      () => {
        acked++;
        if (acked === frames) {
          sub.unsubscribe();
          resolve();
        } else if (sent < frames) send();
      },
      { qos: 1 },
    );
    const send = () => {
      const seq = firstSeq + sent++;
      void node.publish(nodeTopic('fieldmesh', 'lab', 'rig-1', 'history'), historyFrame(seq, now), { qos: 1 });
    };
    void sub.ready.then(() => {
      for (let i = 0; i < Math.min(WINDOW, frames); i++) send();
    });
  }).finally(() => clearTimeout(timer));
}

interface Target {
  readonly name: string;
  /** Opens the hub (or hubs) with these tracing keys; returns the node's link and the stop of everything opened. */
  open(tracing: Record<string, unknown>): Promise<{ node: Transport; stop(): Promise<void> }>;
  close(): Promise<void>;
}

function embeddedTarget(): Target {
  return {
    name: 'embedded hub (SQLite, in-memory broker)',
    async open(tracing) {
      const dataDir = mkdtempSync(join(tmpdir(), 'fm-bench-tracing-'));
      const broker = new MemoryBroker();
      const hub = await openHub(
        hubConfigSchema.parse({ dataDir, storage: { path: join(dataDir, 'hub.db') }, alerts: { enabled: false }, tracing }),
        {
          transport: createMemoryTransport(broker, { clientId: 'hub' }),
        },
      );
      await hub.start({ listen: false });
      const node = createMemoryTransport(broker, { clientId: 'rig-1' });
      const connected = new Promise<void>((resolve) => node.on('connected', () => resolve()));
      node.start();
      await connected;
      return {
        node,
        async stop() {
          await node.close();
          await hub.stop();
          rmSync(dataDir, { recursive: true, force: true });
        },
      };
    },
    async close() {},
  };
}

async function scaleOutTarget(): Promise<Target> {
  const [mosquitto, nats, pg] = await Promise.all([startMosquitto(), startNatsServer(), startPostgres()]);
  return {
    name: 'scale-out ingest + worker (Mosquitto, NATS JetStream, PostgreSQL)',
    async open(tracing) {
      const url = await pg.createDatabase();
      const dataDir = mkdtempSync(join(tmpdir(), 'fm-bench-tracing-'));
      const hubs: Hub[] = [];
      for (const roles of [['ingest'], ['worker']]) {
        const hub = await openHub(
          hubConfigSchema.parse({
            dataDir,
            mqtt: { url: mosquitto.url, clientId: `fm-${roles[0]}` },
            storage: { path: join(dataDir, 'hub.db'), url },
            // The stream is the same every run (it is empty after each: every frame was acknowledged).
            queue: { url: nats.urls.join(','), workers: 1 },
            roles,
            alerts: { enabled: false },
            tracing,
          }),
        );
        await hub.start({ listen: false });
        hubs.push(hub);
      }
      const node = createMqttTransport({ url: mosquitto.url, clientId: 'rig-1' });
      const connected = new Promise<void>((resolve) => node.on('connected', () => resolve()));
      node.start();
      await connected;
      return {
        node,
        async stop() {
          await node.close();
          for (const hub of hubs.reverse()) await hub.stop();
          rmSync(dataDir, { recursive: true, force: true });
        },
      };
    },
    close: async () => {
      await Promise.all([mosquitto.stop(), nats.stop(), pg.stop()]);
    },
  };
}

const median = (xs: readonly number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

async function measure(target: Target, frames: number, rounds: number): Promise<TracingCostResult> {
  const runs: Record<Mode, RunFigures[]> = { off: [], 'ratio 0.01': [], 'ratio 1': [] };
  // One run before any is measured, discarded: the first through a process compiles its code paths and warms the
  // servers (its CPU per frame was several times a later run's), which would count against the first mode.
  const warm = await target.open({});
  await drive(warm.node, frames, 1);
  await warm.stop();
  for (let round = 0; round < rounds; round++) {
    // Alternating order, so a machine that slows down over the run does not favour one mode.
    for (const mode of round % 2 === 0 ? MODES : [...MODES].reverse()) {
      const sink = await startSink();
      try {
        const tracing = mode === 'off' ? {} : { endpoint: sink.url, sampleRatio: mode === 'ratio 1' ? 1 : 0.01 };
        const { node, stop } = await target.open(tracing);
        // A short warm-up: JIT, the first SQLite pages and JetStream's consumer.
        await drive(node, 200, 1);
        const cpu0 = process.cpuUsage();
        const t0 = performance.now();
        await drive(node, frames, 1_000);
        const seconds = (performance.now() - t0) / 1000;
        const cpu = process.cpuUsage(cpu0);
        await stop();
        runs[mode].push({
          framesPerSecond: Math.round(frames / seconds),
          cpuMsPer1000Frames: Math.round(((cpu.user + cpu.system) / 1000 / frames) * 1000 * 10) / 10,
          exportedBytesPerFrame: Math.round(((await sink.bytes()) / (frames + 200)) * 10) / 10,
        });
      } finally {
        sink.stop();
      }
    }
  }
  const summary = (rs: readonly RunFigures[]) => ({
    framesPerSecond: median(rs.map((r) => r.framesPerSecond)),
    cpuMsPer1000Frames: median(rs.map((r) => r.cpuMsPer1000Frames)),
    exportedBytesPerFrame: median(rs.map((r) => r.exportedBytesPerFrame)),
    runs: rs.map((r) => r.framesPerSecond),
  });
  return {
    target: target.name,
    frames,
    samplesPerFrame: SAMPLES_PER_FRAME,
    rounds,
    modes: { off: summary(runs.off), 'ratio 0.01': summary(runs['ratio 0.01']), 'ratio 1': summary(runs['ratio 1']) },
  };
}

export async function benchTracingCost(frames = 3_000, rounds = 3): Promise<TracingCostResult[]> {
  const results = [await measure(embeddedTarget(), frames, rounds)];
  const scaleOut = await scaleOutTarget();
  try {
    results.push(await measure(scaleOut, frames, rounds));
  } finally {
    await scaleOut.close();
  }
  return results;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [frames, rounds] = process.argv.slice(2).map(Number);
  console.log(JSON.stringify(await benchTracingCost(frames || undefined, rounds || undefined), null, 2));
  process.exit(0);
}
