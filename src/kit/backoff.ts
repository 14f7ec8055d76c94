// Jittered exponential backoff for reconnects: 1 s doubling to 60 s, as seed 002 prescribes.

export interface BackoffOptions {
  readonly initialMs: number;
  readonly maxMs: number;
  readonly factor: number;
  /** Share of each delay that is randomised, 0 to 1 ("equal jitter" when 0.5). */
  readonly jitter: number;
}

export const RECONNECT_BACKOFF: BackoffOptions = Object.freeze({
  initialMs: 1_000,
  maxMs: 60_000,
  factor: 2,
  jitter: 0.5,
});

/**
 * Delay before retry number `attempt` (0 for the first retry). The ceiling grows
 * initial * factor^attempt up to max; the returned delay lies in [ceiling * (1 - jitter), ceiling],
 * so 50 nodes reconnecting after a partition spread out instead of arriving together.
 */
export function backoffDelayMs(attempt: number, options: BackoffOptions = RECONNECT_BACKOFF, random = Math.random): number {
  const ceiling = Math.min(options.maxMs, options.initialMs * options.factor ** Math.max(0, attempt));
  return Math.round(ceiling * (1 - options.jitter * random()));
}
