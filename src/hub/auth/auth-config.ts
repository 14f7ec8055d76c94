// The `auth:` section of hub.yaml: when the console asks for a login, how long sessions last, how failed
// logins are throttled and who may read /metrics.

import { z } from 'zod';
import { durationMs } from '../../kit/index.js';

export const authConfigSchema = z
  .strictObject({
    /**
     * `auto`: off while no user and no API token exists and the hub listens on loopback only (demo
     * mode), on otherwise. `on`: always. `off`: never (a loud warning when the hub listens beyond loopback).
     */
    mode: z.enum(['auto', 'on', 'off']).default('auto'),
    /** A session unused this long ends (checked to the minute). */
    sessionIdle: durationMs('12h'),
    /** A session ends this long after login, however busy. */
    sessionMax: durationMs('7d'),
    /** The session cookie's Secure attribute: `auto` sets it when the request came over TLS. */
    cookieSecure: z.enum(['auto', 'always', 'never']).default('auto'),
    /** Who may read /metrics: `loopback` (anyone from this machine, viewers from elsewhere), `public`, `viewer`. */
    metrics: z.enum(['loopback', 'public', 'viewer']).default('loopback'),
    /** Failed logins per user name within `loginWindow` before that name is refused until the window ends. */
    loginMaxFailures: z.number().int().positive().default(5),
    /** Failed logins per client address within `loginWindow` before that address is refused. */
    loginMaxFailuresPerIp: z.number().int().positive().default(20),
    loginWindow: durationMs('15m'),
    /** Audit entries older than this are deleted (at start and hourly as entries arrive). */
    auditRetention: durationMs('400d'),
  })
  .prefault({} as never);

export type AuthConfig = z.output<typeof authConfigSchema>;
