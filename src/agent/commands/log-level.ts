// The node's log level, changeable while it runs (`set-log-level LEVEL --for 10m`): a logger that filters
// by a level it shares with all its children, so one change reaches every part of the agent at once
// (pino's children keep the level they were made with). The logger underneath should let everything
// through (the node's CLI makes it at debug); the filter here decides.

import type { Clock, Logger, TimerHandle } from '../../kit/index.js';
import { LOG_LEVELS, type LogLevelName } from '../../protocol/index.js';

const RANK: Record<LogLevelName, number> = { debug: 20, info: 30, warn: 40, error: 50 };

export interface LogLevelChange {
  readonly level: LogLevelName;
  readonly previous: LogLevelName;
  /** When the level reverts to `revertsTo`, ms since the Unix epoch; null: it stays. */
  readonly revertsAt: number | null;
  readonly revertsTo: LogLevelName | null;
}

export interface LogLevelControl {
  /** The filtered logger to hand to the agent. */
  readonly logger: Logger;
  readonly level: LogLevelName;
  /** Sets the level; with `forMs`, it reverts to the level before the first of these timed changes after that long. */
  set(level: LogLevelName, forMs?: number): LogLevelChange;
  /** Cancels a pending revert (the agent stops). */
  close(): void;
}

export function isLogLevel(s: string): s is LogLevelName {
  return (LOG_LEVELS as readonly string[]).includes(s);
}

/** The level a logger filters at when it says (pino's `level`), else debug (it lets everything through). */
export function levelOf(logger: Logger): LogLevelName {
  const level = (logger as { level?: unknown }).level;
  return typeof level === 'string' && isLogLevel(level) ? level : 'debug';
}

export function createLogLevelControl(base: Logger, initial: LogLevelName, clock: Clock): LogLevelControl {
  let level: LogLevelName = initial;
  let revert: { timer: TimerHandle; to: LogLevelName; at: number } | undefined;
  const on = (l: LogLevelName) => RANK[l] >= RANK[level];
  const wrap = (inner: Logger): Logger => ({
    debug: (obj, msg) => on('debug') && inner.debug(obj, msg),
    info: (obj, msg) => on('info') && inner.info(obj, msg),
    warn: (obj, msg) => on('warn') && inner.warn(obj, msg),
    error: (obj, msg) => on('error') && inner.error(obj, msg),
    child: (bindings) => wrap(inner.child(bindings)),
  });
  const logger = wrap(base);
  return {
    logger,
    get level() {
      return level;
    },
    set(next, forMs) {
      const previous = level;
      // A timed change on top of a timed change reverts to the level before both.
      const to = revert?.to ?? previous;
      if (revert !== undefined) clock.clearTimeout(revert.timer);
      revert = undefined;
      level = next;
      if (forMs !== undefined && forMs > 0) {
        const at = clock.now() + forMs;
        revert = {
          to,
          at,
          timer: clock.setTimeout(() => {
            revert = undefined;
            level = to;
            base.info({ level: to }, 'log level reverted');
          }, forMs),
        };
      }
      base.info({ level: next, previous, ...(revert ? { revertsAt: new Date(revert.at).toISOString() } : {}) }, 'log level set');
      return { level: next, previous, revertsAt: revert?.at ?? null, revertsTo: revert?.to ?? null };
    },
    close() {
      if (revert !== undefined) clock.clearTimeout(revert.timer);
      revert = undefined;
    },
  };
}
