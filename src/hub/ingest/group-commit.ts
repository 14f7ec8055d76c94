// Group commit of the embedded hub's samples: every appendSamples offered while a commit is pending joins it, so the
// history frames and live samples arriving together are stored in ONE transaction (one fsync on SQLite), and each
// caller resolves once its own samples are committed. The writers run beside the write queue, never behind one
// another: a history frame's ack waits for the broker (QoS 1), and nothing else waits for that ack
// (docs/benchmarks.md, hub-scale: the serial queue held every write behind each ack's PUBACK).

import { describeError, type Logger } from '../../kit/index.js';
import type { HubStorage, SampleInput } from '../storage/storage.js';

/** At most one commit this often: a commit fsyncs, and the hub's live plane shares the process. */
export const GROUP_COMMIT_INTERVAL_MS = 5;
/** A group holds at most about this many samples; the rest commit in the next group, right after. */
export const GROUP_COMMIT_MAX_SAMPLES = 20_000;

export interface GroupCommitOptions {
  readonly logger: Logger;
  /** Minimum time between two commits' starts, ms (default GROUP_COMMIT_INTERVAL_MS). */
  readonly intervalMs?: number;
  /** Samples in one group before it is cut (default GROUP_COMMIT_MAX_SAMPLES). */
  readonly maxSamples?: number;
}

interface Pending {
  readonly batch: readonly SampleInput[];
  resolve(n: number): void;
  reject(err: unknown): void;
}

export interface GroupCommit {
  /** `storage`, with appendSamples joining the group; every other method is storage's own. */
  readonly storage: HubStorage;
  /** Commits what is pending now and resolves once no commit is pending or running. */
  drain(): Promise<void>;
  /** Commits made so far (each one appendSamples of the storage underneath). */
  readonly commits: number;
}

export function createGroupCommit(storage: HubStorage, o: GroupCommitOptions): GroupCommit {
  const intervalMs = o.intervalMs ?? GROUP_COMMIT_INTERVAL_MS;
  const maxSamples = o.maxSamples ?? GROUP_COMMIT_MAX_SAMPLES;
  let pending: Pending[] = [];
  /** Cancels the scheduled commit; undefined when none is scheduled. */
  let cancel: (() => void) | undefined;
  let running: Promise<void> | undefined;
  let lastStart = Number.NEGATIVE_INFINITY;
  let commits = 0;

  function schedule(): void {
    if (cancel !== undefined || running !== undefined || pending.length === 0) return;
    const wait = Math.max(0, lastStart + intervalMs - performance.now());
    if (wait > 0) {
      const t = setTimeout(fire, wait);
      cancel = () => clearTimeout(t);
    } else {
      // setImmediate: every frame read in this turn of the event loop joins the same group.
      const t = setImmediate(fire);
      cancel = () => clearImmediate(t);
    }
  }

  function fire(): void {
    cancel = undefined;
    running = commitNext().finally(() => {
      running = undefined;
      schedule();
    });
  }

  /** Takes whole batches, in the order they were offered, up to maxSamples (always at least one). */
  function take(): Pending[] {
    let samples = 0;
    let i = 0;
    while (i < pending.length && (i === 0 || samples + (pending[i]?.batch.length ?? 0) <= maxSamples)) {
      samples += pending[i]?.batch.length ?? 0;
      i++;
    }
    const group = pending.slice(0, i);
    pending = pending.slice(i);
    return group;
  }

  async function commitNext(): Promise<void> {
    const group = take();
    if (group.length === 0) return;
    lastStart = performance.now();
    const all = group.length === 1 ? (group[0]?.batch ?? []) : group.flatMap((p) => p.batch);
    try {
      await storage.appendSamples(all);
      commits++;
      for (const p of group) p.resolve(p.batch.length);
      return;
    } catch (err) {
      if (group.length === 1) {
        group[0]?.reject(err);
        return;
      }
      o.logger.warn(
        { err: describeError(err), batches: group.length },
        'storage: a group commit failed; committing its batches one by one',
      );
    }
    // One bad batch fails only its own writer (its frame is not acknowledged, the node resends).
    for (const p of group) {
      try {
        await storage.appendSamples(p.batch);
        commits++;
        p.resolve(p.batch.length);
      } catch (err) {
        p.reject(err);
      }
    }
  }

  function appendSamples(batch: readonly SampleInput[]): Promise<number> {
    if (batch.length === 0) return Promise.resolve(0);
    return new Promise<number>((resolve, reject) => {
      pending.push({ batch, resolve, reject });
      schedule();
    });
  }

  // Every other member is the storage's own, called on the storage itself.
  const grouped = new Proxy(storage, {
    get(target, key) {
      if (key === 'appendSamples') return appendSamples;
      const value: unknown = Reflect.get(target, key, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });

  return {
    storage: grouped,
    get commits() {
      return commits;
    },
    async drain() {
      while (pending.length > 0 || running !== undefined) {
        if (running !== undefined) {
          await running;
          continue;
        }
        cancel?.();
        fire();
      }
    },
  };
}
