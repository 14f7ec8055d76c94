// A fake CollectorContext for collector tests: keeps samples, events, rejections and log lines in arrays.

import type { FastifyInstance } from 'fastify';
import { type Clock, type Logger, systemClock } from '../../kit/index.js';
import type { AgentEvent, CollectorContext, RejectReason, Sample } from './collector.js';

export interface LogLine {
  readonly level: 'debug' | 'info' | 'warn' | 'error';
  readonly obj: object;
  readonly msg: string | undefined;
}

export interface TestCollectorContext extends CollectorContext {
  readonly samples: Sample[];
  readonly events: AgentEvent[];
  readonly rejections: RejectReason[];
  readonly logs: LogLine[];
  /** Resolves once `predicate` holds after some record/emit/reject/log; rejects after `timeoutMs`. */
  waitFor(predicate: () => boolean, timeoutMs?: number, what?: string): Promise<void>;
}

export interface TestContextOptions {
  readonly clock?: Clock;
  readonly http?: FastifyInstance;
  /** Makes `record` fail, to test how push endpoints answer when the store refuses. */
  readonly failRecord?: Error;
}

export function createTestContext(options: TestContextOptions = {}): TestCollectorContext {
  const samples: Sample[] = [];
  const events: AgentEvent[] = [];
  const rejections: RejectReason[] = [];
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
  return {
    identity: { site: 'test-site', zone: 'default', node: 'test-node' },
    clock: options.clock ?? systemClock,
    logger,
    http: options.http,
    samples,
    events,
    rejections,
    logs,
    async record(batch) {
      if (options.failRecord !== undefined) throw options.failRecord;
      samples.push(...batch);
      changed();
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
