// Counts failed logins per user name and per client address in fixed windows; past the limit the name
// or address is refused, even with the right password, until its window ends (OWASP's brute-force advice).

/** Names and addresses remembered at most; the oldest window is forgotten first (a flood of made-up names). */
const MAX_TRACKED_KEYS = 10_000;

export interface LoginLimits {
  readonly maxFailuresPerUser: number;
  readonly maxFailuresPerIp: number;
  readonly windowMs: number;
}

interface Window {
  startedAt: number;
  failures: number;
}

export class LoginLimiter {
  private readonly windows = new Map<string, Window>();

  constructor(private readonly limits: LoginLimits) {}

  /** ms until a login of `user` from `ip` may be tried again; 0 when it may now. */
  retryAfterMs(user: string, ip: string, now: number): number {
    return Math.max(
      this.blockedFor(`u:${user}`, this.limits.maxFailuresPerUser, now),
      this.blockedFor(`i:${ip}`, this.limits.maxFailuresPerIp, now),
    );
  }

  recordFailure(user: string, ip: string, now: number): void {
    for (const key of [`u:${user}`, `i:${ip}`]) {
      const w = this.current(key, now);
      if (w === undefined) {
        if (this.windows.size >= MAX_TRACKED_KEYS) this.forgetOldest();
        this.windows.set(key, { startedAt: now, failures: 1 });
      } else {
        w.failures++;
      }
    }
  }

  /** A good login clears the name's count; the address keeps its own (it may be guessing other names). */
  recordSuccess(user: string): void {
    this.windows.delete(`u:${user}`);
  }

  private current(key: string, now: number): Window | undefined {
    const w = this.windows.get(key);
    if (w !== undefined && now - w.startedAt >= this.limits.windowMs) {
      this.windows.delete(key);
      return undefined;
    }
    return w;
  }

  private blockedFor(key: string, max: number, now: number): number {
    const w = this.current(key, now);
    return w !== undefined && w.failures >= max ? w.startedAt + this.limits.windowMs - now : 0;
  }

  private forgetOldest(): void {
    const first = this.windows.keys().next();
    if (!first.done) this.windows.delete(first.value);
  }
}
