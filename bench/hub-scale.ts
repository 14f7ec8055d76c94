// `npm run bench -- hub-scale`: the embedded SQLite hub and the NATS + PostgreSQL hub with 1, 2 and 4 worker processes,
// side by side in one run, fed the same simulated fleet (bench/hub-scale-load.ts) through a real Mosquitto. Every hub is
// the built `fieldmesh hub` in child processes of its own (one for SQLite; ingest, api and each worker for scale-out),
// so CPU seconds and peak RSS are per process, read from /proc. Figures: live samples offered and applied at the api
// process, the age of a live value there (its sample-age histogram), history samples acknowledged and stored, the time
// from a history frame to its ack, JetStream consumer pending over time, and acknowledged samples missing from storage.

import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { setPriority, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { HubStorage } from '../src/hub/storage/storage.js';
import { FIELDMESH_BIN } from '../test/kit/fieldmesh-process.js';
import { type MosquittoInstance, startMosquitto } from '../test/kit/mosquitto.js';
import { type NatsServerSet, startNatsServer } from '../test/kit/nats.js';
import { freePort } from '../test/kit/ports.js';
import { type PostgresInstance, startPostgres } from '../test/kit/postgres.js';
import { spawnReaped } from '../test/kit/reaper.js';
import { haltProcess } from '../test/kit/server-process.js';
import { waitFor } from '../test/kit/wait.js';
import { type LoadCounters, startLoad } from './hub-scale-load.js';
import { loadWorkload } from './workload.js';

export type HubScaleTarget =
  | { readonly kind: 'sqlite' }
  | {
      readonly kind: 'scale-out';
      readonly workers: number;
      /**
       * The workers' nice value (as `Nice=` in their systemd unit), to see whether the api's live plane gains the CPU the
       * durable plane yields on one shared machine (2026-12-07, 4 workers at 10: it did not). Default 0.
       */
      readonly workerNice?: number;
    };

export interface HubScaleOptions {
  readonly nodes: number;
  readonly measureSeconds: number;
  /** After the warm-up (every node online at the api process), this long before the window opens. */
  readonly settleSeconds?: number;
  /** After the window, how long the nodes may take to have every history frame acknowledged. */
  readonly drainSeconds?: number;
  readonly targets?: readonly HubScaleTarget[];
}

interface ProcUsage {
  readonly cpuSeconds: number;
  /** Percent of one CPU over the window. */
  readonly cpuPercent: number;
  /** A process's VmHWM; for a tree (PostgreSQL's backends), the largest sum of their PSS sampled every 2 s. */
  readonly peakRssMiB: number;
}

interface Percentiles {
  readonly p50: number;
  readonly p99: number;
}

export interface HubScaleResult {
  readonly target: string;
  readonly nodes: number;
  readonly connections: number;
  readonly windowSeconds: number;
  readonly warmupSeconds: number;
  readonly live: {
    readonly offeredPerSecond: number;
    readonly appliedPerSecond: number;
    /** Receive at the api process's fleet state minus sample time, from its histogram (linear within a bucket). */
    readonly ageMs: Percentiles;
    /** Share of the window's live samples older than 1 s at the api process. */
    readonly over1s: number;
    readonly framesRejectedInWindow: number;
    /** False when the api process did not answer /metrics at the window's end (the live figures are then empty). */
    readonly apiAnsweredAtEnd: boolean;
  };
  readonly history: {
    readonly offeredPerSecond: number;
    readonly ackedPerSecond: number;
    readonly storedPerSecond: number;
    /** First send of a history frame to its ack, frames acknowledged in the window, ms. */
    readonly ackLatencyMs: Percentiles;
    readonly resentFrames: number;
    /** Frames the ingest tier refused in the window because 1,000 appends already waited for their PubAck (the node resends them). */
    readonly refusedOverload?: number;
    /** Acks the ingest tier sent to the nodes in the window, by outcome (forwarded, replayed, failed). */
    readonly acksForwarded?: Readonly<Record<string, number>>;
    /** JetStream consumer: messages not yet delivered plus delivered and not acknowledged, sampled every 2 s. */
    readonly consumerPending?: { readonly max: number; readonly atEnd: number; readonly series: readonly number[] };
  };
  readonly accounting: {
    readonly ackedSamples: number;
    readonly storedOfAcked: number;
    readonly lost: number;
    /** Frames still unacknowledged when the drain ended (held by their nodes, not lost). */
    readonly unackedFramesAtEnd: number;
    /** The hub's own count of history samples stored, whole run (samples the store already held are not counted). */
    readonly historySamplesStoredByCounter: number;
    readonly drainSeconds: number;
  };
  readonly load: LoadCounters;
  readonly processes: Record<string, ProcUsage>;
  /**
   * Where a scale-out hub waits: per hub process the largest event-loop delay seen (ms), the acks the workers sent and
   * the ingest heard in the window, and nats-server's slow consumers and per-connection pending bytes at the window's end.
   */
  readonly diagnostics?: {
    readonly eventLoopDelayMaxMs: Readonly<Record<string, number>>;
    readonly acksSentByWorkers: number;
    readonly acksReceivedByIngest: number;
    readonly natsSlowConsumers: number;
    readonly natsConnections: readonly {
      readonly name: string;
      readonly pendingBytes: number;
      readonly outMsgs: number;
      readonly inMsgs: number;
    }[];
  };
  /** Hub processes that exited on their own during the run (seconds after their start, exit code, last output). */
  readonly died: Record<string, { readonly code: number | string; readonly atSecond: number; readonly output: string }>;
}

const CLK_TCK = 100;

/** utime + stime of a process, seconds; undefined when it is gone. */
function cpuSeconds(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
  } catch {
    return undefined;
  }
}

/** Peak resident size of one process (VmHWM), KiB. */
function peakRssKiB(pid: number): number {
  try {
    return Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
  } catch {
    return 0;
  }
}

/** Proportional set size (shared pages divided among their sharers), KiB: sums over a tree without counting shared memory twice. */
function pssKiB(pid: number): number {
  try {
    return Number(/Pss:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'))?.[1] ?? 0);
  } catch {
    return 0;
  }
}

/** The pid and every descendant (a PostgreSQL server is a postmaster and its backends). */
function processTree(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      const list = children.get(ppid) ?? [];
      list.push(Number(entry));
      children.set(ppid, list);
    } catch {}
  }
  const out: number[] = [];
  const walk = (pid: number) => {
    out.push(pid);
    for (const c of children.get(pid) ?? []) walk(c);
  };
  walk(root);
  return out;
}

/** CPU seconds and resident memory of named process trees, sampled through the window. */
class UsageWatch {
  private readonly peak = new Map<string, number>();
  private readonly cpuByPid = new Map<string, Map<number, { first: number; last: number }>>();
  private startedAt = 0;
  private begun = false;
  private ownStart = process.cpuUsage();

  constructor(private readonly roots: ReadonlyMap<string, number>) {}

  begin(): void {
    this.startedAt = performance.now();
    this.ownStart = process.cpuUsage();
    this.sample();
    this.begun = true;
  }

  sample(): void {
    for (const [name, root] of this.roots) {
      const pids = processTree(root);
      const byPid = this.cpuByPid.get(name) ?? new Map<number, { first: number; last: number }>();
      this.cpuByPid.set(name, byPid);
      let pss = 0;
      for (const pid of pids) {
        const cpu = cpuSeconds(pid);
        if (cpu === undefined) continue;
        const known = byPid.get(pid);
        if (known) known.last = cpu;
        // A process born in the window (a PostgreSQL backend) counts from zero.
        else byPid.set(pid, { first: this.begun ? 0 : cpu, last: cpu });
        if (pids.length > 1) pss += pssKiB(pid);
      }
      // One process: its own peak (VmHWM); a tree (PostgreSQL): the largest sum of PSS seen.
      const memory = pids.length === 1 ? peakRssKiB(root) : pss;
      this.peak.set(name, Math.max(this.peak.get(name) ?? 0, memory));
    }
  }

  end(): Record<string, ProcUsage> {
    this.sample();
    const seconds = (performance.now() - this.startedAt) / 1000;
    const out: Record<string, ProcUsage> = {};
    for (const [name, byPid] of this.cpuByPid) {
      let cpu = 0;
      for (const { first, last } of byPid.values()) cpu += last - first;
      out[name] = usage(cpu, seconds, (this.peak.get(name) ?? 0) / 1024);
    }
    const own = process.cpuUsage(this.ownStart);
    out['load generator (bench process)'] = usage((own.user + own.system) / 1e6, seconds, peakRssKiB(process.pid) / 1024);
    return out;
  }
}

function usage(cpu: number, seconds: number, rssMiB: number): ProcUsage {
  return { cpuSeconds: round(cpu, 2), cpuPercent: round((100 * cpu) / seconds, 1), peakRssMiB: round(rssMiB, 1) };
}

function round(n: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}

function percentiles(values: number[]): Percentiles {
  if (values.length === 0) return { p50: Number.NaN, p99: Number.NaN };
  const sorted = values.sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number;
  return { p50: at(0.5), p99: at(0.99) };
}

// ---- Prometheus text, the few series read here ----

type Scrape = Map<string, number>;

/** A process's metrics; empty when it does not answer (it died: its exit is reported with the figures). */
async function scrape(port: number): Promise<Scrape> {
  let text: string;
  try {
    text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  } catch {
    return new Map();
  }
  const out: Scrape = new Map();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const space = line.lastIndexOf(' ');
    out.set(line.slice(0, space), Number(line.slice(space + 1)));
  }
  return out;
}

function sum(s: Scrape, name: string): number {
  let total = 0;
  for (const [key, value] of s) if (key === name || key.startsWith(`${name}{`)) total += value;
  return total;
}

/** The increase, over every process, of the series whose keys `match`. */
function windowSum(before: readonly Scrape[], after: readonly Scrape[], match: (key: string) => boolean): number {
  const total = (scrapes: readonly Scrape[]) => {
    let n = 0;
    for (const s of scrapes) for (const [key, value] of s) if (match(key)) n += value;
    return n;
  };
  return total(after) - total(before);
}

const AGE = 'fieldmesh_hub_sample_age_seconds';

/** p50 and p99 of the histogram's increase between two scrapes, ms, linear within a bucket. */
function histogramPercentiles(before: Scrape, after: Scrape): Percentiles & { count: number; over1s: number } {
  const buckets: [number, number][] = [];
  for (const [key, value] of after) {
    const m = new RegExp(`^${AGE}_bucket\\{le="([^"]+)"\\}$`).exec(key);
    if (m) buckets.push([m[1] === '+Inf' ? Number.POSITIVE_INFINITY : Number(m[1]), value - (before.get(key) ?? 0)]);
  }
  buckets.sort((a, b) => a[0] - b[0]);
  const count = buckets.at(-1)?.[1] ?? 0;
  const at = (q: number) => {
    const rank = q * count;
    let lower = 0;
    let below = 0;
    for (const [le, cumulative] of buckets) {
      if (cumulative >= rank) {
        if (le === Number.POSITIVE_INFINITY) return lower * 1000;
        const inBucket = cumulative - below;
        return (lower + (inBucket === 0 ? 0 : ((rank - below) / inBucket) * (le - lower))) * 1000;
      }
      lower = le;
      below = cumulative;
    }
    return Number.NaN;
  };
  const upTo1s = buckets.find(([le]) => le === 1)?.[1] ?? 0;
  return { p50: round(at(0.5), 0), p99: round(at(0.99), 0), count, over1s: count === 0 ? 0 : round(1 - upTo1s / count, 4) };
}

// ---- hub processes ----

interface HubProcess {
  readonly name: string;
  readonly proc: ChildProcess;
  readonly httpPort: number;
  /** Set when the process exited before the bench stopped it: its code and the end of its output. */
  readonly died: () => { readonly code: number | string; readonly atSecond: number; readonly output: string } | undefined;
  stop(): Promise<void>;
}

async function startHubProcess(name: string, config: Record<string, unknown>, dir: string, args: string[] = []): Promise<HubProcess> {
  const httpPort = await freePort();
  const file = join(dir, `${name}.yaml`);
  // JSON is YAML.
  writeFileSync(file, JSON.stringify({ ...config, http: { port: httpPort } }));
  // HUB_SCALE_NODE_ARGS: Node flags for every hub process, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof" (NODE_OPTIONS refuses --cpu-prof).
  const nodeArgs = (process.env.HUB_SCALE_NODE_ARGS ?? '').split(' ').filter((a) => a !== '');
  const proc = spawnReaped(process.execPath, [...nodeArgs, FIELDMESH_BIN, 'hub', '--config', file, ...args], {
    env: { ...process.env, FIELDMESH_LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  proc.stdout?.on('data', (d: Buffer) => {
    output += d.toString();
  });
  proc.stderr?.on('data', (d: Buffer) => {
    output = (output + d.toString()).slice(-20_000);
  });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`hub process ${name} did not start in 60 s: ${output}`)), 60_000);
    proc.stdout?.on('data', () => {
      if (!output.includes('fieldmesh hub ->')) return;
      clearTimeout(timer);
      resolve();
    });
    proc.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`hub process ${name} exited (${code ?? signal}): ${output}`));
    });
  });
  const startedAt = performance.now();
  let stopping = false;
  let died: ReturnType<HubProcess['died']>;
  proc.once('exit', (code, signal) => {
    if (!stopping)
      died = { code: code ?? signal ?? -1, atSecond: round((performance.now() - startedAt) / 1000, 1), output: output.slice(-2_000) };
  });
  return {
    name,
    proc,
    httpPort,
    died: () => died,
    stop: () => {
      stopping = true;
      return haltProcess(proc, 'SIGTERM', 15_000);
    },
  };
}

interface Target {
  readonly name: string;
  readonly api: HubProcess;
  readonly processes: readonly HubProcess[];
  readonly servers: ReadonlyMap<string, number>;
  readonly nats?: NatsServerSet;
  openStorage(): Promise<HubStorage>;
  stop(): Promise<void>;
}

async function startTarget(
  spec: HubScaleTarget,
  mosquitto: MosquittoInstance,
  pg: PostgresInstance | undefined,
  dir: string,
): Promise<Target> {
  const base = { dataDir: dir, mqtt: { url: mosquitto.url }, alerts: { enabled: false } };
  const started: HubProcess[] = [];
  const stopAll = async () => {
    for (const p of started.reverse()) await p.stop();
  };
  if (spec.kind === 'sqlite') {
    const path = join(dir, 'hub.db');
    try {
      const hub = await startHubProcess('hub', { ...base, storage: { path } }, dir);
      started.push(hub);
      return {
        name: 'sqlite hub (one process)',
        api: hub,
        processes: [hub],
        servers: new Map([['mosquitto', mosquitto.pid]]),
        async openStorage() {
          const { createSqliteStorage } = await import('../src/hub/storage/sqlite/sqlite-storage.js');
          return createSqliteStorage({ path, retentionMs: 30 * 86_400_000 });
        },
        stop: stopAll,
      };
    } catch (err) {
      await stopAll();
      throw err;
    }
  }
  if (pg === undefined) throw new Error('scale-out target without PostgreSQL');
  const nats = await startNatsServer();
  try {
    const url = await pg.createDatabase(`hub_scale_${spec.workers}_${Date.now()}`);
    const config = {
      ...base,
      storage: { path: join(dir, 'hub.db'), url },
      queue: { url: nats.urls.join(','), workers: 1 },
      leader: { lease: '10s' },
    };
    const api = await startHubProcess('api', { ...config, roles: ['api'] }, dir);
    started.push(api);
    started.push(await startHubProcess('ingest', { ...config, roles: ['ingest'] }, dir));
    for (let i = 1; i <= spec.workers; i++) {
      const worker = await startHubProcess(`worker${i}`, { ...config, roles: ['worker'] }, dir);
      started.push(worker);
      // The main thread, which runs the worker (Linux keeps a nice value per thread).
      if (spec.workerNice !== undefined && worker.proc.pid !== undefined) setPriority(worker.proc.pid, spec.workerNice);
    }
    return {
      name: `nats + postgres hub, ${spec.workers} worker${spec.workers === 1 ? '' : 's'}${spec.workerNice ? ` (nice ${spec.workerNice})` : ''}`,
      api,
      processes: [...started],
      servers: new Map([
        ['mosquitto', mosquitto.pid],
        ['nats-server', nats.servers[0]?.pid ?? -1],
        ['postgres (all backends)', pg.pid],
      ]),
      nats,
      async openStorage() {
        const { createPostgresStorage } = await import('../src/hub/storage/postgres/postgres-storage.js');
        return createPostgresStorage({ url, retentionMs: 30 * 86_400_000 });
      },
      async stop() {
        await stopAll();
        await nats.stop();
      },
    };
  } catch (err) {
    await stopAll();
    await nats.stop();
    throw err;
  }
}

/** nats-server's slow-consumer count and its connections' names and pending bytes (/varz, /connz). */
async function natsDiagnostics(nats: NatsServerSet) {
  const port = nats.servers[0]?.monitorPort;
  try {
    const varz = (await (await fetch(`http://127.0.0.1:${port}/varz`)).json()) as { slow_consumers?: number };
    const connz = (await (await fetch(`http://127.0.0.1:${port}/connz?subs=1`)).json()) as {
      connections?: { name?: string; pending_bytes?: number; out_msgs?: number; in_msgs?: number }[];
    };
    return {
      natsSlowConsumers: varz.slow_consumers ?? 0,
      natsConnections: (connz.connections ?? []).map((c) => ({
        name: c.name ?? '',
        pendingBytes: c.pending_bytes ?? 0,
        outMsgs: c.out_msgs ?? 0,
        inMsgs: c.in_msgs ?? 0,
      })),
    };
  } catch {
    return { natsSlowConsumers: -1, natsConnections: [] };
  }
}

async function consumerPending(nats: NatsServerSet): Promise<number> {
  const port = nats.servers[0]?.monitorPort;
  const res = await fetch(`http://127.0.0.1:${port}/jsz?consumers=true`);
  const body = (await res.json()) as {
    account_details?: { stream_detail?: { consumer_detail?: { num_pending?: number; num_ack_pending?: number }[] }[] }[];
  };
  let pending = 0;
  for (const a of body.account_details ?? [])
    for (const s of a.stream_detail ?? [])
      for (const c of s.consumer_detail ?? []) pending += (c.num_pending ?? 0) + (c.num_ack_pending ?? 0);
  return pending;
}

/** Acknowledged samples found in storage: every metric of every acknowledged tick of every node. */
async function countStoredOfAcked(
  storage: HubStorage,
  metrics: readonly string[],
  acked: ReadonlyMap<string, readonly number[]>,
  from: number,
  to: number,
) {
  let ackedSamples = 0;
  let found = 0;
  const stored = new Map<string, Set<number>>();
  for (const metric of metrics) {
    for (const s of await storage.querySeries([{ name: '__name__', op: '=', value: metric }], from, to)) {
      stored.set(`${s.series.labels.node}/${metric}`, new Set(s.points.map(([t]) => t)));
    }
  }
  for (const [node, ticks] of acked) {
    for (const metric of metrics) {
      const have = stored.get(`${node}/${metric}`);
      ackedSamples += ticks.length;
      if (have) for (const t of ticks) if (have.has(t)) found++;
    }
  }
  return { ackedSamples, found };
}

async function runTarget(spec: HubScaleTarget, o: HubScaleOptions, pg: PostgresInstance | undefined): Promise<HubScaleResult> {
  const workload = await loadWorkload();
  // A broker per target: nothing retained or queued from the previous one. Queues sized for a burst of 10,000 nodes.
  // Quiet: with every packet logged, the broker blocks on its log pipe (which this busy process reads) at 10,000 nodes.
  const mosquitto = await startMosquitto({ quiet: true, extraConfig: ['max_queued_messages 200000', 'max_inflight_messages 1000'] });
  const dir = mkdtempSync(join(tmpdir(), 'fm-hub-scale-'));
  let target: Target | undefined;
  let load: Awaited<ReturnType<typeof startLoad>> | undefined;
  try {
    target = await startTarget(spec, mosquitto, pg, dir);
    const api = target.api;
    const connections = Math.max(2, Math.ceil(o.nodes / 1250));
    const t0 = performance.now();
    const runStart = Date.now();
    load = await startLoad({ brokerUrl: mosquitto.url, nodes: o.nodes, connections, workload });
    const generator = load;
    await waitFor(async () => sum(await scrape(api.httpPort), 'fieldmesh_hub_nodes{state="online"}') >= o.nodes, {
      what: `${o.nodes} nodes online at ${target.name}`,
      timeoutMs: 120_000,
      intervalMs: 500,
    });
    const warmupSeconds = round((performance.now() - t0) / 1000, 1);
    await new Promise((r) => setTimeout(r, (o.settleSeconds ?? 10) * 1000));

    const roots = new Map<string, number>([
      ...target.processes.map((p) => [`hub ${p.name}`, p.proc.pid ?? -1] as const),
      ...target.servers,
    ]);
    const watch = new UsageWatch(roots);
    const scrapeAll = () => Promise.all(target?.processes.map((p) => scrape(p.httpPort)) ?? []);
    // Counters and clocks are read at once, then the scrapes (all in parallel) say what the hub had by then.
    const countersBefore = { ...generator.counters };
    generator.takeAckLatencies();
    watch.begin();
    const windowStart = performance.now();
    const [apiBefore, allBefore] = await Promise.all([scrape(api.httpPort), scrapeAll()]);
    const pendingSeries: number[] = [];
    const nats = target.nats;
    while (performance.now() - windowStart < o.measureSeconds * 1000) {
      await new Promise((r) => setTimeout(r, 2_000));
      watch.sample();
      if (nats) pendingSeries.push(await consumerPending(nats));
    }
    const c = { ...generator.counters };
    const ackLatencies = generator.takeAckLatencies();
    const processes = watch.end();
    const windowSeconds = (performance.now() - windowStart) / 1000;
    const [apiAfter, allAfter, natsAtEnd] = await Promise.all([
      scrape(api.httpPort),
      scrapeAll(),
      target.nats === undefined ? undefined : natsDiagnostics(target.nats),
    ]);
    const processNames = target.processes.map((p) => p.name);
    const rate = (now: number, before: number) => round((now - before) / windowSeconds, 0);
    const age = histogramPercentiles(apiBefore, apiAfter);
    const storedMetric = 'fieldmesh_hub_history_samples_stored_total';
    const stored = allAfter.reduce((n, s) => n + sum(s, storedMetric), 0) - allBefore.reduce((n, s) => n + sum(s, storedMetric), 0);

    // Drain: no new samples; what the nodes hold goes out and must be acknowledged.
    generator.stopSampling();
    const drainStart = performance.now();
    const drainLimit = (o.drainSeconds ?? 60) * 1000;
    while (generator.pendingFrames() > 0 && performance.now() - drainStart < drainLimit) await new Promise((r) => setTimeout(r, 250));
    const drainSeconds = round((performance.now() - drainStart) / 1000, 1);
    const unacked = generator.pendingFrames();
    const acked = generator.acked();
    const storedByCounter = (await scrapeAll()).reduce((n, s) => n + sum(s, storedMetric), 0);
    const loadCounters = { ...generator.counters };
    await generator.close();
    load = undefined;
    const stopped = target;
    target = undefined;
    const died = Object.fromEntries(
      stopped.processes.flatMap((p) => {
        const d = p.died();
        return d === undefined ? [] : [[p.name, d]];
      }),
    );
    await stopped.stop();
    const storage = await stopped.openStorage();
    let accounting: { ackedSamples: number; found: number };
    try {
      accounting = await countStoredOfAcked(storage, generator.metrics, acked, runStart - 60_000, Date.now() + 60_000);
    } finally {
      await storage.close();
    }
    return {
      target: stopped.name,
      nodes: o.nodes,
      connections,
      windowSeconds: round(windowSeconds, 1),
      warmupSeconds,
      live: {
        offeredPerSecond: rate(c.liveSamples, countersBefore.liveSamples),
        appliedPerSecond: round(age.count / windowSeconds, 0),
        ageMs: { p50: age.p50, p99: age.p99 },
        over1s: age.over1s,
        framesRejectedInWindow: sum(apiAfter, 'fieldmesh_frames_rejected_total') - sum(apiBefore, 'fieldmesh_frames_rejected_total'),
        apiAnsweredAtEnd: apiAfter.size > 0,
      },
      history: {
        offeredPerSecond: rate(c.historySamples, countersBefore.historySamples),
        ackedPerSecond: rate(c.ackedSamples, countersBefore.ackedSamples),
        storedPerSecond: round(stored / windowSeconds, 0),
        ackLatencyMs: percentiles(ackLatencies),
        resentFrames: c.resentFrames - countersBefore.resentFrames,
        ...(nats === undefined
          ? {}
          : {
              refusedOverload: windowSum(
                allBefore,
                allAfter,
                (key) => key.startsWith('fieldmesh_queue_refused_total{') && key.includes('reason="overload"'),
              ),
              acksForwarded: Object.fromEntries(
                ['forwarded', 'replayed', 'failed'].map((outcome) => [
                  outcome,
                  windowSum(
                    allBefore,
                    allAfter,
                    (key) => key.startsWith('fieldmesh_queue_acks_forwarded_total{') && key.includes(`outcome="${outcome}"`),
                  ),
                ]),
              ),
            }),
        ...(nats === undefined
          ? {}
          : { consumerPending: { max: Math.max(0, ...pendingSeries), atEnd: pendingSeries.at(-1) ?? 0, series: pendingSeries } }),
      },
      accounting: {
        ackedSamples: accounting.ackedSamples,
        storedOfAcked: accounting.found,
        lost: accounting.ackedSamples - accounting.found,
        unackedFramesAtEnd: unacked,
        historySamplesStoredByCounter: storedByCounter,
        drainSeconds,
      },
      load: loadCounters,
      processes,
      ...(natsAtEnd === undefined
        ? {}
        : {
            diagnostics: {
              eventLoopDelayMaxMs: Object.fromEntries(
                processNames.map((name, i) => [
                  name,
                  round(1000 * sum(allAfter[i] ?? new Map(), 'fieldmesh_event_loop_delay_max_seconds'), 0),
                ]),
              ),
              acksSentByWorkers: windowSum(allBefore, allAfter, (key) => key.startsWith('fieldmesh_hub_acks_sent_total')),
              acksReceivedByIngest: windowSum(allBefore, allAfter, (key) => key === 'fieldmesh_queue_acks_received_total'),
              ...natsAtEnd,
            },
          }),
      died,
    };
  } finally {
    await load?.close();
    await target?.stop().catch(() => {});
    await mosquitto.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

export const ALL_TARGETS: readonly HubScaleTarget[] = [
  { kind: 'sqlite' },
  { kind: 'scale-out', workers: 1 },
  { kind: 'scale-out', workers: 2 },
  { kind: 'scale-out', workers: 4 },
];

/** Every target in turn on the same workload; one PostgreSQL server for all (a fresh database each). */
export async function benchHubScale(o: HubScaleOptions): Promise<HubScaleResult[]> {
  const targets = o.targets ?? ALL_TARGETS;
  const pg = targets.some((t) => t.kind === 'scale-out')
    ? await startPostgres({ settings: { shared_buffers: '128MB', max_connections: '200' } })
    : undefined;
  const results: HubScaleResult[] = [];
  try {
    for (const spec of targets) results.push(await runTarget(spec, o, pg));
  } finally {
    await pg?.stop();
  }
  return results;
}
