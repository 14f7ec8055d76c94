// A tick loop on the injected clock for the periodic collectors (host, simulators): one timer at a
// time, ticks never overlap, stop() clears the timer and waits for the running tick.

import { type Clock, describeError, type Logger, type TimerHandle } from '../../kit/index.js';

export interface IntervalLoop {
  stop(): Promise<void>;
}

/**
 * Runs `tick` after `firstDelayMs`, then every `intervalMs` start to start. The next timer is armed
 * before a tick runs (so a manual clock sees it at once); a tick that falls due while the previous
 * one still runs waits for it, and at most one waits.
 */
export function startIntervalLoop(
  clock: Clock,
  logger: Logger,
  intervalMs: number,
  tick: () => Promise<void>,
  firstDelayMs = 0,
): IntervalLoop {
  let timer: TimerHandle | undefined;
  let chain: Promise<void> = Promise.resolve();
  let waiting = false;
  let stopped = false;
  const run = async () => {
    waiting = false;
    if (stopped) return;
    try {
      await tick();
    } catch (err) {
      logger.error({ err: describeError(err) }, 'collector tick failed');
    }
  };
  const arm = (delay: number) => {
    if (stopped) return;
    timer = clock.setTimeout(() => {
      arm(intervalMs);
      if (waiting) return;
      waiting = true;
      chain = chain.then(run);
    }, delay);
  };
  arm(firstDelayMs);
  return {
    async stop() {
      stopped = true;
      if (timer !== undefined) clock.clearTimeout(timer);
      timer = undefined;
      await chain;
    },
  };
}
