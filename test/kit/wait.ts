// Waiting helpers for tests: await a condition or an event with a deadline that names what was awaited.

import type { EventEmitter } from 'node:events';

export interface WaitOptions {
  /** Give up after this long (default 5000 ms). */
  readonly timeoutMs?: number;
  /** What is awaited, for the timeout message: "subscriber received 3 messages". */
  readonly what?: string;
  /** Polling interval for `waitFor` (default 10 ms). */
  readonly intervalMs?: number;
}

/** Polls `predicate` until it returns a truthy value (returned) or the deadline passes (throws). */
/** `T` without the falsy values `waitFor` keeps polling through. */
export type Truthy<T> = Exclude<T, false | 0 | '' | null | undefined>;

export async function waitFor<T>(predicate: () => T | Promise<T>, options: WaitOptions = {}): Promise<Truthy<T>> {
  const timeoutMs = options.timeoutMs ?? 5000;
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await predicate();
      if (value) return value as Truthy<T>;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() >= deadline) {
      const why = lastError === undefined ? '' : ` (last error: ${lastError instanceof Error ? lastError.message : String(lastError)})`;
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${options.what ?? 'a condition'}${why}`);
    }
    await new Promise((r) => setTimeout(r, options.intervalMs ?? 10));
  }
}

/** Anything with on/off (or removeListener): Node emitters and the Transport port. */
export interface Listenable<A extends unknown[]> {
  on(event: string, listener: (...args: A) => void): unknown;
  off?(event: string, listener: (...args: A) => void): unknown;
  removeListener?(event: string, listener: (...args: A) => void): unknown;
}

/** Resolves with the arguments of the next `event`, or throws after the deadline. */
export function once<A extends unknown[] = unknown[]>(
  emitter: Listenable<A> | EventEmitter,
  event: string,
  options: WaitOptions = {},
): Promise<A> {
  const target = emitter as Listenable<A>;
  const timeoutMs = options.timeoutMs ?? 5000;
  return new Promise((resolve, reject) => {
    const remove = () => (target.off ? target.off(event, listener) : target.removeListener?.(event, listener));
    const timer = setTimeout(() => {
      remove();
      reject(new Error(`timed out after ${timeoutMs} ms waiting for ${options.what ?? `event "${event}"`}`));
    }, timeoutMs);
    function listener(...args: A) {
      clearTimeout(timer);
      remove();
      resolve(args);
    }
    target.on(event, listener);
  });
}

/** Collects every emission of `event` into an array, until `stop()` is called. */
export function collect<A extends unknown[] = unknown[]>(
  emitter: Listenable<A> | EventEmitter,
  event: string,
): { items: A[]; stop(): void } {
  const target = emitter as Listenable<A>;
  const items: A[] = [];
  const listener = (...args: A) => {
    items.push(args);
  };
  target.on(event, listener);
  return {
    items,
    stop: () => (target.off ? target.off(event, listener) : target.removeListener?.(event, listener)),
  };
}
