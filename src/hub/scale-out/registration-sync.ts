// The api processes of a scale-out hub share one registration store in PostgreSQL, but each process's registration
// gate decides frames from rows it holds in memory. So each process reads the store again every few seconds and
// takes in what the others decided (an admin's approval or rejection through another process behind the load
// balancer): a node approved on one process is admitted by all of them within REGISTRATION_SYNC_INTERVAL_MS.

import { describeError, type Logger } from '../../kit/index.js';
import type { RegistrationGate } from '../registration/index.js';
import type { PostgresRegistrationStore } from '../registration/postgres-registration-store.js';

/** How often an api process reads the other processes' registration decisions. */
export const REGISTRATION_SYNC_INTERVAL_MS = 2_000;

export interface RegistrationSync {
  /** One pass: this process's pending writes flushed, the rows read again, the others' decisions taken in. */
  sync(): Promise<number>;
  start(): void;
  stop(): Promise<void>;
}

export function createRegistrationSync(o: {
  readonly store: Pick<PostgresRegistrationStore, 'flush' | 'refresh'>;
  readonly gate: () => Pick<RegistrationGate, 'adopt' | 'flush'>;
  readonly logger: Logger;
  readonly intervalMs?: number;
}): RegistrationSync {
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<unknown> = Promise.resolve();
  let failing = false;

  async function sync(): Promise<number> {
    const gate = o.gate();
    // Ours first, so the read has them and last-seen counts of ours are not taken for the others'.
    gate.flush();
    await o.store.flush();
    await o.store.refresh();
    const changed = gate.adopt();
    if (failing) o.logger.info({}, 'registration sync: the store answers again');
    failing = false;
    return changed;
  }

  return {
    sync,
    start() {
      timer ??= setInterval(() => {
        running = sync().catch((err: unknown) => {
          // A database that is out of reach: the gate keeps what it holds, and the next pass tries again.
          if (!failing)
            o.logger.warn({ err: describeError(err) }, 'registration sync: the store did not answer; keeping what this process holds');
          failing = true;
        });
      }, o.intervalMs ?? REGISTRATION_SYNC_INTERVAL_MS);
      timer.unref();
    },
    async stop() {
      if (timer !== undefined) clearInterval(timer);
      timer = undefined;
      await running;
    },
  };
}
