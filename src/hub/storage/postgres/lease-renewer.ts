// The leader lease's renewal thread (a worker_threads entry, started by createLeaderLease's `start` in thread mode):
// it renews the lease on a connection of its own, so a leader whose event loop is saturated (a hub process at the
// CPU's limit) still renews in time, and reports each result to the lease. It renews only while the process's main
// thread shows it is alive: without a heartbeat for `stallToleranceMs` it stops, and the lease lapses ttlMs later, so
// a hung leader is replaced; a dead process takes this thread with it, and its lease lapses after ttlMs as before.

import { parentPort, workerData } from 'node:worker_threads';
import { acquireOrRenew, type LeaseQuery, type LeaseTerm, monotonicMs } from './lease-statements.js';
import { openPool } from './pool.js';

/** What the lease gives the thread. */
export interface RenewerData {
  readonly url: string;
  readonly name: string;
  readonly holder: string;
  readonly ttlMs: number;
  readonly renewEveryMs: number;
  readonly stallToleranceMs: number;
  /** The term the lease holds as the thread starts. */
  readonly term: LeaseTerm | undefined;
}

/** Main thread to renewer. */
export type ToRenewer = { readonly type: 'beat' } | { readonly type: 'stop' };

/** Renewer to main thread; `sentAt` is monotonicMs() when the statement was sent. */
export type FromRenewer =
  | { readonly type: 'result'; readonly term: LeaseTerm | undefined; readonly sentAt: number }
  | { readonly type: 'error'; readonly message: string }
  | { readonly type: 'stalled'; readonly sinceMs: number }
  | { readonly type: 'stopped' };

async function run(port: NonNullable<typeof parentPort>, data: RenewerData): Promise<void> {
  const pool = await openPool({ url: data.url, poolSize: 1, applicationName: 'fieldmesh-hub-lease-renewer' });
  const query: LeaseQuery = (sql, params) => pool.query(sql, params);
  let term = data.term;
  let lastBeat = monotonicMs();
  let stopping = false;
  let running: Promise<void> = Promise.resolve();
  const post = (m: FromRenewer) => port.postMessage(m);

  const tick = () => {
    running = (async () => {
      const silent = monotonicMs() - lastBeat;
      if (silent > data.stallToleranceMs) {
        post({ type: 'stalled', sinceMs: silent });
        return;
      }
      const sentAt = monotonicMs();
      try {
        term = await acquireOrRenew(query, data.name, data.holder, term, data.ttlMs);
        if (!stopping) post({ type: 'result', term, sentAt });
      } catch (err) {
        post({ type: 'error', message: err instanceof Error ? err.message : String(err) });
      }
    })();
  };
  const timer = setInterval(tick, data.renewEveryMs);
  tick();
  port.on('message', (m: ToRenewer) => {
    if (m.type === 'beat') lastBeat = monotonicMs();
    else if (m.type === 'stop') {
      stopping = true;
      clearInterval(timer);
      void running.then(async () => {
        await pool.end().catch(() => {});
        post({ type: 'stopped' });
        port.close();
      });
    }
  });
}

if (parentPort !== null) void run(parentPort, workerData as RenewerData);
