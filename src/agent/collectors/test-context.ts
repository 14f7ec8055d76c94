// A fake CollectorContext for collector tests: keeps samples, events, rejections and log lines in
// arrays, and holds samples to the store's window as the agent does.

import type { FastifyInstance } from 'fastify';
import { type Clock, type Logger, systemClock } from '../../kit/index.js';
import type { AgentEvent, CollectorContext, RejectReason, Sample, SampleRefusal } from './collector.js';
import { admitSamples, sampleWindow } from './sample-window.js';

const DEFAULT_RETENTION_MS = 30 * 86_400_000;

export interface LogLine {
  readonly level: 'debug' | 'info' | 'warn' | 'error';
  readonly obj: object;
  readonly msg: string | undefined;
}

export interface TestCollectorContext extends CollectorContext {
  readonly samples: Sample[];
  readonly events: AgentEvent[];
  readonly rejections: RejectReason[];
  /** Samples `record` refused (outside the window), with the reason. */
  readonly refusedSamples: Array<{ readonly sample: Sample; readonly reason: SampleRefusal }>;
  readonly logs: LogLine[];
  /** Resolves once `predicate` holds after some record/emit/reject/log; rejects after `timeoutMs`. */
  waitFor(predicate: () => boolean, timeoutMs?: number, what?: string): Promise<void>;
}

export interface TestContextOptions {
  readonly clock?: Clock;
  readonly http?: FastifyInstance;
  /** Makes `record` fail, to test how push endpoints answer when the store refuses. */
  readonly failRecord?: Error;
  /** The store retention `record` holds samples to, ms. Default 30 days, as the agent's. */
  readonly retentionMs?: number;
}

export function createTestContext(options: TestContextOptions = {}): TestCollectorContext {
  const samples: Sample[] = [];
  const events: AgentEvent[] = [];
  const rejections: RejectReason[] = [];
  const refusedSamples: TestCollectorContext['refusedSamples'] = [];
  const logs: LogLine[] = [];
  const waiters = new Set<() => void>();
  const changed = () => {
    for (const w of [...waiters]) w();
  };
  const logger: Logger = {
    debug: (obj, msg) => log('debug', obj, msg),
    info: (obj, msg) => log('info', obj, msg),
    warn: (obj, msg) => log('warn', obj, msg),
    error: (obj, msg) => log('error', obj, msg),
    child: () => logger,
  };
  function log(level: LogLine['level'], obj: object, msg: string | undefined): void {
    logs.push({ level, obj, msg });
    changed();
  }
  const clock = options.clock ?? systemClock;
  return {
    identity: { site: 'test-site', zone: 'default', node: 'test-node' },
    clock,
    logger,
    http: options.http,
    samples,
    events,
    rejections,
    refusedSamples,
    logs,
    async record(batch) {
      if (options.failRecord !== undefined) throw options.failRecord;
      const { kept, outcome } = admitSamples(batch, sampleWindow(clock.now(), options.retentionMs ?? DEFAULT_RETENTION_MS));
      samples.push(...kept);
      for (const r of outcome.refused) refusedSamples.push({ sample: batch[r.index] as Sample, reason: r.reason });
      changed();
      return outcome;
    },
    async emit(event) {
      events.push(event);
      changed();
    },
    reject(reason) {
      rejections.push(reason);
      changed();
    },
    waitFor(predicate, timeoutMs = 5_000, what = 'condition') {
      if (predicate()) return Promise.resolve();
      return new Promise<void>((resolve, reject) => {
        const check = () => {
          if (!predicate()) return;
          clearTimeout(timer);
          waiters.delete(check);
          resolve();
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`));
        }, timeoutMs);
        waiters.add(check);
      });
    },
  };
}
