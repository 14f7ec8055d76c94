// Waiting for a node's next birth: the rebirth action resolves when the node re-announces itself after
// the request. The hub calls `birthArrived` for every birth the fleet state accepted.

import { FieldmeshError } from '../../kit/index.js';

export class BirthWatch {
  private readonly waiters = new Map<string, Set<() => void>>();

  /**
   * Resolves at the first birth of the node accepted after this call; rejects with the signal's reason
   * when it aborts first (the waiter is then forgotten).
   */
  next(site: string, node: string, signal: AbortSignal): Promise<void> {
    const key = `${site}/${node}`;
    return new Promise<void>((resolve, reject) => {
      if (signal.aborted) {
        reject(abortReason(signal));
        return;
      }
      let set = this.waiters.get(key);
      if (set === undefined) {
        set = new Set();
        this.waiters.set(key, set);
      }
      const waiters = set;
      const onAbort = () => {
        forget();
        reject(abortReason(signal));
      };
      const forget = () => {
        waiters.delete(born);
        if (waiters.size === 0 && this.waiters.get(key) === waiters) this.waiters.delete(key);
        signal.removeEventListener('abort', onAbort);
      };
      const born = () => {
        forget();
        resolve();
      };
      waiters.add(born);
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** A birth of this node was accepted: every waiter for it resolves. */
  birthArrived(site: string, node: string): void {
    const set = this.waiters.get(`${site}/${node}`);
    if (set === undefined) return;
    for (const born of [...set]) born();
  }

  /** Nodes with someone waiting (for tests and stats). */
  get waiting(): number {
    return this.waiters.size;
  }
}

function abortReason(signal: AbortSignal): unknown {
  return signal.reason ?? new FieldmeshError('FM_HUB_INTERNAL', 'the wait for a birth was given up');
}
