// The remote write forwarder (docs/remote-write.md): reads what a node's store or the hub's storage holds past a
// persisted cursor, sends it to one remote write 1.0 receiver in shards by series hash, retries 5xx, 429 and
// network errors with exponential backoff (Retry-After honoured), drops only what a receiver refuses with another
// 4xx, and moves the cursor only once every sample of a read window was acknowledged (2xx) or dropped.
// Browser-safe like the rest of protocol/: the source, the cursor's storage and the metrics are ports.

import { type Clock, type Logger, silentLogger } from '../../kit/index.js';
import { encodeWriteRequest, REMOTE_WRITE_HEADERS, type RemoteSeries } from './write-request.js';

/** Where the samples come from: the node's store, the hub's storage. */
export interface RemoteWriteSource {
  /**
   * Every selected series with its samples of time in [startMs, endMs] (both inclusive), ascending per series;
   * series without samples there may be left out. Labels include `__name__`.
   */
  read(startMs: number, endMs: number): Promise<RemoteSeries[]>;
  /**
   * The selected samples stored after arrival position `after`, whatever their time, up to about `limit` (whole
   * commits), each series in time order, and the position read up to. With `arrivalHead` and the forwarder's
   * `arrivalCursor`, the forwarder sends by arrival order (docs/remote-write.md "Arrival order"); without, by time.
   */
  readArrivals?(after: number, limit: number): Promise<{ readonly series: RemoteSeries[]; readonly arrival: number }>;
  /** The arrival position of everything stored so far. */
  arrivalHead?(): Promise<number>;
}

/** Where the cursor lives between restarts: the time up to which (inclusive) every sample was acknowledged. */
export interface RemoteWriteCursorStore {
  load(): Promise<number | undefined>;
  /** Resolves once the cursor is durable (fsync). */
  save(ms: number): Promise<void>;
}

/** What a forwarder reports, as Prometheus' own remote write metrics (docs/remote-write.md#metrics). */
export interface RemoteWriteMetrics {
  /** Samples a receiver acknowledged (2xx). */
  sent(samples: number): void;
  /** Samples of a send that failed (network error, 5xx, 429, or another 4xx). */
  failed(samples: number): void;
  /** Samples sent again after a failure that may pass on a retry (network error, 5xx, 429). */
  retried(samples: number): void;
  /** Samples given up on: the receiver refused them with a 4xx other than 429. */
  dropped(samples: number): void;
  /**
   * Of the dropped, those the receiver refused as older than what it holds of their series (Prometheus' "out of order
   * sample", "too old sample", "out of bounds"): late samples sent by arrival order to a receiver without
   * out-of-order ingestion.
   */
  droppedOutOfOrder?(samples: number): void;
  /** The newest sample time acknowledged, ms. */
  highestSent(ms: number): void;
  /** Samples read and not yet acknowledged or dropped. */
  pending(samples: number): void;
  /** Shards sending the current window. */
  shards(count: number): void;
}

export const noRemoteWriteMetrics: RemoteWriteMetrics = {
  sent() {},
  failed() {},
  retried() {},
  dropped() {},
  highestSent() {},
  pending() {},
  shards() {},
};

/** `queue_config` of Prometheus' remote_write, in ms. */
export interface RemoteWriteQueue {
  /** Samples per request at most. */
  readonly maxSamplesPerSend: number;
  /** Requests in flight at once at most, each for its own share of the series. */
  readonly maxShards: number;
  /** How long samples wait before a read sends them: the forwarder reads the source this often when caught up. */
  readonly batchSendDeadlineMs: number;
  readonly minBackoffMs: number;
  readonly maxBackoffMs: number;
}

export interface RemoteWriteForwarderOptions {
  /** The remote's name in metrics and logs. */
  readonly name: string;
  readonly url: string;
  /** Extra request headers (X-Scope-OrgID for Mimir, ...). */
  readonly headers?: Readonly<Record<string, string>> | undefined;
  readonly basicAuth?: { readonly username: string; readonly password: string } | undefined;
  readonly bearerToken?: string | undefined;
  readonly queue: RemoteWriteQueue;
  /** A request's time limit (Prometheus' remote_timeout). */
  readonly remoteTimeoutMs: number;
  /**
   * How far behind now a read stops, ms: samples stamped within it are left for the next read, so a sample being
   * committed as the read runs is not skipped (Default 1,000).
   */
  readonly settleMs?: number | undefined;
  /** Where to start when no cursor was saved: ms, default now minus settleMs (the samples from here on). */
  readonly startMs?: number | undefined;
  readonly source: RemoteWriteSource;
  readonly cursor: RemoteWriteCursorStore;
  /**
   * Where the arrival position lives, for a source that reads arrivals: the remote is forwarded by arrival order once
   * a first pass by time (from `cursor`, or `startMs`) reached now.
   */
  readonly arrivalCursor?: RemoteWriteCursorStore | undefined;
  readonly metrics?: RemoteWriteMetrics | undefined;
  readonly clock: Clock;
  readonly logger?: Logger | undefined;
  /** The HTTP client; global fetch by default. */
  readonly fetch?: typeof fetch | undefined;
  readonly random?: () => number;
}

export interface RemoteWriteForwarder {
  start(): Promise<void>;
  /** Stops reading and sending; an unacknowledged window is sent again after the next start. */
  stop(): Promise<void>;
  /** The time up to which every sample was acknowledged or dropped, ms. */
  readonly cursorMs: number | undefined;
  /** Resolves once the cursor reached `ms` (tests and the bench await it); by time only. */
  waitForCursor(ms: number): Promise<void>;
  /** The arrival position up to which every sample was acknowledged or dropped; undefined while sending by time. */
  readonly arrival: number | undefined;
  /** Resolves once a read that began after the call found nothing left to send (everything stored before was sent). */
  waitForIdle(): Promise<void>;
}

/** First read window when catching up; halved when a window holds too many samples, doubled when few. */
const INITIAL_WINDOW_MS = 60_000;
const MAX_WINDOW_MS = 3_600_000;
const MIN_WINDOW_MS = 1_000;
/** How much of Retry-After is honoured at most (a receiver's "come back tomorrow" still gets retried). */
const MAX_RETRY_AFTER_MS = 300_000;

/** A receiver's refusal of samples older than its series' head (Prometheus' storage errors; Mimir's say the same). */
const OUT_OF_ORDER = /out[ -]of[ -]order|too old|out of bounds/i;

class Stopped extends Error {}

/** 32-bit FNV-1a of a series' sorted labels: the shard a series goes to, the same for every window. */
function seriesHash(labels: Readonly<Record<string, string>>): number {
  let h = 0x811c9dc5;
  for (const k of Object.keys(labels).sort()) {
    const s = `${k}\u0000${labels[k]}\u0000`;
    for (let i = 0; i < s.length; i++) {
      h ^= s.charCodeAt(i);
      h = Math.imul(h, 0x01000193);
    }
  }
  return h >>> 0;
}

/** Retry-After as seconds or an HTTP date, in ms from now; undefined when absent or unreadable. */
export function retryAfterMs(header: string | null, nowMs: number): number | undefined {
  if (header === null || header.trim() === '') return undefined;
  const text = header.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const at = Date.parse(text);
  return Number.isNaN(at) ? undefined : Math.max(0, at - nowMs);
}

export function createRemoteWriteForwarder(o: RemoteWriteForwarderOptions): RemoteWriteForwarder {
  const log = (o.logger ?? silentLogger).child({ component: 'remote-write', remote: o.name });
  const metrics = o.metrics ?? noRemoteWriteMetrics;
  const doFetch = o.fetch ?? globalThis.fetch;
  const random = o.random ?? Math.random;
  const settleMs = o.settleMs ?? 1000;
  const headers: Record<string, string> = { ...REMOTE_WRITE_HEADERS, 'user-agent': 'fieldmesh-remote-write', ...(o.headers ?? {}) };
  if (o.bearerToken !== undefined) headers.authorization = `Bearer ${o.bearerToken}`;
  else if (o.basicAuth !== undefined) headers.authorization = `Basic ${btoa(`${o.basicAuth.username}:${o.basicAuth.password}`)}`;

  let cursor: number | undefined;
  const arrivals =
    o.arrivalCursor !== undefined && o.source.readArrivals !== undefined && o.source.arrivalHead !== undefined
      ? { store: o.arrivalCursor, read: o.source.readArrivals.bind(o.source), head: o.source.arrivalHead.bind(o.source) }
      : undefined;
  /** The arrival position once sending by arrival order. */
  let arrival: number | undefined;
  /** While the first pass by time runs: the arrival head taken before it, where arrival order starts. */
  let arrivalStart: number | undefined;
  /** Reads begun so far; an idle waiter is answered by a read begun after it asked. */
  let reads = 0;
  const idleWaiters: Array<{ after: number; resolve: () => void }> = [];
  let running = false;
  let loop: Promise<void> | undefined;
  let windowMs = INITIAL_WINDOW_MS;
  const inFlight = new Set<AbortController>();
  const sleepers = new Set<() => void>();
  const cursorWaiters: Array<{ ms: number; resolve: () => void }> = [];

  function sleep(ms: number): Promise<void> {
    return new Promise((resolve, reject) => {
      if (!running) return reject(new Stopped());
      const wake = () => {
        sleepers.delete(wake);
        o.clock.clearTimeout(timer);
        if (running) resolve();
        else reject(new Stopped());
      };
      const timer = o.clock.setTimeout(wake, ms);
      sleepers.add(wake);
    });
  }

  function backoff(attempt: number): number {
    const ceiling = Math.min(o.queue.maxBackoffMs, o.queue.minBackoffMs * 2 ** attempt);
    return Math.round(ceiling * (1 - 0.5 * random()));
  }

  /** Sends one request until a receiver answers 2xx (true) or refuses it for good (false). */
  async function send(series: readonly RemoteSeries[], samples: number, newestMs: number): Promise<void> {
    const body = encodeWriteRequest({ timeseries: series });
    for (let attempt = 0; ; attempt++) {
      if (!running) throw new Stopped();
      if (attempt > 0) metrics.retried(samples);
      const abort = new AbortController();
      inFlight.add(abort);
      const timer = o.clock.setTimeout(() => abort.abort(new Error(`no answer within ${o.remoteTimeoutMs} ms`)), o.remoteTimeoutMs);
      let waitMs: number;
      try {
        const res = await doFetch(o.url, { method: 'POST', headers, body, signal: abort.signal });
        const text = res.ok ? '' : await res.text().catch(() => '');
        if (res.ok) {
          await res.arrayBuffer().catch(() => undefined);
          metrics.sent(samples);
          metrics.highestSent(newestMs);
          return;
        }
        metrics.failed(samples);
        if (res.status !== 429 && res.status >= 400 && res.status < 500) {
          metrics.dropped(samples);
          if (OUT_OF_ORDER.test(text)) metrics.droppedOutOfOrder?.(samples);
          log.error(
            { status: res.status, samples, receiver: text.slice(0, 500) },
            `remote write: the receiver refused ${samples} samples with ${res.status}; dropped`,
          );
          return;
        }
        const after = retryAfterMs(res.headers.get('retry-after'), o.clock.now());
        waitMs = after !== undefined ? Math.min(after, MAX_RETRY_AFTER_MS) : backoff(attempt);
        log.warn({ status: res.status, samples, retryInMs: waitMs, receiver: text.slice(0, 200) }, 'remote write: send failed; retrying');
      } catch (err) {
        if (!running) throw new Stopped();
        metrics.failed(samples);
        waitMs = backoff(attempt);
        log.warn({ err: (err as Error).message, samples, retryInMs: waitMs }, 'remote write: send failed; retrying');
      } finally {
        o.clock.clearTimeout(timer);
        inFlight.delete(abort);
      }
      await sleep(waitMs);
    }
  }

  /** Sends one read window: series split among shards by hash, each shard's requests one after another. */
  async function sendWindow(all: readonly RemoteSeries[], total: number): Promise<void> {
    const perSend = o.queue.maxSamplesPerSend;
    const shardCount = Math.max(1, Math.min(o.queue.maxShards, Math.ceil(total / perSend)));
    metrics.shards(shardCount);
    const shards: RemoteSeries[][] = Array.from({ length: shardCount }, () => []);
    for (const s of all) shards[seriesHash(s.labels) % shardCount]?.push(s);
    let pending = total;
    metrics.pending(pending);
    await Promise.all(
      shards.map(async (shard) => {
        let batch: RemoteSeries[] = [];
        let inBatch = 0;
        let newest = 0;
        const flush = async () => {
          if (inBatch === 0) return;
          await send(batch, inBatch, newest);
          pending -= inBatch;
          metrics.pending(pending);
          batch = [];
          inBatch = 0;
          newest = 0;
        };
        for (const series of shard) {
          // A series longer than a request goes in consecutive requests of this shard: its order is kept.
          for (let i = 0; i < series.samples.length; ) {
            const take = Math.min(perSend - inBatch, series.samples.length - i);
            const part = i === 0 && take === series.samples.length ? series.samples : series.samples.slice(i, i + take);
            batch.push({ labels: series.labels, samples: part });
            inBatch += take;
            for (const p of part) if (p.timestampMs > newest) newest = p.timestampMs;
            i += take;
            if (inBatch >= perSend) await flush();
          }
        }
        await flush();
      }),
    );
  }

  async function advance(to: number): Promise<void> {
    await o.cursor.save(to);
    cursor = to;
    for (let i = cursorWaiters.length - 1; i >= 0; i--) {
      const w = cursorWaiters[i];
      if (w !== undefined && w.ms <= to) {
        cursorWaiters.splice(i, 1);
        w.resolve();
      }
    }
  }

  function idle(readNo: number): void {
    for (let i = idleWaiters.length - 1; i >= 0; i--) {
      const w = idleWaiters[i];
      if (w !== undefined && readNo > w.after) {
        idleWaiters.splice(i, 1);
        w.resolve();
      }
    }
  }

  /** One read by arrival order: what was stored after the position, sent, then the position saved. */
  async function arrivalStep(a: NonNullable<typeof arrivals>, budget: number): Promise<void> {
    const readNo = ++reads;
    const from = arrival as number;
    const { series, arrival: to } = await a.read(from, budget);
    let total = 0;
    for (const s of series) total += s.samples.length;
    if (total > 0) await sendWindow(series, total);
    metrics.pending(0);
    if (to > from) {
      await a.store.save(to);
      arrival = to;
    }
    if (total === 0) {
      idle(readNo);
      await sleep(o.queue.batchSendDeadlineMs);
    }
  }

  /** The end of the first pass by time: everything stored before `arrivalStart` with a later time, then arrival order. */
  async function switchToArrivals(a: NonNullable<typeof arrivals>, start: number): Promise<void> {
    const from = cursor as number;
    const series = await o.source.read(from + 1, Number.MAX_SAFE_INTEGER);
    let total = 0;
    for (const s of series) total += s.samples.length;
    if (total > 0) await sendWindow(series, total);
    metrics.pending(0);
    await a.store.save(start);
    arrival = start;
    arrivalStart = undefined;
    log.info({ arrival: start }, 'remote write: caught up by time; sending by arrival order from here');
  }

  async function run(): Promise<void> {
    const budget = 4 * o.queue.maxShards * o.queue.maxSamplesPerSend;
    while (running) {
      try {
        if (arrivals !== undefined && arrival !== undefined) {
          await arrivalStep(arrivals, budget);
          continue;
        }
        const readNo = ++reads;
        const from = cursor as number;
        const upTo = o.clock.now() - settleMs;
        const end = Math.min(upTo, from + windowMs);
        if (end <= from) {
          if (arrivals !== undefined && arrivalStart !== undefined) {
            await switchToArrivals(arrivals, arrivalStart);
            continue;
          }
          idle(readNo);
          await sleep(o.queue.batchSendDeadlineMs);
          continue;
        }
        const series = await o.source.read(from + 1, end);
        let total = 0;
        for (const s of series) total += s.samples.length;
        if (total > budget && windowMs > MIN_WINDOW_MS) windowMs = Math.max(MIN_WINDOW_MS, Math.floor(windowMs / 2));
        else if (total < budget / 4 && windowMs < MAX_WINDOW_MS) windowMs = Math.min(MAX_WINDOW_MS, windowMs * 2);
        if (total > 0) await sendWindow(series, total);
        metrics.pending(0);
        await advance(end);
        if (end >= upTo && arrivals !== undefined && arrivalStart !== undefined) await switchToArrivals(arrivals, arrivalStart);
        else if (end >= upTo) {
          idle(readNo);
          await sleep(o.queue.batchSendDeadlineMs);
        }
      } catch (err) {
        if (err instanceof Stopped || !running) return;
        log.error({ err: (err as Error).message }, 'remote write: reading the source failed; trying again');
        try {
          await sleep(o.queue.maxBackoffMs);
        } catch {
          return;
        }
      }
    }
  }

  return {
    get cursorMs() {
      return cursor;
    },
    get arrival() {
      return arrival;
    },
    async start() {
      if (running) return;
      const saved = await o.cursor.load();
      cursor = saved ?? o.startMs ?? o.clock.now() - settleMs;
      if (arrivals !== undefined) {
        arrival = await arrivals.store.load();
        if (arrival === undefined && saved === undefined && o.startMs === undefined) {
          // A new remote without history: what arrives from now on.
          arrival = await arrivals.head();
          await arrivals.store.save(arrival);
        } else if (arrival === undefined) {
          // `history`, or a remote that sent by time before: the head now, a pass by time from the time cursor up to
          // now, then arrival order from that head (what arrives during the pass with a later time is sent twice).
          arrivalStart = await arrivals.head();
        }
      }
      running = true;
      log.info({ url: o.url, cursorMs: cursor, arrival }, 'remote write started');
      loop = run();
    },
    async stop() {
      if (!running) return;
      running = false;
      for (const a of inFlight) a.abort(new Stopped('stopped'));
      for (const wake of [...sleepers]) wake();
      await loop;
    },
    waitForIdle() {
      return new Promise((resolve) => idleWaiters.push({ after: reads, resolve }));
    },
    waitForCursor(ms) {
      if (cursor !== undefined && cursor >= ms) return Promise.resolve();
      return new Promise((resolve) => cursorWaiters.push({ ms, resolve }));
    },
  };
}
